//! How fast and from where the `reddit` source polls: the cursor's position (`before` the
//! newest fullname seen, dropped once after [`RECHECK`] empty polls), the feeds' budget of
//! [`FEED_REQUESTS_PER_MINUTE`] requests per host, and the wait the API's `x-ratelimit-*`
//! headers ask for. Pure but for the budget, which is shared by every reddit source of the
//! process; time is an argument. The requests themselves are `poll`'s.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::source::fetch::Body;
use crate::source::Cursor;

/// Feed requests allowed per minute and per host without OAuth.
pub const FEED_REQUESTS_PER_MINUTE: usize = 10;
/// Empty polls in a row after which one poll goes without `before`.
pub const RECHECK: u32 = 10;

/// Reddit's `x-ratelimit-remaining` / `x-ratelimit-reset` (seconds to the window's end): no
/// request left means waiting for the reset.
pub fn rate_limit_wait(body: &Body) -> Option<Duration> {
    let remaining: f64 = body.header("x-ratelimit-remaining")?.trim().parse().ok()?;
    let reset: f64 = body.header("x-ratelimit-reset")?.trim().parse().ok()?;
    (remaining < 1.0 && reset.is_finite() && reset > 0.0).then(|| Duration::from_secs_f64(reset))
}

/// `host:port` of a URL, the key of the feed budget.
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// Feed requests made per host in the last minute, shared by every reddit source (and across
/// reloads, which rebuild the sources but not the host's patience).
fn feed_budget() -> &'static Mutex<HashMap<String, VecDeque<Instant>>> {
    static BUDGET: OnceLock<Mutex<HashMap<String, VecDeque<Instant>>>> = OnceLock::new();
    BUDGET.get_or_init(Default::default)
}

/// Takes one feed request for `host` at `now`, or says how long until one is free.
pub fn take_feed_slot(host: &str, now: Instant) -> Result<(), Duration> {
    let mut budget = feed_budget().lock().unwrap_or_else(|p| p.into_inner());
    take_slot(budget.entry(host.to_string()).or_default(), now)
}

/// The sliding window behind [`take_feed_slot`]: at most [`FEED_REQUESTS_PER_MINUTE`] times in
/// any minute.
fn take_slot(times: &mut VecDeque<Instant>, now: Instant) -> Result<(), Duration> {
    const MINUTE: Duration = Duration::from_secs(60);
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= MINUTE)
    {
        times.pop_front();
    }
    if times.len() >= FEED_REQUESTS_PER_MINUTE {
        let oldest = *times.front().expect("a full window has a first entry");
        return Err(MINUTE - now.duration_since(oldest));
    }
    times.push_back(now);
    Ok(())
}

/// Where to resume, stored as the cursor's `position`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The newest fullname seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Polls in a row that sent `before` and listed nothing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quiet: u32,
    /// Where each brand account's comments stand (`/user/{name}/comments`, SPEC §5.1), by
    /// username: their own `before` and quiet count. Absent from cursors written before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub brand: BTreeMap<String, Position>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Position {
    /// The cursor's position; a missing or foreign one (another kind's) starts afresh.
    pub fn read(cursor: &Cursor) -> Position {
        cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default()
    }

    /// As stored.
    pub fn write(&self) -> String {
        serde_json::to_string(self).expect("a position serialises")
    }

    /// The `before` to send: the newest fullname, except on every [`RECHECK`]th quiet poll.
    pub fn anchor(&self) -> Option<&str> {
        self.before.as_deref().filter(|_| self.quiet < RECHECK)
    }

    /// The position after a listing whose newest fullname is `newest`.
    pub fn after(self, sent_before: bool, newest: Option<String>) -> Position {
        match newest {
            Some(newest) => Position {
                before: Some(newest),
                quiet: 0,
                brand: self.brand,
            },
            None if sent_before => Position {
                quiet: self.quiet + 1,
                ..self
            },
            None => Position { quiet: 0, ..self },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_moves_with_the_newest_and_rechecks_after_quiet_polls() {
        let start = Position::default();
        assert_eq!(start.anchor(), None);
        let p = start.after(false, Some("t3_b".into()));
        assert_eq!((p.anchor(), p.quiet), (Some("t3_b"), 0));
        assert_eq!(
            Position::read(&Cursor {
                position: Some(p.write()),
                ..Cursor::default()
            }),
            p
        );
        assert_eq!(p.write(), r#"{"before":"t3_b"}"#);
        let mut q = p.clone();
        for _ in 0..RECHECK {
            assert_eq!(q.anchor(), Some("t3_b"));
            q = q.after(true, None);
        }
        assert_eq!(q.anchor(), None, "one poll without before");
        let r = q.clone().after(false, None);
        assert_eq!(
            (r.anchor(), r.quiet),
            (Some("t3_b"), 0),
            "an empty subreddit"
        );
        let r = q.after(false, Some("t3_c".into()));
        assert_eq!(r.anchor(), Some("t3_c"));
        let foreign = Cursor {
            position: Some("{\"offset\": 3}x".into()),
            ..Cursor::default()
        };
        assert_eq!(Position::read(&foreign), Position::default());
        // The brand's positions ride along as the listing's moves.
        let mut b = Position::default().after(false, Some("t3_b".into()));
        b.brand.insert(
            "Posteo".into(),
            Position::default().after(false, Some("t1_x".into())),
        );
        assert_eq!(b.write(), r#"{"before":"t3_b","brand":{"Posteo":{"before":"t1_x"}}}"#);
        let moved = b.clone().after(true, Some("t3_c".into()));
        assert_eq!(moved.brand, b.brand);
        assert_eq!(Position::read(&Cursor {
            position: Some(b.write()),
            ..Cursor::default()
        }), b);
    }

    #[test]
    fn feed_budget_allows_ten_a_minute() {
        let mut times = VecDeque::new();
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(take_slot(&mut times, t0 + Duration::from_secs(i)), Ok(()));
        }
        assert_eq!(
            take_slot(&mut times, t0 + Duration::from_secs(15)),
            Err(Duration::from_secs(45))
        );
        assert_eq!(take_slot(&mut times, t0 + Duration::from_secs(60)), Ok(()));
        assert!(take_slot(&mut times, t0 + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn rate_limit_headers() {
        let body = |remaining: &str, reset: &str| Body {
            status: 200,
            headers: vec![
                ("x-ratelimit-used".into(), "100".into()),
                ("x-ratelimit-remaining".into(), remaining.into()),
                ("x-ratelimit-reset".into(), reset.into()),
            ],
            ..Body::default()
        };
        assert_eq!(
            rate_limit_wait(&body("0.0", "42")),
            Some(Duration::from_secs(42))
        );
        assert_eq!(rate_limit_wait(&body("57.0", "42")), None);
        assert_eq!(rate_limit_wait(&body("x", "42")), None);
        assert_eq!(rate_limit_wait(&Body::default()), None);
    }
}
