//! Issue 27, the signed one-click link end to end: the real daemon delivers a case alert to a
//! loopback webhook and a Slack-shaped receiver, each with its own link to the real `listen`
//! listener; a GET shows the button and changes nothing; a POST marks the case handled and
//! says who and when; a second use changes nothing; forged, altered and expired links get a
//! 403 and change nothing.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::cases_ops::{case_alert, seed, Seed};
use crate::daemon_util::Daemon;
use crate::util::client::{free_port, request};
use crate::util::http::{Reply, TestServer};

const WAIT: Duration = Duration::from_secs(60);

/// The path and query of a link, checking that it starts with the configured base.
fn target(link: &str, base: &str) -> String {
    link.strip_prefix(base)
        .unwrap_or_else(|| panic!("{link} does not start with {base}"))
        .to_string()
}

/// Every column of the case that a change would touch.
fn case_state(db: &Path, id: i64) -> Value {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(
        "SELECT state, answer, answered_by, answered_at, note, response_secs FROM cases WHERE id = ?1",
        [id],
        |r| {
            Ok(serde_json::json!([
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ]))
        },
    )
    .unwrap()
}

#[test]
fn a_delivered_link_shows_the_case_on_get_and_handles_it_once_on_post() {
    let port = free_port();
    let server = TestServer::start();
    server.script("/hook", [Reply::ok("")]);
    server.script("/slack", [Reply::ok("ok")]);
    // `public_url` is the base of the links (here another name of the same listener).
    let base = format!("http://localhost:{port}");
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         listen = \"127.0.0.1:{port}\"\npublic_url = \"{base}/\"\n\n\
         [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n\n\
         [[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n\n\
         [[notifier]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"{}\"\n",
        server.url("/hook"),
        server.url("/slack"),
    );
    let rules = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND retard*'\n";
    let mut d = Daemon::start(&[
        ("vigie.toml", &config),
        ("rules.toml", rules),
        ("posts.jsonl", ""),
    ]);
    // The key is made at the first start, beside the database, readable by the daemon only.
    let key_file = d.path().join("case-link.key");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let key_hex = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(key_hex.len(), 64);
    d.terminate(WAIT);

    // A case alert waits in the outbox for both notifiers, as the daemon records them.
    let db = d.path().join("vigie.db");
    let now = Utc::now();
    let ids = seed(
        &db,
        &[
            Seed::open("livraison", now - chrono::Duration::minutes(3)),
            Seed::open("livraison", now - chrono::Duration::minutes(2)),
        ],
    );
    let due = "2026-01-01T00:00:00Z";
    case_alert(
        &db,
        ids[0],
        "each",
        &[("hook", "pending", due), ("chat", "pending", due)],
    );
    d.restart();
    d.wait_for("both deliveries", WAIT, || {
        !server.requests("/hook").is_empty() && !server.requests("/slack").is_empty()
    });

    // Each delivery carries its own link: the webhook's JSON in `case.ack_url`, Slack's as a
    // `<url|Mark as handled>` link.
    let hook: Value = serde_json::from_slice(&server.requests("/hook")[0].body).unwrap();
    assert_eq!(hook["case"]["id"], ids[0]);
    let hook_link = hook["case"]["ack_url"].as_str().unwrap().to_string();
    assert!(
        hook_link.starts_with(&format!("{base}/cases/{}/ack?by=hook&exp=", ids[0])),
        "{hook_link}"
    );
    let slack: Value = serde_json::from_slice(&server.requests("/slack")[0].body).unwrap();
    let slack_text = slack.to_string();
    let start = slack_text
        .find(&format!("<{base}/cases/"))
        .expect("a link in the Slack message");
    let end = slack_text[start..]
        .find("|Mark as handled>")
        .expect("its label")
        + start;
    let chat_link = slack_text[start + 1..end].replace("&amp;", "&");
    assert!(chat_link.contains("?by=chat&exp="), "{chat_link}");
    assert!(!d.log().contains(&key_hex), "the key is never logged");

    // GET: the case and a button that POSTs the same link; nothing changes.
    let before = case_state(&db, ids[0]);
    assert_eq!(before[0], "open");
    let (code, head, body) = request(port, "GET", &target(&hook_link, &base));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("<form method=\"post\"><button"), "{body}");
    assert!(body.contains(">Mark as handled</button>"), "{body}");
    assert!(body.contains("Mon colis est en retard"), "{body}");
    assert!(head.contains("cache-control: no-store"), "{head}");
    assert!(head.contains("frame-ancestors 'none'"), "{head}");
    assert!(
        head.contains("default-src 'none'; style-src 'sha256-"),
        "{head}"
    );
    assert!(
        !body.contains("style=") && !body.contains("<script"),
        "{body}"
    );
    assert!(head.contains("referrer-policy: no-referrer"), "{head}");
    assert_eq!(case_state(&db, ids[0]), before);

    // Forged, altered or expired: 403 on GET and POST, and nothing changes.
    let hook_target = target(&hook_link, &base);
    let sig_at = hook_target.find("&sig=").unwrap() + 5;
    let mut forged = hook_target.clone();
    let flipped = if &forged[sig_at..sig_at + 1] == "A" {
        "B"
    } else {
        "A"
    };
    forged.replace_range(sig_at..sig_at + 1, flipped);
    let key: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let expired = vigie::daemon::case_link::CaseLinks::new(key, &base).url(
        ids[0],
        "hook",
        now - chrono::Duration::seconds(1),
    );
    let other_key = vigie::daemon::case_link::CaseLinks::new(vec![1; 32], &base).url(
        ids[0],
        "hook",
        now + chrono::Duration::days(1),
    );
    let refused = [
        forged,
        hook_target.replacen(
            &format!("/cases/{}/", ids[0]),
            &format!("/cases/{}/", ids[1]),
            1,
        ),
        hook_target.replacen("by=hook", "by=mallory", 1),
        hook_target.replacen("&exp=", "&exp=9", 1),
        target(&expired, &base),
        target(&other_key, &base),
        format!("/cases/{}/ack", ids[0]),
    ];
    let other_before = case_state(&db, ids[1]);
    for t in &refused {
        for method in ["GET", "POST"] {
            let (code, _, body) = request(port, method, t);
            assert_eq!(code, 403, "{method} {t}: {body}");
            assert!(body.contains("This link is not valid"), "{body}");
        }
    }
    assert_eq!(case_state(&db, ids[0]), before);
    assert_eq!(case_state(&db, ids[1]), other_before);
    // No other method, and no other route, changes a case.
    assert_eq!(request(port, "PUT", &hook_target).0, 405);
    assert_eq!(request(port, "DELETE", &hook_target).0, 405);
    assert_eq!(request(port, "POST", "/metrics").0, 405);
    assert_eq!(case_state(&db, ids[0]), before);

    // POST: the case is handled by the link's sender, and the page says who and when.
    let (code, _, body) = request(port, "POST", &hook_target);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Marked as handled by hook on "), "{body}");
    let after = case_state(&db, ids[0]);
    assert_eq!(after[0], "answered");
    assert_eq!(after[1], "ack");
    assert_eq!(after[2], "hook");
    assert_eq!(after[4], "one-click link");
    let secs = after[5].as_i64().unwrap();
    assert!((180..180 + 600).contains(&secs), "response_secs {secs}");
    assert!(
        d.log().contains("Case marked handled through its link."),
        "{}",
        d.log()
    );

    // Used again, or through the other notifier's link: who did it first, nothing changes.
    for link in [&hook_target, &target(&chat_link, &base)] {
        let (code, _, body) = request(port, "POST", link);
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("Already handled by hook on "), "{body}");
        assert!(body.contains("Nothing was changed."), "{body}");
        let (code, _, body) = request(port, "GET", link);
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains("Already handled by hook on ") && !body.contains("<form"),
            "{body}"
        );
    }
    assert_eq!(case_state(&db, ids[0]), after);
    assert_eq!(case_state(&db, ids[1]), other_before);
}

#[test]
fn check_refuses_a_public_url_that_no_listener_serves_or_that_is_not_a_base_url() {
    let rules = "[[rule]]\nname = \"livraison\"\nquery = 'colis'\n";
    let source = "[[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\n";
    for (daemon, want) in [
        (
            "public_url = \"https://vigie.example.org\"\n",
            "\"public_url\" names the listener of \"listen\", which is not set",
        ),
        (
            "listen = \"127.0.0.1:9477\"\npublic_url = \"https://vigie.example.org/?token=1\"\n",
            "\"public_url\" must be an http(s) URL without query or credentials",
        ),
        (
            "listen = \"127.0.0.1:9477\"\npublic_url = \"ftp://vigie.example.org\"\n",
            "\"public_url\" must be an http(s) URL",
        ),
    ] {
        let config = format!("[daemon]\nrules = [\"rules.toml\"]\n{daemon}\n{source}");
        let dir = crate::util::tree(&[
            ("vigie.toml", &config),
            ("rules.toml", rules),
            ("posts.jsonl", ""),
        ]);
        let cfg = dir.path().join("vigie.toml");
        let run = crate::util::vigie(&["check", "--config", crate::util::s(&cfg)], "");
        assert_eq!(run.code, 2, "{daemon}: {}", run.stderr);
        let line = 1 + config
            .lines()
            .position(|l| l.starts_with("public_url"))
            .unwrap();
        assert!(
            run.stderr.contains(&format!("vigie.toml:{line}:14: ")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(want), "{}", run.stderr);
    }
    // Behind a proxy, with a path: accepted.
    let config = format!(
        "[daemon]\nrules = [\"rules.toml\"]\nlisten = \"127.0.0.1:9477\"\n\
         public_url = \"https://ops.example.org/vigie/\"\n{source}"
    );
    let dir = crate::util::tree(&[
        ("vigie.toml", &config),
        ("rules.toml", rules),
        ("posts.jsonl", ""),
    ]);
    let run = crate::util::vigie(
        &[
            "check",
            "--config",
            crate::util::s(&dir.path().join("vigie.toml")),
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn an_email_carries_the_link_as_a_button_and_in_its_text_part_and_the_page_speaks_its_language() {
    let port = free_port();
    let smtp = crate::util::smtp::SmtpServer::start();
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nlisten = \"127.0.0.1:{port}\"\n\
         language = \"fr\"\ntimezone = \"Europe/Paris\"\n\n\
         [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n\n\
         [[notifier]]\nname = \"cm-email\"\nkind = \"email\"\nsmtp_url = \"{}\"\n\
         from = \"Vigie <alerts@example.org>\"\nto = [\"community@example.org\"]\n",
        smtp.url()
    );
    let rules = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND retard*'\n";
    let mut d = Daemon::start(&[
        ("vigie.toml", &config),
        ("rules.toml", rules),
        ("posts.jsonl", ""),
    ]);
    d.terminate(WAIT);
    let db = d.path().join("vigie.db");
    let ids = seed(
        &db,
        &[Seed::open(
            "livraison",
            Utc::now() - chrono::Duration::minutes(1),
        )],
    );
    case_alert(
        &db,
        ids[0],
        "each",
        &[("cm-email", "pending", "2026-01-01T00:00:00Z")],
    );
    d.restart();
    let mails = smtp.wait_for(1, WAIT);
    let msg = mail_parser::MessageParser::default()
        .parse(&mails[0])
        .unwrap();
    let html = msg.body_html(0).expect("an HTML part").to_string();
    let text = msg.body_text(0).expect("a text part").to_string();
    let base = format!("http://127.0.0.1:{port}/cases/{}/ack?by=cm-email&", ids[0]);
    // The HTML part: a button-like link, its href escaped; the text part: the link itself.
    let href = format!("<a href=\"{}amp;exp=", base);
    assert!(html.contains(&href), "{html}");
    assert!(html.contains(">Marquer comme traité</a>"), "{html}");
    let line = text
        .lines()
        .find(|l| l.contains(&base))
        .unwrap_or_else(|| panic!("no link in the text part:\n{text}"));
    assert!(line.starts_with("Marquer comme traité"), "{line}");
    let link = &line[line.find("http://").unwrap()..];
    let (code, _, body) = request(
        port,
        "GET",
        &target(link.trim(), &format!("http://127.0.0.1:{port}")),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("<html lang=\"fr\">"), "{body}");
    assert!(body.contains(">Marquer comme traité</button>"), "{body}");
    assert_eq!(case_state(&db, ids[0])[0], "open");
}
