//! `vigie alerts`: the alert history with delivery status per notifier, read-only.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use serde_json::{json, Value};

use super::hits::{open_zoned, time_arg};
use super::output::{self, Format};
use crate::store::{AlertQuery, AlertRow};

/// Arguments of `vigie alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Alerts fired since: a duration ago (90s, 15m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Alerts fired before: a duration ago or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this rule, or this source for source alerts (globs allowed).
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Only this kind.
    #[arg(long, value_parser = ["each", "threshold", "spike", "source"])]
    pub kind: Option<String>,
    /// At most N alerts (newest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Table times in UTC rather than `[daemon] timezone` (json and csv are always UTC).
    #[arg(long)]
    pub utc: bool,
}

/// Runs `vigie alerts`.
pub fn run(config: &Path, args: AlertsArgs) -> Result<()> {
    let now = Utc::now();
    let time = |s: &Option<String>| time_arg(s.as_deref(), now);
    let query = AlertQuery {
        since: time(&args.since)?,
        until: time(&args.until)?,
        rule: args.rule,
        kind: args.kind,
        limit: args.limit,
        oldest_first: false,
    };
    let (store, zone) = open_zoned(config, args.utc)?;
    let rows = store.alerts(&query)?;
    let mut out = BufWriter::new(io::stdout().lock());
    write(&mut out, Format::or_default(args.format), &rows, zone)?;
    Ok(out.flush()?)
}

/// Writes alert rows: a short table for people (times in `zone`), every column for scripts
/// (times in UTC).
pub fn write(
    out: &mut impl Write,
    format: Format,
    rows: &[AlertRow],
    zone: chrono_tz::Tz,
) -> io::Result<()> {
    if format == Format::Table {
        let cells: Vec<Vec<Value>> = rows
            .iter()
            .map(|a| {
                vec![
                    json!(output::table_time(&a.fired_at, zone)),
                    json!(a.rule),
                    json!(a
                        .state
                        .as_ref()
                        .map_or(a.kind.clone(), |s| format!("{} ({s})", a.kind))),
                    json!(if a.kind == "source" {
                        String::new()
                    } else {
                        format!("{} vs {:.1}", a.count, a.baseline)
                    }),
                    json!(a.ratio.map(|r| format!("{r:.1}×"))),
                    json!(a.status),
                ]
            })
            .collect();
        let cols = [
            "fired_at",
            "rule",
            "kind",
            "count vs usual",
            "ratio",
            "delivery",
        ];
        return output::write(out, format, &cols, &cells);
    }
    let cells: Vec<Vec<Value>> = rows
        .iter()
        .map(|a| {
            vec![
                json!(a.alert_id),
                json!(a.rule),
                json!(a.kind),
                json!(a.fired_at),
                json!(a.window_start),
                json!(a.window_end),
                json!(a.count),
                json!(a.baseline),
                json!(a.ratio),
                json!(a.state),
                json!(a.reason),
                json!(a.status),
            ]
        })
        .collect();
    let cols = [
        "alert_id",
        "rule",
        "kind",
        "at",
        "window_start",
        "window_end",
        "count",
        "baseline",
        "ratio",
        "state",
        "reason",
        "status",
    ];
    output::write(out, format, &cols, &cells)
}
