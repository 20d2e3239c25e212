//! Business hours and the time they count: `[daemon] hours`, `holidays` and `timezone`.
//!
//! `hours = "mon-fri 08:00-20:00, sat 09:00-13:00"` is a weekly schedule of local opening
//! ranges; `holidays` are whole local days closed; without `hours` every day is open all day.
//! A [`Clock`] turns them into open intervals in UTC, day by day in the zone, so that a
//! daylight-saving change counts as the wall clock does (the spring Sunday is an hour short,
//! the autumn one an hour long), and answers what a case needs: when its clock starts
//! ([`Clock::clock_start`]), the instant a number of open seconds after that
//! ([`Clock::after_open`], for the reminder at half the promise and the deadline), and the open
//! seconds between two instants ([`Clock::open_secs`], the response time). Pure: no I/O, no
//! "now"; what a case does with the answers is `store::cases`'s job.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Day names as `hours` writes them, Monday first.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Minutes in a day: `24:00`, the end of a range that runs to midnight.
const DAY_MINUTES: u32 = 24 * 60;

/// How many days a search for the next opening looks ahead before it gives up (only a schedule
/// closed for years by holidays gets there; the clock then counts calendar time).
const MAX_SCAN_DAYS: u32 = 3_700;

/// A weekly schedule: for each day (Monday first), its opening ranges in minutes after local
/// midnight, `[start, end)`, sorted and merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    days: [Vec<(u32, u32)>; 7],
}

/// `hours` cannot be read: what is wrong, and where in the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HoursError {
    /// 0-based character offset in the string.
    pub offset: usize,
    /// What is wrong, lowercase.
    pub message: String,
}

impl Default for Hours {
    fn default() -> Hours {
        Hours::always()
    }
}

impl Hours {
    /// Open all day, every day (no `hours` written).
    pub fn always() -> Hours {
        Hours {
            days: std::array::from_fn(|_| vec![(0, DAY_MINUTES)]),
        }
    }

    /// Parses `"mon-fri 08:00-20:00, sat 09:00-13:00"`: comma-separated entries, each a day or a
    /// range of days (`mon-fri`, `fri-mon` wraps) and one or more ranges `HH:MM-HH:MM` (`24:00`
    /// ends a range at midnight; a range ends after it starts, so one that runs over midnight
    /// is written as two entries). Entries add up.
    pub fn parse(s: &str) -> Result<Hours, HoursError> {
        let err = |byte: usize, message: String| HoursError {
            offset: s[..byte.min(s.len())].chars().count(),
            message,
        };
        let mut days: [Vec<(u32, u32)>; 7] = Default::default();
        let mut entry_start = 0;
        for entry in s.split(',') {
            let at = entry_start;
            entry_start += entry.len() + 1;
            let mut tokens = tokens(entry, at);
            let Some((day_tok, day_at)) = tokens.next() else {
                return Err(err(
                    at + entry.len() - entry.trim_start().len(),
                    "hours: empty entry, expected days and times such as \"mon-fri 08:00-20:00\""
                        .into(),
                ));
            };
            let which = parse_days(day_tok).ok_or_else(|| {
                err(
                    day_at,
                    format!("hours: \"{day_tok}\" is not a day or a range of days (mon, tue, wed, thu, fri, sat, sun; mon-fri)"),
                )
            })?;
            let mut ranges = Vec::new();
            for (tok, tok_at) in tokens {
                let (start, end) = parse_range(tok).ok_or_else(|| {
                    err(
                        tok_at,
                        format!("hours: \"{tok}\" is not a time range such as 08:00-20:00"),
                    )
                })?;
                if end <= start {
                    return Err(err(
                        tok_at,
                        format!("hours: \"{tok}\" ends before it starts; write a range over midnight as two entries (\"fri 22:00-24:00, sat 00:00-02:00\")"),
                    ));
                }
                ranges.push((start, end));
            }
            if ranges.is_empty() {
                return Err(err(
                    day_at,
                    format!("hours: \"{day_tok}\" needs a time range such as 08:00-20:00"),
                ));
            }
            for d in which {
                days[d].extend(ranges.iter().copied());
            }
        }
        for d in &mut days {
            d.sort_unstable();
            let mut merged: Vec<(u32, u32)> = Vec::with_capacity(d.len());
            for &(s, e) in d.iter() {
                match merged.last_mut() {
                    Some(last) if s <= last.1 => last.1 = last.1.max(e),
                    _ => merged.push((s, e)),
                }
            }
            *d = merged;
        }
        Ok(Hours { days })
    }
}

/// The whitespace-separated tokens of `entry`, each with its byte offset in the whole string
/// (`entry` starts at `at`).
fn tokens(entry: &str, at: usize) -> impl Iterator<Item = (&str, usize)> {
    entry
        .split_whitespace()
        .map(move |t| (t, at + (t.as_ptr() as usize - entry.as_ptr() as usize)))
}

/// `mon`, or `mon-fri` (wrapping: `fri-mon` is Friday to Monday): day indexes, Monday 0.
fn parse_days(s: &str) -> Option<Vec<usize>> {
    let day = |d: &str| DAYS.iter().position(|n| n.eq_ignore_ascii_case(d));
    match s.split_once('-') {
        None => Some(vec![day(s)?]),
        Some((a, b)) => {
            let (a, b) = (day(a)?, day(b)?);
            let n = (b + 7 - a) % 7 + 1;
            Some((0..n).map(|i| (a + i) % 7).collect())
        }
    }
}

/// `08:00-20:00` in minutes after midnight (`24:00` allowed as the end only).
fn parse_range(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let time = |t: &str| -> Option<u32> {
        let (h, m) = t.split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (time(a)?, time(b)?);
    (start < DAY_MINUTES).then_some((start, end))
}

/// Business hours in a zone, with holidays: where the reply clock runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    hours: Hours,
    holidays: BTreeSet<NaiveDate>,
    zone: Tz,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::always()
    }
}

impl Clock {
    /// `hours` in `zone`, closed on `holidays` (local dates).
    pub fn new(hours: Hours, holidays: impl IntoIterator<Item = NaiveDate>, zone: Tz) -> Clock {
        Clock {
            hours,
            holidays: holidays.into_iter().collect(),
            zone,
        }
    }

    /// Always open: the clock counts calendar time.
    pub fn always() -> Clock {
        Clock::new(Hours::always(), [], chrono_tz::UTC)
    }

    /// The instant at `minutes` after local midnight of `date`; a local time that the zone
    /// skips (spring forward) is the first instant after the jump, an ambiguous one (autumn)
    /// its first occurrence.
    fn instant(&self, date: NaiveDate, minutes: u32) -> DateTime<Utc> {
        let naive: NaiveDateTime =
            date.and_time(chrono::NaiveTime::MIN) + chrono::Duration::minutes(i64::from(minutes));
        for skip in 0..=240 {
            match self
                .zone
                .from_local_datetime(&(naive + chrono::Duration::minutes(skip)))
            {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    return t.with_timezone(&Utc)
                }
                LocalResult::None => continue,
            }
        }
        // No zone skips four hours: read it as UTC rather than loop.
        naive.and_utc()
    }

    /// The open intervals `[start, end)` that end after `from`, in order, the first one cut
    /// to start at `from` at the earliest.
    fn openings(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first = from.with_timezone(&self.zone).date_naive() - Days::new(1);
        (0..MAX_SCAN_DAYS)
            .filter_map(move |i| first.checked_add_days(Days::new(u64::from(i))))
            .filter(|date| !self.holidays.contains(date))
            .flat_map(move |date| {
                let day = date.weekday().num_days_from_monday() as usize;
                self.hours.days[day]
                    .iter()
                    .map(move |&(s, e)| (self.instant(date, s), self.instant(date, e)))
            })
            .filter(move |&(s, e)| e > from && e > s)
            .map(move |(s, e)| (s.max(from), e))
    }

    /// Whether the clock runs at `t`.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.openings(t).next().is_some_and(|(s, _)| s == t)
    }

    /// When a case opened at `t` starts counting: `t` while open, else the next opening.
    pub fn clock_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.openings(t).next().map_or(t, |(s, _)| s)
    }

    /// The instant `secs` open seconds after `start` (an instant where the clock runs, as
    /// [`Clock::clock_start`] gives). A count that ends exactly at a closing ends there.
    pub fn after_open(&self, start: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
        let mut left = secs as i64;
        for (s, e) in self.openings(start) {
            let len = (e - s).num_seconds();
            if left <= len {
                return s + chrono::Duration::seconds(left);
            }
            left -= len;
        }
        start + chrono::Duration::seconds(secs as i64)
    }

    /// When a case whose clock starts at `start` is reminded: half its promise later, in open
    /// time.
    pub fn remind_at(&self, start: DateTime<Utc>, promise_secs: u64) -> DateTime<Utc> {
        self.after_open(start, promise_secs / 2)
    }

    /// When a case whose clock starts at `start` is due: its promise later, in open time.
    pub fn due_at(&self, start: DateTime<Utc>, promise_secs: u64) -> DateTime<Utc> {
        self.after_open(start, promise_secs)
    }

    /// Open seconds between `a` and `b` (0 when `b` is not after `a`): a response time.
    pub fn open_secs(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> u64 {
        if b <= a {
            return 0;
        }
        let mut total = 0;
        for (s, e) in self.openings(a) {
            if s >= b {
                break;
            }
            total += (e.min(b) - s).num_seconds().max(0) as u64;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn paris(hours: &str, holidays: &[&str]) -> Clock {
        Clock::new(
            Hours::parse(hours).unwrap(),
            holidays.iter().map(|d| d.parse().unwrap()),
            chrono_tz::Europe::Paris,
        )
    }

    #[test]
    fn hours_parse_days_ranges_and_merge_them() {
        let h = Hours::parse("mon-fri 08:00-20:00, sat 09:00-13:00 14:00-18:00").unwrap();
        assert_eq!(h.days[0], [(480, 1200)]);
        assert_eq!(h.days[4], [(480, 1200)]);
        assert_eq!(h.days[5], [(540, 780), (840, 1080)]);
        assert!(h.days[6].is_empty());
        let wrap = Hours::parse("fri-mon 10:00-24:00, sun 09:00-11:00").unwrap();
        assert_eq!(wrap.days[6], [(540, 1440)]);
        assert_eq!(wrap.days[0], [(600, 1440)]);
        assert!(wrap.days[1].is_empty());
        assert_eq!(
            Hours::parse("MON-SUN 00:00-24:00").unwrap(),
            Hours::always()
        );
    }

    #[test]
    fn hours_errors_say_what_and_where() {
        // (input, character offset, start of the message)
        let table = [
            ("mon-fry 08:00-20:00", 0, "hours: \"mon-fry\" is not a day"),
            (
                "mon-fri 08:00-20:00, sat 9h-13h",
                25,
                "hours: \"9h-13h\" is not a time range",
            ),
            (
                "mon-fri 20:00-08:00",
                8,
                "hours: \"20:00-08:00\" ends before it starts",
            ),
            ("mon-fri 08:00-20:00,", 20, "hours: empty entry"),
            ("été 08:00-25:00", 0, "hours: \"été\" is not a day"),
            (
                "sat 08:00-25:00",
                4,
                "hours: \"08:00-25:00\" is not a time range",
            ),
            ("mon-fri", 0, "hours: \"mon-fri\" needs a time range"),
            ("", 0, "hours: empty entry"),
        ];
        for (input, offset, message) in table {
            let e = Hours::parse(input).expect_err(input);
            assert_eq!(e.offset, offset, "{input}: {e}");
            assert!(e.message.starts_with(message), "{input}: {e}");
        }
    }

    #[test]
    fn always_open_counts_calendar_time() {
        let c = Clock::always();
        let at = t("2026-11-21T22:00:00Z");
        assert_eq!(c.clock_start(at), at);
        assert_eq!(c.due_at(at, 1800), t("2026-11-21T22:30:00Z"));
        assert_eq!(c.remind_at(at, 1800), t("2026-11-21T22:15:00Z"));
        assert_eq!(c.open_secs(at, t("2026-11-22T22:00:00Z")), 86_400);
    }

    #[test]
    fn a_saturday_night_post_starts_at_monday_opening() {
        let c = paris("mon-fri 08:00-20:00", &[]);
        // Saturday 22:00 in Paris (UTC+1 in November): the clock starts Monday 08:00 local.
        let start = c.clock_start(t("2026-11-21T21:00:00Z"));
        assert_eq!(start, t("2026-11-23T07:00:00Z"));
        assert!(!c.is_open(t("2026-11-21T21:00:00Z")));
        assert!(c.is_open(start));
        // Friday 19:50 with 30 minutes: 10 on Friday, 20 on Monday; the reminder at 15.
        let friday = t("2026-11-20T18:50:00Z");
        assert_eq!(c.clock_start(friday), friday);
        assert_eq!(c.due_at(friday, 1800), t("2026-11-23T07:20:00Z"));
        assert_eq!(c.remind_at(friday, 1800), t("2026-11-23T07:05:00Z"));
        assert_eq!(c.open_secs(friday, t("2026-11-23T07:20:00Z")), 1800);
        // A count that ends at closing time ends there, not at the next opening.
        assert_eq!(
            c.due_at(t("2026-11-20T18:30:00Z"), 1800),
            t("2026-11-20T19:00:00Z")
        );
    }

    #[test]
    fn holidays_are_skipped_whole() {
        // Friday 25 December 2026 is closed: Thursday 19:50 + 30 min is due Monday 28th.
        let c = paris("mon-fri 08:00-20:00", &["2026-12-25"]);
        let thursday = t("2026-12-24T18:50:00Z");
        assert_eq!(c.due_at(thursday, 1800), t("2026-12-28T07:20:00Z"));
        assert_eq!(
            c.clock_start(t("2026-12-25T09:00:00Z")),
            t("2026-12-28T07:00:00Z")
        );
        // Holidays alone, always open otherwise.
        let c = Clock::new(
            Hours::always(),
            ["2026-12-25".parse().unwrap()],
            chrono_tz::Europe::Paris,
        );
        assert_eq!(
            c.clock_start(t("2026-12-25T12:00:00Z")),
            t("2026-12-25T23:00:00Z")
        );
    }

    #[test]
    fn daylight_saving_days_count_as_the_wall_clock_does() {
        // 29 March 2026: 02:00 CET becomes 03:00 CEST; 01:00-04:00 local is two hours.
        let c = paris("sun 01:00-04:00", &[]);
        let spring = c.clock_start(t("2026-03-28T12:00:00Z"));
        assert_eq!(spring, t("2026-03-29T00:00:00Z"));
        assert_eq!(c.open_secs(spring, t("2026-03-29T06:00:00Z")), 7200);
        assert_eq!(c.due_at(spring, 7200), t("2026-03-29T02:00:00Z"));
        // 25 October 2026: 03:00 CEST becomes 02:00 CET; the same hours are four hours long.
        let autumn = c.clock_start(t("2026-10-24T12:00:00Z"));
        assert_eq!(autumn, t("2026-10-24T23:00:00Z"));
        assert_eq!(c.open_secs(autumn, t("2026-10-25T06:00:00Z")), 4 * 3600);
        // A range that opens in the skipped hour opens at the jump.
        let gap = paris("sun 02:30-05:00", &[]);
        assert_eq!(
            gap.clock_start(t("2026-03-28T12:00:00Z")),
            t("2026-03-29T01:00:00Z")
        );
        // Always open in Paris: the spring Sunday has 23 hours, the autumn one 25.
        let all = Clock::new(Hours::always(), [], chrono_tz::Europe::Paris);
        assert_eq!(
            all.open_secs(t("2026-03-28T23:00:00Z"), t("2026-03-29T22:00:00Z")),
            23 * 3600
        );
        assert_eq!(
            all.open_secs(t("2026-10-24T22:00:00Z"), t("2026-10-25T23:00:00Z")),
            25 * 3600
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The deadline is the promise in open time from the start, the reminder half of it, and
        /// later posts are never due earlier.
        #[test]
        fn due_is_the_promise_in_open_time_and_monotone(
            a in 0i64..(365 * 86_400),
            gap in 0i64..(5 * 86_400),
            promise in 1u64..(3 * 86_400),
        ) {
            let c = paris("mon-fri 08:00-20:00, sat 09:00-13:00", &["2026-05-01", "2026-12-25"]);
            let t0 = t("2026-01-01T00:00:00Z") + chrono::Duration::seconds(a);
            let t1 = t0 + chrono::Duration::seconds(gap);
            let start = c.clock_start(t0);
            prop_assert!(start >= t0);
            prop_assert!(c.is_open(start));
            let (remind, due) = (c.remind_at(start, promise), c.due_at(start, promise));
            prop_assert!(start <= remind && remind <= due);
            prop_assert_eq!(c.open_secs(start, due), promise);
            prop_assert_eq!(c.open_secs(start, remind), promise / 2);
            prop_assert_eq!(c.open_secs(t0, due), promise);
            prop_assert!(c.due_at(c.clock_start(t1), promise) >= due);
            prop_assert!(c.open_secs(t0, t1) <= (t1 - t0).num_seconds() as u64);
        }
    }
}
