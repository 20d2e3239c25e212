//! Issue 27 for the `mastodon` source, with the real daemon and a loopback instance playing
//! `tests/fixtures/mastodon/`: every post's `in_reply_to` and `thread` (a reply's root `uri`
//! from the context endpoint, one request per thread), the brand accounts' own statuses with
//! their own `since_id`, lookups that fail without losing a post, and `vigie preview`.

use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const RULES: &str = "[[rule]]\nname = \"plainte\"\nquery = 'colis OR retard'\n";

const TOKEN: &str = "masto-threads-token-77d1";

const TAG: &str = "/api/v1/timelines/tag/colis";
const LOOKUP: &str = "/api/v1/accounts/lookup";
const BRAND: &str = "/api/v1/accounts/109350000000000042/statuses";
/// The context of the first reply whose root is not known (hugo's).
const CONTEXT: &str = "/api/v1/statuses/113512000000000650/context";

/// The complaint's thread key (alice's status `uri`, on her own server).
const ALICE_THREAD: &str = "https://piaille.example/users/alice/statuses/113512003000000100";
/// The thread key of léa's thread, whose root the instance shows only in the context.
const LEA_THREAD: &str = "https://social.example/users/lea/statuses/109876543210987654";

fn fixture(name: &str) -> String {
    crate::util::fixture("mastodon", name)
}

fn config(base: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n\
         brand_accounts = [\"lisalaposte@mastodon.social\"]\n\n\
         [[source]]\nname = \"masto\"\nkind = \"mastodon\"\ninstance = \"{base}\"\n\
         hashtags = [\"colis\"]\ntoken = \"${{TEST_MASTODON_TOKEN}}\"\nevery = \"1s\"\n"
    )
}

/// `(in_reply_to, thread)` of the stored post `id`.
fn thread_of(d: &Daemon, id: &str) -> (Option<String>, Option<String>) {
    d.db()
        .query_row(
            "SELECT in_reply_to, thread FROM posts WHERE source = 'masto' AND source_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("post {id}: {e}"))
}

fn pair(reply: Option<&str>, thread: Option<&str>) -> (Option<String>, Option<String>) {
    (reply.map(String::from), thread.map(String::from))
}

#[test]
fn mastodon_replies_join_their_roots_thread_and_the_brands_replies_are_read_with_their_own_cursor()
{
    let server = TestServer::start();
    server.script(
        TAG,
        [
            Reply::ok(fixture("tag-replies.json")),
            Reply::ok(fixture("empty.json")),
        ],
    );
    server.script(CONTEXT, [Reply::ok(fixture("context.json"))]);
    server.script(LOOKUP, [Reply::ok(fixture("account-lookup.json"))]);
    server.script(
        BRAND,
        [
            Reply::ok(fixture("account-statuses.json")),
            Reply::ok(fixture("empty.json")),
        ],
    );
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""))),
            ("rules.toml", RULES),
        ],
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    // Three statuses of the hashtag, two replies of the brand (its boost is no post).
    d.wait_for("five posts", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'masto'") == 5
    });
    // A top-level complaint is its own thread, keyed by its uri (not its local id).
    assert_eq!(
        thread_of(&d, "113512000000000620"),
        pair(None, Some(ALICE_THREAD))
    );
    // Two replies to the same parent: the root's uri from the context of the first, the
    // second from the cache.
    for reply in ["113512000000000650", "113512000000000700"] {
        assert_eq!(
            thread_of(&d, reply),
            pair(Some("113512000000000600"), Some(LEA_THREAD)),
            "{reply}"
        );
    }
    assert_eq!(
        server.requests(CONTEXT).len(),
        1,
        "one request for one thread"
    );
    for other in [
        "113512000000000700",
        "113512000000000800",
        "113512000000000810",
    ] {
        let path = format!("/api/v1/statuses/{other}/context");
        assert!(server.requests(&path).is_empty(), "{path}: the cache knew");
    }
    // The remote brand's replies: one in the complaint's thread, one in léa's.
    assert_eq!(
        thread_of(&d, "113512000000000800"),
        pair(Some("113512000000000620"), Some(ALICE_THREAD))
    );
    assert_eq!(
        thread_of(&d, "113512000000000810"),
        pair(Some("113512000000000700"), Some(LEA_THREAD))
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source_id = '113512000000000850'"),
        0,
        "the brand's boost is no post"
    );
    // The account was looked up by its acct; the next polls ask for what follows the newest
    // status seen (the boost's id counts), without looking the account up again.
    d.wait_for("a second brand poll", Duration::from_secs(60), || {
        server.requests(BRAND).len() >= 3
    });
    let lookups = server.requests(LOOKUP);
    assert_eq!(lookups.len(), 1, "the account id is kept");
    assert_eq!(
        lookups[0].target,
        format!("{LOOKUP}?acct=lisalaposte%40mastodon.social")
    );
    let brand: Vec<String> = server
        .requests(BRAND)
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(brand[0], format!("{BRAND}?limit=40"));
    assert_eq!(
        brand[1],
        format!("{BRAND}?limit=40&since_id=113512000000000850")
    );
    // The hashtag keeps its own position.
    assert!(server
        .requests(TAG)
        .iter()
        .any(|r| r.target.contains("min_id=113512000000000700")));
    let bearer = format!("Bearer {TOKEN}");
    for r in server
        .requests(LOOKUP)
        .iter()
        .chain(&server.requests(BRAND))
    {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
    }
    assert!(!d.log().contains(TOKEN));
}

#[test]
fn mastodon_failed_lookups_lose_no_post_and_are_logged_once() {
    let server = TestServer::start();
    server.script(
        TAG,
        [
            Reply::ok(fixture("tag-replies.json")),
            Reply::ok(fixture("empty.json")),
        ],
    );
    // The instance does not know the brand's handle, and its context endpoint is down.
    server.script(
        LOOKUP,
        [Reply::new(404).body(r#"{"error":"Record not found"}"#)],
    );
    server.script(CONTEXT, [Reply::new(503)]);
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""))),
            ("rules.toml", RULES),
        ],
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    d.wait_for("the hashtag's posts", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'masto'") == 3
    });
    // The replies keep their parent, and the store follows it: both are in the parent's
    // thread (keyed by the source and the parent, which it does not hold).
    for reply in ["113512000000000650", "113512000000000700"] {
        assert_eq!(
            thread_of(&d, reply),
            pair(Some("113512000000000600"), Some("masto:113512000000000600")),
            "{reply}"
        );
    }
    assert_eq!(
        thread_of(&d, "113512000000000620"),
        pair(None, Some(ALICE_THREAD))
    );
    // After the first failure the poll makes no more context lookups.
    assert_eq!(server.requests(CONTEXT).len(), 1);
    d.wait_for(
        "more lookups of the handle",
        Duration::from_secs(60),
        || server.requests(LOOKUP).len() >= 4,
    );
    d.wait_polls(1);
    // The polls succeed, and each failure is logged once, however many polls repeat it.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'masto' AND last_status = 'ok'"),
        1
    );
    let log = d.log();
    assert_eq!(
        log.matches("Reading the brand account's posts failed")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("Record not found"), "{log}");
    assert_eq!(log.matches("Thread lookup failed").count(), 1, "{log}");
    assert!(!log.contains("Poll failed."), "{log}");
}

#[test]
fn mastodon_preview_shows_the_brands_posts_with_their_threads() {
    let server = TestServer::start();
    server.script(TAG, [Reply::ok(fixture("tag-replies.json"))]);
    server.script(CONTEXT, [Reply::ok(fixture("context.json"))]);
    server.script(LOOKUP, [Reply::ok(fixture("account-lookup.json"))]);
    server.script(BRAND, [Reply::ok(fixture("account-statuses.json"))]);
    let dir = crate::util::tree(&[
        ("vigie.toml", &config(&server.url(""))),
        ("rules.toml", RULES),
    ]);
    let r = vigie_env(
        &[
            "preview",
            "masto",
            "--config",
            s(&dir.path().join("vigie.toml")),
            "--format",
            "json",
        ],
        "",
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let posts: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let brand = posts
        .iter()
        .find(|p| p["id"] == "113512000000000800")
        .unwrap_or_else(|| panic!("no brand post in {}", r.stdout));
    assert_eq!(brand["author"], "@lisalaposte@mastodon.social");
    assert_eq!(brand["in_reply_to"], "113512000000000620");
    assert_eq!(brand["thread"], ALICE_THREAD);
    assert_eq!(posts.len(), 5, "{}", r.stdout);
    assert!(
        !dir.path().join("vigie.db").exists(),
        "preview stores nothing"
    );
}
