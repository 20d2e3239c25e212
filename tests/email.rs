//! The `email` notifier end to end: `notify::build` from a spec, a send over loopback to a real
//! SMTP server (`util::smtp`, aiosmtpd), and the received bytes parsed back with `mail-parser`.
//!
//! The MIME layout (text, HTML, inline chart), the stable Message-ID, escaping of hostile post
//! text, AUTH with a password from the environment, and the Transient/Permanent split for an
//! outage, a wrong password, SMTP 4xx and 5xx. Body bytes themselves are pinned by the unit
//! tests in `src/notify/email.rs`.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use vigie::config::{NotifierSpec, SecretRef, Settings};
use vigie::detect::{Alert, AlertKind, AlertPost, Series};
use vigie::notify::email::EmailSettings;
use vigie::notify::{self, DeliveryError, Notifier};

use crate::util::smtp::{SmtpOptions, SmtpServer};

/// How long a test waits for the sink to store a message.
const WAIT: Duration = Duration::from_secs(15);

/// The password the authenticated sink accepts; it must never appear in an error.
const PASSWORD: &str = "s3cret-Pa55word";

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, h, m, 0).unwrap()
}

/// A spike on `livraison-retard`: 38 hits in 15 minutes against a usual 2.5, bar 7.5, with a
/// 96-window series and two posts, one of them hostile.
fn sample() -> Alert {
    let fired_at = at(9, 15);
    let mut counts: Vec<u64> = (0..95).map(|i| [2, 3, 2, 3, 4][i % 5]).collect();
    counts.push(38);
    Alert {
        id: 12,
        rule: "livraison-retard".into(),
        kind: AlertKind::Spike,
        fired_at,
        window_secs: 900,
        count: 38,
        baseline: 2.5,
        bar: 7.5,
        reason: "38 hits in 15m, usual 2.5 (15×)".into(),
        posts: vec![
            AlertPost {
                source: "forum-laposte".into(),
                author: Some("@marie".into()),
                author_name: None,
                text: "Mon colis est en retard depuis lundi, aucune nouvelle.".into(),
                url: Some("https://forum.example.org/t/1".into()),
                created_at: at(9, 2),
                followers: Some(1200),
                engagement: None,
                matched: vec!["colis".into(), "retard".into()],
            },
            AlertPost {
                source: "mastodon-fr".into(),
                author: Some("@troll".into()),
                author_name: None,
                text: "<script>alert(1)</script> @here".into(),
                url: Some("javascript:alert(2)".into()),
                created_at: at(9, 10),
                followers: Some(3),
                engagement: None,
                matched: Vec::new(),
            },
        ],
        series: Series {
            start: fired_at - chrono::Duration::hours(24),
            bucket_secs: 900,
            counts,
        },
        source_state: None,
        error: None,
        case: None,
    }
}

/// Builds an email notifier through the registry, as the daemon does.
fn email(
    smtp_url: &str,
    username: Option<&str>,
    password: Option<SecretRef>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Notifier>, notify::BuildError> {
    let spec = NotifierSpec {
        name: "cm-email".into(),
        kind: "email",
        settings: Settings::new(EmailSettings {
            smtp_url: smtp_url.into(),
            username: username.map(str::to_string),
            password,
            from: "Vigie <alerts@example.org>".into(),
            to: vec!["community@example.org".into()],
        }),
        at: 0,
    };
    notify::build(&spec, &notify::render::Locale::default(), env)
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// The environment of the authenticated tests: `SMTP_PASSWORD` holds `password`.
fn env_with(password: &'static str) -> impl Fn(&str) -> Option<String> {
    move |k: &str| (k == "SMTP_PASSWORD").then(|| password.to_string())
}

/// A sink that requires AUTH as `vigie@example.org` / [`PASSWORD`].
fn auth_sink() -> SmtpServer {
    SmtpServer::start_with(SmtpOptions {
        auth: Some(("vigie@example.org".into(), PASSWORD.into())),
        ..SmtpOptions::default()
    })
}

/// The reason of a delivery error, for "no secret" checks.
fn reason(e: &DeliveryError) -> &str {
    match e {
        DeliveryError::Transient { reason, .. } | DeliveryError::Permanent { reason } => reason,
    }
}

#[tokio::test]
async fn email_arrives_as_text_html_and_inline_chart() {
    let sink = SmtpServer::start();
    let n = email(&sink.url(), None, None, &no_env).unwrap();
    n.send(&sample(), "msg_12_ab34cd").await.unwrap();

    let raw = sink.wait_for(1, WAIT).remove(0);
    let mail = MessageParser::default()
        .parse(&raw)
        .expect("a parsable message");
    let subject = mail.subject().unwrap_or_default();
    assert!(subject.contains("livraison-retard"), "{subject}");
    assert_eq!(
        subject,
        "[vigie] Spike on “livraison-retard”: 38 posts in 15 min"
    );
    assert_eq!(mail.message_id(), Some("msg_12_ab34cd@vigie"));
    assert_eq!(
        mail.date().map(|d| d.to_timestamp()),
        Some(at(9, 15).timestamp())
    );
    assert_eq!(
        sink.envelopes(),
        vec![(
            "alerts@example.org".to_string(),
            vec!["community@example.org".to_string()]
        )]
    );

    let top = mail.parts[0].content_type().expect("a content type");
    assert_eq!(
        (top.ctype(), top.subtype()),
        ("multipart", Some("alternative"))
    );

    let of_type = |ctype: &str, subtype: &str| {
        mail.parts
            .iter()
            .filter(|p| {
                p.content_type()
                    .is_some_and(|c| c.ctype() == ctype && c.subtype() == Some(subtype))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(of_type("multipart", "related").len(), 1);

    let text = of_type("text", "plain");
    assert_eq!(text.len(), 1, "one text/plain part");
    let PartType::Text(text) = &text[0].body else {
        panic!("text/plain is not text: {:?}", text[0].body);
    };
    assert!(text.contains("livraison-retard"), "{text}");

    let html = of_type("text", "html");
    assert_eq!(html.len(), 1, "one text/html part");
    let PartType::Html(html) = &html[0].body else {
        panic!("text/html is not HTML: {:?}", html[0].body);
    };
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert!(html.contains("cid:chart"), "{html}");

    let images = of_type("image", "png");
    assert_eq!(images.len(), 1, "one image/png part");
    let image = images[0];
    assert_eq!(image.content_id(), Some("chart"));
    assert!(image
        .content_disposition()
        .is_some_and(|d| d.ctype() == "inline"));
    let decoder = png::Decoder::new(image.contents());
    let reader = decoder.read_info().expect("the chart decodes as PNG");
    assert_eq!(
        (reader.info().width, reader.info().height),
        (notify::chart::WIDTH, notify::chart::HEIGHT)
    );
}

#[tokio::test]
async fn email_without_series_has_no_chart() {
    let sink = SmtpServer::start();
    let n = email(&sink.url(), None, None, &no_env).unwrap();
    let mut alert = sample();
    alert.kind = AlertKind::Each;
    alert.series.counts.clear();
    n.send(&alert, "msg_13_ef").await.unwrap();

    let raw = sink.wait_for(1, WAIT).remove(0);
    let mail = MessageParser::default()
        .parse(&raw)
        .expect("a parsable message");
    assert_eq!(mail.message_id(), Some("msg_13_ef@vigie"));
    assert!(mail.body_text(0).is_some() && mail.body_html(0).is_some());
    assert!(!mail
        .parts
        .iter()
        .any(|p| p.content_type().is_some_and(|c| c.ctype() == "image")));
    assert!(!mail.body_html(0).unwrap().contains("cid:"));
}

#[tokio::test]
async fn email_to_a_stopped_server_is_transient_and_delivers_after_restart() {
    let mut sink = SmtpServer::start();
    let n = email(&sink.url(), None, None, &no_env).unwrap();
    // One delivery first, so the pool holds a connection that the outage then breaks.
    n.send(&sample(), "msg_1").await.unwrap();
    sink.wait_for(1, WAIT);
    sink.stop();

    let err = n.send(&sample(), "msg_2").await.unwrap_err();
    assert!(
        matches!(err, DeliveryError::Transient { .. }),
        "an outage must be retried: {err:?}"
    );

    sink.restart();
    n.send(&sample(), "msg_2").await.unwrap();
    let mails = sink.wait_for(2, WAIT);
    let ids: Vec<String> = mails
        .iter()
        .map(|m| {
            let mail = MessageParser::default().parse(m).unwrap();
            mail.message_id().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(ids, ["msg_1@vigie", "msg_2@vigie"]);
}

#[tokio::test]
async fn email_to_a_port_nobody_listens_on_is_transient() {
    let port = {
        let mut sink = SmtpServer::start();
        sink.stop();
        sink.port()
    };
    let n = email(&format!("smtp://127.0.0.1:{port}"), None, None, &no_env).unwrap();
    let err = n.send(&sample(), "msg_3").await.unwrap_err();
    assert!(matches!(err, DeliveryError::Transient { .. }), "{err:?}");
}

#[tokio::test]
async fn email_authenticates_with_a_password_from_the_environment() {
    let sink = auth_sink();
    // The login is percent-encoded in the URL, as in the README's example.
    let url = format!("smtp://vigie%40example.org@127.0.0.1:{}", sink.port());
    let password = Some(SecretRef::from_value("${SMTP_PASSWORD}"));
    let n = email(&url, None, password.clone(), &env_with(PASSWORD)).unwrap();
    n.send(&sample(), "msg_4").await.unwrap();
    assert_eq!(sink.wait_for(1, WAIT).len(), 1);

    // The same login through `username`.
    let n = email(
        &sink.url(),
        Some("vigie@example.org"),
        password,
        &env_with(PASSWORD),
    )
    .unwrap();
    n.send(&sample(), "msg_5").await.unwrap();
    assert_eq!(sink.wait_for(2, WAIT).len(), 2);
}

#[tokio::test]
async fn email_wrong_password_is_permanent_and_not_in_the_error() {
    let sink = auth_sink();
    let wrong = "wr0ng-Pa55word";
    let n = email(
        &sink.url(),
        Some("vigie@example.org"),
        Some(SecretRef::Env("SMTP_PASSWORD".into())),
        &env_with(wrong),
    )
    .unwrap();
    let err = n.send(&sample(), "msg_6").await.unwrap_err();
    assert!(
        matches!(err, DeliveryError::Permanent { .. }),
        "535 must not be retried: {err:?}"
    );
    let text = format!("{err} {err:?} {}", reason(&err));
    assert!(text.contains("535"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");

    // No login at all: the sink answers 530 to MAIL, also permanent.
    let n = email(&sink.url(), None, None, &no_env).unwrap();
    let err = n.send(&sample(), "msg_7").await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent { .. }), "{err:?}");
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn email_missing_password_variable_fails_the_build_without_the_secret() {
    let err = match email(
        "smtp://127.0.0.1:25",
        Some("vigie@example.org"),
        Some(SecretRef::Env("SMTP_PASSWORD".into())),
        &no_env,
    ) {
        Ok(_) => panic!("built without its password"),
        Err(e) => e,
    };
    assert_eq!(err.name, "cm-email");
    assert!(err.message.contains("SMTP_PASSWORD"), "{err}");

    // A password in the URL never reaches a build error either.
    let err = match email(
        "smtp://me:hunter2@127.0.0.1:25?tls=nope",
        None,
        None,
        &no_env,
    ) {
        Ok(_) => panic!("built with a bad tls parameter"),
        Err(e) => e,
    };
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn email_smtp_4xx_is_transient_and_5xx_is_permanent() {
    for (reply, permanent) in [
        ("451 4.3.0 Try again later", false),
        ("452 4.3.1 Insufficient system storage", false),
        ("554 5.7.1 Message rejected", true),
        ("552 5.3.4 Message too big", true),
    ] {
        let sink = SmtpServer::start_with(SmtpOptions {
            data_reply: Some(reply.into()),
            ..SmtpOptions::default()
        });
        let n = email(&sink.url(), None, None, &no_env).unwrap();
        let err = n.send(&sample(), "msg_8").await.unwrap_err();
        assert_eq!(
            matches!(err, DeliveryError::Permanent { .. }),
            permanent,
            "{reply}: {err:?}"
        );
        assert!(reason(&err).contains(&reply[..3]), "{reply}: {err}");
    }
}
