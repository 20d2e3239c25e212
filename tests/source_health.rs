//! `source` alerts through the real store commit, in controlled time: failing, recovered, then
//! silent, with the down period left out of the source's usual gap.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use vigie::matcher::Hits;
use vigie::post::Post;
use vigie::source::Cursor;
use vigie::store::{AlertPolicy, PollOutcome, PollResult, Store};

const HOUR: i64 = 3600;

fn at(t0: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    t0 + chrono::Duration::seconds(secs)
}

fn page(t: DateTime<Utc>, posts: Vec<Post>) -> PollResult {
    PollResult {
        source: "forum".into(),
        kind: "rss".into(),
        polled_at: t,
        outcome: PollOutcome::Page {
            posts: posts.into_iter().map(|p| (p, Hits::default())).collect(),
            cursor: Cursor::default(),
            not_modified: false,
            paused: None,
        },
        next_poll_at: t,
        failures: 0,
    }
}

fn failed(t: DateTime<Utc>, failures: u32) -> PollResult {
    PollResult {
        outcome: PollOutcome::Failed {
            error: "HTTP 503".into(),
        },
        failures,
        ..page(t, Vec::new())
    }
}

#[test]
fn failing_recovered_then_silent_with_downtime_left_out_of_the_usual_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("vigie.db")).unwrap();
    store
        .set_alert_policy(AlertPolicy {
            rules: BTreeMap::new(),
            admin_notify: vec!["ops".into()],
            source_alert_after: Duration::from_secs(1800),
            sources: HashMap::from([("forum".to_string(), Duration::from_secs(60))]),
            deliver: true,
        })
        .unwrap();
    let t0: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    // First poll: nothing; then one new post per hourly poll for 25 hours.
    store.commit(&page(t0, Vec::new())).unwrap();
    for h in 1..=25 {
        let t = at(t0, h * HOUR);
        let post = Post {
            id: Some(format!("p{h}")),
            created_at: Some(vigie::store::fmt_time(t)),
            ..Post::from_text("bonjour")
        };
        store.commit(&page(t, vec![post])).unwrap();
    }
    // Down from 26h to 36h: one failing alert once past source_alert_after, not one per poll.
    for (i, h) in (26..36).enumerate() {
        store
            .commit(&failed(at(t0, h * HOUR), i as u32 + 1))
            .unwrap();
    }
    store.commit(&page(at(t0, 36 * HOUR), Vec::new())).unwrap();
    store.commit(&page(at(t0, 40 * HOUR), Vec::new())).unwrap();
    let conn = store.connection();
    let mut stmt = conn
        .prepare("SELECT fired_at, state, reason FROM alerts WHERE kind = 'source' ORDER BY id")
        .unwrap();
    let alerts: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let states: Vec<(&str, &str)> = alerts
        .iter()
        .map(|(t, s, _)| (t.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            ("2026-11-21T03:00:00Z", "failing"),
            ("2026-11-21T12:00:00Z", "recovered"),
            ("2026-11-21T16:00:00Z", "silent"),
        ]
    );
    // Watched 40 h, 10 of them down, 25 posts: one every 72 minutes (96 with the downtime).
    assert_eq!(
        alerts[2].2,
        "source forum has brought no new post for 15h (usually one every 72m)"
    );
    let down: (String, String) = conn
        .query_row("SELECT start, end FROM source_downtime", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        down,
        ("2026-11-21T02:00:00Z".into(), "2026-11-21T12:00:00Z".into())
    );
    // Each source alert is queued for the admin notifier.
    let queued: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM deliveries WHERE notifier = 'ops'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 3);
}
