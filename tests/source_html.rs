//! The `html` source with the real binary (issue 20): the 5-minute floor on `every` (loopback
//! exempt), selectors checked by the real CSS parser, robots.txt obeyed and kept, hostile pages
//! (50 MB, 10,000 nested `<div>`s, scripts), and the recipes on their recorded pages. The
//! shared contract (cursor, faults, preview) is `source_contract`'s.

use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, shipped_tree, tree, vigie};

/// Every post of these tests hits this rule, so their text is stored.
const RULES: &str =
    "[[rule]]\nname = \"plainte\"\nquery = 'colis OR retard OR réclamation OR cassé*'\n";

/// The review page of the contract.
const AVIS: &str = include_str!("fixtures/html/avis.html");

/// One `html` source table on the review page's markup.
fn source(name: &str, url: &str, every: &str, extra: &str) -> String {
    format!(
        "\n[[source]]\nname = \"{name}\"\nkind = \"html\"\nurl = \"{url}\"\nevery = \"{every}\"\n{extra}item = \"article.review\"\nselect = {{ id = {{ css = \"article.review\", attr = \"data-id\" }}, text = \".review-body\", author = \".review-author\", created_at = {{ css = \"time\", attr = \"datetime\" }} }}\n"
    )
}

fn config(sources: &str) -> String {
    format!("[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nuser_agent = \"vigie-test/1 (+mailto:ops@example.org)\"\n{sources}")
}

/// `vigie check` on `config`: exit code and stderr.
fn check(config: &str) -> (i32, String) {
    let dir = tree(&[("vigie.toml", config), ("rules.toml", RULES)]);
    let r = vigie(
        &["check", "--config", s(&dir.path().join("vigie.toml"))],
        "",
    );
    (r.code, r.stderr)
}

/// The 1-based line of `config` that starts with `prefix`.
fn line_of(config: &str, prefix: &str) -> usize {
    config
        .lines()
        .position(|l| l.starts_with(prefix))
        .expect(prefix)
        + 1
}

#[test]
fn html_every_under_five_minutes_is_refused_except_on_loopback() {
    let bad = config(&source("avis", "https://avis.example.fr/posteo", "1m", ""));
    let (code, stderr) = check(&bad);
    assert_eq!(code, 2, "{stderr}");
    let want = format!(
        "vigie.toml:{}:9: \"every\" must be at least 5m for kind \"html\", not \"1m\"",
        line_of(&bad, "every")
    );
    assert!(stderr.contains(&want), "{want}\nnot in:\n{stderr}");
    let fine = [
        ("https://avis.example.fr/posteo", "5m"),
        ("http://127.0.0.1:9/posteo", "1s"),
        ("http://127.8.0.1/posteo", "1s"),
        ("http://[::1]:9/posteo", "1s"),
        ("http://localhost:9/posteo", "1s"),
    ];
    for (url, every) in fine {
        let (code, stderr) = check(&config(&source("avis", url, every, "")));
        assert_eq!(code, 0, "{url} every {every}: {stderr}");
    }
}

#[test]
fn html_selector_the_css_parser_refuses_is_a_located_error() {
    let bad = config(&source("avis", "https://avis.example.fr/posteo", "30m", ""))
        .replace("item = \"article.review\"", "item = \"article >> p\"");
    let (code, stderr) = check(&bad);
    assert_eq!(code, 2, "{stderr}");
    let want = format!(
        "vigie.toml:{}:8: \"item\": \"article >> p\" is not a CSS selector",
        line_of(&bad, "item")
    );
    assert!(stderr.contains(&want), "{want}\nnot in:\n{stderr}");
}

/// `vigie sources --format json` of the daemon, one object per source.
fn sources(d: &Daemon) -> Vec<Value> {
    let r = vigie(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

fn stored(d: &Daemon, source: &str) -> i64 {
    d.db()
        .query_row(
            "SELECT COUNT(*) FROM posts WHERE source = ?1",
            [source],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

#[test]
fn html_robots_txt_is_obeyed_and_kept_for_the_day() {
    // A site whose robots.txt disallows the page: never fetched, a clear error.
    let closed = TestServer::start();
    closed.script(
        "/robots.txt",
        [Reply::ok("User-agent: *\nDisallow: /posteo\n")],
    );
    closed.script("/posteo", [Reply::ok(AVIS)]);
    // A site that disallows everyone but vigie (its own group wins), read once for many polls.
    let open = TestServer::start();
    open.script(
        "/robots.txt",
        [Reply::ok(
            "User-agent: *\nDisallow: /\n\nUser-agent: vigie\nDisallow: /prive\n",
        )],
    );
    open.script("/posteo", [Reply::ok(AVIS)]);
    let sources_toml = source("closed", &closed.url("/posteo"), "1s", "")
        + &source("open", &open.url("/posteo"), "1s", "");
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&sources_toml)),
        ("rules.toml", RULES),
    ]);
    d.wait_for(
        "the disallowed source to fail",
        Duration::from_secs(60),
        || {
            sources(&d)
                .iter()
                .any(|r| r["source"] == "closed" && r["last_status"] == "error")
        },
    );
    let row = sources(&d)
        .into_iter()
        .find(|r| r["source"] == "closed")
        .unwrap();
    let err = row["last_error"].as_str().unwrap_or_default().to_string();
    assert!(
        err.contains("robots.txt disallows") && err.contains("/posteo"),
        "last error: {err:?}"
    );
    d.wait_for(
        "the allowed page polled three times",
        Duration::from_secs(60),
        || open.requests("/posteo").len() >= 3 && stored(&d, "open") == 2,
    );
    assert!(
        closed.requests("/posteo").is_empty(),
        "a disallowed page was fetched"
    );
    assert_eq!(
        open.requests("/robots.txt").len(),
        1,
        "robots.txt is kept, not asked at every poll"
    );
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// A 50 MB page: a review, one whose text is 10,000 `<div>`s deep, 50 MB of paragraphs, a last
/// review; every review carries a script.
fn hostile_page() -> String {
    let review = |i: u32, body: &str| {
        format!("<article class=\"review\" data-id=\"h-{i}\"><span class=\"review-author\">Client {i}</span><time datetime=\"2026-11-22T09:0{i}:00Z\">x</time><div class=\"review-body\">{body}<script>document.write('colis colis colis')</script></div></article>\n")
    };
    let mut page = String::from("<!DOCTYPE html><html><head><title>Avis</title></head><body>\n");
    page.push_str(&review(1, "<p>Mon colis est perdu.</p>"));
    // The text of this one is 10,000 <div>s deep.
    let deep = format!(
        "{}<p>Colis en retard, tout au fond des div.</p>{}",
        "<div>".repeat(10_000),
        "</div>".repeat(10_000)
    );
    page.push_str(&review(2, &deep));
    let filler = format!(
        "<p class=\"bourrage\">{}</p>\n",
        "Texte de remplissage sans mot surveillé. ".repeat(25)
    );
    while page.len() < 50 * 1024 * 1024 {
        page.push_str(&filler);
    }
    page.push_str(&review(
        3,
        "<p>Réclamation envoyée, dernière de la page.</p>",
    ));
    page.push_str("</body></html>\n");
    page
}

#[test]
fn html_hostile_pages_neither_crash_nor_hang_the_daemon() {
    let server = TestServer::start();
    server.script(
        "/avis",
        [
            Reply::ok(hostile_page()).header("ETag", "\"big\""),
            Reply::new(304),
        ],
    );
    let small = TestServer::start();
    small.script("/posteo", [Reply::ok(AVIS)]);
    let sources_toml = source("big", &server.url("/avis"), "1s", "max_bytes = 67108864\n")
        + &source("small", &small.url("/posteo"), "1s", "");
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&sources_toml)),
        ("rules.toml", RULES),
    ]);
    d.wait_for(
        "the 50 MB page's reviews stored",
        Duration::from_secs(300),
        || stored(&d, "big") == 3,
    );
    // Still polling both sources afterwards: nothing hung.
    let (big, little) = (
        server.requests("/avis").len(),
        small.requests("/posteo").len(),
    );
    d.wait_for("more polls", Duration::from_secs(120), || {
        server.requests("/avis").len() > big && small.requests("/posteo").len() > little
    });
    let texts: Vec<String> = {
        let db = d.db();
        let mut stmt = db
            .prepare("SELECT text FROM posts WHERE source = 'big' ORDER BY source_id")
            .unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.map(|r| r.unwrap()).collect()
    };
    assert_eq!(texts[1], "Colis en retard, tout au fond des div.");
    assert!(
        texts.iter().all(|t| !t.contains("document.write")),
        "{texts:?}"
    );
    assert_eq!(stored(&d, "small"), 2);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// Runs the recipe `name`'s source `source` with `vigie preview`, its URL pointed at a loopback
/// server serving `page` at the same path and query; returns the base URL and the posts.
fn preview_recipe(name: &str, source: &str, page: &[u8]) -> (String, Vec<Value>) {
    let dir = shipped_tree();
    let recipes = dir.path().join("config/recipes");
    let text = std::fs::read_to_string(recipes.join(format!("{name}.toml"))).expect("recipe");
    let line = text
        .lines()
        .find(|l| l.starts_with("url = "))
        .expect("url line");
    let url = url::Url::parse(line.trim_start_matches("url = ").trim_matches('"')).unwrap();
    let server = TestServer::start();
    server.script(
        url.path(),
        [Reply::ok(page.to_vec()).header("Content-Type", "text/html; charset=utf-8")],
    );
    let here = server.url(&format!(
        "{}{}",
        url.path(),
        url.query().map(|q| format!("?{q}")).unwrap_or_default()
    ));
    let cfg = recipes.join(format!("{name}-loopback.toml"));
    std::fs::write(&cfg, text.replace(line, &format!("url = \"{here}\""))).unwrap();
    let r = vigie(
        &["preview", source, "--config", s(&cfg), "--format", "json"],
        "",
    );
    assert_eq!(r.code, 0, "{name}: {}", r.stderr);
    let posts = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    (server.url(""), posts)
}

#[test]
fn html_recipes_parse_their_recorded_page_into_full_posts() {
    let cases = [
        (
            "avis-trustpilot",
            "avis-posteo",
            &include_bytes!("fixtures/recipes/avis-trustpilot.html")[..],
            (
                "/reviews/673d9a1f6c2e4b7a8f0c1d2e",
                "Julie M.",
                "2026-11-20T09:14:00Z",
            ),
            "/reviews/673d9a1f6c2e4b7a8f0c1d2e",
            ["Colis jamais arrivé", "Réclamation déposée"],
        ),
        (
            "forum-phpbb-reclamations",
            "forum-litiges",
            &include_bytes!("fixtures/recipes/forum-phpbb-reclamations.html")[..],
            (
                "./viewtopic.php?f=3&t=812&p=12345#p12345",
                "julie_m",
                "2026-11-20T09:14:00Z",
            ),
            "/viewtopic.php?f=3&t=812&p=12345#p12345",
            ["mon colis est bloqué", "mise en demeure"],
        ),
    ];
    for (name, source, page, (id, author, at), link, words) in cases {
        let (base, posts) = preview_recipe(name, source, page);
        assert_eq!(posts.len(), 2, "{name}: {posts:#?}");
        for p in &posts {
            for field in ["id", "text", "author", "created_at", "url"] {
                assert!(
                    p[field].as_str().is_some_and(|v| !v.is_empty()),
                    "{name}: no {field} in {p}"
                );
            }
        }
        let first = &posts[0];
        assert_eq!(first["id"], id, "{name}");
        assert_eq!(first["author"], author, "{name}");
        assert_eq!(first["created_at"], at, "{name}");
        assert_eq!(first["url"], format!("{base}{link}"), "{name}");
        let text = first["text"].as_str().unwrap();
        for w in words {
            assert!(text.contains(w), "{name}: {w:?} not in {text:?}");
        }
        assert!(!text.contains('<'), "{name}: markup left in {text:?}");
    }
}
