//! Notifier payloads and delivery: golden bodies for every chat kind and for `render::text` /
//! `render::html`, a property test feeding hostile post text to every renderer, and one HTTP
//! contract test per kind against the loopback server (status → `DeliveryError`, no secret URL
//! in any error). `VIGIE_BLESS=1` rewrites the golden files instead of comparing.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use vigie::config::secret::{Secret, SecretRef};
use vigie::config::{NotifierKind, NotifierSpec};
use vigie::notify::{
    discord, mattermost, render, slack, teams, webhook, Alert, AlertKind, AlertPost, DeliveryError,
    Series, SourceState,
};

use crate::util::http::{Reply, TestServer};
use crate::util::root;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap()
}

/// The fixed sample: a spike on `livraison-retard`, one ordinary post and one hostile one.
fn sample() -> Alert {
    Alert {
        id: 42,
        rule: "livraison-retard".into(),
        kind: AlertKind::Spike,
        fired_at: at(9, 15),
        window_secs: 900,
        count: 38,
        baseline: 2.5,
        bar: 7.5,
        reason: "38 hits in 15m, usual 2.5 (15.2×)".into(),
        posts: vec![
            AlertPost {
                source: "mastodon-fr".into(),
                author: Some("@alice@piaille.fr".into()),
                text: "Mon colis est en retard depuis lundi, suivi sur \
                       https://www.laposte.fr/outils/suivre-vos-envois?code=6A123&lang=fr … \
                       merci @LaPoste_Aide"
                    .into(),
                url: Some("https://piaille.fr/@alice/113312".into()),
                created_at: at(9, 14),
                followers: Some(1200),
            },
            AlertPost {
                source: "x\u{202E}rss-avis".into(),
                author: Some("<!channel> @everyone".into()),
                text: "@here <script>alert(1)</script> [Suivi officiel](javascript:alert(document.cookie)) \
                       <https://evil.example/login|Suivi La Poste>\r\nwww.evil.example \u{200B}remboursement \
                       <@U024BE7LH> <@&123456> *gras* _x_ ~y~ `code` # titre | ! &amp; \u{2066}fin"
                    .into(),
                url: Some("javascript:alert(1)".into()),
                created_at: at(9, 10),
                followers: None,
            },
        ],
        series: Series {
            start: at(9, 15) - chrono::Duration::hours(24),
            bucket_secs: 900,
            counts: (0..96).map(|i| if i == 95 { 38 } else { 2 + i % 3 }).collect(),
        },
        source_state: None,
        error: None,
    }
}

/// A `source` alert: a failing source.
fn source_sample() -> Alert {
    Alert {
        id: 43,
        rule: "mastodon-fr".into(),
        kind: AlertKind::Source,
        fired_at: at(9, 15),
        window_secs: 1800,
        count: 12,
        baseline: 0.0,
        bar: 0.0,
        reason: "12 polls failed in a row since 08:40".into(),
        posts: Vec::new(),
        series: Series::default(),
        source_state: Some(SourceState::Failing),
        error: Some("HTTP 503 from https://mastodon.example/api/v1 (retry after 120s)".into()),
    }
}

/// Compares `got` with `tests/golden/notify/{name}`, or writes it when `VIGIE_BLESS=1`.
fn golden(name: &str, got: &str) {
    let path = root().join("tests/golden/notify").join(name);
    if std::env::var("VIGIE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir golden");
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (VIGIE_BLESS=1 writes it)", path.display()));
    crate::eq_golden!(want, got);
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("json") + "\n"
}

#[test]
fn golden_chat_bodies() {
    let a = sample();
    golden("slack.json", &pretty(&slack::body(&a)));
    golden("mattermost.json", &pretty(&mattermost::body(&a)));
    golden("teams.json", &pretty(&teams::body(&a)));
    golden("discord.json", &pretty(&discord::body(&a)));
}

#[test]
fn golden_text_and_html() {
    let a = sample();
    golden("text.txt", &render::text(&a));
    golden("email.html", &render::html(&a, Some("chart-42@vigie")));
}

#[test]
fn golden_source_alert() {
    let a = source_sample();
    golden("source.txt", &render::text(&a));
    golden("source.slack.json", &pretty(&slack::body(&a)));
    golden("source.teams.json", &pretty(&teams::body(&a)));
}

#[test]
fn helpers() {
    assert_eq!(render::fmt_window(30), "30s");
    assert_eq!(render::fmt_window(900), "15m");
    assert_eq!(render::fmt_window(3600), "1h");
    assert_eq!(render::fmt_window(90), "90s");
    assert_eq!(render::fmt_window(7 * 86_400), "7d");
    assert_eq!(render::defang("https://x.y"), "hxxps[:]//x.y");
    assert_eq!(
        render::defang("see HTTP://evil.com/a"),
        "see hxxp[:]//evil[.]com/a"
    );
    assert_eq!(
        render::defang("javascript:alert(1)"),
        "javascript[:]alert(1)"
    );
    assert_eq!(render::defang("Hôtel: 2.5 e.g. ok"), "Hôtel: 2.5 e.g. ok");
    assert_eq!(
        render::slack_escape("<!here> & <@U1>"),
        "&lt;!here&gt; &amp; &lt;@U1&gt;"
    );
    assert_eq!(render::markdown_escape("[x](y)"), "\\[x\\]\\(y\\)");
    assert_eq!(render::clean("a\r\n\u{202E}b\u{200B}c\u{FEFF}"), "a bc");
    assert_eq!(render::safe_url("javascript:alert(1)"), None);
    assert_eq!(
        render::safe_url("HTTPS://Ex.org/a|b>(c)"),
        Some("https://ex.org/a%7Cb%3E%28c%29".into())
    );
    assert_eq!(
        render::safe_url("https:///nohost"),
        Some("https://nohost/".into())
    );
    assert_eq!(render::safe_url("ftp://x.org"), None);
    assert_eq!(render::cut_markup("ab &amp; cd", 5), "ab …");
    assert_eq!(render::cut_markup("ab\\*cd", 4), "ab…");
    assert_eq!(render::cut_markup("x <https://a.b|Open> y", 10), "x …");
}

// ---- hostile text, every renderer ---------------------------------------------------------

/// Strings built from hostile fragments and random unicode.
fn hostile() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("<script>alert(1)</script>".to_string()),
        Just("<SCRIPT src=x>".to_string()),
        Just("<!channel>".to_string()),
        Just("<!here|here>".to_string()),
        Just("@here".to_string()),
        Just("@channel".to_string()),
        Just("@everyone".to_string()),
        Just("@all".to_string()),
        Just("<@U024BE7LH>".to_string()),
        Just("<@&123456>".to_string()),
        Just("[x](javascript:alert(1))".to_string()),
        Just("[x](https://evil.example)".to_string()),
        Just("<https://evil.example|click>".to_string()),
        Just("JavaScript:void(0)".to_string()),
        Just("www.evil.example".to_string()),
        Just("://".to_string()),
        Just("\r\n".to_string()),
        Just("\u{202E}".to_string()),
        Just("\u{200B}".to_string()),
        Just("&amp;&lt;".to_string()),
        Just("\\".to_string()),
        Just("]".to_string()),
        Just("(".to_string()),
        "\\PC{0,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(fragment, 0..14).prop_map(|v| v.concat())
}

const POST_URL: &str = "https://example.org/p/1?a=1&b=2";

/// The sample with two posts whose text, author and source are `s`.
fn with_posts(s: &str) -> Alert {
    let mut a = sample();
    for (i, p) in a.posts.iter_mut().enumerate() {
        p.text = s.to_string();
        p.author = Some(s.to_string());
        p.source = s.to_string();
        p.url = Some(
            if i == 0 {
                POST_URL
            } else {
                "javascript:alert(1)"
            }
            .to_string(),
        );
    }
    a
}

/// A `source` alert whose name, reason and error are `s`.
fn source_with(s: &str) -> Alert {
    let mut a = source_sample();
    a.rule = s.to_string();
    a.reason = s.to_string();
    a.error = Some(s.to_string());
    a
}

/// Every string in a JSON value, one per line.
fn strings(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push_str(s);
            out.push('\u{1}');
        }
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(m) => m.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Every renderer's output for `a`, as (name, text).
fn outputs(a: &Alert) -> Vec<(&'static str, String)> {
    let js = |v: Value| {
        let mut s = String::new();
        strings(&v, &mut s);
        s
    };
    vec![
        ("text", render::text(a)),
        ("html", render::html(a, Some("c1"))),
        ("slack", js(slack::body(a))),
        ("mattermost", js(mattermost::body(a))),
        ("teams", js(teams::body(a))),
        ("discord", js(discord::body(a))),
    ]
}

/// `](` not preceded by an escaping backslash: a markdown link opener.
fn markdown_links(s: &str) -> usize {
    s.match_indices("](")
        .filter(|(i, _)| s[..*i].chars().rev().take_while(|&c| c == '\\').count() % 2 == 0)
        .count()
}

/// Checks the hostile alert's outputs against the benign twin's (same shape, text `x`).
fn check(hostile: &Alert, benign: &Alert) -> Result<(), TestCaseError> {
    let good = outputs(benign);
    for ((name, out), (_, twin)) in outputs(hostile).iter().zip(&good) {
        for bad in ['\u{202E}', '\u{200B}', '\r'] {
            prop_assert!(!out.contains(bad), "{name}: {bad:?} survived in {out:?}");
        }
        let lines = |s: &str| s.matches('\n').count();
        prop_assert_eq!(
            lines(out),
            lines(twin),
            "{}: a newline survived in {:?}",
            name,
            out
        );
        let rest = out
            .replace(POST_URL, "")
            .replace(&POST_URL.replace('&', "&amp;"), "")
            .replace("http://adaptivecards.io/schemas/adaptive-card.json", "")
            .to_lowercase();
        prop_assert!(!rest.contains('@'), "{name}: an ASCII @ in {out:?}");
        for link in ["://", "javascript:", "www.evil", "evil.example"] {
            prop_assert!(!rest.contains(link), "{name}: {link} in {out:?}");
        }
        match *name {
            "html" => {
                prop_assert!(!rest.contains("<script"), "html: <script in {out:?}");
                prop_assert_eq!(
                    out.matches('<').count(),
                    twin.matches('<').count(),
                    "html: raw < in {:?}",
                    out
                );
            }
            "slack" => {
                prop_assert!(!out.contains("<!"), "slack: <! in {out:?}");
                prop_assert_eq!(
                    out.matches('<').count(),
                    twin.matches('<').count(),
                    "slack: raw < in {:?}",
                    out
                );
            }
            "mattermost" | "discord" | "teams" => {
                prop_assert_eq!(
                    markdown_links(out),
                    markdown_links(twin),
                    "{}: unescaped ]( in {:?}",
                    name,
                    out
                );
            }
            _ => {}
        }
    }
    let d = discord::body(hostile);
    prop_assert_eq!(&d["allowed_mentions"], &json!({ "parse": [] }));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn hostile_post_text_is_neutralised(s in hostile()) {
        check(&with_posts(&s), &with_posts("x"))?;
    }

    #[test]
    fn hostile_source_alert_is_neutralised(s in hostile()) {
        check(&source_with(&s), &source_with("x"))?;
    }
}

// ---- HTTP contract, one per kind ----------------------------------------------------------

const HOOK: &str = "/hooks/T0KEN-secret";

/// Builds a notifier of `kind` posting to `url`.
fn notifier(kind: &str, url: String) -> Box<dyn vigie::notify::Notifier> {
    let url = SecretRef::Literal(Secret::new(url));
    let kind = match kind {
        "slack" => NotifierKind::Slack { url },
        "mattermost" => NotifierKind::Mattermost { url },
        "teams" => NotifierKind::Teams { url },
        "discord" => NotifierKind::Discord { url },
        "webhook" => NotifierKind::Webhook {
            url,
            secret: None,
            headers: Vec::new(),
        },
        other => panic!("no such kind {other}"),
    };
    let spec = NotifierSpec {
        name: format!("test-{}", kind.name()),
        kind,
        at: 0,
    };
    vigie::notify::build(&spec, &|_| None).unwrap_or_else(|e| panic!("build: {e}"))
}

/// The error's Display and Debug never hold the URL or its token.
fn no_secret(e: &DeliveryError, url: &str) {
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(
            !shown.contains("T0KEN") && !shown.contains(url),
            "secret in {shown}"
        );
    }
}

async fn contract(kind: &str, expected: fn(&Alert) -> Value) {
    let server = TestServer::start();
    server.script(
        HOOK,
        [
            Reply::new(200).body("ok"),
            Reply::new(500),
            Reply::new(404),
            Reply::new(429).header("Retry-After", "7"),
        ],
    );
    let url = server.url(HOOK);
    let n = notifier(kind, url.clone());
    let alert = sample();

    n.send(&alert, "42-1").await.expect("200 is delivered");
    let req = &server.requests(HOOK)[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/json"));
    let sent: Value = serde_json::from_slice(&req.body).expect("JSON body");
    assert_eq!(sent, expected(&alert), "{kind}: body differs from body()");
    if kind == "webhook" {
        assert_eq!(req.header("webhook-id"), Some("42-1"));
    }

    let e = n.send(&alert, "42-1").await.expect_err("500 fails");
    assert!(
        matches!(
            e,
            DeliveryError::Transient {
                retry_after: None,
                ..
            }
        ),
        "{kind} 500: {e:?}"
    );
    no_secret(&e, &url);

    let e = n.send(&alert, "42-1").await.expect_err("404 fails");
    assert!(
        matches!(e, DeliveryError::Permanent { .. }),
        "{kind} 404: {e:?}"
    );
    no_secret(&e, &url);

    let e = n.send(&alert, "42-1").await.expect_err("429 fails");
    assert_eq!(
        e,
        DeliveryError::Transient {
            reason: "rate limited (HTTP 429)".into(),
            retry_after: Some(Duration::from_secs(7)),
        },
        "{kind} 429"
    );
    no_secret(&e, &url);
    assert_eq!(server.requests(HOOK).len(), 4);

    // Connection refused: transient, and still no URL in the message.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let closed = format!("http://127.0.0.1:{port}{HOOK}");
    let e = notifier(kind, closed.clone())
        .send(&alert, "42-1")
        .await
        .expect_err("refused");
    assert!(
        matches!(e, DeliveryError::Transient { .. }),
        "{kind} refused: {e:?}"
    );
    no_secret(&e, &closed);
}

#[tokio::test]
async fn slack_contract() {
    contract("slack", slack::body).await;
}

#[tokio::test]
async fn mattermost_contract() {
    contract("mattermost", mattermost::body).await;
}

#[tokio::test]
async fn teams_contract() {
    contract("teams", teams::body).await;
}

#[tokio::test]
async fn discord_contract() {
    contract("discord", discord::body).await;
}

#[tokio::test]
async fn webhook_contract() {
    contract("webhook", webhook::body).await;
}
