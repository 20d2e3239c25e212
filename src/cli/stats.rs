//! `vigie stats`: how many hits per rule (or source, term, author) in each time bucket.
//!
//! Buckets are `--every` long and aligned on multiples of it since the Unix epoch (UTC), so
//! that two runs an hour apart share their hourly buckets; the first is the one holding
//! `--since`, the last the one holding `--until`. The counting is done here over one read of
//! the matching hits (`Store::hit_keys`): the database only filters. `--by response` is
//! another report, on cases rather than hits: `response`'s.

pub(super) mod response;

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, TimeZone, Utc};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::db::open;
use super::hits::{time_arg, Scope};
use super::output::{self, Format};
use super::Invalid;
use crate::config::duration::parse_duration;
use crate::store::query::StatsBy;
use crate::store::{fmt_time, parse_time, HitQuery};

/// Most buckets one run counts into.
const MAX_BUCKETS: i64 = 10_000;

/// What to count hits by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// The rule hit.
    Rule,
    /// The post's source.
    Source,
    /// Each query term the hit quotes (a hit quoting two terms counts for both).
    Term,
    /// The post's author.
    Author,
    /// First-response times of reply-clock cases per rule, source and week (cases opened
    /// since --since, default 30d): median and p90 (nearest rank), answered, % within the
    /// promise, open and breached.
    Response,
}

impl By {
    fn store(self) -> StatsBy {
        match self {
            By::Rule => StatsBy::Rule,
            By::Source => StatsBy::Source,
            By::Term => StatsBy::Term,
            // `--by response` counts cases, not hits: `run` hands it to `run_response` first.
            By::Author | By::Response => StatsBy::Author,
        }
    }

    fn column(self) -> &'static str {
        match self {
            By::Rule => "rule",
            By::Source => "source",
            By::Term => "term",
            By::Author => "author",
            By::Response => "response",
        }
    }
}

/// Arguments of `vigie stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Count hits per rule, source, term or author.
    #[arg(long, value_enum, default_value = "rule")]
    pub by: By,
    /// Bucket length (15m, 1h, 1d), aligned on UTC.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub every: String,
    /// Posts created since: a duration ago (90s, 15m, 2h, 7d) or an RFC 3339 time [default:
    /// 24h; with --by response, cases opened since, default 30d].
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
    /// Output format [default: table on a terminal, json otherwise]. Table: one row per key
    /// with its total, its busiest bucket and a sparkline; json and csv: one row per key and
    /// bucket, empty buckets included.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Table times in UTC rather than `[daemon] timezone` (json and csv are always UTC).
    #[arg(long)]
    pub utc: bool,
}

/// The buckets of one run: `n` of them, `every` seconds long, the first starting at `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Buckets {
    start: i64,
    every: i64,
    n: usize,
}

impl Buckets {
    /// The aligned buckets from the one holding `since` to the one holding the last second
    /// before `until`.
    fn new(since: DateTime<Utc>, until: DateTime<Utc>, every: i64) -> Result<Buckets, String> {
        if until <= since {
            return Err("--until must be after --since".into());
        }
        let start = since.timestamp().div_euclid(every) * every;
        let n = (until.timestamp() - 1 - start).div_euclid(every) + 1;
        if n > MAX_BUCKETS {
            return Err(format!(
                "{n} buckets: at most {MAX_BUCKETS}; give a longer --every or a shorter span"
            ));
        }
        Ok(Buckets {
            start,
            every,
            n: n as usize,
        })
    }

    /// The bucket of `t`, if it is in range.
    fn index(&self, t: DateTime<Utc>) -> Option<usize> {
        let k = (t.timestamp() - self.start).div_euclid(self.every);
        (0..self.n as i64).contains(&k).then_some(k as usize)
    }

    /// When bucket `k` starts.
    fn at(&self, k: usize) -> DateTime<Utc> {
        Utc.timestamp_opt(self.start + k as i64 * self.every, 0)
            .single()
            .unwrap_or_default()
    }
}

/// Counts per key, busiest first (then by key).
fn count(
    buckets: &Buckets,
    each: impl FnOnce(&mut dyn FnMut(&str, &str)) -> Result<()>,
) -> Result<Vec<(String, Vec<u64>)>> {
    let mut counts: HashMap<String, Vec<u64>> = HashMap::new();
    each(&mut |at, key| {
        let Some(k) = parse_time(at).and_then(|t| buckets.index(t)) else {
            return;
        };
        let row = match counts.get_mut(key) {
            Some(row) => row,
            None => counts.entry(key.to_string()).or_insert(vec![0; buckets.n]),
        };
        row[k] += 1;
    })?;
    let mut rows: Vec<(String, Vec<u64>)> = counts.into_iter().collect();
    rows.sort_by(|a, b| {
        let total = |r: &(String, Vec<u64>)| r.1.iter().sum::<u64>();
        total(b).cmp(&total(a)).then_with(|| a.0.cmp(&b.0))
    });
    Ok(rows)
}

/// Runs `vigie stats`.
pub fn run(config: &Path, args: StatsArgs) -> Result<()> {
    let now = Utc::now();
    let every = parse_duration(&args.every)
        .ok()
        .filter(|d| d.as_secs() >= 1)
        .ok_or_else(|| {
            Invalid(format!(
                "vigie: --every {:?}: expected a duration of at least 1s (15m, 1h, 1d)",
                args.every
            ))
        })?
        .as_secs() as i64;
    if args.by == By::Response {
        return run_response(config, args, now);
    }
    let since = time_arg(Some(args.since.as_deref().unwrap_or("24h")), now)?.unwrap_or(now);
    let until = time_arg(args.scope.until.as_deref(), now)?.unwrap_or(now);
    let buckets = Buckets::new(since, until, every).map_err(|e| Invalid(format!("vigie: {e}")))?;
    let store = open(config, &args.scope.db, args.utc)?;
    let query = HitQuery {
        // Whole buckets: the first starts before `since`.
        since: Some(buckets.at(0)),
        until: Some(buckets.at(buckets.n)),
        rule: args.scope.rule,
        source: args.scope.source,
        ..HitQuery::default()
    };
    let rows = count(&buckets, |f| {
        Ok(store.hit_keys(&query, args.by.store(), |at, key| f(at, key))?)
    })?;

    let format = Format::or_default(args.format);
    let column = args.by.column();
    let mut out = BufWriter::new(io::stdout().lock());
    if format == Format::Table {
        writeln!(
            out,
            "{} buckets of {} from {} to {}",
            buckets.n,
            args.every,
            output::local_time_zoned(&fmt_time(buckets.at(0))),
            output::local_time_zoned(&fmt_time(buckets.at(buckets.n))),
        )?;
        let table: Vec<Vec<Value>> = rows
            .iter()
            .map(|(key, counts)| {
                let (total, max) = (counts.iter().sum::<u64>(), counts.iter().max());
                vec![
                    json!(key),
                    json!(total),
                    json!(max),
                    json!(output::sparkline(counts)),
                ]
            })
            .collect();
        output::write(
            &mut out,
            format,
            &[column, "total", "max", "sparkline"],
            &table,
        )?;
    } else {
        let tidy: Vec<Vec<Value>> =
            rows.iter()
                .flat_map(|(key, counts)| {
                    counts.iter().enumerate().map(move |(k, &c)| {
                        vec![json!(key), json!(fmt_time(buckets.at(k))), json!(c)]
                    })
                })
                .collect();
        output::write(&mut out, format, &[column, "bucket", "count"], &tidy)?;
    }
    Ok(out.flush()?)
}

/// `--by response`: the cases opened in the span, by rule, source and week.
fn run_response(config: &Path, args: StatsArgs, now: DateTime<Utc>) -> Result<()> {
    let since = time_arg(Some(args.since.as_deref().unwrap_or("30d")), now)?;
    let until = time_arg(args.scope.until.as_deref(), now)?;
    let store = open(config, &args.scope.db, args.utc)?;
    let cases = store
        .cases(&crate::store::cases_query::CaseQuery {
            rule: args.scope.rule,
            source: args.scope.source,
            since,
            until,
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let format = Format::or_default(args.format);
    let mut out = BufWriter::new(io::stdout().lock());
    if cases.is_empty() && format == Format::Table {
        eprintln!("no cases");
        return Ok(());
    }
    response::write(&mut out, format, &cases)?;
    Ok(out.flush()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn buckets_are_aligned_and_cover_since_to_until() {
        let b = Buckets::new(t("2026-11-22T08:20:00Z"), t("2026-11-22T11:00:00Z"), 3600).unwrap();
        assert_eq!((fmt_time(b.at(0)), b.n), ("2026-11-22T08:00:00Z".into(), 3));
        assert_eq!(b.index(t("2026-11-22T08:00:00Z")), Some(0));
        assert_eq!(b.index(t("2026-11-22T10:59:59Z")), Some(2));
        assert_eq!(b.index(t("2026-11-22T11:00:00Z")), None);
        assert_eq!(b.index(t("2026-11-22T07:59:59Z")), None);
        // An `until` inside a bucket keeps that bucket.
        let b = Buckets::new(t("2026-11-22T08:00:00Z"), t("2026-11-22T10:30:00Z"), 3600).unwrap();
        assert_eq!(b.n, 3);
        assert!(Buckets::new(t("2026-11-22T08:00:00Z"), t("2026-11-22T08:00:00Z"), 60).is_err());
        assert!(Buckets::new(t("2026-01-01T00:00:00Z"), t("2026-11-22T08:00:00Z"), 60).is_err());
    }
}
