//! The `x` source (issue 19) against a loopback X API serving recorded search pages: the source
//! contract, the bearer header, and the daily spend cap (it stops at the cap, shows it in `vigie
//! sources`, survives a restart, and resumes the next UTC day from its cursor).

use std::time::Duration;

use chrono::Utc;

use crate::daemon_util::Daemon;
use crate::source_contract::{assert_source_contract, Case, Fault, Sample, Step};
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const SEARCH: &str = "/2/tweets/search/recent";
const BEARER: &str = "AAAAAAAAAAAAAAAAAAAAAMxTestBearer0123456789";
const ENV: &[(&str, &str)] = &[("X_TEST_BEARER", BEARER)];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(crate::util::root().join("tests/fixtures/x").join(name)).expect("fixture")
}

fn x_case() -> Case {
    Case {
        kind: "x",
        keys: |base| {
            format!(
                "query = \"colis lang:fr -is:retweet\"\nbearer_token = \"${{X_TEST_BEARER}}\"\nmax_results = 10\nmax_posts_per_day = 100000\nbase_url = \"{base}\""
            )
        },
        env: ENV,
        script: |server, step| match step {
            // The first scan reads the newest page only (its `next_token` is not followed).
            Step::First => server.script(SEARCH, [Reply::ok(fixture("search-first.json"))]),
            Step::Next => server.script(
                SEARCH,
                [
                    Reply::ok(fixture("search-newer.json")),
                    Reply::ok(fixture("search-empty.json")),
                ],
            ),
        },
        list_path: SEARCH,
        carries_cursor: |r| r.target.contains("since_id=1865012345678901"),
        first_ids: &["1865012345678901240", "1865012345678901250"],
        all_ids: &[
            "1865012345678901240",
            "1865012345678901250",
            "1865012345678901299",
        ],
        sample: Sample {
            id: "1865012345678901250",
            url: Some("https://x.com/alice_martin/status/1865012345678901250"),
            author: Some("@alice_martin"),
            author_name: Some("Alice Martin"),
            followers: Some(1208),
            lang: Some("fr"),
            created_at: Some("2026-12-06T09:14:05Z"),
            text_contains: &["Mon colis est en retard", "lundi & le suivi"],
            engagement: Some(10),
        },
        malformed: (
            br#"{"data": [{"id": 1865}]}"#,
            "malformed X search response",
        ),
        fault_words: &[(Fault::Unauthorized, "HTTP 401")],
    }
}

#[test]
fn x_keeps_the_source_contract() {
    assert_source_contract(&x_case());
}

fn config(base: &str, cap: u64) -> String {
    format!(
        r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]
user_agent = "vigie-test/1 (+mailto:ops@example.org)"

[[source]]
name = "x-posteo"
kind = "x"
query = "colis lang:fr"
bearer_token = "${{X_TEST_BEARER}}"
max_results = 10
max_posts_per_day = {cap}
base_url = "{base}"
every = "1s"

# The clock of the test: polled every second, so "the x source made no request for five more
# polls of this one" needs no fixed sleep.
[[source]]
name = "clock"
kind = "x"
query = "horloge"
bearer_token = "${{X_TEST_BEARER}}"
max_results = 10
max_posts_per_day = 100000
base_url = "{base}/clock"
every = "1s"
"#
    )
}

const RULES: &str = r#"
[[rule]]
name = "plainte"
query = 'colis OR lettre OR réclamation OR cassé*'
"#;

/// `vigie sources --format json`'s row for the capped source.
fn capped_row(d: &Daemon) -> serde_json::Value {
    let r = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        ENV,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains(BEARER), "the token in vigie sources");
    r.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["source"] == "x-posteo")
        .expect("a row for x-posteo")
}

fn clock_polls(server: &TestServer) -> usize {
    server.requests(&format!("/clock{SEARCH}")).len()
}

#[test]
fn x_spend_cap_stops_polling_survives_a_restart_and_resumes_the_next_utc_day() {
    let server = TestServer::start();
    server.script(
        SEARCH,
        [
            Reply::ok(fixture("cap-first.json")),
            Reply::ok(fixture("cap-newer.json")),
            Reply::ok(fixture("search-newer.json")),
            Reply::ok(fixture("search-empty.json")),
        ],
    );
    server.script(
        &format!("/clock{SEARCH}"),
        [Reply::ok(fixture("search-empty.json"))],
    );
    let mut d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""), 20)),
            ("rules.toml", RULES),
        ],
        ENV,
    );
    // Two pages of ten reach the cap of 20: the source pauses until the next UTC midnight.
    d.wait_for(
        "the source paused at its cap",
        Duration::from_secs(60),
        || {
            d.count(
                "SELECT COUNT(*) FROM sources WHERE name = 'x-posteo' AND last_status = 'paused'",
            ) == 1
        },
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'x-posteo'"),
        20
    );
    let tomorrow = (Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    let row = capped_row(&d);
    assert_eq!(row["last_status"], "paused", "{row}");
    assert_eq!(
        row["last_error"],
        format!("daily cap reached (20 posts read), resumes at {tomorrow}T00:00:00Z"),
        "{row}"
    );
    assert_eq!(
        row["next_poll_at"],
        format!("{tomorrow}T00:00:00Z"),
        "{row}"
    );
    let reqs = server.requests(SEARCH);
    assert_eq!(reqs.len(), 2, "no request past the cap");
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {BEARER}").as_str())
        );
        assert!(r.target.contains("expansions=author_id"), "{}", r.target);
        assert!(r.target.contains("public_metrics"), "{}", r.target);
        assert!(r.target.contains("max_results=10"), "{}", r.target);
    }
    assert!(
        reqs[1].target.contains("since_id=1865020000000000010"),
        "{}",
        reqs[1].target
    );
    // Five more polls of the clock source: still no request from the capped one.
    let clock = clock_polls(&server);
    d.wait_for("five more clock polls", Duration::from_secs(60), || {
        clock_polls(&server) >= clock + 5
    });
    assert_eq!(server.requests(SEARCH).len(), 2, "no request past the cap");

    // A restart with the schedule forced to now: the count is in the cursor, so the source
    // still makes no request, and says so again.
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
    let db = rusqlite::Connection::open(d.path().join("vigie.db")).expect("db");
    db.execute(
        "UPDATE sources SET next_poll_at = '2000-01-01T00:00:00Z', last_status = 'ok' WHERE name = 'x-posteo'",
        [],
    )
    .expect("reschedule");
    d.restart();
    d.wait_for("a poll after the restart", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'x-posteo' AND last_status = 'paused'")
            == 1
    });
    let clock = clock_polls(&server);
    d.wait_for("five more clock polls", Duration::from_secs(60), || {
        clock_polls(&server) >= clock + 5
    });
    assert_eq!(
        server.requests(SEARCH).len(),
        2,
        "the cap survives a restart"
    );
    assert_eq!(
        capped_row(&d)["next_poll_at"],
        format!("{tomorrow}T00:00:00Z")
    );

    // The next UTC day (the cursor's day moved back by one, as midnight would): it resumes from
    // its cursor, with a fresh budget.
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
    db.execute(
        "UPDATE sources SET cursor = json_set(cursor, '$.day', date('now', '-1 day')),
           next_poll_at = '2000-01-01T00:00:00Z' WHERE name = 'x-posteo'",
        [],
    )
    .expect("a day later");
    d.restart();
    d.wait_for("the newer post stored", Duration::from_secs(60), || {
        d.count(
            "SELECT COUNT(*) FROM posts WHERE source = 'x-posteo' AND source_id = '1865012345678901299'",
        ) == 1
    });
    let reqs = server.requests(SEARCH);
    assert!(
        reqs[2].target.contains("since_id=1865020000000000110"),
        "resumed from the cursor: {}",
        reqs[2].target
    );
    d.wait_for("the source ok again", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'x-posteo' AND last_status = 'ok'") == 1
    });
    let row = capped_row(&d);
    assert!(row["last_error"].is_null(), "{row}");
    assert!(!d.log().contains(BEARER), "the token in the log");
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn x_check_reports_an_unset_bearer_token_once() {
    let dir = crate::util::tree(&[
        ("vigie.toml", &config("https://api.x.com", 5000)),
        ("rules.toml", RULES),
    ]);
    let r = vigie_env(
        &["check", "--config", s(&dir.path().join("vigie.toml"))],
        "",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Two sources use the variable: one warning each, not one more from building them.
    let unset = "environment variable X_TEST_BEARER is not set";
    assert_eq!(r.stderr.matches(unset).count(), 2, "{}", r.stderr);
}

/// A source paused at its cap brings nothing for hours on purpose: no `silent` source alert.
#[test]
fn x_paused_at_its_cap_is_not_a_silent_source() {
    use std::collections::{BTreeMap, HashMap};
    use vigie::matcher::Hits;
    use vigie::post::Post;
    use vigie::store::{fmt_time, AlertPolicy, PollOutcome, PollResult, Store};

    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("vigie.db")).unwrap();
    store
        .set_alert_policy(AlertPolicy {
            rules: BTreeMap::new(),
            admin_notify: vec!["ops".into()],
            source_alert_after: Duration::from_secs(1800),
            sources: HashMap::from([("x-posteo".to_string(), Duration::from_secs(60))]),
            deliver: true,
        })
        .unwrap();
    let t0: chrono::DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    let page = |h: i64, posts: Vec<Post>, paused: Option<&str>| PollResult {
        source: "x-posteo".into(),
        kind: "x".into(),
        polled_at: t0 + chrono::Duration::hours(h),
        outcome: PollOutcome::Page {
            posts: posts.into_iter().map(|p| (p, Hits::default())).collect(),
            cursor: Default::default(),
            not_modified: false,
            paused: paused.map(str::to_owned),
        },
        next_poll_at: t0 + chrono::Duration::hours(h),
        failures: 0,
    };
    store.commit(&page(0, Vec::new(), None)).unwrap();
    // One post an hour for a day, then the cap: paused, then polled again 15 h later (a restart).
    for h in 1..=25 {
        let post = Post {
            id: Some(format!("p{h}")),
            created_at: Some(fmt_time(t0 + chrono::Duration::hours(h))),
            ..Post::from_text("bonjour")
        };
        store.commit(&page(h, vec![post], None)).unwrap();
    }
    let cap = "daily cap reached (20 posts read), resumes at 2026-11-22T00:00:00Z";
    store.commit(&page(26, Vec::new(), Some(cap))).unwrap();
    store.commit(&page(40, Vec::new(), Some(cap))).unwrap();
    let alerts: i64 = store
        .connection()
        .query_row(
            "SELECT COUNT(*) FROM alerts WHERE kind = 'source'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(alerts, 0, "a paused source is not silent");
    let (status, note): (String, String) = store
        .connection()
        .query_row(
            "SELECT last_status, last_error FROM sources_v WHERE source = 'x-posteo'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), note.as_str()), ("paused", cap));
}

/// After the first scan, a scan follows `next_token` (with the same `since_id`), and only a
/// finished scan moves `since_id` to its newest post.
#[test]
fn x_pages_by_next_token_and_moves_since_id_when_the_scan_ends() {
    let server = TestServer::start();
    server.script(
        SEARCH,
        [
            Reply::ok(fixture("search-first.json")),
            Reply::ok(fixture("paged-first.json")),
            Reply::ok(fixture("paged-last.json")),
            Reply::ok(fixture("search-empty.json")),
        ],
    );
    server.script(
        &format!("/clock{SEARCH}"),
        [Reply::ok(fixture("search-empty.json"))],
    );
    let mut d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""), 100_000)),
            ("rules.toml", RULES),
        ],
        ENV,
    );
    d.wait_for("four search requests", Duration::from_secs(60), || {
        server.requests(SEARCH).len() >= 4
    });
    d.wait_for("five posts stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'x-posteo'") == 5
    });
    let targets: Vec<String> = server
        .requests(SEARCH)
        .iter()
        .map(|r| r.target.clone())
        .collect();
    // The first scan: one page, its next_token not followed.
    assert!(!targets[0].contains("since_id") && !targets[0].contains("next_token"));
    assert!(
        targets[1].contains("since_id=1865012345678901250") && !targets[1].contains("next_token")
    );
    assert!(
        targets[2].contains("since_id=1865012345678901250")
            && targets[2].contains("next_token=7140dibdnow9c7btw481sw4pomdkxkv2i9h6enc7ur4nw"),
        "{}",
        targets[2]
    );
    assert!(
        targets[3].contains("since_id=1865012345678901299") && !targets[3].contains("next_token"),
        "{}",
        targets[3]
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// An answer that leaves no request in X's rate-limit window holds the next poll until the
/// window resets (`x-rate-limit-reset`, epoch seconds).
#[test]
fn x_waits_for_the_rate_limit_reset_when_none_is_left() {
    let server = TestServer::start();
    let reset = Utc::now().timestamp() + 3600;
    server.script(
        SEARCH,
        [Reply::ok(fixture("search-first.json"))
            .header("x-rate-limit-limit", "450")
            .header("x-rate-limit-remaining", "0")
            .header("x-rate-limit-reset", &reset.to_string())],
    );
    server.script(
        &format!("/clock{SEARCH}"),
        [Reply::ok(fixture("search-empty.json"))],
    );
    let mut d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""), 100_000)),
            ("rules.toml", RULES),
        ],
        ENV,
    );
    d.wait_for("the first page stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'x-posteo'") == 2
    });
    let next: String = d
        .db()
        .query_row(
            "SELECT next_poll_at FROM sources WHERE name = 'x-posteo'",
            [],
            |r| r.get(0),
        )
        .expect("next_poll_at");
    let next: chrono::DateTime<Utc> = next.parse().expect("time");
    assert!(
        next.timestamp() >= reset - 1,
        "next poll {next}, reset {reset}"
    );
    let clock = clock_polls(&server);
    d.wait_for("three more clock polls", Duration::from_secs(60), || {
        clock_polls(&server) >= clock + 3
    });
    assert_eq!(
        server.requests(SEARCH).len(),
        1,
        "no request before the reset"
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// X returns at least 10 posts a request and the source never reads past its cap, so a cap
/// under 10 would never read anything: `vigie check` refuses it.
#[test]
fn x_check_refuses_a_cap_under_one_page() {
    let dir = crate::util::tree(&[
        ("vigie.toml", &config("https://api.x.com", 5)),
        ("rules.toml", RULES),
    ]);
    let r = vigie_env(
        &["check", "--config", s(&dir.path().join("vigie.toml"))],
        "",
        ENV,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("\"max_posts_per_day\" must be at least 10"),
        "{}",
        r.stderr
    );
}

/// Issue 27: the brand's accounts join the one search (`(query) OR from:…`, one budget), and
/// each post keeps the post it answers and its conversation, stored and shown by `vigie preview`.
#[test]
fn x_reads_the_brand_replies_with_their_thread_in_the_one_search() {
    let server = TestServer::start();
    server.script(
        SEARCH,
        [
            Reply::ok(fixture("search-thread.json")),
            Reply::ok(fixture("search-empty.json")),
        ],
    );
    let cfg = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         brand_accounts = [\"@posteo_aide\", \"posteo@mastodon.social\"]\n\n\
         [[source]]\nname = \"x-posteo\"\nkind = \"x\"\nquery = \"colis lang:fr\"\n\
         bearer_token = \"${{X_TEST_BEARER}}\"\nmax_results = 10\nmax_posts_per_day = 1000\n\
         base_url = \"{}\"\nevery = \"1s\"\n",
        server.url("")
    );
    let d = Daemon::start_env(&[("vigie.toml", &cfg), ("rules.toml", RULES)], ENV);
    d.wait_for("the thread stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'x-posteo'") == 3
    });
    let first = server.requests(SEARCH)[0].target.clone();
    let query: Vec<(String, String)> = url::Url::parse(&format!("http://h{first}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("query"), Some("(colis lang:fr) OR from:posteo_aide"));
    assert!(
        get("tweet.fields").is_some_and(|f| f.contains("conversation_id,referenced_tweets")),
        "{first}"
    );
    // Thread fields are stored for every post, hit or not (the brand's reply hits nothing).
    let row = |id: &str| -> (Option<String>, Option<String>) {
        d.db()
            .query_row(
                "SELECT in_reply_to, thread FROM posts WHERE source_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("stored")
    };
    let thread = Some("x:1865100000000000100".to_string());
    assert_eq!(
        row("1865100000000000100"),
        (None, thread.clone()),
        "the complaint starts its conversation"
    );
    assert_eq!(
        row("1865100000000000180"),
        (Some("1865100000000000100".into()), thread),
        "the brand's reply answers it in the same conversation"
    );
    drop(d);

    // `vigie preview` shows the brand's reply with its thread fields.
    server.script(SEARCH, [Reply::ok(fixture("search-thread.json"))]);
    let dir = crate::util::tree(&[("vigie.toml", &cfg), ("rules.toml", RULES)]);
    let r = vigie_env(
        &[
            "preview",
            "x-posteo",
            "--config",
            s(&dir.path().join("vigie.toml")),
            "--format",
            "json",
        ],
        "",
        ENV,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reply: serde_json::Value = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .find(|v| v["id"] == "1865100000000000180")
        .expect("the brand's reply previewed");
    assert_eq!(reply["author"], "@posteo_aide");
    assert_eq!(reply["in_reply_to"], "1865100000000000100");
    assert_eq!(reply["thread"], "x:1865100000000000100");
}
