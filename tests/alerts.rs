//! Alerts end to end with the real daemon: webhook deliveries signed and verified by the
//! reference Standard Webhooks package, retried after a 500, never doubled by a crash.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, Request, TestServer};

/// A Standard Webhooks secret (base64 of "vigie-test-secret-key-0123456789").
pub const SECRET: &str = "whsec_dmlnaWUtdGVzdC1zZWNyZXQta2V5LTAxMjM0NTY3ODk=";

/// A threshold rule (3 complaints) that notifies `notifier`.
pub fn rules(notifier: &str) -> String {
    format!(
        r#"
[[rule]]
name = "retard"
query = 'colis AND retard'
alert = {{ threshold = 3 }}
notify = ["{notifier}"]
"#
    )
}

/// The daemon on `posts.jsonl` (polled every second) with one `[[notifier]]` table.
pub fn config(notifier: &str) -> String {
    format!(
        r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]

[[source]]
name = "feed"
kind = "jsonl"
path = "posts.jsonl"
every = "1s"

[[notifier]]
{notifier}"#
    )
}

fn webhook(url: &str) -> String {
    format!("name = \"hook\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret_file = \"whsec.txt\"\n")
}

/// Three undated complaints: they count at fetch time, so the threshold fires at once.
pub fn burst(n: usize, tag: &str) -> String {
    (0..n)
        .map(|i| {
            serde_json::json!({
                "id": format!("{tag}{i}"),
                "text": format!("Mon colis est en retard ({tag}{i}) <script>alert(1)</script> @here"),
                "author": format!("@client{i}"),
                "url": format!("https://social.example/p/{tag}{i}"),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

fn start(server: &TestServer) -> Daemon {
    let cfg = config(&webhook(&server.url("/hook")));
    let posts = burst(3, "a");
    Daemon::start(&[
        ("vigie.toml", &cfg),
        ("rules.toml", &rules("hook")),
        ("posts.jsonl", &posts),
        ("whsec.txt", SECRET),
    ])
}

fn sent(d: &Daemon) -> i64 {
    d.count("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
}

/// Checks the request's signature with the `standardwebhooks` Python package.
pub fn verify_with_reference(req: &Request, secret: &str) -> Result<(), String> {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let input = serde_json::json!({
        "secret": secret,
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    });
    let script = crate::util::root().join("tests/util/verify_webhook.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (pip install standardwebhooks)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn webhook_signature_verifies_with_the_reference_implementation() {
    let server = TestServer::start();
    server.script("/hook", [Reply::new(204)]);
    let d = start(&server);
    d.wait_for("a sent delivery", Duration::from_secs(20), || sent(&d) == 1);
    let reqs = server.requests("/hook");
    assert_eq!(reqs.len(), 1);
    verify_with_reference(&reqs[0], SECRET).expect("signature verifies");
    // A tampered body or another key must fail, or the check above proves nothing.
    let mut tampered = reqs[0].clone();
    tampered.body.extend_from_slice(b" ");
    assert!(verify_with_reference(&tampered, SECRET).is_err());
    let other = "whsec_b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMDA=";
    assert!(verify_with_reference(&reqs[0], other).is_err());
    // The payload says what fired and why, and carries the posts as data.
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["rule"], "retard");
    assert_eq!(body["kind"], "threshold");
    assert_eq!(body["count"], 3);
    assert_eq!(body["posts"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        reqs[0].header("webhook-id"),
        Some(
            d.db()
                .query_row("SELECT delivery_id FROM deliveries", [], |r| r
                    .get::<_, String>(0))
                .unwrap()
                .as_str()
        )
    );
}

#[test]
fn webhook_500_then_200_is_delivered_once() {
    let server = TestServer::start();
    server.script("/hook", [Reply::new(500), Reply::new(200)]);
    let d = start(&server);
    d.wait_for("a sent delivery", Duration::from_secs(30), || sent(&d) == 1);
    // Give a wrongly repeated delivery the time to show up: a few more polls and commits.
    d.wait_polls(3);
    let reqs = server.requests("/hook");
    assert_eq!(reqs.len(), 2, "one failure, one success, nothing more");
    assert_eq!(reqs[0].header("webhook-id"), reqs[1].header("webhook-id"));
    let (status, attempts): (String, i64) = d
        .db()
        .query_row("SELECT status, attempts FROM deliveries", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("sent", 2));
    assert_eq!(d.count("SELECT COUNT(*) FROM alerts"), 1);
    let status: String = d
        .db()
        .query_row("SELECT status FROM alerts_v", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "hook:sent");
    assert!(
        d.log().contains("Delivery failed; will retry."),
        "{}",
        d.log()
    );
}

#[test]
fn kill9_after_delivery_does_not_resend_or_refire() {
    let server = TestServer::start();
    server.script("/hook", [Reply::new(200)]);
    let mut d = start(&server);
    d.wait_for("a sent delivery", Duration::from_secs(20), || sent(&d) == 1);
    d.kill9();
    d.restart();
    // Wait for the restarted daemon to poll and commit a few times.
    let polls = |d: &Daemon| d.log().matches("Vigie started.").count();
    d.wait_for("the restart", Duration::from_secs(30), || polls(&d) == 2);
    d.wait_polls(3);
    assert_eq!(server.requests("/hook").len(), 1, "{}", d.log());
    assert_eq!(d.count("SELECT COUNT(*) FROM alerts"), 1);
}

#[test]
fn kill9_between_alert_and_delivery_delivers_once_after_restart() {
    let server = TestServer::start();
    // The receiver hangs: the daemon is killed while the delivery is in flight.
    server.script("/hook", [Reply::new(200).delay(Duration::from_secs(60))]);
    let mut d = start(&server);
    d.wait_for("the first attempt", Duration::from_secs(20), || {
        !server.requests("/hook").is_empty()
    });
    assert_eq!(sent(&d), 0);
    d.kill9();
    server.script("/hook", [Reply::new(200)]);
    d.restart();
    d.wait_for("a sent delivery", Duration::from_secs(30), || sent(&d) == 1);
    d.wait_polls(3);
    let reqs = server.requests("/hook");
    assert_eq!(reqs.len(), 2, "the interrupted attempt and one delivery");
    assert_eq!(
        reqs[0].header("webhook-id"),
        reqs[1].header("webhook-id"),
        "the same id lets the receiver drop the interrupted one"
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM alerts"), 1);
}

#[test]
fn permanent_failure_is_marked_failed_and_not_retried() {
    let server = TestServer::start();
    server.script("/hook", [Reply::new(410)]);
    let d = start(&server);
    d.wait_for("a failed delivery", Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM deliveries WHERE status = 'failed'") == 1
    });
    d.wait_polls(2);
    assert_eq!(server.requests("/hook").len(), 1);
    let err: String = d
        .db()
        .query_row("SELECT last_error FROM deliveries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(err, "HTTP 410");
    assert!(
        !d.log().contains("/hook"),
        "the webhook URL is a secret: {}",
        d.log()
    );
}

#[test]
fn failing_source_alerts_admins_then_recovers() {
    let server = TestServer::start();
    server.script("/feed", [Reply::new(503)]);
    server.script("/admin", [Reply::new(200)]);
    let cfg = format!(
        r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]
source_alert_after = "2s"
admin_notify = ["ops"]

[[source]]
name = "forum"
kind = "rss"
url = "{feed}"
every = "1s"

[[notifier]]
name = "ops"
kind = "webhook"
url = "{admin}"
"#,
        feed = server.url("/feed?token=s3cr3t"),
        admin = server.url("/admin"),
    );
    let rules = "[[rule]]\nname = \"colis\"\nquery = 'colis'\n";
    let d = Daemon::start(&[("vigie.toml", &cfg), ("rules.toml", rules)]);
    let states = |d: &Daemon| -> Vec<String> {
        let db = d.db();
        let mut stmt =
            match db.prepare("SELECT state FROM alerts WHERE kind = 'source' ORDER BY id") {
                Ok(s) => s,
                Err(_) => return Vec::new(),
            };
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    d.wait_for("a failing alert", Duration::from_secs(30), || {
        server.requests("/admin").len() == 1
    });
    assert_eq!(states(&d), ["failing"]);
    let body: serde_json::Value =
        serde_json::from_slice(&server.requests("/admin")[0].body).unwrap();
    assert_eq!(body["kind"], "source");
    assert_eq!(body["rule"], "forum");
    assert_eq!(body["source_state"], "failing");
    assert!(body["error"].as_str().unwrap().contains("503"), "{body}");
    assert!(
        !body.to_string().contains("s3cr3t"),
        "the feed URL's token stays out: {body}"
    );
    // Still failing: no second alert. Then the feed comes back: one recovery alert.
    d.wait_polls(2);
    assert_eq!(server.requests("/admin").len(), 1);
    let feed = std::fs::read(crate::util::root().join("tests/fixtures/rss/rss20.xml")).unwrap();
    server.script("/feed", [Reply::ok(feed)]);
    d.wait_for("a recovery alert", Duration::from_secs(60), || {
        server.requests("/admin").len() == 2
    });
    assert_eq!(states(&d), ["failing", "recovered"]);
}

#[test]
fn run_refuses_to_start_when_a_notifier_secret_is_missing_or_malformed() {
    let email = r#"[daemon]
database = "vigie.db"
rules = []

[[notifier]]
name = "cm-email"
kind = "email"
smtp_url = "smtp://127.0.0.1:1"
username = "alerts@example.org"
password = "${VIGIE_TEST_SURELY_UNSET_PASSWORD}"
from = "Vigie <alerts@example.org>"
to = ["community@example.org"]
"#;
    let hook = r#"[daemon]
database = "vigie.db"
rules = []

[[notifier]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:1/hook"
secret_file = "key.txt"
"#;
    let cases = [
        (email, "notifier \"cm-email\": environment variable VIGIE_TEST_SURELY_UNSET_PASSWORD is not set"),
        (hook, "notifier \"hook\": \"secret\" must be \"whsec_\" followed by base64"),
    ];
    for (cfg, want) in cases {
        let d = crate::util::tree(&[("vigie.toml", cfg), ("key.txt", "hunter2-not-base64!")]);
        let c = d.path().join("vigie.toml");
        let r = crate::util::vigie(&["run", "--config", crate::util::s(&c)], "");
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(r.stderr.contains(want), "{}", r.stderr);
        assert!(
            !r.stderr.contains("hunter2"),
            "the secret stays out: {}",
            r.stderr
        );
        assert!(
            !d.path().join("vigie.db").exists(),
            "nothing starts on a bad pipeline"
        );
    }
}

/// An `rss` source and a webhook notifier, both on the HTTPS test server.
fn https_daemon(server: &TestServer, env: &[(&str, &str)]) -> Daemon {
    let feed = std::fs::read(crate::util::root().join("tests/fixtures/rss/rss20.xml")).unwrap();
    server.script("/feed", [Reply::ok(feed)]);
    server.script("/hook", [Reply::new(204)]);
    let cfg = config(&webhook(&server.url("/hook"))).replace(
        "[[notifier]]",
        &format!(
            "[[source]]\nname = \"forum\"\nkind = \"rss\"\nurl = \"{}\"\nevery = \"1s\"\n\n[[notifier]]",
            server.url("/feed")
        ),
    );
    Daemon::start_env(
        &[
            ("vigie.toml", &cfg),
            ("rules.toml", &rules("hook")),
            ("posts.jsonl", &burst(3, "tls")),
            ("whsec.txt", SECRET),
        ],
        env,
    )
}

#[test]
fn https_sources_and_webhooks_trust_the_ca_in_ssl_cert_file() {
    let server = TestServer::start_tls();
    let ca = crate::util::smtp::test_ca();
    let d = https_daemon(&server, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    d.wait_for("the feed's posts", Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'forum'") == 2
    });
    d.wait_for("the webhook", Duration::from_secs(20), || {
        server.requests("/hook").len() == 1
    });
    verify_with_reference(&server.requests("/hook")[0], SECRET).unwrap();
    d.wait_for("the delivery marked sent", Duration::from_secs(20), || {
        sent(&d) == 1
    });
}

#[test]
fn https_with_an_untrusted_certificate_fails_the_poll_and_the_delivery() {
    // The test CA is in neither the compiled-in roots nor the system's store.
    let server = TestServer::start_tls();
    let d = https_daemon(&server, &[]);
    let errors = |d: &Daemon| -> (Option<String>, Option<String>) {
        let db = d.db();
        let source = db
            .query_row(
                "SELECT last_error FROM sources_v WHERE source = 'forum'",
                [],
                |r| r.get(0),
            )
            .ok()
            .flatten();
        let delivery = db
            .query_row("SELECT last_error FROM deliveries", [], |r| r.get(0))
            .ok()
            .flatten();
        (source, delivery)
    };
    d.wait_for("both errors", Duration::from_secs(20), || {
        matches!(errors(&d), (Some(_), Some(_)))
    });
    let (source, delivery) = errors(&d);
    for error in [source.unwrap(), delivery.unwrap()] {
        assert!(error.to_lowercase().contains("certificate"), "{error}");
    }
    assert!(server.requests("/feed").is_empty());
    assert!(server.requests("/hook").is_empty());
    assert_eq!(sent(&d), 0);
}

/// Runs the system's `sqlite3` (the ops tool SPEC §6 promises plain SQL to) on `db`.
fn system_sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg("-readonly")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 command-line tool (apt-get install sqlite3)");
    assert!(
        out.status.success(),
        "sqlite3 {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_system_sqlite3_reads_every_view_while_the_daemon_runs() {
    // Debian 12's sqlite3 is 3.40: the schema must not need a newer parser, or no query at all
    // works (SQLite parses the whole schema first).
    let server = TestServer::start();
    server.script("/hook", [Reply::new(204)]);
    let d = start(&server);
    d.wait_for("a sent delivery", Duration::from_secs(20), || sent(&d) == 1);
    let db = d.dir.path().join("vigie.db");
    assert_eq!(
        system_sqlite3(&db, "SELECT count(*) FROM hits_v").trim(),
        "3"
    );
    assert_eq!(
        system_sqlite3(&db, "SELECT rule, kind, count, status FROM alerts_v").trim(),
        "retard|threshold|3|hook:sent"
    );
    assert_eq!(
        system_sqlite3(&db, "SELECT source, last_status FROM sources_v").trim(),
        "feed|ok"
    );
    assert_eq!(
        system_sqlite3(&db, "SELECT notifier, status, attempts FROM deliveries_v").trim(),
        "hook|sent|1"
    );
    // No rule has `reply_within` here: the view reads, empty.
    assert_eq!(
        system_sqlite3(&db, "SELECT count(*), count(within_promise) FROM cases_v").trim(),
        "0|0"
    );
}
