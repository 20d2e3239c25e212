//! The only place that decides when a source is polled.
//!
//! One timetable (source index → next poll time), rebuilt at start from the `sources` table so
//! a restart resumes where it stopped, and one function, [`next_poll`], that applies jitter,
//! exponential backoff with full jitter after failures, and `Retry-After` (miniflux's
//! `ScheduleNextCheck`). The retry policy itself (backoff shape, what is retryable) lives in
//! `daemon::retry`; this module only applies it to polls. No other module sleeps.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::retry::{jittered, Backoff};
use crate::source::SourceError;

/// Longest wait between polls of a failing source.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// When to poll again, after a poll that ended with `outcome`, the source's `failures` in a row
/// (counting this one), and a random number in [0, 1).
///
/// - success: `every`, jittered by ±10% so sources configured alike drift apart, and never
///   sooner than the wait the platform's rate-limit headers asked for (`Page::wait`);
/// - rate limited: at least the server's `Retry-After`, and never sooner than `every`;
/// - error: `every` plus a full-jitter exponential backoff (`every`·2^failures, capped at an
///   hour), so a broken site is retried less and less often but never abandoned.
pub fn next_poll(
    outcome: Result<Option<Duration>, &SourceError>,
    every: Duration,
    failures: u32,
    rand01: f64,
) -> Duration {
    match outcome {
        Ok(wait) => jittered(every, rand01).max(wait.unwrap_or_default()),
        Err(SourceError::RateLimited { retry_after }) => {
            let backoff = backoff(every).delay(failures, rand01);
            retry_after.unwrap_or(every + backoff).max(every)
        }
        Err(_) => every + backoff(every).delay(failures, rand01),
    }
}

fn backoff(every: Duration) -> Backoff {
    Backoff {
        base: every,
        cap: MAX_BACKOFF.max(every),
    }
}

/// The timetable: when each source is next due.
#[derive(Debug, Clone, Default)]
pub struct Timetable {
    due: Vec<Option<DateTime<Utc>>>,
}

impl Timetable {
    /// A timetable for `n` sources, each due at the given time (`None`: not scheduled).
    pub fn new(due: Vec<Option<DateTime<Utc>>>) -> Timetable {
        Timetable { due }
    }

    /// Schedules source `i` at `at`.
    pub fn set(&mut self, i: usize, at: DateTime<Utc>) {
        if let Some(slot) = self.due.get_mut(i) {
            *slot = Some(at);
        }
    }

    /// Marks source `i` as being polled: not due again until rescheduled.
    pub fn take(&mut self, i: usize) {
        if let Some(slot) = self.due.get_mut(i) {
            *slot = None;
        }
    }

    /// Sources due at `now`, in index order.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<usize> {
        (0..self.due.len())
            .filter(|&i| self.due[i].is_some_and(|t| t <= now))
            .collect()
    }

    /// When source `i` is due (`None`: being polled, or not scheduled).
    pub fn at(&self, i: usize) -> Option<DateTime<Utc>> {
        self.due.get(i).copied().flatten()
    }

    /// The earliest scheduled time, if any.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.due.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn next_poll_table() {
        let rate = |s| SourceError::RateLimited {
            retry_after: Some(S(s)),
        };
        let (rate600, rate5) = (rate(600), rate(5));
        let transient = SourceError::Transient("HTTP 500".into());
        // (outcome, every, failures, rand) → (min, max) inclusive.
        type Case<'a> = (
            Result<Option<Duration>, &'a SourceError>,
            u64,
            u32,
            f64,
            u64,
            u64,
        );
        let cases: Vec<Case<'_>> = vec![
            (Ok(None), 60, 0, 0.5, 54, 66),
            (Ok(None), 60, 0, 0.0, 54, 66),
            (Ok(None), 60, 0, 0.999, 54, 66),
            // The platform's rate-limit headers asked for a longer wait than `every`.
            (Ok(Some(S(900))), 60, 0, 0.5, 900, 900),
            (Ok(Some(S(5))), 60, 0, 0.5, 54, 66),
            (Err(&rate600), 60, 1, 0.5, 600, 600),
            (Err(&rate5), 60, 1, 0.5, 60, 60),
            (Err(&transient), 60, 1, 0.0, 60, 60),
            (Err(&transient), 60, 1, 0.999, 60, 180),
            (Err(&transient), 60, 10, 0.999, 60, 3660),
        ];
        for (outcome, every, failures, r, lo, hi) in cases {
            let d = next_poll(outcome, S(every), failures, r);
            assert!(
                d >= S(lo) && d <= S(hi),
                "{outcome:?} every {every}s failures {failures} rand {r}: {d:?} not in [{lo}s, {hi}s]"
            );
        }
    }

    #[test]
    fn backoff_grows_with_failures() {
        let e = SourceError::Transient("x".into());
        let d1 = next_poll(Err(&e), S(10), 1, 0.99);
        let d5 = next_poll(Err(&e), S(10), 5, 0.99);
        assert!(d5 > d1 * 4, "{d1:?} {d5:?}");
    }

    #[test]
    fn timetable_due_and_next() {
        let t0 = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut t = Timetable::new(vec![
            Some(t0),
            None,
            Some(t0 + chrono::Duration::seconds(30)),
        ]);
        assert_eq!(t.due(t0), [0]);
        assert_eq!(t.next(), Some(t0));
        t.take(0);
        assert_eq!(t.next(), Some(t0 + chrono::Duration::seconds(30)));
        t.set(1, t0);
        assert_eq!(t.due(t0 + chrono::Duration::seconds(60)), [1, 2]);
    }
}
