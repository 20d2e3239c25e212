//! Source alerts, pure: a source's health in, failing / silent / recovered out (SPEC §5).
//!
//! The store reads the health from its `sources`, `posts`, `source_downtime` and `alerts`
//! tables inside the commit and passes `now`; this module judges it. Rule alerts (threshold,
//! spike, each) are the parent module's; the alert value both kinds become is [`super::alert`]'s.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{SourceCondition, DAY};

/// A source's health, as `store::alerts` reads it at `now`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Since when polls have failed without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    /// When a poll last brought a post not seen before.
    pub last_new_post: Option<DateTime<Utc>>,
    /// The usual gap between its posts, when enough history exists to know it.
    pub usual_gap: Option<Duration>,
    /// Its poll interval: silence is never judged on less than three polls.
    pub every: Duration,
    /// The last `source` alert about it, if it said the source was failing or silent and
    /// no recovery followed: the state and when.
    pub open: Option<(SourceCondition, DateTime<Utc>)>,
}

/// The longest period a source's usual gap between posts is measured over.
pub const GAP_PERIOD: Duration = Duration::from_secs(7 * 86_400);

/// Posts needed before a source's usual gap is trusted.
pub const MIN_POSTS_FOR_GAP: u64 = 10;

/// A source's usual gap between new posts: the time it was `watched` (at most
/// [`GAP_PERIOD`]) less the time it was `down` in it, over the `posts` it brought in that
/// time. No opinion before a day of watching and [`MIN_POSTS_FOR_GAP`] posts.
pub fn usual_gap(watched: Duration, down: Duration, posts: u64) -> Option<Duration> {
    let watched = watched.saturating_sub(down);
    (watched >= DAY && posts >= MIN_POSTS_FOR_GAP).then(|| watched / posts as u32)
}

/// Decides the `source` alert to send at `now`, if any: `Failing` after failing for
/// `alert_after`, `Silent` after three usual gaps without a new post, `Recovered` when an
/// open problem ends.
pub fn evaluate_source(
    h: &Health,
    alert_after: Duration,
    now: DateTime<Utc>,
) -> Option<SourceCondition> {
    let elapsed = |t: DateTime<Utc>| (now - t).to_std().unwrap_or(Duration::ZERO);
    match h.open {
        Some((SourceCondition::Failing, _)) => h
            .failing_since
            .is_none()
            .then_some(SourceCondition::Recovered),
        Some((SourceCondition::Silent, at)) => {
            let fresh = h.last_new_post.is_some_and(|t| t > at);
            fresh.then_some(SourceCondition::Recovered)
        }
        _ => {
            if let Some(since) = h.failing_since {
                return (elapsed(since) >= alert_after).then_some(SourceCondition::Failing);
            }
            let gap = h.usual_gap?.max(h.every);
            let last = h.last_new_post?;
            (elapsed(last) >= gap * 3).then_some(SourceCondition::Silent)
        }
    }
}
