//! The real daemon polling `rss` sources on a loopback server: conditional GET, 304,
//! Retry-After, backoff and recovery, and bad responses that show in `vigie sources` while the
//! daemon keeps running.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie};

const RULES: &str = r#"
[[rule]]
name = "colis"
query = 'colis OR réclamation OR cassé*'
"#;

fn feed() -> Vec<u8> {
    std::fs::read(crate::util::root().join("tests/fixtures/rss/rss20.xml")).expect("fixture")
}

fn config(sources: &[(&str, String, &str)]) -> String {
    let mut c = String::from(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nuser_agent = \"vigie-test/1 (+mailto:ops@example.org)\"\nhttp_timeout = \"1s\"\n",
    );
    for (name, url, extra) in sources {
        c.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"rss\"\nurl = \"{url}\"\nevery = \"1s\"\n{extra}\n"
        ));
    }
    c
}

fn status(d: &Daemon, source: &str) -> (Option<String>, Option<String>) {
    d.db()
        .query_row(
            "SELECT last_status, last_error FROM sources_v WHERE source = ?1",
            [source],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap_or((None, None))
}

#[test]
fn rss_first_poll_stores_then_conditional_get_and_304_add_nothing() {
    let server = TestServer::start();
    server.script(
        "/feed",
        [
            Reply::ok(feed())
                .header("ETag", "\"v1\"")
                .header("Last-Modified", "Sun, 22 Nov 2026 09:00:00 GMT"),
            Reply::new(304),
        ],
    );
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&[("forum", server.url("/feed"), "")])),
        ("rules.toml", RULES),
    ]);
    d.wait_for("2 posts", Duration::from_secs(15), || {
        d.count("SELECT COUNT(*) FROM posts") == 2
    });
    assert_eq!(d.count("SELECT COUNT(*) FROM hits_v"), 2);
    d.wait_for("three polls", Duration::from_secs(15), || {
        server.requests("/feed").len() >= 3
    });
    let reqs = server.requests("/feed");
    assert_eq!(
        reqs[0].header("user-agent"),
        Some("vigie-test/1 (+mailto:ops@example.org)")
    );
    assert_eq!(reqs[0].header("if-none-match"), None);
    for r in &reqs[1..] {
        assert_eq!(r.header("if-none-match"), Some("\"v1\""));
        assert_eq!(
            r.header("if-modified-since"),
            Some("Sun, 22 Nov 2026 09:00:00 GMT")
        );
    }
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts"),
        2,
        "a 304 adds nothing"
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM hits_v"), 2);
    assert_eq!(status(&d, "forum").0.as_deref(), Some("ok"));
    assert_eq!(d.terminate(Duration::from_secs(5)), 0);
}

#[test]
fn retry_after_delays_the_next_poll_and_500_backs_off_then_recovers() {
    let server = TestServer::start();
    server.script(
        "/limited",
        [
            Reply::new(429).header("Retry-After", "3"),
            Reply::ok(feed()),
        ],
    );
    server.script(
        "/flaky",
        [Reply::new(500), Reply::new(500), Reply::ok(feed())],
    );
    let d = Daemon::start(&[
        (
            "vigie.toml",
            &config(&[
                ("limited", server.url("/limited"), ""),
                ("flaky", server.url("/flaky?token=SECRET123"), ""),
            ]),
        ),
        ("rules.toml", RULES),
    ]);
    // The 500s show as an error in sources_v, without the secret in the URL.
    let mut seen_error = None;
    d.wait_for("flaky to fail", Duration::from_secs(15), || {
        let (st, err) = status(&d, "flaky");
        if st.as_deref() == Some("error") {
            seen_error = err;
            true
        } else {
            false
        }
    });
    let err = seen_error.unwrap_or_default();
    assert!(err.contains("HTTP 500"), "{err}");
    assert!(!err.contains("SECRET123"), "{err}");
    d.wait_for("both sources ok", Duration::from_secs(30), || {
        status(&d, "limited").0.as_deref() == Some("ok")
            && status(&d, "flaky").0.as_deref() == Some("ok")
    });
    let limited = server.requests("/limited");
    let gap = limited[1].at - limited[0].at;
    assert!(
        gap >= Duration::from_secs(3),
        "Retry-After: 3 honoured, next poll after {gap:?}"
    );
    let flaky = server.requests("/flaky");
    assert!(flaky.len() >= 3);
    for w in flaky.windows(2).take(2) {
        assert!(
            w[1].at - w[0].at >= Duration::from_millis(900),
            "backoff at least the interval"
        );
    }
    assert_eq!(status(&d, "flaky").1, None, "recovered: last_error cleared");
    assert!(
        !d.log().contains("SECRET123"),
        "no secret in logs:\n{}",
        d.log()
    );
}

#[test]
fn bad_responses_show_in_vigie_sources_and_the_daemon_keeps_running() {
    let server = TestServer::start();
    let fixture = |n: &str| {
        std::fs::read(crate::util::root().join("tests/fixtures/rss").join(n)).expect("fixture")
    };
    server.script("/big", [Reply::ok("").endless_body()]);
    server.script("/stall", [Reply::ok(feed()).stall_after(100)]);
    server.script("/utf8", [Reply::ok(fixture("invalid-utf8.xml"))]);
    server.script("/malformed", [Reply::ok(fixture("malformed.xml"))]);
    server.script("/good", [Reply::ok(feed())]);
    let d = Daemon::start(&[
        (
            "vigie.toml",
            &config(&[
                ("big", server.url("/big"), "max_bytes = 65536"),
                ("stall", server.url("/stall"), ""),
                ("utf8", server.url("/utf8"), ""),
                ("malformed", server.url("/malformed"), ""),
                ("good", server.url("/good"), ""),
            ]),
        ),
        ("rules.toml", RULES),
    ]);
    let want = [
        ("big", "exceeds 65536 bytes"),
        ("stall", "timed out"),
        ("utf8", "invalid UTF-8"),
        ("malformed", "malformed feed"),
    ];
    d.wait_for(
        "every bad source to report",
        Duration::from_secs(60),
        || {
            want.iter()
                .all(|(name, _)| status(&d, name).0.as_deref() == Some("error"))
        },
    );
    let r = vigie(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    for (name, msg) in want {
        let row = rows.iter().find(|r| r["source"] == name).expect("row");
        assert_eq!(row["last_status"], "error", "{row}");
        let err = row["last_error"].as_str().unwrap_or_default();
        assert!(err.contains(msg), "{name}: {err:?} should mention {msg:?}");
    }
    // The good source keeps being polled while the others fail.
    let polls = server.requests("/good").len();
    d.wait_for(
        "more polls of the good source",
        Duration::from_secs(30),
        || server.requests("/good").len() > polls,
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'good'"),
        2
    );
}

#[test]
fn preview_fetches_once_shows_rules_and_stores_nothing() {
    let server = TestServer::start();
    server.script("/feed", [Reply::ok(feed())]);
    let dir = crate::util::tree(&[
        ("vigie.toml", &config(&[("forum", server.url("/feed"), "")])),
        ("rules.toml", RULES),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let r = vigie(
        &["preview", "forum", "--config", s(&cfg), "--format", "json"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let posts: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1]["id"], "forum-101");
    assert_eq!(posts[1]["rules"], serde_json::json!(["colis"]));
    assert_eq!(server.requests("/feed").len(), 1);
    assert!(
        !dir.path().join("vigie.db").exists(),
        "preview stores nothing"
    );
    // `vigie preview … | head -1`: a reader that stops early is no error, even when the
    // output is larger than the write buffer (the error then comes up through the JSON writer).
    let items: String = (0..300)
        .map(|i| {
            format!(
                "<item><guid>p{i}</guid><title>Mon colis numéro {i} est en retard</title></item>"
            )
        })
        .collect();
    server.script(
        "/feed",
        [Reply::ok(format!(
            "<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"
        ))],
    );
    for format in ["json", "table"] {
        let (code, stderr) = crate::util::vigie_into_closed_pipe(&[
            "preview",
            "forum",
            "--config",
            s(&cfg),
            "--format",
            format,
        ]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{format}");
    }
    let r = vigie(&["preview", "nope", "--config", s(&cfg)], "");
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no source named \"nope\" (sources: forum)"),
        "{}",
        r.stderr
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = crate::util::tree(&[
        ("vigie.toml", "[daemon]\nrules = [\"rules.toml\"]\n[[source]]\nname = \"d\"\nkind = \"jsonl\"\npath = \"p.jsonl\"\nevery = \"1s\"\n"),
        ("rules.toml", RULES),
        ("p.jsonl", "{\"text\": \"colis\"}\n"),
    ]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--log-format", "json", "--config"])
        .arg(dir.path().join("vigie.toml"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // SIGINT once the daemon says it is ready (its handlers are installed by then), not after
    // a sleep that a loaded machine may not give it.
    let stderr = child.stderr.take().expect("stderr");
    let (ready, started) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("Vigie started.") {
                let _ = ready.send(());
            }
            all += &line;
            all.push('\n');
        }
        all
    });
    if started.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!(
            "no \"Vigie started.\" within 60 s:\n{}",
            reader.join().unwrap()
        );
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    let log = reader.join().expect("stderr reader");
    assert!(status.success(), "SIGINT exits 0: {status:?}\n{log}");

    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "Vigie started."),
        "{log}"
    );
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "Stopped."),
        "{log}"
    );
}
