//! The `facebook` source (issue 19) against a loopback Graph API serving recorded pages: the
//! source contract (the page's posts and their comments, comments asked `since` the cursor),
//! the token in the `Authorization` header only, and a refused token (code 190) as a permanent
//! error that says what to do, without the token anywhere.

use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::source_contract::{assert_source_contract, Case, Fault, Sample, Step};
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const PAGE: &str = "104501234567890";
const FEED: &str = "/104501234567890/feed";
/// The comments of the newest post: the contract's list path.
const COMMENTS: &str = "/104501234567890_987654321098765/comments";
const QUIET: &str = "/104501234567890_987654321012345/comments";
const TOKEN: &str = "EAAGm0PX4ZCpsBAFakePageToken0123456789";
const ENV: &[(&str, &str)] = &[("FB_TEST_TOKEN", TOKEN)];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        crate::util::root()
            .join("tests/fixtures/facebook")
            .join(name),
    )
    .expect("fixture")
}

fn keys(base: &str) -> String {
    format!("page_id = \"{PAGE}\"\naccess_token = \"${{FB_TEST_TOKEN}}\"\nbase_url = \"{base}\"")
}

fn facebook_case() -> Case {
    Case {
        kind: "facebook",
        keys,
        env: ENV,
        script: |server, step| match step {
            Step::First => {
                server.script(FEED, [Reply::ok(fixture("feed.json"))]);
                server.script(QUIET, [Reply::ok(fixture("comments-empty.json"))]);
                // Two pages of comments, the second reached with `after`.
                server.script(
                    COMMENTS,
                    [
                        Reply::ok(fixture("comments-first.json")),
                        Reply::ok(fixture("comments-after.json")),
                    ],
                );
            }
            Step::Next => server.script(
                COMMENTS,
                [
                    Reply::ok(fixture("comments-newer.json")),
                    Reply::ok(fixture("comments-empty.json")),
                ],
            ),
        },
        list_path: COMMENTS,
        // The newest comment time seen: 2026-12-06T08:40:02Z after the first poll, later ones
        // after the next.
        carries_cursor: |r| {
            let since = r.target.split(['?', '&']).find_map(|p| p.strip_prefix("since="));
            since
                .and_then(|t| t.parse::<i64>().ok())
                .is_some_and(|t| t >= 1_796_546_402)
        },
        first_ids: &[
            "104501234567890_987654321012345",
            "104501234567890_987654321098765",
            "987654321098765_1122334455667788",
            "987654321098765_1122334455669999",
        ],
        all_ids: &[
            "104501234567890_987654321012345",
            "104501234567890_987654321098765",
            "987654321098765_1122334455667788",
            "987654321098765_1122334455669999",
            "987654321098765_1122334455670001",
        ],
        sample: Sample {
            id: "987654321098765_1122334455667788",
            url: Some("https://www.facebook.com/posteo.fr/posts/pfbid02Xk7nR3yTq9mWcL8vBz5u?comment_id=1122334455667788"),
            author: Some("7712345678901234"),
            author_name: Some("Marie Dupont"),
            created_at: Some("2026-12-06T08:12:40Z"),
            text_contains: &["Toujours pas reçu mon colis", "Réclamation déposée"],
            engagement: Some(6),
            ..Sample::default()
        },
        malformed: (br#"{"data": 5}"#, "malformed Graph API response"),
        fault_words: &[(Fault::Unauthorized, "HTTP 401")],
    }
}

#[test]
fn facebook_keeps_the_source_contract() {
    assert_source_contract(&facebook_case());
}

#[test]
fn facebook_token_error_190_is_a_permanent_error_that_says_what_to_do() {
    let server = TestServer::start();
    server.script(
        FEED,
        [
            Reply::ok(fixture("feed.json")),
            Reply::new(400)
                .header("Content-Type", "application/json")
                .body(fixture("token-expired.json")),
        ],
    );
    server.script(COMMENTS, [Reply::ok(fixture("comments-empty.json"))]);
    server.script(QUIET, [Reply::ok(fixture("comments-empty.json"))]);
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\n[[source]]\nname = \"fb\"\nkind = \"facebook\"\nevery = \"1s\"\n{}\n",
        keys(&server.url(""))
    );
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &config),
            (
                "rules.toml",
                "[[rule]]\nname = \"colis\"\nquery = 'colis'\n",
            ),
        ],
        ENV,
    );
    d.wait_for("two failed polls", Duration::from_secs(60), || {
        d.count("SELECT failures FROM sources WHERE name = 'fb'") >= 2
    });
    // The first poll worked: the posts are stored.
    assert_eq!(d.count("SELECT COUNT(*) FROM posts WHERE source = 'fb'"), 2);
    let r = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        ENV,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let row: serde_json::Value =
        serde_json::from_str(r.stdout.lines().next().expect("a row")).expect("json");
    assert_eq!(row["last_status"], "error", "{row}");
    let err = row["last_error"].as_str().unwrap_or_default();
    assert!(
        err.starts_with(
            "the page access token is expired (Graph API code 190): create a new page access token and update access_token"
        ),
        "{err}"
    );
    assert!(
        err.contains("Session has expired"),
        "Facebook's own words: {err}"
    );
    // Permanent: retried at a growing backoff, not every second.
    let feed = server.requests(FEED);
    for w in feed.windows(2).skip(1) {
        assert!(
            w[1].at - w[0].at >= Duration::from_millis(900),
            "{:?}",
            w[1].at - w[0].at
        );
    }
    // The token went in the header only: never in a URL, a log line or `vigie sources`.
    for req in server
        .requests(FEED)
        .iter()
        .chain(&server.requests(COMMENTS))
    {
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(!req.target.contains(TOKEN), "{}", req.target);
        assert!(req.target.contains("permalink_url"), "{}", req.target);
    }
    let comments = server.requests(COMMENTS);
    assert!(
        comments[0].target.contains("filter=stream"),
        "{}",
        comments[0].target
    );
    assert!(!r.stdout.contains(TOKEN), "the token in vigie sources");
    assert!(!d.log().contains(TOKEN), "the token in the log");
}

/// Issue 27: comments are read with their `parent`; a complaint (a top-level comment) answers
/// the page post and starts its thread, and the page's reply under it, read in the same stream,
/// is in that thread with the page's id as its author (what `brand_accounts` names).
#[test]
fn facebook_comments_and_the_page_replies_carry_their_thread() {
    let server = TestServer::start();
    server.script(FEED, [Reply::ok(fixture("feed.json"))]);
    server.script(COMMENTS, [Reply::ok(fixture("comments-thread.json"))]);
    server.script(QUIET, [Reply::ok(fixture("comments-empty.json"))]);
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         brand_accounts = [{{ source = \"fb\", handle = \"{PAGE}\" }}]\n\n\
         [[source]]\nname = \"fb\"\nkind = \"facebook\"\nevery = \"1s\"\n{}\n",
        keys(&server.url(""))
    );
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &config),
            (
                "rules.toml",
                "[[rule]]\nname = \"colis\"\nquery = 'colis'\n",
            ),
        ],
        ENV,
    );
    d.wait_for("the thread stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'fb'") == 5
    });
    let fields = server.requests(COMMENTS)[0].target.clone();
    assert!(
        fields.contains("comment_count%2Cparent%7Bid%7D") && fields.contains("filter=stream"),
        "{fields}"
    );
    // Thread fields are stored for every post, hit or not (the page's reply hits nothing).
    let row = |id: &str| -> (Option<String>, Option<String>) {
        d.db()
            .query_row(
                "SELECT in_reply_to, thread FROM posts WHERE source_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("stored")
    };
    let thread = Some("facebook:987654321098765_1122334455669900".to_string());
    assert_eq!(
        row("104501234567890_987654321098765"),
        (
            None,
            Some("facebook:104501234567890_987654321098765".into())
        ),
        "a page post is a thread of its own"
    );
    assert_eq!(
        row("987654321098765_1122334455669900"),
        (
            Some("104501234567890_987654321098765".into()),
            thread.clone()
        ),
        "the complaint answers the page post and starts its thread"
    );
    assert_eq!(
        row("987654321098765_1122334455669911"),
        (
            Some("987654321098765_1122334455669900".into()),
            thread.clone()
        ),
        "the page's reply"
    );
    assert_eq!(
        row("987654321098765_1122334455669922").1,
        thread,
        "a reply to the page's reply"
    );
    // `vigie preview` shows the page's reply, its author the page's id.
    let r = vigie_env(
        &[
            "preview",
            "fb",
            "--config",
            s(&d.config()),
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
        .find(|v| v["id"] == "987654321098765_1122334455669911")
        .expect("the page's reply previewed");
    assert_eq!(reply["author"], PAGE);
    assert_eq!(reply["thread"], "facebook:987654321098765_1122334455669900");
}
