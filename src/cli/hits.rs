//! `vigie hits` and `vigie sources`: the stored hits and the sources' state, read-only.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::{json, Value};

use super::output::{self, Format};
use super::{load, Invalid};
use crate::store::query::parse_time_arg;
use crate::store::query::SourceRow;
use crate::store::{HitQuery, Store, StoreError};

/// The end of the span and the rule and source filters, shared by `vigie hits` and `vigie stats`.
#[derive(Debug, Args)]
pub struct Scope {
    /// Posts created before: a duration ago or an RFC 3339 time (`vigie stats`: default now).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this rule (globs allowed: 'livraison-*').
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Only this source (globs allowed: 'forum-*').
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
}

/// Arguments of `vigie hits`.
#[derive(Debug, Args)]
pub struct HitsArgs {
    /// Posts created since: a duration ago (90s, 15m, 2h, 7d) or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
    /// Only this author (case-insensitive, leading @ optional).
    #[arg(long, value_name = "AUTHOR")]
    pub author: Option<String>,
    /// Full-text search in the posts, accent- and case-insensitive; every word must occur.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// At most N hits (newest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Table times in UTC rather than `[daemon] timezone` (json and csv are always UTC).
    #[arg(long)]
    pub utc: bool,
}

/// Arguments of `vigie sources`.
#[derive(Debug, Args)]
pub struct SourcesArgs {
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// The database of `config`, read-only, and the zone its tables show times in.
pub(crate) fn open_zoned(config: &Path, utc: bool) -> Result<(Store, chrono_tz::Tz)> {
    let config = load(config)?;
    Ok((open_store(&config)?, output::table_zone(&config, utc)))
}

/// The database of a loaded config, read-only.
fn open_store(config: &crate::config::Config) -> Result<Store> {
    match Store::open_read_only(&config.daemon.database) {
        Ok(s) => Ok(s),
        Err(e @ StoreError::Missing(_)) => Err(anyhow::anyhow!("{e}")),
        Err(e) => Err(e.into()),
    }
}

/// A `--since`/`--until` value (a duration ago or an RFC 3339 time); a bad one is a usage
/// error (exit 2).
pub(crate) fn time_arg(s: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_time_arg(s, now))
        .transpose()
        .map_err(|e| Invalid(format!("vigie: {e}")).into())
}

/// Runs `vigie hits`.
pub fn run_hits(config: &Path, args: HitsArgs) -> Result<()> {
    let now = Utc::now();
    let time = |s: &Option<String>| time_arg(s.as_deref(), now);
    let query = HitQuery {
        since: time(&args.since)?,
        until: time(&args.scope.until)?,
        rule: args.scope.rule,
        source: args.scope.source,
        author: args.author,
        search: args.search,
        limit: args.limit,
    };
    let (store, zone) = open_zoned(config, args.utc)?;
    let hits = store.hits(&query)?;
    let format = Format::or_default(args.format);
    let mut out = BufWriter::new(io::stdout().lock());
    if format == Format::Table {
        let rows: Vec<Vec<Value>> = hits
            .iter()
            .map(|h| {
                let words: Vec<String> = serde_json::from_str::<Vec<Value>>(&h.matched)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| m["text"].as_str().map(str::to_string))
                    .collect();
                vec![
                    json!(output::table_time(&h.created_at, zone)),
                    json!(h.rule),
                    json!(h.source),
                    json!(h.author),
                    json!(words.join(", ")),
                    json!(h.text),
                ]
            })
            .collect();
        output::write(
            &mut out,
            format,
            &["created_at", "rule", "source", "author", "matched", "text"],
            &rows,
        )?;
    } else {
        let rows: Vec<Vec<Value>> = hits
            .iter()
            .map(|h| {
                let matched = if format == Format::Json {
                    serde_json::from_str(&h.matched).unwrap_or(Value::Null)
                } else {
                    json!(h.matched)
                };
                vec![
                    json!(h.hit_id),
                    json!(h.rule),
                    json!(h.source),
                    json!(h.post_id),
                    json!(h.url),
                    json!(h.author),
                    json!(h.text),
                    json!(h.created_at),
                    json!(h.fetched_at),
                    matched,
                ]
            })
            .collect();
        let cols = [
            "hit_id",
            "rule",
            "source",
            "post_id",
            "url",
            "author",
            "text",
            "created_at",
            "fetched_at",
            "matched",
        ];
        output::write(&mut out, format, &cols, &rows)?;
    }
    Ok(out.flush()?)
}

/// Runs `vigie sources`: the sources the database knows (polled at least once, including any
/// since removed from the config), then those of the config it does not know yet, with empty
/// poll columns.
pub fn run_sources(config: &Path, args: SourcesArgs) -> Result<()> {
    let config = load(config)?;
    let store = open_store(&config)?;
    let mut sources = store.sources()?;
    let polled: std::collections::HashSet<String> =
        sources.iter().map(|s| s.source.clone()).collect();
    sources.extend(
        config
            .sources
            .iter()
            .filter(|s| !polled.contains(&s.name))
            .map(|s| SourceRow {
                source: s.name.clone(),
                kind: s.kind.name().to_string(),
                last_poll_at: None,
                last_status: None,
                last_error: None,
                items_seen: 0,
                hits: 0,
                next_poll_at: None,
            }),
    );
    let rows: Vec<Vec<Value>> = sources
        .into_iter()
        .map(|s| {
            vec![
                json!(s.source),
                json!(s.kind),
                json!(s.last_poll_at),
                json!(s.last_status),
                json!(s.last_error),
                json!(s.items_seen),
                json!(s.hits),
                json!(s.next_poll_at),
            ]
        })
        .collect();
    let cols = [
        "source",
        "kind",
        "last_poll_at",
        "last_status",
        "last_error",
        "items_seen",
        "hits",
        "next_poll_at",
    ];
    let mut out = BufWriter::new(io::stdout().lock());
    output::write(&mut out, Format::or_default(args.format), &cols, &rows)?;
    Ok(out.flush()?)
}
