//! `vigie hits`: the stored hits, read-only, filtered, as a table or for scripts; and the
//! span and filter arguments that `vigie stats` shares.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::{json, Value};

use super::db::{open, DbArg};
use super::output::{self, Format};
use super::Invalid;
use crate::matcher::RuleSet;
use crate::matcher::RuleSpec;
use crate::post::Post;
use crate::store::query::{fts_prefilter, parse_time_arg};
use crate::store::{fmt_time, HitQuery, HitRow};

/// The end of the span and the rule and source filters, shared by `vigie hits` and `vigie stats`.
#[derive(Debug, Args)]
pub struct Scope {
    /// Posts created before: a duration ago (90s, 15m, 2h, 7d), a date (2026-11-20), a local
    /// date and time ("2026-11-20 14:00") or an RFC 3339 time [default: now].
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this rule (globs allowed: 'livraison-*').
    #[arg(long, value_name = "RULE")]
    pub rule: Option<String>,
    /// Only this source (globs allowed: 'forum-*').
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    #[command(flatten)]
    pub db: DbArg,
}

/// Arguments of `vigie hits`.
#[derive(Debug, Args)]
pub struct HitsArgs {
    /// Posts created since: a duration ago (90s, 15m, 2h, 7d), a date (2026-11-20), a local
    /// date and time ("2026-11-20 14:00") or an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
    /// Only this author (case-insensitive, leading @ optional).
    #[arg(long, value_name = "AUTHOR")]
    pub author: Option<String>,
    /// Only posts that this query matches, in the rule language: 'colis NEAR/3 perdu',
    /// '"objet cassé" OR remboursement', 'retard* -suspect' (accent- and case-insensitive).
    #[arg(long, value_name = "QUERY")]
    pub search: Option<String>,
    /// At most N hits (newest first; with --follow, the N latest, default 10).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Keep running and print new hits as they are stored, like `tail -f`, until Ctrl-C.
    #[arg(long, short = 'f', conflicts_with = "until")]
    pub follow: bool,
    /// Show the text whole instead of cutting it to the terminal's width.
    #[arg(long)]
    pub wide: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Table times in UTC rather than `[daemon] timezone` (json and csv are always UTC).
    #[arg(long)]
    pub utc: bool,
}

/// A `--since`/`--until` value (see [`parse_time_arg`]); a bad one is a usage error (exit 2).
pub(crate) fn time_arg(s: Option<&str>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_time_arg(s, now))
        .transpose()
        .map_err(|e| Invalid(format!("vigie: {e}")).into())
}

/// A parsed `--since` (`None`: from the start).
pub(crate) type Since = Option<DateTime<Utc>>;
/// A parsed `--until` (`None`: up to now).
pub(crate) type Until = Option<DateTime<Utc>>;

/// `--since` and `--until` parsed; `--since` at or after `--until` is a usage error, not an
/// empty result.
pub(crate) fn span(
    since: Option<&str>,
    until: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Since, Until)> {
    let (from, to) = (time_arg(since, now)?, time_arg(until, now)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(Invalid(format!(
                "vigie: --since {} is not before --until {}",
                output::local_time(&fmt_time(f)),
                output::local_time(&fmt_time(t)),
            ))
            .into());
        }
    }
    Ok((from, to))
}

/// The matched words of a hit (its stored JSON), each once (case aside), in order.
fn matched_words(matched: &str) -> String {
    let mut seen = std::collections::HashSet::new();
    serde_json::from_str::<Vec<Value>>(matched)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .filter(|w| seen.insert(w.to_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of `vigie hits` in `format`.
fn hit_columns(format: Format) -> Vec<String> {
    if format == Format::Table {
        let mut cols = vec![output::time_column("created_at")];
        cols.extend(["rule", "source", "author", "matched", "text"].map(String::from));
        return cols;
    }
    [
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
        "author_name",
        "engagement",
    ]
    .map(String::from)
    .to_vec()
}

/// One hit as a row of [`hit_columns`].
fn hit_row(h: &HitRow, format: Format) -> Vec<Value> {
    if format == Format::Table {
        return vec![
            json!(output::local_time(&h.created_at)),
            json!(h.rule),
            json!(h.source),
            json!(match (&h.author_name, &h.author) {
                (Some(name), Some(author)) => format!("{name} ({author})"),
                (name, author) => name.clone().or(author.clone()).unwrap_or_default(),
            }),
            json!(matched_words(&h.matched)),
            json!(h.text),
        ];
    }
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
        json!(h.author_name),
        json!(h.engagement),
    ]
}

/// How often `--follow` looks for new hits.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs `vigie hits`.
pub fn run(config: &Path, args: HitsArgs) -> Result<()> {
    let now = Utc::now();
    let (since, until) = span(args.since.as_deref(), args.scope.until.as_deref(), now)?;
    let search = args.search.as_deref().map(Search::new).transpose()?;
    let mut query = HitQuery {
        since,
        until,
        rule: args.scope.rule,
        source: args.scope.source,
        author: args.author,
        search: search.as_ref().and_then(|s| s.fts.clone()),
        limit: args.limit,
        after_id: None,
    };
    if args.follow {
        query.limit = Some(args.limit.unwrap_or(10));
    }
    let store = open(config, &args.scope.db, args.utc)?;
    let read = |query: &HitQuery| -> Result<Vec<HitRow>> {
        let Some(search) = &search else {
            return Ok(store.hits(query)?);
        };
        // The index only narrows; the query decides, then the limit applies.
        let mut hits = store.hits(&HitQuery {
            limit: None,
            ..query.clone()
        })?;
        hits.retain(|h| search.matches(h));
        hits.truncate(query.limit.map_or(usize::MAX, |n| n as usize));
        Ok(hits)
    };
    let mut hits = read(&query)?;
    let format = Format::or_default(args.format);
    let width = output::fit_width(args.wide);
    let columns = hit_columns(format);
    let mut out = BufWriter::new(io::stdout().lock());
    if hits.is_empty() && !args.follow {
        eprintln!("{}", nothing_found(&query, now));
        if format == Format::Csv {
            output::write(&mut out, format, &columns, &[])?;
        }
        return Ok(out.flush()?);
    }
    if !args.follow {
        let rows: Vec<Vec<Value>> = hits.iter().map(|h| hit_row(h, format)).collect();
        output::write_fit(&mut out, format, &columns, &rows, width)?;
        return Ok(out.flush()?);
    }
    // Following: the latest hits oldest first, as `tail` shows lines, then each new one.
    hits.reverse();
    let mut header = true;
    query.limit = None;
    loop {
        if let Some(last) = hits.last() {
            query.after_id = Some(query.after_id.unwrap_or(0).max(last.hit_id));
        }
        if !hits.is_empty() || (header && format != Format::Json) {
            let rows: Vec<Vec<Value>> = hits.iter().map(|h| hit_row(h, format)).collect();
            output::write_part(&mut out, format, &columns, &rows, width, header)?;
            header = false;
            out.flush()?;
        }
        std::thread::sleep(FOLLOW_EVERY);
        hits = read(&query)?;
        hits.reverse();
    }
}

/// `--search`: a one-rule rule set run on each hit the full-text prefilter lets through.
struct Search {
    rules: RuleSet,
    fts: Option<String>,
}

impl Search {
    /// Parses and compiles the query; a bad one is a usage error with a caret, as in `check`.
    fn new(text: &str) -> Result<Search> {
        let invalid = |msg: String| Invalid(format!("vigie: --search: {msg}"));
        let spec = RuleSpec::with_query("search", text)
            .map_err(|e| invalid(format!("{e}\n{}", e.caret(text))))?;
        let fts = spec.query.as_ref().and_then(|q| fts_prefilter(&q.expr));
        let rules = RuleSet::compile(&[spec]).map_err(|e| invalid(e.message))?;
        Ok(Search { rules, fts })
    }

    fn matches(&self, h: &HitRow) -> bool {
        let post = Post {
            author: h.author.clone(),
            ..Post::from_text(h.text.clone())
        };
        !self.rules.matches(&post).is_empty()
    }
}

/// The stderr line for an empty `vigie hits`: the span it looked at, and a wider one to try.
fn nothing_found(q: &HitQuery, now: DateTime<Utc>) -> String {
    let filtered =
        q.rule.is_some() || q.source.is_some() || q.author.is_some() || q.search.is_some();
    let what = if filtered {
        "no hits matching these filters"
    } else {
        "no hits"
    };
    match q.since {
        Some(since) => {
            let hint = if now - since < chrono::Duration::days(30) {
                " (try --since 30d)"
            } else {
                ""
            };
            format!(
                "{what} since {} {}{hint}",
                output::local_time(&fmt_time(since)),
                output::zone_name()
            )
        }
        None => format!("{what} stored"),
    }
}
