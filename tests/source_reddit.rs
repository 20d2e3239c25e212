//! The `reddit` source with the real daemon and a loopback Reddit: the shared source contract in
//! both modes (Atom feeds without an account, OAuth JSON listings), then what is Reddit's own:
//! the app-only token (fetched with HTTP Basic, renewed before it expires and after a 401), its
//! refusal, Reddit's error reasons, and the feeds' budget of 10 requests a minute per host.

use std::time::Duration;

use base64::Engine as _;

use crate::daemon_util::Daemon;
use crate::source_contract::{assert_source_contract, Case, Sample, Step};
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const FEED_PATH: &str = "/r/france+AskFrance/new/.rss";
const API_PATH: &str = "/r/france+AskFrance/new";
const TOKEN_PATH: &str = "/api/v1/access_token";
const SECRET: &str = "s3cr3t-reddit-app-key";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(crate::util::root().join("tests/fixtures/reddit").join(name)).expect("fixture")
}

fn atom(name: &str) -> Reply {
    Reply::ok(fixture(name)).header("Content-Type", "application/atom+xml; charset=UTF-8")
}

fn json(name: &str) -> Reply {
    Reply::ok(fixture(name)).header("Content-Type", "application/json; charset=UTF-8")
}

/// Both modes give the same posts: fullnames as ids, `u/` handles, reddit.com permalinks.
const FIRST_IDS: &[&str] = &["t3_1h8jw3m", "t3_1h8jzx1", "t3_1h8k2qa"];
const ALL_IDS: &[&str] = &["t3_1h8jw3m", "t3_1h8jzx1", "t3_1h8k2qa", "t3_1h8m7tb"];

fn sample(engagement: Option<i64>) -> Sample {
    Sample {
        id: "t3_1h8k2qa",
        url: Some(
            "https://www.reddit.com/r/AskFrance/comments/1h8k2qa/colis_bloque_depuis_9_jours/",
        ),
        author: Some("u/clara_dsn"),
        created_at: Some("2026-12-06T09:12:30Z"),
        text_contains: &["Colis bloqué depuis 9 jours", "réclamation"],
        engagement,
        ..Sample::default()
    }
}

fn feeds_case() -> Case {
    Case {
        kind: "reddit",
        keys: |base| format!("subreddits = [\"france\", \"AskFrance\"]\nbase_url = \"{base}\""),
        env: &[],
        // Later polls list the newer post again, as a platform that ignores `before` would: the
        // store keeps one of each.
        script: |server, step| match step {
            Step::First => server.script(FEED_PATH, [atom("new.atom.xml")]),
            Step::Next => server.script(FEED_PATH, [atom("newer.atom.xml")]),
        },
        list_path: FEED_PATH,
        carries_cursor: |r| r.target.contains("before=t3_"),
        first_ids: FIRST_IDS,
        all_ids: ALL_IDS,
        sample: sample(None),
        malformed: (
            b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>t3_x",
            "malformed reddit feed",
        ),
        fault_words: &[],
    }
}

fn oauth_keys(base: &str) -> String {
    format!(
        "subreddits = [\"france\", \"AskFrance\"]\nclient_id = \"vigie-test-app\"\nclient_secret = \"${{REDDIT_SECRET}}\"\nbase_url = \"{base}\""
    )
}

fn oauth_case() -> Case {
    Case {
        kind: "reddit",
        keys: oauth_keys,
        env: &[("REDDIT_SECRET", SECRET)],
        script: |server, step| match step {
            Step::First => {
                server.script(TOKEN_PATH, [json("token.json")]);
                server.script(API_PATH, [json("new.json")]);
            }
            Step::Next => server.script(API_PATH, [json("newer.json")]),
        },
        list_path: API_PATH,
        carries_cursor: |r| r.target.contains("before=t3_"),
        first_ids: FIRST_IDS,
        all_ids: ALL_IDS,
        sample: sample(Some(5 + 3)),
        malformed: (
            b"{\"kind\": \"Listing\", \"data\": {\"children\": [{\"kind\"",
            "malformed reddit listing",
        ),
        fault_words: &[],
    }
}

#[test]
fn reddit_feeds_keep_the_source_contract() {
    assert_source_contract(&feeds_case());
}

#[test]
fn reddit_oauth_keeps_the_source_contract() {
    assert_source_contract(&oauth_case());
}

fn config(sources: &[(&str, String)]) -> String {
    let mut c = String::from(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nuser_agent = \"linux:vigie-test:1.0 (by /u/vigie_ops)\"\nhttp_timeout = \"5s\"\n",
    );
    for (name, keys) in sources {
        c.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"reddit\"\nevery = \"1s\"\n{keys}\n"
        ));
    }
    c
}

const RULES: &str = "[[rule]]\nname = \"colis\"\nquery = 'colis OR réclamation'\n";

fn last_error(d: &Daemon, source: &str) -> Option<String> {
    d.db()
        .query_row(
            "SELECT last_error FROM sources_v WHERE source = ?1",
            [source],
            |r| r.get(0),
        )
        .ok()
        .flatten()
}

/// Logs and `vigie sources` never show the app's secret or an access token.
fn assert_no_secret(d: &Daemon) {
    let sources = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        &[("REDDIT_SECRET", SECRET)],
    );
    for shown in [d.log(), sources.stdout] {
        for secret in [SECRET, "TOKEN-ONE", "TOKEN-TWO", "TOKEN-SHORT"] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
    }
}

#[test]
fn reddit_oauth_logs_in_with_basic_auth_and_fetches_a_new_token_on_401() {
    let server = TestServer::start();
    server.script(TOKEN_PATH, [json("token.json"), json("token-2.json")]);
    server.script(
        API_PATH,
        [
            json("new.json"),
            Reply::new(401)
                .header(
                    "WWW-Authenticate",
                    "Bearer realm=\"reddit\", error=\"invalid_token\"",
                )
                .body(fixture("error-401.json")),
            json("newer.json"),
        ],
    );
    let mut d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(&[("reddit", oauth_keys(&server.url("")))]),
            ),
            ("rules.toml", RULES),
        ],
        &[("REDDIT_SECRET", SECRET)],
    );
    d.wait_for("every post stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts") == 4
    });
    let tokens = server.requests(TOKEN_PATH);
    assert_eq!(tokens.len(), 2, "one token, then one after the 401");
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("vigie-test-app:{SECRET}"));
    for t in &tokens {
        assert_eq!(t.method, "POST");
        assert_eq!(
            t.header("authorization"),
            Some(format!("Basic {basic}").as_str())
        );
        assert_eq!(
            t.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(t.body, b"grant_type=client_credentials");
    }
    let listings = server.requests(API_PATH);
    let bearer = |i: usize| {
        listings[i]
            .header("authorization")
            .unwrap_or_default()
            .to_string()
    };
    assert!(bearer(0).starts_with("bearer ") && bearer(0).ends_with(".TOKEN-ONE"));
    assert!(bearer(1).ends_with(".TOKEN-ONE"), "the refused one");
    assert!(
        bearer(2).ends_with(".TOKEN-TWO"),
        "retried with the new token"
    );
    assert!(listings[1].target.contains("before=t3_1h8k2qa"));
    assert_eq!(
        listings[2].target, listings[1].target,
        "the same listing, retried"
    );
    // Reddit's API rules ask for a descriptive User-Agent: the configured one is sent.
    for r in listings.iter().chain(&tokens) {
        assert_eq!(
            r.header("user-agent"),
            Some("linux:vigie-test:1.0 (by /u/vigie_ops)")
        );
    }
    assert!(listings[0].target.contains("raw_json=1") && listings[0].target.contains("limit=100"));
    d.wait_polls(1);
    assert_eq!(last_error(&d, "reddit"), None);
    assert!(
        !d.log().contains("Poll failed."),
        "the 401 is handled within its poll, not shown as a failure:\n{}",
        d.log()
    );
    assert_no_secret(&d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn reddit_oauth_renews_the_token_before_it_expires() {
    let server = TestServer::start();
    // A token that lasts 2 s: renewed after 1.8 s, before Reddit would refuse it.
    let short = r#"{"access_token": "eyJhbGciOiJSUzI1NiJ9.TOKEN-SHORT", "token_type": "bearer", "expires_in": 2, "scope": "*"}"#;
    server.script(TOKEN_PATH, [Reply::ok(short)]);
    server.script(API_PATH, [json("new.json")]);
    let mut d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(&[("reddit", oauth_keys(&server.url("")))]),
            ),
            ("rules.toml", RULES),
        ],
        &[("REDDIT_SECRET", SECRET)],
    );
    d.wait_for("a renewed token", Duration::from_secs(60), || {
        server.requests(TOKEN_PATH).len() >= 3
    });
    let polls = server.requests(API_PATH).len();
    assert!(polls >= 3, "renewed while polling: {polls} listings");
    let tokens = server.requests(TOKEN_PATH);
    assert!(
        tokens
            .windows(2)
            .all(|w| w[1].at - w[0].at >= Duration::from_millis(1500)),
        "a token is kept while it lasts"
    );
    assert_no_secret(&d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn reddit_refusals_show_their_reason_without_the_secret() {
    let refused = TestServer::start();
    refused.script(
        TOKEN_PATH,
        [Reply::new(401).body(fixture("error-401.json"))],
    );
    let private = TestServer::start();
    private.script(TOKEN_PATH, [json("token.json")]);
    private.script(API_PATH, [Reply::new(403).body(fixture("error-403.json"))]);
    let banned = TestServer::start();
    banned.script(TOKEN_PATH, [json("token.json")]);
    banned.script(
        API_PATH,
        [Reply::new(404).body(fixture("error-404-banned.json"))],
    );
    let mut d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(&[
                    ("refused", oauth_keys(&refused.url(""))),
                    ("private", oauth_keys(&private.url(""))),
                    ("banned", oauth_keys(&banned.url(""))),
                ]),
            ),
            ("rules.toml", RULES),
        ],
        &[("REDDIT_SECRET", SECRET)],
    );
    d.wait_for("both errors", Duration::from_secs(60), || {
        ["refused", "private", "banned"]
            .iter()
            .all(|name| last_error(&d, name).is_some())
    });
    let refused_error = last_error(&d, "refused").unwrap_or_default();
    assert!(
        refused_error.contains("reddit refused the app's client_id/client_secret (HTTP 401"),
        "{refused_error}"
    );
    assert!(
        refused.requests(API_PATH).is_empty(),
        "no listing without a token"
    );
    let private_error = last_error(&d, "private").unwrap_or_default();
    assert!(
        private_error.contains("HTTP 403") && private_error.ends_with(": Forbidden, private"),
        "{private_error}"
    );
    let banned_error = last_error(&d, "banned").unwrap_or_default();
    assert!(
        banned_error.contains("HTTP 404") && banned_error.ends_with(": Not Found, banned"),
        "{banned_error}"
    );
    assert_no_secret(&d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn reddit_feeds_make_at_most_ten_requests_a_minute_per_host() {
    let server = TestServer::start();
    server.script(FEED_PATH, [atom("new.atom.xml")]);
    server.script("/r/colis/new/.rss", [atom("empty.atom.xml")]);
    let base = server.url("");
    let mut d = Daemon::start(&[
        (
            "vigie.toml",
            &config(&[
                (
                    "fr",
                    format!("subreddits = [\"france\", \"AskFrance\"]\nbase_url = \"{base}\""),
                ),
                (
                    "colis",
                    format!("subreddits = [\"colis\"]\nbase_url = \"{base}\""),
                ),
            ]),
        ),
        ("rules.toml", RULES),
    ]);
    let requests = || server.requests(FEED_PATH).len() + server.requests("/r/colis/new/.rss").len();
    // Polled every second, both sources spend the host's budget, then wait for it (the
    // scheduler's next poll, visible in `vigie sources`) instead of asking more.
    let waiting = |d: &Daemon| {
        d.count(
            "SELECT COUNT(*) FROM sources_v
             WHERE julianday(next_poll_at) - julianday(last_poll_at) > 30.0 / 86400",
        )
    };
    d.wait_for(
        "both sources waiting for the budget",
        Duration::from_secs(60),
        || waiting(&d) == 2,
    );
    let first = server.requests(FEED_PATH)[0].at;
    let all: Vec<_> = server
        .requests(FEED_PATH)
        .into_iter()
        .chain(server.requests("/r/colis/new/.rss"))
        .collect();
    assert_eq!(requests(), 10, "ten requests, then the wait");
    assert!(all.iter().all(|r| r.at - first < Duration::from_secs(60)));
    assert_eq!(last_error(&d, "fr"), None, "a spent budget is not an error");
    assert_eq!(d.count("SELECT COUNT(*) FROM posts WHERE source = 'fr'"), 3);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

const BRAND_API: &str = "/user/Posteo_Officiel/comments";
const BRAND_FEED: &str = "/user/Posteo_Officiel/comments/.rss";

/// `config` with the brand's Reddit account.
fn brand_config(keys: String) -> String {
    config(&[("reddit", keys)]).replace(
        "[daemon]\n",
        "[daemon]\nbrand_accounts = [\"u/Posteo_Officiel\"]\n",
    )
}

/// The thread fields stored for a post (stored for every post, hit or not).
fn thread_row(d: &Daemon, id: &str) -> (Option<String>, Option<String>) {
    d.db()
        .query_row(
            "SELECT in_reply_to, thread FROM posts WHERE source_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("stored")
}

/// Issue 27, OAuth: links are threads; the brand's comments are read from their own `before`
/// after the listing, answer their parent in the link's thread, and a failure reading them
/// keeps the listing's posts and the brand's position.
#[test]
fn reddit_oauth_reads_the_brand_comments_in_their_threads_and_survives_their_failure() {
    let server = TestServer::start();
    server.script(TOKEN_PATH, [json("token.json")]);
    server.script(
        API_PATH,
        [json("new.json"), json("newer.json"), json("empty.json")],
    );
    server.script(
        BRAND_API,
        [
            json("user-comments.json"),
            Reply::new(500).body("upstream error"),
            json("empty.json"),
        ],
    );
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &brand_config(oauth_keys(&server.url("")))),
            ("rules.toml", RULES),
        ],
        &[("REDDIT_SECRET", SECRET)],
    );
    d.wait_for("the newer link stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source_id = 't3_1h8m7tb'") == 1
    });
    d.wait_for("a poll after the failure", Duration::from_secs(60), || {
        server.requests(BRAND_API).len() >= 3
    });
    let thread = Some("reddit:t3_1h8k2qa".to_string());
    assert_eq!(thread_row(&d, "t3_1h8k2qa"), (None, thread.clone()));
    assert_eq!(
        thread_row(&d, "t1_m0k3x7b"),
        (Some("t3_1h8k2qa".into()), thread),
        "the brand's reply to the link"
    );
    assert_eq!(
        thread_row(&d, "t1_m0k2p9d"),
        (Some("t1_m0jzz01".into()), Some("reddit:t3_1h8fq20".into())),
        "a reply to a comment"
    );
    let brand = server.requests(BRAND_API);
    assert!(
        brand[0].target.contains("raw_json=1") && !brand[0].target.contains("before="),
        "{}",
        brand[0].target
    );
    assert!(brand[0]
        .header("authorization")
        .is_some_and(|a| a.ends_with(".TOKEN-ONE")));
    for r in &brand[1..3] {
        assert!(r.target.contains("before=t1_m0k3x7b"), "{}", r.target);
    }
    assert_eq!(last_error(&d, "reddit"), None, "the poll did not fail");
    assert_eq!(
        d.log()
            .matches("Reading the brand account's posts failed")
            .count(),
        1
    );
    assert_no_secret(&d);
}

/// Issue 27, feeds: the brand's comments feed, its thread from the permalink, its own `before`.
#[test]
fn reddit_feeds_read_the_brand_comments_feed() {
    let server = TestServer::start();
    server.script(FEED_PATH, [atom("new.atom.xml")]);
    server.script(BRAND_FEED, [atom("user-comments.atom.xml")]);
    let d = Daemon::start(&[
        (
            "vigie.toml",
            &brand_config(format!(
                "subreddits = [\"france\", \"AskFrance\"]\nbase_url = \"{}\"",
                server.url("")
            )),
        ),
        ("rules.toml", RULES),
    ]);
    d.wait_for(
        "the brand's comments read twice",
        Duration::from_secs(60),
        || server.requests(BRAND_FEED).len() >= 2,
    );
    assert_eq!(
        thread_row(&d, "t1_m0k3x7b"),
        (None, Some("reddit:t3_1h8k2qa".into())),
        "the feed says the link, not the parent"
    );
    let brand = server.requests(BRAND_FEED);
    assert_eq!(brand[0].target, format!("{BRAND_FEED}?limit=100"));
    assert_eq!(
        brand[1].target,
        format!("{BRAND_FEED}?limit=100&before=t1_m0k3x7b")
    );
}
