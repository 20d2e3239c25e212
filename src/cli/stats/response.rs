//! `vigie stats --by response`: first-response times of the reply-clock cases (SPEC §5.1) per
//! rule, source and week.
//!
//! Cases are read from `cases_v` (the store filters by opening time, rule and source) and
//! counted here. Percentiles are nearest-rank over the `response_secs` of the answered cases of
//! a row: sorted ascending, the p-th percentile is the value at rank ⌈p/100 × n⌉ (1-based), so
//! it is always a response time that happened, never an interpolation. "Within promise" is
//! counted over the cases whose outcome is known: those answered, and those breached and still
//! unanswered (a miss); a case still open and not yet due counts for neither side.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::cli::cases::human_secs;
use crate::cli::output::{self, Format};
use crate::store::cases_query::CaseRow;
use crate::store::{fmt_time, parse_time};

/// One row of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Cases answered (by a reply or by hand).
    pub answered: u64,
    /// Median response time, seconds.
    pub median: Option<i64>,
    /// 90th percentile, seconds.
    pub p90: Option<i64>,
    /// Share of known outcomes within the promise, in percent.
    pub within_pct: Option<f64>,
    /// Cases still open.
    pub open: u64,
    /// Cases breached (answered later or not).
    pub breached: u64,
}

/// The `p`-th percentile of `sorted` (ascending) by the nearest-rank method.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// The Monday 00:00 UTC that starts the ISO week of `t`.
pub fn week_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = t.date_naive() - Duration::days(t.weekday().num_days_from_monday() as i64);
    Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
}

/// The ISO week label of a week start: `2026-W47`.
fn week_label(start: DateTime<Utc>) -> String {
    let w = start.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// A row's key: rule, source, week start.
type Key = (String, String, DateTime<Utc>);

/// A row being counted: the row, its response times, how many within the promise, how many
/// outcomes known.
type Tally = (Row, Vec<i64>, u64, u64);

/// The report's rows, keyed by (rule, source, week start), in that order.
pub fn report(cases: &[CaseRow]) -> BTreeMap<Key, Row> {
    let mut times: BTreeMap<Key, Tally> = BTreeMap::new();
    for c in cases {
        let Some(opened) = parse_time(&c.opened_at) else {
            continue;
        };
        let key = (c.rule.clone(), c.source.clone(), week_start(opened));
        let (row, secs, within, known) = times.entry(key).or_default();
        if c.state == "open" {
            row.open += 1;
        }
        if c.breached_at.is_some() {
            row.breached += 1;
        }
        match c.response_secs {
            Some(s) => {
                row.answered += 1;
                secs.push(s);
                *known += 1;
                if s <= c.promise_secs {
                    *within += 1;
                }
            }
            None if c.state == "breached" => *known += 1,
            None => {}
        }
    }
    times
        .into_iter()
        .map(|(key, (mut row, mut secs, within, known))| {
            secs.sort_unstable();
            row.median = nearest_rank(&secs, 50.0);
            row.p90 = nearest_rank(&secs, 90.0);
            row.within_pct = (known > 0).then(|| within as f64 * 100.0 / known as f64);
            (key, row)
        })
        .collect()
}

/// Writes the report of `cases` in `format`.
pub fn write(out: &mut impl Write, format: Format, cases: &[CaseRow]) -> std::io::Result<()> {
    let rows = report(cases);
    if format == Format::Table {
        let cols = [
            "rule", "source", "week", "answered", "median", "p90", "within", "open", "breached",
        ];
        let cells: Vec<Vec<Value>> = rows
            .iter()
            .map(|((rule, source, week), r)| {
                vec![
                    json!(rule),
                    json!(source),
                    json!(week_label(*week)),
                    json!(r.answered),
                    json!(r.median.map(human_secs)),
                    json!(r.p90.map(human_secs)),
                    json!(r.within_pct.map(|p| format!("{p:.0}%"))),
                    json!(r.open),
                    json!(r.breached),
                ]
            })
            .collect();
        return output::write(out, format, &cols, &cells);
    }
    let cols = [
        "rule",
        "source",
        "week",
        "week_start",
        "answered",
        "median_secs",
        "p90_secs",
        "within_promise_pct",
        "open",
        "breached",
    ];
    let cells: Vec<Vec<Value>> = rows
        .iter()
        .map(|((rule, source, week), r)| {
            vec![
                json!(rule),
                json!(source),
                json!(week_label(*week)),
                json!(fmt_time(*week)),
                json!(r.answered),
                json!(r.median),
                json!(r.p90),
                json!(r.within_pct.map(|p| (p * 10.0).round() / 10.0)),
                json!(r.open),
                json!(r.breached),
            ]
        })
        .collect();
    output::write(out, format, &cols, &cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [60, 120, 180, 240, 300, 360, 420, 480, 540, 600];
        assert_eq!(nearest_rank(&v, 50.0), Some(300));
        assert_eq!(nearest_rank(&v, 90.0), Some(540));
        assert_eq!(nearest_rank(&v, 100.0), Some(600));
        assert_eq!(nearest_rank(&[42], 90.0), Some(42));
        assert_eq!(nearest_rank(&[10, 20, 30], 50.0), Some(20));
        assert_eq!(nearest_rank(&[], 50.0), None);
    }

    #[test]
    fn weeks_start_on_monday_utc() {
        let t = parse_time("2026-11-22T23:30:00Z").unwrap(); // a Sunday
        assert_eq!(fmt_time(week_start(t)), "2026-11-16T00:00:00Z");
        assert_eq!(week_label(week_start(t)), "2026-W47");
        let t = parse_time("2026-11-23T00:00:00Z").unwrap();
        assert_eq!(fmt_time(week_start(t)), "2026-11-23T00:00:00Z");
    }
}
