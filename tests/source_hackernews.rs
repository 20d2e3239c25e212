//! The `hackernews` source with the real daemon and a loopback Algolia, beyond the shared
//! contract (`source_contract`): the search it asks for (query, tags ORed, hits per page),
//! paging while catching up, and Algolia's error message in `vigie sources`.

use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};

const RULES: &str = "[[rule]]\nname = \"plainte\"\nquery = 'colis OR retard OR remboursé'\n";

const SEARCH: &str = "/api/v1/search_by_date";

fn fixture(name: &str) -> String {
    crate::util::fixture("hackernews", name)
}

fn config(base: &str, extra: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n\n\
         [[source]]\nname = \"hn\"\nkind = \"hackernews\"\nquery = \"posteo colis\"\n\
         base_url = \"{base}\"\nevery = \"1s\"\n{extra}\n"
    )
}

/// `search-newer.json` as page `page` of `pages`, its one hit given `id` and `at`.
fn page(id: &str, at: i64, page: u64, pages: u64) -> String {
    let mut v: Value = serde_json::from_str(&fixture("search-newer.json")).unwrap();
    v["hits"][0]["objectID"] = Value::from(id);
    v["hits"][0]["created_at_i"] = Value::from(at);
    v["hits"][0]["created_at"] = Value::from(
        chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    );
    v["page"] = Value::from(page);
    v["nbPages"] = Value::from(pages);
    v.to_string()
}

#[test]
fn hackernews_searches_forward_from_the_newest_item_and_pages_while_catching_up() {
    let server = TestServer::start();
    server.script(
        SEARCH,
        [
            Reply::ok(fixture("search-first.json")),
            // Second poll: two pages of newer items; the newest is on the first page.
            Reply::ok(page("42200500", 1_795_340_000, 0, 2)),
            Reply::ok(page("42200450", 1_795_339_900, 1, 2)),
            Reply::ok(fixture("search-empty.json")),
        ],
    );
    let d = Daemon::start(&[
        (
            "vigie.toml",
            &config(&server.url(""), "tags = [\"comment\", \"ask_hn\"]"),
        ),
        ("rules.toml", RULES),
    ]);
    d.wait_for("5 posts", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'hn'") == 5
    });
    d.wait_for("a poll after the catch-up", Duration::from_secs(60), || {
        server.requests(SEARCH).len() >= 4
    });
    let targets: Vec<String> = server
        .requests(SEARCH)
        .iter()
        .map(|r| r.target.clone())
        .collect();
    let q = "query=posteo+colis&tags=%28comment%2Cask_hn%29&hitsPerPage=100";
    assert_eq!(
        targets[..4],
        [
            format!("{SEARCH}?{q}"),
            format!("{SEARCH}?{q}&numericFilters=created_at_i%3E1795338840"),
            format!("{SEARCH}?{q}&numericFilters=created_at_i%3E1795338840&page=1"),
            format!("{SEARCH}?{q}&numericFilters=created_at_i%3E1795340000"),
        ],
        "{targets:#?}"
    );
    // Comments keep their permalink and plain text.
    let (url, text): (String, String) = d
        .db()
        .query_row(
            "SELECT url, text FROM posts WHERE source_id = '42200450'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("stored");
    assert_eq!(url, "https://news.ycombinator.com/item?id=42200450");
    assert_eq!(
        text,
        "Posteo m'a remboursé après une mise en demeure, it took 3 weeks."
    );
}

#[test]
fn hackernews_shows_algolia_error_message() {
    let server = TestServer::start();
    server.script(SEARCH, [Reply::new(400).body(fixture("error-400.json"))]);
    let d = Daemon::start(&[
        ("vigie.toml", &config(&server.url(""), "")),
        ("rules.toml", RULES),
    ]);
    let error = || -> Option<String> {
        d.db()
            .query_row(
                "SELECT last_error FROM sources_v WHERE source = 'hn'",
                [],
                |r| r.get(0),
            )
            .ok()
            .flatten()
    };
    d.wait_for("the source to fail", Duration::from_secs(60), || {
        error().is_some()
    });
    let e = error().unwrap();
    assert!(
        e.contains("HTTP 400") && e.contains("Algolia says \"Invalid value for \"numericFilters\""),
        "{e}"
    );
}

/// Issue 27: items carry their parent and their story as the thread; with a brand account each
/// poll also reads the account's items (`author_` tag) from its own position, and a failure of
/// that request keeps the search's posts and the position.
#[test]
fn hackernews_reads_the_brand_items_with_their_thread_and_survives_their_failure() {
    let server = TestServer::start();
    server.script(
        SEARCH,
        [
            // Poll 1: the search, then the brand's items.
            Reply::ok(fixture("search-first.json")),
            Reply::ok(fixture("brand-comments.json")),
            // Poll 2: the search finds a newer comment; the brand's request fails.
            Reply::ok(fixture("search-newer.json")),
            Reply::new(503).body("upstream down"),
            // Later polls: nothing new anywhere.
            Reply::ok(fixture("search-empty.json")),
        ],
    );
    let cfg = config(&server.url(""), "").replace(
        "[daemon]\n",
        "[daemon]\nbrand_accounts = [\"@posteo_support\"]\n",
    );
    let d = Daemon::start(&[("vigie.toml", &cfg), ("rules.toml", RULES)]);
    d.wait_for("the newer comment stored", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'hn' AND source_id = '42200400'") == 1
    });
    d.wait_for(
        "a poll after the brand's failure",
        Duration::from_secs(60),
        || server.requests(SEARCH).len() >= 6,
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
    let thread = Some("hn:42200100".to_string());
    assert_eq!(row("42200100"), (None, thread.clone()), "a story");
    assert_eq!(
        row("42200310"),
        (Some("42200290".into()), thread.clone()),
        "a comment"
    );
    assert_eq!(
        row("42200355"),
        (Some("42200310".into()), thread),
        "the brand's reply, under the same story"
    );
    let targets: Vec<String> = server
        .requests(SEARCH)
        .iter()
        .map(|r| r.target.clone())
        .collect();
    let brand = "query=&tags=%28story%2Ccomment%29%2C%28author_posteo_support%29&hitsPerPage=100";
    assert_eq!(targets[1], format!("{SEARCH}?{brand}"), "{targets:#?}");
    // The brand's own position: its newest item, kept across the failed request.
    let after = format!("{SEARCH}?{brand}&numericFilters=created_at_i%3E1795339860");
    assert_eq!(targets[3], after, "{targets:#?}");
    assert_eq!(targets[5], after, "{targets:#?}");
    // The failure was the brand's request only: the poll succeeded.
    d.wait_for("the source ok", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'hn' AND last_status = 'ok'") == 1
    });
    assert_eq!(
        d.log()
            .matches("Reading the brand account's posts failed")
            .count(),
        1,
        "logged once"
    );
}
