//! `vigie sources`: one row per source, read-only: the sources the database knows, then
//! those of the config it has not polled yet.

use std::collections::HashSet;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::db::open_store;
use super::load;
use super::output::{self, Format};
use crate::store::query::SourceRow;

/// Arguments of `vigie sources`.
#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// Show long errors whole instead of cutting them to the terminal's width.
    #[arg(long)]
    pub wide: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Runs `vigie sources`: the sources the database knows (polled at least once, including any
/// since removed from the config), then those of the config it does not know yet, with empty
/// poll columns.
pub fn run(config: &Path, args: SourcesArgs) -> Result<()> {
    let config = load(config)?;
    output::set_zone(Some(&config), false);
    let store = open_store(&config)?;
    let mut sources = store.sources()?;
    let polled: HashSet<String> = sources.iter().map(|s| s.source.clone()).collect();
    sources.extend(
        config
            .sources
            .iter()
            .filter(|s| !polled.contains(&s.name))
            .map(|s| SourceRow {
                source: s.name.clone(),
                kind: s.kind.to_string(),
                last_poll_at: None,
                last_status: None,
                last_error: None,
                items_seen: 0,
                hits: 0,
                next_poll_at: None,
            }),
    );
    let format = Format::or_default(args.format);
    let time = |t: Option<String>| {
        if format == Format::Table {
            output::local_cell(t.as_deref())
        } else {
            json!(t)
        }
    };
    let table = format == Format::Table;
    let rows: Vec<Vec<Value>> = sources
        .into_iter()
        .map(|s| {
            // The table puts the long error last, where it is cut to the terminal's width.
            let mut row = vec![
                json!(s.source),
                json!(s.kind),
                time(s.last_poll_at),
                json!(s.last_status),
                json!(s.last_error),
                json!(s.items_seen),
                json!(s.hits),
                time(s.next_poll_at),
            ];
            if table {
                let error = row.remove(4);
                row.push(error);
            }
            row
        })
        .collect();
    let mut cols: Vec<String> = [
        "source",
        "kind",
        "last_poll_at",
        "last_status",
        "last_error",
        "items_seen",
        "hits",
        "next_poll_at",
    ]
    .map(String::from)
    .to_vec();
    if table {
        cols[2] = output::time_column("last_poll_at");
        // The zone is named once, by the first time column.
        let error = cols.remove(4);
        cols.push(error);
    }
    let mut out = BufWriter::new(io::stdout().lock());
    output::write_fit(&mut out, format, &cols, &rows, output::fit_width(args.wide))?;
    Ok(out.flush()?)
}
