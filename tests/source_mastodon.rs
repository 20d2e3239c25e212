//! The `mastodon` source with the real daemon and a loopback instance, beyond the shared
//! contract (`source_contract`): `Link` paging (history on the first poll, catching up while
//! pages are full), the bearer token on every request and never shown, the local timeline,
//! the instance's rate-limit headers, and its error messages in `vigie sources`.

use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const RULES: &str = "[[rule]]\nname = \"plainte\"\nquery = 'colis OR retard OR lettre'\n";

const TOKEN: &str = "masto-token-9c41e7";

fn fixture(name: &str) -> String {
    crate::util::fixture("mastodon", name)
}

fn config(base: &str, extra: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n\n\
         [[source]]\nname = \"masto\"\nkind = \"mastodon\"\ninstance = \"{base}\"\n\
         hashtags = [\"#colis\"]\ntoken = \"${{TEST_MASTODON_TOKEN}}\"\nevery = \"1s\"\n{extra}\n"
    )
}

/// `n` statuses with ids `first..first+n`, newest first, as a full timeline page.
fn full_page(first: u64, n: u64) -> String {
    let template: Vec<Value> = serde_json::from_str(&fixture("tag-first.json")).unwrap();
    let page: Vec<Value> = (first..first + n)
        .rev()
        .map(|id| {
            let mut s = template[1].clone();
            s["id"] = Value::from(id.to_string());
            s["url"] = Value::from(format!("https://mastodon.example/@bob/{id}"));
            s["content"] = Value::from(format!("<p>Colis {id} en retard</p>"));
            s
        })
        .collect();
    serde_json::to_string(&page).unwrap()
}

fn stored(d: &Daemon) -> i64 {
    d.count("SELECT COUNT(*) FROM posts WHERE source = 'masto'")
}

#[test]
fn mastodon_pages_by_link_history_first_then_forward_while_full_with_the_token() {
    let server = TestServer::start();
    let tag = "/api/v1/timelines/tag/colis";
    let link =
        |rel: &str, query: &str| format!("<{}?limit=40&{query}>; rel=\"{rel}\"", server.url(tag));
    let first_links = format!(
        "{}, {}",
        link("next", "max_id=113511998000000100"),
        link("prev", "min_id=113512000000000300")
    );
    server.script(
        tag,
        [
            // First poll: the newest page, then the older one its `next` link points to.
            Reply::ok(fixture("tag-first.json")).header("Link", &first_links),
            Reply::ok(fixture("empty.json")),
            // Second poll: a full page after min_id, whose `prev` link leads to the rest (its
            // query in another order than vigie writes it: a link is followed as given, in the
            // same poll, not rebuilt from the cursor at the next one).
            Reply::ok(full_page(113_512_000_000_000_301, 40)).header(
                "Link",
                &format!(
                    "<{}?min_id=113512000000000340&limit=40>; rel=\"prev\"",
                    server.url(tag)
                ),
            ),
            Reply::ok(fixture("tag-newer.json")),
            Reply::ok(fixture("empty.json")),
        ],
    );
    server.script(
        "/api/v1/timelines/public",
        [Reply::ok(fixture("empty.json"))],
    );
    let d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(&server.url(""), "timeline = \"local\""),
            ),
            ("rules.toml", RULES),
        ],
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    d.wait_for("44 posts", Duration::from_secs(60), || stored(&d) == 44);
    d.wait_for("a poll after the catch-up", Duration::from_secs(60), || {
        server.requests(tag).len() >= 6
    });
    let targets: Vec<String> = server
        .requests(tag)
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(
        targets[..5],
        [
            format!("{tag}?limit=40"),
            format!("{tag}?limit=40&max_id=113511998000000100"),
            format!("{tag}?limit=40&min_id=113512000000000300"),
            format!("{tag}?min_id=113512000000000340&limit=40"),
            format!("{tag}?limit=40&min_id=113512000000000500"),
        ],
        "{targets:#?}"
    );
    // The local timeline is followed too, with `local=true`.
    let public = server.requests("/api/v1/timelines/public");
    assert!(!public.is_empty());
    assert_eq!(
        public[0].target,
        "/api/v1/timelines/public?limit=40&local=true"
    );
    // Every request carries the token; nothing shows it.
    let bearer = format!("Bearer {TOKEN}");
    for r in server.requests(tag).iter().chain(&public) {
        assert_eq!(
            r.header("authorization"),
            Some(bearer.as_str()),
            "{}",
            r.target
        );
    }
    let sources = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    assert!(!d.log().contains(TOKEN) && !sources.stdout.contains(TOKEN));
    // The boost in the first page is not a post; the reply mentioning an account is, its local
    // author qualified with the instance's host.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source_id = '113511998000000100'"),
        0
    );
    assert_eq!(
        d.count(
            "SELECT COUNT(*) FROM posts WHERE source_id = '113512000000000500' \
             AND author = '@emile@127.0.0.1' AND followers = 2450 AND engagement = 4"
        ),
        1
    );
}

#[test]
fn mastodon_rate_limit_headers_hold_the_next_poll_until_the_reset() {
    let server = TestServer::start();
    let tag = "/api/v1/timelines/tag/colis";
    let reset = chrono::Utc::now() + chrono::Duration::hours(1);
    let reset_text = reset.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    server.script(
        tag,
        [Reply::ok(fixture("tag-first.json"))
            .header("X-RateLimit-Limit", "300")
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", &reset_text)],
    );
    server.script(
        "/api/v1/timelines/public",
        [Reply::ok(fixture("empty.json"))],
    );
    let d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(&server.url(""), "timeline = \"public\""),
            ),
            ("rules.toml", RULES),
        ],
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    d.wait_for("the first page stored", Duration::from_secs(60), || {
        stored(&d) == 2
    });
    // The posts are kept, the next poll waits for the reset (not `every = 1s`), and the public
    // timeline is not asked while no request is left.
    let next: String = d
        .db()
        .query_row(
            "SELECT next_poll_at FROM sources WHERE name = 'masto'",
            [],
            |r| r.get(0),
        )
        .expect("next_poll_at");
    let next = chrono::DateTime::parse_from_rfc3339(&next).expect("rfc3339");
    assert!(
        next >= reset - chrono::Duration::seconds(2),
        "next poll {next} before the reset {reset}"
    );
    assert_eq!(server.requests(tag).len(), 1);
    assert!(server.requests("/api/v1/timelines/public").is_empty());
    let sources = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        &[],
    );
    let row: Value = serde_json::from_str(sources.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(row["last_status"], "ok", "{row}");
}

/// A 429 from Mastodon names its reset in `X-RateLimit-Reset`, not in `Retry-After`: the next
/// poll waits for the reset rather than for a short backoff.
#[test]
fn mastodon_a_429_waits_for_the_rate_limit_reset() {
    let server = TestServer::start();
    let tag = "/api/v1/timelines/tag/colis";
    let reset = chrono::Utc::now() + chrono::Duration::hours(1);
    let reset_text = reset.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    server.script(
        tag,
        [Reply::new(429)
            .body(r#"{"error":"Too many requests"}"#)
            .header("X-RateLimit-Limit", "300")
            .header("X-RateLimit-Remaining", "0")
            .header("X-RateLimit-Reset", &reset_text)],
    );
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""), "")),
            ("rules.toml", RULES),
        ],
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    d.wait_for("the refused poll recorded", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'masto' AND last_poll_at IS NOT NULL")
            == 1
    });
    let next: String = d
        .db()
        .query_row(
            "SELECT next_poll_at FROM sources WHERE name = 'masto'",
            [],
            |r| r.get(0),
        )
        .expect("next_poll_at");
    let next = chrono::DateTime::parse_from_rfc3339(&next).expect("rfc3339");
    assert!(
        next >= reset - chrono::Duration::seconds(2),
        "next poll {next} before the reset {reset}"
    );
    assert_eq!(server.requests(tag).len(), 1);
}

#[test]
fn mastodon_refusals_show_the_instance_message_and_what_to_do() {
    let server = TestServer::start();
    server.script(
        "/api/v1/timelines/tag/colis",
        [Reply::new(401).body(fixture("error-401.json"))],
    );
    // Without a token, an instance that keeps its timelines for logged-in users.
    let other = TestServer::start();
    other.script(
        "/api/v1/timelines/tag/colis",
        [Reply::new(422).body(fixture("error-422.json"))],
    );
    let cfg = format!(
        "{}\n[[source]]\nname = \"anon\"\nkind = \"mastodon\"\ninstance = \"{}\"\nhashtags = [\"colis\"]\nevery = \"1s\"\n",
        config(&server.url(""), ""),
        other.url("")
    );
    let d = Daemon::start_env(
        &[("vigie.toml", &cfg), ("rules.toml", RULES)],
        &[("TEST_MASTODON_TOKEN", TOKEN)],
    );
    let error = |name: &str| -> Option<String> {
        d.db()
            .query_row(
                "SELECT last_error FROM sources_v WHERE source = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
            .flatten()
    };
    d.wait_for("both sources to fail", Duration::from_secs(60), || {
        error("masto").is_some() && error("anon").is_some()
    });
    let masto = error("masto").unwrap();
    assert!(
        masto.contains("HTTP 401")
            && masto.contains("the instance says \"The access token is invalid\"")
            && masto.contains("check the source's token"),
        "{masto}"
    );
    let anon = error("anon").unwrap();
    assert!(
        anon.contains("HTTP 422")
            && anon.contains("This method requires an authenticated user")
            && anon.contains("give the source a token"),
        "{anon}"
    );
    assert!(!d.log().contains(TOKEN));
}
