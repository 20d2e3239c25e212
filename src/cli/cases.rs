//! `vigie cases`: the reply-clock cases (SPEC §5.1), read-only, filtered, as a table or for
//! scripts; and `vigie cases ack ID --by NAME`, which marks one answered by hand.
//!
//! The listing reads `cases_v` on a read-only connection, as `hits` does, so it never blocks
//! the daemon. The ack is the one write of the query commands: it goes through
//! `store::cases_query::ack_case`, the same code the signed link of the `listen` listener runs.
//! What a case is and when it opens is the daemon's; this file only shows and closes them.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::Utc;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::db::{open, DbArg};
use super::hits::span;
use super::output::{self, Format};
use super::{load, Invalid};
use crate::cases::Clock;
use crate::store::cases_query::{ack_case, Acked, CaseError, CaseQuery, CaseRow};

/// Arguments of `vigie cases`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CasesArgs {
    /// Mark a case answered by hand.
    #[command(subcommand)]
    pub action: Option<CasesAction>,
    #[command(flatten)]
    pub list: ListArgs,
}

/// What `vigie cases` does besides listing.
#[derive(Debug, Subcommand)]
pub enum CasesAction {
    /// Mark case ID answered by hand (someone replied where vigie cannot see it): records who
    /// and when, its response time, and cancels its pending reminder and escalation.
    ///
    /// A case already answered is left as it is (exit 2, with who answered it and when).
    Ack(AckArgs),
}

/// Arguments of `vigie cases ack`.
#[derive(Debug, Args)]
pub struct AckArgs {
    /// The case id (first column of `vigie cases`).
    #[arg(value_name = "ID")]
    pub id: i64,
    /// Who handled it (a name or an address, recorded as `answered_by`).
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// A note kept with the case (where it was answered, a ticket number).
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
    /// Times in UTC rather than `[daemon] timezone`.
    #[arg(long)]
    pub utc: bool,
}

/// Arguments of the listing.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only cases in this state: open, answered, breached (repeat it or give a comma list).
    #[arg(long, value_name = "STATE", value_delimiter = ',',
          value_parser = ["open", "answered", "breached"])]
    pub state: Vec<String>,
    /// Only cases opened by this rule (globs allowed: 'livraison-*').
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Only cases whose first post came from this source (globs allowed).
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Cases opened since: a duration ago (90s, 15m, 2h, 7d), a date (2026-11-20), a local
    /// date and time ("2026-11-20 14:00") or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Cases opened before: the same forms as --since [default: now].
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// At most N cases (open first, then by oldest deadline).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Show the excerpt whole instead of cutting it to the terminal's width.
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

/// Runs `vigie cases` and `vigie cases ack`.
pub fn run(config: &Path, args: CasesArgs) -> Result<()> {
    match args.action {
        Some(CasesAction::Ack(ack)) => run_ack(config, ack),
        None => list(config, args.list),
    }
}

/// A response time as people say it: `45 s`, `12 min`, `2 h 05`, `3 d 4 h`.
pub fn human_secs(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {:02}", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The columns of the listing in `format`: a short table, every `cases_v` column otherwise.
fn columns(format: Format) -> Vec<String> {
    if format == Format::Table {
        let mut cols = vec!["id".to_string(), "state".into(), "rule".into()];
        cols.extend(["source", "author"].map(String::from));
        cols.push(output::time_column("opened"));
        cols.extend(["due", "answered", "response", "by", "excerpt"].map(String::from));
        return cols;
    }
    [
        "case_id",
        "rule",
        "source",
        "thread",
        "post_id",
        "url",
        "author",
        "text",
        "opened_at",
        "clock_start",
        "due_at",
        "state",
        "posts",
        "answered_at",
        "answered_by",
        "answer",
        "note",
        "response_secs",
        "promise_secs",
        "within_promise",
        "reminded_at",
        "breached_at",
    ]
    .map(String::from)
    .to_vec()
}

/// One case as a row of [`columns`].
fn cells(c: &CaseRow, format: Format) -> Vec<Value> {
    if format == Format::Table {
        return vec![
            json!(c.case_id),
            json!(c.state),
            json!(c.rule),
            json!(c.source),
            json!(c.author),
            json!(output::local_time(&c.opened_at)),
            json!(output::local_time(&c.due_at)),
            output::local_cell(c.answered_at.as_deref()),
            json!(c.response_secs.map(human_secs)),
            json!(c.answered_by),
            json!(c.text),
        ];
    }
    vec![
        json!(c.case_id),
        json!(c.rule),
        json!(c.source),
        json!(c.thread),
        json!(c.post_id),
        json!(c.url),
        json!(c.author),
        json!(c.text),
        json!(c.opened_at),
        json!(c.clock_start),
        json!(c.due_at),
        json!(c.state),
        json!(c.posts),
        json!(c.answered_at),
        json!(c.answered_by),
        json!(c.answer),
        json!(c.note),
        json!(c.response_secs),
        json!(c.promise_secs),
        json!(c.within_promise),
        json!(c.reminded_at),
        json!(c.breached_at),
    ]
}

/// A case error as the CLI reports it: a database older than cases is a runtime failure, the
/// rest is the store's.
fn store_error(e: CaseError) -> anyhow::Error {
    match e {
        CaseError::NotFound(id) => Invalid(format!("vigie: no case {id}")).into(),
        e => anyhow::anyhow!("{e}"),
    }
}

fn list(config: &Path, args: ListArgs) -> Result<()> {
    let (since, until) = span(args.since.as_deref(), args.until.as_deref(), Utc::now())?;
    let mut states = args.state;
    states.sort();
    states.dedup();
    let query = CaseQuery {
        states,
        rule: args.rule,
        source: args.source,
        since,
        until,
        limit: args.limit,
    };
    let store = open(config, &args.db, args.utc)?;
    let rows = store.cases(&query).map_err(store_error)?;
    let format = Format::or_default(args.format);
    let cols = columns(format);
    let mut out = BufWriter::new(io::stdout().lock());
    if rows.is_empty() {
        // As `vigie hits`: no table over nothing, one line on stderr.
        eprintln!("no cases");
        if format == Format::Csv {
            output::write(&mut out, format, &cols, &[])?;
        }
        return Ok(out.flush()?);
    }
    let table: Vec<Vec<Value>> = rows.iter().map(|c| cells(c, format)).collect();
    output::write_fit(
        &mut out,
        format,
        &cols,
        &table,
        output::fit_width(args.wide),
    )?;
    Ok(out.flush()?)
}

fn run_ack(config: &Path, args: AckArgs) -> Result<()> {
    let by = args.by.trim();
    if by.is_empty() {
        return Err(Invalid("vigie: --by must name who handled the case".into()).into());
    }
    // With `--db` and no config, the clock is always open (no `hours` to read).
    let (db, clock): (PathBuf, Clock) = match &args.db.db {
        Some(file) => {
            output::set_zone(None, args.utc);
            (file.clone(), Clock::default())
        }
        None => {
            let config = load(config)?;
            output::set_zone(Some(&config), args.utc);
            (config.daemon.database.clone(), config.daemon.clock())
        }
    };
    let note = args
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    match ack_case(&db, args.id, by, note, Utc::now(), &clock).map_err(store_error)? {
        Acked::Done { case, cancelled } => {
            let mut line = format!(
                "case {} marked answered by {by} at {} {}",
                case.case_id,
                output::local_time(case.answered_at.as_deref().unwrap_or_default()),
                output::zone_name(),
            );
            if let Some(secs) = case.response_secs {
                line.push_str(&format!(" (response {})", human_secs(secs)));
            }
            if cancelled > 0 {
                let s = if cancelled == 1 { "y" } else { "ies" };
                line.push_str(&format!(
                    "; {cancelled} pending reminder/escalation deliver{s} cancelled"
                ));
            }
            println!("{line}");
            Ok(())
        }
        Acked::Already(case) => Err(Invalid(format!(
            "vigie: case {} is already answered ({} by {} at {} {}); nothing changed",
            case.case_id,
            case.answer.as_deref().unwrap_or("answered"),
            case.answered_by.as_deref().unwrap_or("?"),
            output::local_time(case.answered_at.as_deref().unwrap_or_default()),
            output::zone_name(),
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_times_read_as_people_say_them() {
        assert_eq!(human_secs(0), "0 s");
        assert_eq!(human_secs(59), "59 s");
        assert_eq!(human_secs(720), "12 min");
        assert_eq!(human_secs(3600 + 300), "1 h 05");
        assert_eq!(human_secs(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
    }
}
