//! Issue 27 for the `bluesky` source, with the real daemon: search results and Jetstream events
//! carry their thread (`reply.parent` → `in_reply_to`, `reply.root` → `thread`, a post's own
//! at-URI when it answers nothing), search reads the brand's `getAuthorFeed` with replies in
//! the same session and keeps its position in the cursor, and Jetstream keeps the brand's posts
//! whatever their language, from the stream it already has.

use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::source_jetstream::{Behaviour, Jetstream};
use crate::util::http::{Reply, TestServer};

const SEARCH: &str = "/xrpc/app.bsky.feed.searchPosts";
const FEED: &str = "/xrpc/app.bsky.feed.getAuthorFeed";
const CREATE: &str = "/xrpc/com.atproto.server.createSession";
const PROFILES: &str = "/xrpc/app.bsky.actor.getProfiles";
const PASSWORD: &str = "wxyz-SECRET-threads-1234";

const RULES: &str = "[[rule]]\nname = \"colis\"\nquery = 'colis OR retard* OR recommandé*'\n";

const BRAND_DID: &str = "did:plc:7hsmk2xqv4c6ja3lnpz5teub";
/// Paul's complaint is a reply in the thread of this post.
const PAUL: &str = "at://did:plc:wq4aajammjtxdomz3e23667t/app.bsky.feed.post/3mptcz7bq3k2w";
const PAUL_ROOT: &str = "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptcq1a2bc2a";
/// Camille's complaint answers nothing: its own thread.
const CAMILLE: &str = "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a";

fn fixture(name: &str) -> String {
    crate::util::fixture("bluesky", name)
}

fn json(body: String) -> Reply {
    Reply::ok(body).header("Content-Type", "application/json")
}

/// `(in_reply_to, thread)` of the stored post `id`.
fn thread_of(d: &Daemon, id: &str) -> (Option<String>, Option<String>) {
    d.db()
        .query_row(
            "SELECT in_reply_to, thread FROM posts WHERE source_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or_else(|e| panic!("post {id}: {e}"))
}

fn pair(reply: Option<&str>, thread: &str) -> (Option<String>, Option<String>) {
    (reply.map(String::from), Some(thread.to_string()))
}

fn search_config(base: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n\
         brand_accounts = [\"@laposte.bsky.social\"]\n\n\
         [[source]]\nname = \"bsky\"\nkind = \"bluesky\"\nevery = \"1s\"\nmode = \"search\"\n\
         service = \"{base}\"\nquery = \"colis OR retard\"\nlang = \"fr\"\n\
         identifier = \"veille.example.org\"\napp_password = \"${{BSKY_APP_PASSWORD}}\"\n"
    )
}

/// The source's stored cursor position (the `cursor` column), as JSON.
fn position(d: &Daemon) -> serde_json::Value {
    let text: Option<String> = d
        .db()
        .query_row("SELECT cursor FROM sources WHERE name = 'bsky'", [], |r| {
            r.get(0)
        })
        .ok()
        .flatten();
    serde_json::from_str(&text.unwrap_or_default()).unwrap_or(serde_json::Value::Null)
}

#[test]
fn bluesky_search_reads_the_brands_author_feed_in_the_complaints_threads() {
    let server = TestServer::start();
    server.script(CREATE, [json(fixture("createSession.json"))]);
    server.script(PROFILES, [json(fixture("getProfiles.json"))]);
    server.script(
        SEARCH,
        [
            json(fixture("searchPosts-1.json")),
            json(fixture("searchPosts-2.json")),
        ],
    );
    server.script(FEED, [json(fixture("getAuthorFeed.json"))]);
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &search_config(&server.url(""))),
            ("rules.toml", RULES),
        ],
        &[("BSKY_APP_PASSWORD", PASSWORD)],
    );
    let brand_to_paul = format!("at://{BRAND_DID}/app.bsky.feed.post/3mptdv5xm2k2c");
    let brand_to_camille = format!("at://{BRAND_DID}/app.bsky.feed.post/3mptdg3rc5s2b");
    d.wait_for("the brand's replies", Duration::from_secs(60), || {
        d.count(&format!(
            "SELECT COUNT(*) FROM posts WHERE source_id IN ('{brand_to_paul}', '{brand_to_camille}')"
        )) == 2
    });
    // The complaints' threads, from the search…
    assert_eq!(thread_of(&d, PAUL), pair(Some(PAUL_ROOT), PAUL_ROOT));
    assert_eq!(thread_of(&d, CAMILLE), pair(None, CAMILLE));
    // …and the brand's replies, from its author feed, in the same threads.
    assert_eq!(thread_of(&d, &brand_to_paul), pair(Some(PAUL), PAUL_ROOT));
    assert_eq!(
        thread_of(&d, &brand_to_camille),
        pair(Some(CAMILLE), CAMILLE)
    );
    // The brand's repost of another account's post is not the brand's post.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source_id LIKE '%3mptdkw4ab22x'"),
        0
    );
    // Asked with replies, with the search's session.
    let feeds = server.requests(FEED);
    assert_eq!(
        feeds[0].target,
        format!("{FEED}?actor=laposte.bsky.social&filter=posts_with_replies&limit=100")
    );
    assert_eq!(
        feeds[0].header("authorization"),
        Some("Bearer ACCESS-JWT-ONE")
    );
    // Its position, the newest post read, beside the search's.
    d.wait_for("the positions stored", Duration::from_secs(60), || {
        position(&d)["authors"]["laposte.bsky.social"] == "2026-07-04T15:31:07.204Z"
    });
    assert!(position(&d)["since"].is_string(), "{}", position(&d));
    // The next polls keep reading it, and the same answer adds nothing.
    d.wait_for("more feed polls", Duration::from_secs(60), || {
        server.requests(FEED).len() >= 3
    });
    d.wait_polls(1);
    assert_eq!(d.count("SELECT COUNT(*) FROM posts"), 5);
    let log = d.log();
    assert!(!log.contains(PASSWORD) && !log.contains("ACCESS-JWT-ONE"));
}

#[test]
fn bluesky_a_refused_author_feed_does_not_stop_the_search() {
    let server = TestServer::start();
    server.script(PROFILES, [json(fixture("getProfiles.json"))]);
    server.script(SEARCH, [json(fixture("searchPosts-2.json"))]);
    server.script(
        FEED,
        [Reply::new(400)
            .header("Content-Type", "application/json")
            .body(r#"{"error":"InvalidRequest","message":"Profile not found"}"#)],
    );
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         brand_accounts = [\"@laposte.bsky.social\"]\n\n\
         [[source]]\nname = \"bsky\"\nkind = \"bluesky\"\nevery = \"1s\"\nmode = \"search\"\n\
         service = \"{}\"\nquery = \"colis\"\n",
        server.url("")
    );
    let d = Daemon::start(&[("vigie.toml", &config), ("rules.toml", RULES)]);
    d.wait_for("the search's post", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts") == 1
    });
    d.wait_for("three feed requests", Duration::from_secs(60), || {
        server.requests(FEED).len() >= 3
    });
    d.wait_polls(1);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'bsky' AND last_status = 'ok'"),
        1
    );
    let log = d.log();
    assert_eq!(
        log.matches("Reading the brand account's posts failed")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("Profile not found"), "{log}");
}

#[test]
fn jetstream_keeps_reply_threads_and_the_brands_posts_in_any_language() {
    let mut events: Vec<String> = fixture("jetstream.jsonl")
        .lines()
        .map(String::from)
        .collect();
    events.extend(fixture("jetstream-brand.jsonl").lines().map(String::from));
    let stream = Jetstream::start(events, vec![Behaviour::All]);
    let appview = TestServer::start();
    appview.script(
        PROFILES,
        [
            json(fixture("getProfiles-brand.json")),
            json(fixture("getProfiles.json")),
        ],
    );
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         brand_accounts = [\"@laposte.bsky.social\"]\n\n\
         [[source]]\nname = \"bsky-stream\"\nkind = \"bluesky\"\nmode = \"jetstream\"\n\
         endpoint = \"{}\"\nlangs = [\"fr\"]\nservice = \"{}\"\nevery = \"1s\"\n",
        stream.url(),
        appview.url("")
    );
    let d = Daemon::start(&[("vigie.toml", &config), ("rules.toml", RULES)]);
    // The fixture's four French posts, and the brand's reply, which declares no language.
    d.wait_for("five posts", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts") == 5
    });
    let root = "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptc2xyzfr2a";
    let reply = "at://did:plc:o2rolxey6s5k7d4lxcz3inl4/app.bsky.feed.post/3mptbyp7lu223";
    assert_eq!(thread_of(&d, root), pair(None, root));
    assert_eq!(thread_of(&d, reply), pair(Some(root), root));
    let brand = format!("at://{BRAND_DID}/app.bsky.feed.post/3mptbyqr1vs2c");
    assert_eq!(thread_of(&d, &brand), pair(Some(reply), root));
    // The handle was resolved once, and the stream was not narrowed to the brand's DIDs.
    let resolutions: Vec<String> = appview
        .requests(PROFILES)
        .iter()
        .map(|r| r.target.clone())
        .filter(|t| t.contains("laposte"))
        .collect();
    assert_eq!(
        resolutions,
        [format!("{PROFILES}?actors=laposte.bsky.social")]
    );
    for (uri, _) in stream.connections.lock().unwrap().iter() {
        assert!(!uri.contains("wantedDids"), "{uri}");
    }
    // Other posts outside the wanted languages are still dropped.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source_id LIKE 'at://did:plc:dclwtltrt2ggsryagfzk7dp4/%'"),
        0
    );
}

/// The brand's feed a while later: its two replies an hour newer (new posts), the repost kept.
fn newer_feed() -> String {
    fixture("getAuthorFeed.json")
        .replace("2026-07-04T15:31", "2026-07-04T16:31")
        .replace("2026-07-04T15:20", "2026-07-04T16:20")
        .replace("3mptdv5xm2k2c", "3mpu1v5xm2k2c")
        .replace("3mptdg3rc5s2b", "3mpu1g3rc5s2b")
}

#[test]
fn bluesky_author_feed_reads_older_pages_while_a_page_is_all_new_reposts_aside() {
    let server = TestServer::start();
    server.script(PROFILES, [json(fixture("getProfiles.json"))]);
    server.script(SEARCH, [json(fixture("searchPosts-2.json"))]);
    server.script(
        FEED,
        [
            json(fixture("getAuthorFeed.json")),
            json(newer_feed()),
            json(r#"{"feed":[]}"#.into()),
        ],
    );
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         brand_accounts = [\"@laposte.bsky.social\"]\n\n\
         [[source]]\nname = \"bsky\"\nkind = \"bluesky\"\nevery = \"1s\"\nmode = \"search\"\n\
         service = \"{}\"\nquery = \"colis\"\n",
        server.url("")
    );
    let d = Daemon::start(&[("vigie.toml", &config), ("rules.toml", RULES)]);
    // The second poll's page is all newer than the position (its repost is no post of the
    // brand's): the gap behind it is read from its cursor.
    d.wait_for(
        "the page behind the newer one",
        Duration::from_secs(60),
        || {
            server
                .requests(FEED)
                .iter()
                .any(|r| r.target.ends_with("&cursor=2026-07-04T16%3A20%3A11.552Z"))
        },
    );
    d.wait_for("the four replies", Duration::from_secs(60), || {
        d.count(&format!(
            "SELECT COUNT(*) FROM posts WHERE source_id LIKE 'at://{BRAND_DID}/%'"
        )) == 4
    });
    d.wait_for("the newest position", Duration::from_secs(60), || {
        position(&d)["authors"]["laposte.bsky.social"] == "2026-07-04T16:31:07.204Z"
    });
}
