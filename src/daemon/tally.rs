//! The daemon's hourly summary: [`Tally`] counts every poll task's outcome (polls, failures,
//! new posts, hits, alerts) and hands back the counts once an hour has passed, for one info
//! line; the control loop logs the last ones at shutdown. Poll tasks call it; it does no I/O
//! besides that log line.

use chrono::{DateTime, Utc};

use super::poll::plural;
use crate::store::CommitStats;

/// How often [`Tally`] logs its summary.
const SUMMARY_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Counts of the polls since the last summary, shared by every poll task.
pub(super) struct Tally(std::sync::Mutex<Counts>);

/// What a summary says.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    since: Option<DateTime<Utc>>,
    polls: u64,
    failed: u64,
    new_posts: u64,
    hits: u64,
    alerts: u64,
}

impl Tally {
    /// A tally starting at `now`.
    pub fn new(now: DateTime<Utc>) -> Tally {
        Tally(std::sync::Mutex::new(Counts {
            since: Some(now),
            ..Counts::default()
        }))
    }

    /// Counts one poll, and logs the summary when an hour has passed since the last one.
    pub(super) fn record(&self, stats: Option<&CommitStats>, now: DateTime<Utc>) {
        if let Some(counts) = self.due(stats, now) {
            log_summary(&counts, now);
        }
    }

    /// Counts one poll; returns the counts to log when an hour has passed since the last
    /// summary, and starts again.
    fn due(&self, stats: Option<&CommitStats>, now: DateTime<Utc>) -> Option<Counts> {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        c.polls += 1;
        match stats {
            Some(s) => {
                c.new_posts += s.new_posts;
                c.hits += s.new_hits;
                c.alerts += s.new_alerts;
            }
            None => c.failed += 1,
        }
        let since = c.since.unwrap_or(now);
        (now - since >= SUMMARY_EVERY).then(|| {
            std::mem::replace(
                &mut *c,
                Counts {
                    since: Some(now),
                    ..Counts::default()
                },
            )
        })
    }

    /// Logs what was counted since the last summary (at shutdown).
    pub fn log_summary(&self) {
        let c = *self.0.lock().unwrap_or_else(|p| p.into_inner());
        log_summary(&c, Utc::now());
    }
}

fn log_summary(c: &Counts, now: DateTime<Utc>) {
    let minutes = c.since.map_or(0, |s| (now - s).num_minutes());
    tracing::info!(
        polls = c.polls,
        failed = c.failed,
        new_posts = c.new_posts,
        hits = c.hits,
        alerts = c.alerts,
        minutes,
        "Summary of the last {minutes} min: {} poll{} ({} failed), {} new post{}, {} hit{}, {} alert{}.",
        c.polls,
        plural(c.polls),
        c.failed,
        c.new_posts,
        plural(c.new_posts),
        c.hits,
        plural(c.hits),
        c.alerts,
        plural(c.alerts),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_comes_once_an_hour_with_what_was_counted() {
        let t0 = crate::store::parse_time("2026-11-22T10:00:00Z").unwrap();
        let tally = Tally::new(t0);
        let stats = CommitStats {
            new_posts: 12,
            new_hits: 3,
            new_alerts: 1,
        };
        assert_eq!(tally.due(Some(&stats), t0), None);
        assert_eq!(tally.due(None, t0 + SUMMARY_EVERY / 2), None);
        let at = t0 + SUMMARY_EVERY;
        let c = tally
            .due(Some(&stats), at)
            .expect("a summary after an hour");
        assert_eq!(
            (c.polls, c.failed, c.new_posts, c.hits, c.alerts),
            (3, 1, 24, 6, 2)
        );
        // Counting starts again.
        assert_eq!(tally.due(None, at + SUMMARY_EVERY / 2), None);
        let c = tally.due(None, at + SUMMARY_EVERY).expect("the next hour");
        assert_eq!((c.polls, c.failed, c.since), (2, 2, Some(at)));
    }
}
