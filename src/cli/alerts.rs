//! `vigie alerts`: the alert history with delivery status per notifier, read-only.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use serde_json::{json, Value};

use super::db::{open, DbArg};
use super::hits::span;
use super::output::{self, Format};
use crate::store::{AlertQuery, AlertRow};

/// Arguments of `vigie alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Alerts fired since: a duration ago (90s, 15m, 2h, 7d), a date (2026-11-20), a local
    /// date and time ("2026-11-20 14:00") or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Alerts fired before: the same forms as --since [default: now].
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this rule, or this source for source alerts (globs allowed).
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Only this kind.
    #[arg(long, value_parser = ["each", "threshold", "spike", "source", "reminder", "breach"])]
    pub kind: Option<String>,
    /// Only alerts with a delivery that failed, or that waits for a retry after an error.
    #[arg(long)]
    pub failed: bool,
    /// At most N alerts (newest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Show the last errors whole instead of cutting them to the terminal's width.
    #[arg(long)]
    pub wide: bool,
    #[command(flatten)]
    pub db: DbArg,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Table times in UTC rather than `[daemon] timezone` (json and csv are always UTC).
    #[arg(long)]
    pub utc: bool,
}

/// Runs `vigie alerts`.
pub fn run(config: &Path, args: AlertsArgs) -> Result<()> {
    let (since, until) = span(args.since.as_deref(), args.until.as_deref(), Utc::now())?;
    let query = AlertQuery {
        since,
        until,
        rule: args.rule,
        kind: args.kind,
        limit: args.limit,
        oldest_first: false,
        failed: args.failed,
    };
    let rows = open(config, &args.db, args.utc)?.alerts(&query)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let listing = Listing {
        format: Format::or_default(args.format),
        time_field: "fired_at",
        deliveries: true,
        width: output::fit_width(args.wide),
    };
    if rows.is_empty() && listing.format == Format::Table {
        // As `vigie hits`: no header over nothing, one line on stderr.
        let what = if query.failed {
            "no failed deliveries"
        } else {
            "no alerts"
        };
        match query.since {
            Some(t) => eprintln!(
                "{what} since {} {}",
                output::local_time(&crate::store::fmt_time(t)),
                output::zone_name()
            ),
            None => eprintln!("{what}"),
        }
        return Ok(());
    }
    write(&mut out, &listing, &rows)?;
    Ok(out.flush()?)
}

/// How alert rows are written.
pub struct Listing {
    /// Output format.
    pub format: Format,
    /// The name of the firing time in json and csv: `fired_at` as in `alerts_v` (`vigie
    /// alerts`), `at` for `vigie replay` (SPEC §2).
    pub time_field: &'static str,
    /// Show the delivery columns (a replay delivers nothing).
    pub deliveries: bool,
    /// The width a table must fit.
    pub width: Option<usize>,
}

/// Writes alert rows: a short table for people, every column for scripts.
pub fn write(out: &mut impl Write, how: &Listing, rows: &[AlertRow]) -> io::Result<()> {
    if how.format == Format::Table {
        let cells: Vec<Vec<Value>> = rows
            .iter()
            .map(|a| {
                let mut row = vec![
                    json!(output::local_time(&a.fired_at)),
                    json!(a.rule),
                    json!(a
                        .state
                        .as_ref()
                        .map_or(a.kind.clone(), |s| format!("{} ({s})", a.kind))),
                    // Source and case alerts count nothing against a usual level.
                    json!(
                        if matches!(a.kind.as_str(), "source" | "reminder" | "breach") {
                            String::new()
                        } else {
                            format!("{} vs {:.1}", a.count, a.baseline)
                        }
                    ),
                    json!(a.ratio.map(|r| format!("{r:.1}×"))),
                ];
                if how.deliveries {
                    row.push(json!(a.status));
                    row.push(output::local_cell(a.next_try.as_deref()));
                    row.push(json!(a.last_error));
                }
                row
            })
            .collect();
        let mut cols = vec![
            output::time_column("fired_at"),
            "rule".into(),
            "kind".into(),
            "count vs usual".into(),
            "ratio".into(),
        ];
        if how.deliveries {
            cols.push("delivery".into());
            // One zone per header: the first time column names it.
            cols.push("next_try".into());
            cols.push("last_error".into());
        }
        return output::write_fit(out, how.format, &cols, &cells, how.width);
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
                json!(a.next_try),
                json!(a.last_error),
            ]
        })
        .collect();
    let cols = [
        "alert_id",
        "rule",
        "kind",
        how.time_field,
        "window_start",
        "window_end",
        "count",
        "baseline",
        "ratio",
        "state",
        "reason",
        "status",
        "next_try",
        "last_error",
    ];
    output::write(out, how.format, &cols, &cells)
}
