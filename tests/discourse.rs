//! The `discourse` source with the real daemon against a loopback forum: a busy forum read back
//! with `before` to the last stored id (within a poll and across polls), permalinks, the API key
//! sent on every request and shown nowhere, and a 429's `wait_seconds` honoured.
//!
//! The shared contract (first poll, cursor, kill -9, faults, preview) is `source_contract.rs`'s.

use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const POSTS: &str = include_str!("fixtures/discourse/posts.json");
const RATE_LIMITED: &str = include_str!("fixtures/discourse/rate-limited.json");
const INVALID_KEY: &str = include_str!("fixtures/discourse/invalid-key.json");

const RULES: &str = r#"
[[rule]]
name = "plainte"
query = 'colis OR retard OR réclamation OR livraison'
"#;

/// A `[daemon]` and one `discourse` source on `base`, with `extra` keys.
fn config(base: &str, extra: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n\n\
         [[source]]\nname = \"forum\"\nkind = \"discourse\"\nurl = \"{base}\"\nevery = \"1s\"\n{extra}\n"
    )
}

/// A `/posts.json` page holding `ids` (newest first), each post shaped like the fixture's first.
fn page(ids: impl IntoIterator<Item = u64>) -> String {
    let fixture: Value = serde_json::from_str(POSTS).expect("posts.json");
    let template = &fixture["latest_posts"][0];
    let posts: Vec<Value> = ids
        .into_iter()
        .map(|id| {
            let mut p = template.clone();
            p["id"] = id.into();
            p["post_number"] = (id % 1000 + 1).into();
            // One post a minute after 2026-11-22T08:00Z, in id order.
            let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap()
                + chrono::Duration::minutes(id as i64 - 1000);
            p["created_at"] = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into();
            p["cooked"] = format!("<p>Colis numéro {id} toujours en retard.</p>").into();
            p
        })
        .collect();
    serde_json::json!({ "latest_posts": posts }).to_string()
}

/// Stored `source_id`s as numbers, sorted.
fn stored(d: &Daemon) -> Vec<u64> {
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT source_id FROM posts WHERE source = 'forum'")
        .expect("prepare");
    let mut ids: Vec<u64> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .map(|r| r.expect("row").parse().expect("numeric id"))
        .collect();
    ids.sort_unstable();
    ids
}

/// Ids from `hi` down to `lo`, in pages of 50 as `/posts.json` gives them.
fn pages(hi: u64, lo: u64) -> Vec<Reply> {
    let ids: Vec<u64> = (lo..=hi).rev().collect();
    ids.chunks(50)
        .map(|c| Reply::ok(page(c.to_vec())))
        .collect()
}

#[test]
fn discourse_busy_forum_is_read_back_with_before_to_the_last_id() {
    let server = TestServer::start();
    // First poll: the fixture (1040..=1042). Second: 58 new posts, so the newest page (1100 to
    // 1051) does not reach 1042 and the next (1050 down to 1001) does. Then nothing new.
    let mut replies = vec![Reply::ok(POSTS)];
    replies.extend(pages(1100, 1001));
    replies.push(Reply::ok(page((1051..=1100).rev())));
    server.script("/posts.json", replies);
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&server.url(""), "")),
        ("rules.toml", RULES),
    ]);
    let want: Vec<u64> = (1040..=1100).collect();
    d.wait_for("every post stored", Duration::from_secs(60), || {
        stored(&d) == want
    });
    let targets: Vec<String> = server
        .requests("/posts.json")
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(
        targets[..3],
        ["/posts.json", "/posts.json", "/posts.json?before=1051"],
        "{targets:#?}"
    );
    // The permalink is the post's place in its topic.
    let url: String = d
        .db()
        .query_row(
            "SELECT url FROM posts WHERE source = 'forum' AND source_id = '1042'",
            [],
            |r| r.get(0),
        )
        .expect("post 1042");
    assert_eq!(
        url,
        server.url("/t/colis-bloque-depuis-une-semaine/311/4"),
        "permalink"
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn discourse_backlog_longer_than_a_poll_is_read_over_the_next_polls_without_a_gap() {
    let server = TestServer::start();
    // 600 posts since the first poll: 12 pages of 50, and a 13th reaching 1042. A poll reads 10
    // pages; the cursor keeps the gap and the next poll reads it from where the last one stopped.
    let mut replies = vec![Reply::ok(POSTS)];
    replies.extend(pages(1642, 993));
    replies.push(Reply::ok(page((1593..=1642).rev())));
    server.script("/posts.json", replies);
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&server.url(""), "")),
        ("rules.toml", RULES),
    ]);
    let want: Vec<u64> = (1040..=1642).collect();
    d.wait_for("every post stored", Duration::from_secs(90), || {
        stored(&d) == want
    });
    let targets: Vec<String> = server
        .requests("/posts.json")
        .iter()
        .map(|r| r.target.clone())
        .collect();
    // Poll 2 reads the newest page and 9 below it; poll 3 starts where it stopped.
    assert_eq!(targets[1], "/posts.json");
    assert_eq!(targets[10], "/posts.json?before=1193", "{targets:#?}");
    assert_eq!(targets[11], "/posts.json?before=1143", "{targets:#?}");
    assert!(
        d.log().contains("Forum is busier than a poll reads"),
        "{}",
        d.log()
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn discourse_api_key_is_sent_on_every_request_and_shown_nowhere() {
    const KEY: &str = "dk-91b3f0e2c6d84a57-private";
    let server = TestServer::start();
    server.script(
        "/posts.json",
        [
            Reply::ok(POSTS),
            Reply::new(403)
                .header("Content-Type", "application/json")
                .body(INVALID_KEY),
        ],
    );
    let extra = "api_key = \"${FORUM_API_KEY}\"\napi_username = \"vigie-bot\"";
    let env = [("FORUM_API_KEY", KEY)];
    let mut d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""), extra)),
            ("rules.toml", RULES),
        ],
        &env,
    );
    d.wait_for("the refusal shown", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM sources_v WHERE source = 'forum' AND last_status = 'error'")
            == 1
    });
    let requests = server.requests("/posts.json");
    assert!(requests.len() >= 2);
    for r in &requests {
        assert_eq!(r.header("api-key"), Some(KEY), "{}", r.target);
        assert_eq!(r.header("api-username"), Some("vigie-bot"));
        assert!(!r.target.contains(KEY), "the key is never in the URL");
    }
    let shown = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        &env,
    );
    // The forum's own words say what to fix.
    assert!(
        shown.stdout.contains("HTTP 403")
            && shown.stdout.contains("API username or key is invalid"),
        "{}",
        shown.stdout
    );
    let log = d.log();
    assert!(!log.contains(KEY), "the key is in the log");
    assert!(!shown.stdout.contains(KEY) && !shown.stderr.contains(KEY));
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn discourse_429_waits_for_wait_seconds_without_retry_after() {
    let server = TestServer::start();
    // Discourse's body says 37 s; the test's own copy says 4, so that the wait is observable.
    let body = RATE_LIMITED.replace("37", "4");
    server.script(
        "/posts.json",
        [
            Reply::new(429)
                .header("Content-Type", "application/json")
                .body(body),
            Reply::ok(POSTS),
        ],
    );
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&server.url(""), "")),
        ("rules.toml", RULES),
    ]);
    d.wait_for("the posts after the wait", Duration::from_secs(60), || {
        stored(&d) == [1040, 1041, 1042]
    });
    let requests = server.requests("/posts.json");
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_secs(4),
        "polled again after {gap:?}, before the 4 s Discourse asked for"
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn discourse_backlog_resumes_from_the_stored_gap_after_kill_9() {
    let server = TestServer::start();
    // Poll 2 reads 10 of the 13 pages below 1642; poll 3's first page fails (503), so the gap
    // is what the database holds when the daemon is killed.
    let mut backlog = pages(1642, 993);
    let rest = backlog.split_off(10);
    let mut replies = vec![Reply::ok(POSTS)];
    replies.extend(backlog);
    replies.push(Reply::new(503));
    server.script("/posts.json", replies);
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&server.url(""), "")),
        ("rules.toml", RULES),
    ]);
    d.wait_for("poll 3 failed", Duration::from_secs(90), || {
        d.count("SELECT COUNT(*) FROM sources_v WHERE source = 'forum' AND last_status = 'error'")
            == 1
    });
    assert_eq!(stored(&d).len(), 3 + 500);
    d.kill9();
    let before = server.requests("/posts.json").len();
    let mut replies = rest;
    replies.push(Reply::ok(page((1593..=1642).rev())));
    server.script("/posts.json", replies);
    d.restart();
    let want: Vec<u64> = (1040..=1642).collect();
    d.wait_for("every post stored", Duration::from_secs(90), || {
        stored(&d) == want
    });
    let resumed = &server.requests("/posts.json")[before..];
    assert_eq!(
        resumed[0].target, "/posts.json?before=1143",
        "the restarted daemon resumes the gap"
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// Issue 27, `search` mode: the brand's replies would not match the query, so each poll reads
/// the account's topics and replies (`/user_actions.json`), keeps its highest post id in the
/// cursor, and a failure reading them keeps the search's posts and that position. Every post
/// is in its topic's thread.
#[test]
fn discourse_search_reads_the_brand_posts_in_their_topic_and_survives_their_failure() {
    let server = TestServer::start();
    server.script(
        "/search.json",
        [Reply::ok(include_str!("fixtures/discourse/search.json"))],
    );
    server.script(
        "/user_actions.json",
        [
            Reply::ok(include_str!("fixtures/discourse/user-actions.json")),
            Reply::new(502).body("<html>Bad gateway</html>"),
        ],
    );
    let cfg = config(&server.url(""), "mode = \"search\"\nquery = \"colis\"").replace(
        "[daemon]\n",
        "[daemon]\nbrand_accounts = [\"@posteo_support\"]\n",
    );
    let d = Daemon::start(&[("vigie.toml", &cfg), ("rules.toml", RULES)]);
    d.wait_for("two failed brand reads", Duration::from_secs(60), || {
        server.requests("/user_actions.json").len() >= 3
    });
    let brand = server.requests("/user_actions.json");
    assert_eq!(
        brand[0].target,
        "/user_actions.json?username=posteo_support&filter=4%2C5"
    );
    let thread = |id: &str| -> Option<String> {
        d.db()
            .query_row(
                "SELECT thread FROM posts WHERE source = 'forum' AND source_id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("stored")
    };
    let topic = Some(format!("{}/t/311", server.url("")));
    assert_eq!(thread("1042"), topic, "the complaint");
    assert_eq!(thread("1044"), topic, "the brand's reply in the same topic");
    assert_eq!(thread("1039"), Some(format!("{}/t/308", server.url(""))));
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'forum' AND source_id = '1040'"),
        0,
        "a deleted post"
    );
    // The brand's position is kept across the failures, and the polls succeed.
    let cursor: String = d
        .db()
        .query_row("SELECT cursor FROM sources WHERE name = 'forum'", [], |r| {
            r.get(0)
        })
        .expect("cursor");
    assert!(
        cursor.contains(r#""brand":{"posteo_support":1044}"#),
        "{cursor}"
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'forum' AND last_status = 'ok'"),
        1
    );
    assert_eq!(
        d.log()
            .matches("Reading the brand account's posts failed")
            .count(),
        1
    );
}
