//! Notifier payloads and delivery: golden bodies for every chat kind and for `render::text` /
//! `render::html`, a property test feeding hostile post text to every renderer, and one HTTP
//! contract test per kind against the loopback server (status → `DeliveryError`, no secret URL
//! in any error). `VIGIE_BLESS=1` rewrites the golden files instead of comparing.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use vigie::config::secret::{Secret, SecretRef};
use vigie::config::Language;
use vigie::config::{NotifierSpec, Settings};
use vigie::detect::{Alert, AlertKind, AlertPost, Series, SourceCondition};
use vigie::notify::http::ChatSettings;
use vigie::notify::render::Locale;
use vigie::notify::webhook::WebhookSettings;
use vigie::notify::{discord, email, mattermost, render, slack, teams, webhook, DeliveryError};

use crate::util::http::{Reply, TestServer};
use crate::util::root;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).unwrap()
}

/// The two ways alerts are read in the golden files: English in UTC, French in Paris time.
fn locales() -> [(&'static str, Locale); 2] {
    [
        ("en-utc", Locale::default()),
        (
            "fr-paris",
            Locale::new(Language::French, chrono_tz::Europe::Paris),
        ),
    ]
}

fn french() -> Locale {
    Locale::new(Language::French, chrono_tz::Europe::Paris)
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
                author_name: Some("Alice Martin".into()),
                text: "Mon colis est en retard depuis lundi, suivi sur \
                       https://www.laposte.fr/outils/suivre-vos-envois?code=6A123&lang=fr … \
                       merci @LaPoste_Aide"
                    .into(),
                url: Some("https://piaille.fr/@alice/113312".into()),
                created_at: at(9, 14),
                followers: Some(1200),
                engagement: Some(7),
                matched: vec!["colis".into(), "retard".into()],
            },
            AlertPost {
                source: "x\u{202E}rss-avis".into(),
                author: Some("<!channel> @everyone".into()),
                author_name: Some("<script>x</script> @channel [x](http://evil.example)".into()),
                text: "@here <script>alert(1)</script> [Suivi officiel](javascript:alert(document.cookie)) \
                       <https://evil.example/login|Suivi La Poste>\r\nwww.evil.example \u{200B}remboursement \
                       <@U024BE7LH> <@&123456> *gras* _x_ ~y~ `code` # titre | ! &amp; \u{2066}fin"
                    .into(),
                url: Some("javascript:alert(1)".into()),
                created_at: at(9, 10),
                followers: None,
                engagement: Some(1),
                matched: vec!["remboursement".into()],
            },
        ],
        series: Series {
            start: at(9, 15) - chrono::Duration::hours(24),
            bucket_secs: 900,
            counts: (0..96).map(|i| if i == 95 { 38 } else { 2 + i % 3 }).collect(),
        },
        source_state: None,
        error: None,
        case: None,
    }
}

/// The threshold alert, at the end of summer time in Paris: 6 posts between 02:55 CEST
/// and 02:10 CET on 25 October 2026 (00:55 to 01:10 UTC), usually 0 to 1, threshold 5.
fn threshold_sample() -> Alert {
    let fired_at = Utc.with_ymd_and_hms(2026, 10, 25, 1, 10, 0).unwrap();
    let post = |m: i64, author: &str, text: &str, followers: Option<u64>| AlertPost {
        source: "forum-laposte".into(),
        author: Some(author.into()),
        author_name: None,
        engagement: None,
        text: text.into(),
        url: Some(format!("https://forum.example.fr/t/{m}")),
        created_at: fired_at - chrono::Duration::minutes(m),
        followers,
        matched: vec!["retard".into()],
    };
    Alert {
        id: 7,
        rule: "retard".into(),
        kind: AlertKind::Threshold,
        fired_at,
        window_secs: 900,
        count: 6,
        baseline: 0.4,
        bar: 5.0,
        reason: "6 hits in 15m (threshold 5)".into(),
        posts: vec![
            post(
                2,
                "@marie_l",
                "Toujours en retard, le colis devait arriver vendredi.",
                Some(1234),
            ),
            post(
                9,
                "@jb",
                "Retard de 3 jours sur un recommandé, personne ne répond.",
                None,
            ),
        ],
        series: Series {
            start: fired_at - chrono::Duration::hours(24),
            bucket_secs: 900,
            counts: (0..96)
                .map(|i| match i {
                    95 => 6,
                    i if i % 7 == 0 => 1,
                    _ => 0,
                })
                .collect(),
        },
        source_state: None,
        error: None,
        case: None,
    }
}

/// An `each` alert: one critical post by a much-followed author.
fn each_sample() -> Alert {
    let fired_at = at(13, 2);
    Alert {
        id: 8,
        rule: "plainte-officielle".into(),
        kind: AlertKind::Each,
        fired_at,
        window_secs: 900,
        count: 1,
        baseline: 0.0,
        bar: 1.0,
        reason: "a critical post by an author with 48210 followers (≥ 10000)".into(),
        posts: vec![AlertPost {
            source: "bluesky".into(),
            author: Some("@ufc-quechoisir.bsky.social".into()),
            author_name: Some("UFC-Que Choisir".into()),
            text: "Nous saisissons notre avocat : mise en demeure envoyée ce jour.".into(),
            url: Some("https://bsky.app/profile/ufc/post/3k".into()),
            created_at: at(13, 1),
            followers: Some(48_210),
            engagement: Some(312),
            matched: vec!["avocat".into(), "mise en demeure".into()],
        }],
        series: Series::default(),
        source_state: None,
        error: None,
        case: None,
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
        source_state: Some(SourceCondition::Failing),
        error: Some("HTTP 503 from https://mastodon.example/api/v1 (retry after 120s)".into()),
        case: None,
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

/// Every notifier's body for every sample, in both languages and zones:
/// `tests/golden/notify/{en-utc,fr-paris}/{spike,threshold,each,source}.{kind}`. The text file
/// is the email's subject and text part (the console prints the same text).
#[test]
fn golden_every_notifier_in_both_languages() {
    let samples = [
        ("spike", sample()),
        ("threshold", threshold_sample()),
        ("each", each_sample()),
        ("source", source_sample()),
    ];
    for (dir, loc) in locales() {
        for (name, a) in &samples {
            let file = |ext: &str| format!("{dir}/{name}.{ext}");
            let text = format!(
                "Subject: {}\n\n{}",
                email::subject(a, &loc),
                render::text(a, &loc)
            );
            golden(&file("txt"), &text);
            let chart = (!a.series.counts.is_empty()).then_some(render::ChartRef {
                cid: "chart",
                width: vigie::notify::chart::WIDTH,
                height: vigie::notify::chart::HEIGHT,
            });
            golden(&file("html"), &render::html(a, &loc, chart));
            golden(&file("slack.json"), &pretty(&slack::body(a, &loc)));
            golden(
                &file("mattermost.json"),
                &pretty(&mattermost::body(a, &loc)),
            );
            golden(&file("teams.json"), &pretty(&teams::body(a, &loc)));
            golden(&file("discord.json"), &pretty(&discord::body(a, &loc)));
            golden(&file("webhook.json"), &pretty(&webhook::body(a, &loc)));
        }
    }
}

/// The webhook stays language-neutral: the same fields and values in every language but
/// `summary`, which is the why sentence in the configured language.
#[test]
fn webhook_json_is_language_neutral_but_its_summary() {
    let a = threshold_sample();
    let mut en = webhook::body(&a, &Locale::default());
    let mut fr = webhook::body(&a, &french());
    assert_eq!(
        fr["summary"],
        "6 publications mentionnent «\u{202f}retard\u{202f}» en 15 min — d’habitude 0 à 1 \
         à cette heure-ci (seuil 5)."
    );
    assert_eq!(
        en["summary"],
        "6 posts mention “retard” in 15 min — usually 0 to 1 at this time of day (threshold 5)."
    );
    assert_eq!(fr["fired_at"], "2026-10-25T01:10:00Z");
    en.as_object_mut().unwrap().remove("summary");
    fr.as_object_mut().unwrap().remove("summary");
    assert_eq!(en, fr);
}

/// No field that does not apply: `each` alerts have no count or baseline lines, and nothing
/// reads "n/a" or "none" in place of a number.
#[test]
fn facts_are_those_of_the_kind() {
    for (_, loc) in locales() {
        let labels = |a: &Alert| -> Vec<String> {
            render::facts(a, &loc).into_iter().map(|(l, _)| l).collect()
        };
        let each = labels(&each_sample());
        assert_eq!(each.len(), 2, "{each:?}");
        let threshold = labels(&threshold_sample());
        assert_eq!(threshold.len(), 5, "{threshold:?}");
        for a in [sample(), threshold_sample(), each_sample(), source_sample()] {
            let out = render::text(&a, &loc);
            assert!(!out.contains("n/a") && !out.contains("Ratio: n"), "{out}");
        }
    }
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

/// The sample with two posts whose text, author, display name and source are `s`.
fn with_posts(s: &str) -> Alert {
    let mut a = sample();
    for (i, p) in a.posts.iter_mut().enumerate() {
        p.text = s.to_string();
        p.author = Some(s.to_string());
        p.author_name = Some(s.to_string());
        p.source = s.to_string();
        // Bold markers depend on where the words occur: none here, so both twins have the same.
        p.matched.clear();
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

/// The sample whose posts' display names are `name` and handles `handle` (shown as
/// "name (handle)").
fn with_authors(name: &str, handle: &str) -> Alert {
    let mut a = with_posts("x");
    for p in &mut a.posts {
        p.author_name = Some(name.to_string());
        p.author = Some(handle.to_string());
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
    let chart = Some(render::ChartRef {
        cid: "c1",
        width: 10,
        height: 10,
    });
    let mut out = Vec::new();
    for (_, loc) in locales() {
        out.extend([
            ("text", render::text(a, &loc)),
            ("html", render::html(a, &loc, chart)),
            ("slack", js(slack::body(a, &loc))),
            ("mattermost", js(mattermost::body(a, &loc))),
            ("teams", js(teams::body(a, &loc))),
            ("discord", js(discord::body(a, &loc))),
        ]);
    }
    out
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
    let d = discord::body(hostile, &Locale::default());
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
    fn hostile_author_names_are_neutralised(name in hostile(), handle in hostile()) {
        check(&with_authors(&name, &handle), &with_authors("x", "y"))?;
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
    let (kind, settings) = match kind {
        "slack" => ("slack", Settings::new(ChatSettings { url })),
        "mattermost" => ("mattermost", Settings::new(ChatSettings { url })),
        "teams" => ("teams", Settings::new(ChatSettings { url })),
        "discord" => ("discord", Settings::new(ChatSettings { url })),
        "webhook" => (
            "webhook",
            Settings::new(WebhookSettings {
                url,
                secret: None,
                headers: Vec::new(),
            }),
        ),
        other => panic!("no such kind {other}"),
    };
    let spec = NotifierSpec {
        name: format!("test-{kind}"),
        kind,
        settings,
        at: 0,
    };
    vigie::notify::build(&spec, &french(), &|_| None).unwrap_or_else(|e| panic!("build: {e}"))
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

/// Runs the contract; the notifier is built for French in Paris time, so its body must be
/// `expected(alert, french())`: the configured locale reaches what is sent.
async fn contract(kind: &str, expected: fn(&Alert, &Locale) -> Value) {
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
    assert_eq!(
        sent,
        expected(&alert, &french()),
        "{kind}: body differs from body()"
    );
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
