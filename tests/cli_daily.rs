//! Issue 22, the daily tool: times as people type them, tables that fit people and terminals,
//! `alerts` saying why a delivery waits, `--db`, `hits --follow`, through the real binary.
//!
//! The data set is made by `vigie replay --db`, as a user would, and read back with `--db`:
//! the config's own database never exists.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use crate::util::http::{Reply, TestServer};
use crate::util::{s, tree, vigie, vigie_env, Run};

const CONFIG: &str = "[daemon]\ndatabase = \"never.db\"\nrules = [\"rules.toml\"]\n";
const RULES: &str = r#"
[[rule]]
name = "livraison"
query = 'colis OR retard*'
alert = { each = true }

[[rule]]
name = "casse"
query = '"objet cassé"'
alert = { each = true }
"#;

const LONG: &str = "Mon colis est en retard, encore un retard et toujours ce colis qui n'arrive pas depuis lundi dernier";

fn post(id: &str, author: &str, text: &str, at: &str) -> String {
    serde_json::json!({"id": id, "source": "forum", "author": author, "text": text, "created_at": at})
        .to_string()
}

/// A temp dir with the config, and `replay.db` made by `vigie replay --db` from three posts:
/// a wide-character author with a long text, a decomposed `@éric` quoting `colis` three
/// times, and an `objet cassé`.
fn dataset() -> (tempfile::TempDir, PathBuf) {
    let posts = [
        post("a1", "@東京駅", LONG, "2026-11-22T08:00:00Z"),
        post(
            "a2",
            "@e\u{301}ric",
            "colis COLIS colis",
            "2026-11-22T09:30:00Z",
        ),
        post("a3", "@bob", "l'objet cassé", "2026-11-22T13:30:00Z"),
    ]
    .join("\n");
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", &posts),
    ]);
    let db = dir.path().join("replay.db");
    let r = replay(dir.path(), "posts.jsonl", &db, "json");
    assert_eq!(r.code, 0, "{}", r.stderr);
    (dir, db)
}

fn replay(dir: &Path, file: &str, db: &Path, format: &str) -> Run {
    let cfg = dir.join("vigie.toml");
    let file = dir.join(file);
    vigie(
        &[
            "replay",
            s(&file),
            "--config",
            s(&cfg),
            "--db",
            s(db),
            "--format",
            format,
        ],
        "",
    )
}

/// `vigie ARGS` in a time zone, from the data set's dir (no config needed with --db).
fn run_tz(args: &[&str], tz: &str) -> Run {
    vigie_env(args, "", &[("TZ", tz)])
}

fn post_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json line");
            v["post_id"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// Runs `vigie ARGS` on a terminal (`script` gives it a pseudo-terminal) `columns` wide.
fn on_terminal(args: &[&str], columns: usize) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let cmd = format!("{} {}", env!("CARGO_BIN_EXE_vigie"), quoted.join(" "));
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("COLUMNS", columns.to_string())
        .env("TZ", "UTC")
        .env_remove("VIGIE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

#[test]
fn daily_times_as_people_type_them() {
    let (_dir, db) = dataset();
    let db = s(&db);
    // A date and a date with a time are local: in Paris, 10:00 is 09:00Z, so a2 (09:30Z) is out.
    let args = [
        "hits",
        "--db",
        db,
        "--since",
        "2026-11-22",
        "--until",
        "2026-11-22 10:00",
        "--format",
        "json",
    ];
    let r = run_tz(&args, "Europe/Paris");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(post_ids(&r.stdout), ["a1"]);
    let r = run_tz(&args, "UTC");
    assert_eq!(post_ids(&r.stdout), ["a2", "a1"]);
    // RFC 3339 and durations still work.
    let r = run_tz(
        &[
            "hits",
            "--db",
            db,
            "--since",
            "2026-11-22T09:00:00Z",
            "--format",
            "json",
        ],
        "UTC",
    );
    assert_eq!(post_ids(&r.stdout), ["a3", "a2"]);
    // The table shows local times and names the zone in its header.
    let r = run_tz(&["hits", "--db", db, "--format", "table"], "Europe/Paris");
    let header = r.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("CREATED_AT (Europe/Paris)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("\n2026-11-22 09:00 "), "{}", r.stdout);
    // --since after --until is an error, not an empty result.
    let r = run_tz(
        &[
            "hits",
            "--db",
            db,
            "--since",
            "2026-11-23",
            "--until",
            "2026-11-22",
        ],
        "UTC",
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.contains("is not before --until"), "{}", r.stderr);
    let r = run_tz(
        &["alerts", "--db", db, "--since", "1h", "--until", "2h"],
        "UTC",
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn daily_tables_fit_people_and_terminals() {
    let (dir, db) = dataset();
    let db = s(&db);
    let r = run_tz(&["hits", "--db", db, "--format", "table"], "UTC");
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Columns line up by display width: RULE starts at the same column on every line, and
    // so does the text after AUTHOR (a wide `@東京駅`, a decomposed `@éric`).
    let at = |line: &str, word: &str| line.find(word).map(|i| line[..i].width());
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    let matched_col = at(lines[0], "MATCHED");
    for line in &lines[1..] {
        let rule = at(line, "livraison").or_else(|| at(line, "casse"));
        assert_eq!(rule, at(lines[0], "RULE"), "{}", r.stdout);
        let author_end = line.find(" @").map(|i| i + 1).unwrap();
        let after: &str = &line[author_end..];
        let word = after.split_whitespace().nth(1).unwrap();
        assert_eq!(
            at(line, &format!("  {word}")).map(|w| w + 2),
            matched_col,
            "{line}"
        );
    }
    // MATCHED lists each word once.
    let eric = lines.iter().find(|l| l.contains("@e\u{301}ric")).unwrap();
    assert!(
        eric.contains(" colis ") && !eric.contains("colis, "),
        "{eric}"
    );
    // Piped, the text is whole.
    assert!(r.stdout.contains(LONG), "{}", r.stdout);

    // On a terminal the text is cut with … to its width; --wide shows it whole.
    let screen = on_terminal(&["hits", "--db", db], 80);
    assert!(screen.starts_with("CREATED_AT (UTC)"), "{screen}");
    for line in screen.lines() {
        assert!(line.width() <= 80, "{} > 80: {line}", line.width());
    }
    assert!(screen.contains("…"), "{screen}");
    assert!(!screen.contains(LONG), "{screen}");
    let screen = on_terminal(&["hits", "--db", db, "--wide"], 80);
    assert!(screen.contains(LONG), "{screen}");

    // An empty result: no header, one line on stderr.
    let r = run_tz(
        &["hits", "--db", db, "--since", "1h", "--format", "table"],
        "UTC",
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    assert!(r.stderr.starts_with("no hits since "), "{}", r.stderr);
    assert!(r.stderr.contains("(try --since 30d)"), "{}", r.stderr);

    // replay's table has no DELIVERY column (a replay delivers nothing).
    let other = dir.path().join("other.db");
    let r = replay(dir.path(), "posts.jsonl", &other, "table");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("3 alert(s) would have fired"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("DELIVERY"), "{}", r.stdout);
}

#[test]
fn daily_alerts_say_why_a_delivery_waits() {
    let (_dir, db) = dataset();
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        let ids: Vec<i64> = conn
            .prepare("SELECT id FROM alerts ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids.len(), 3, "one alert per post");
        let rows = [
            (ids[0], "sent", None),
            (ids[1], "pending", Some("HTTP 503 Service Unavailable")),
            (ids[2], "failed", Some("HTTP 404 Not Found")),
        ];
        for (i, (alert, status, error)) in rows.into_iter().enumerate() {
            conn.execute(
                "INSERT INTO deliveries (alert_id, notifier, delivery_id, status, attempts,
                     next_attempt_at, last_error, created_at)
                 VALUES (?1, 'hook', ?2, ?3, 2, '2026-11-22T15:00:00Z', ?4, '2026-11-22T14:00:00Z')",
                rusqlite::params![alert, format!("d{i}"), status, error],
            )
            .expect("insert delivery");
        }
    }
    let db = s(&db);
    let r = run_tz(&["alerts", "--db", db, "--format", "json"], "UTC");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    // The time field is named as in the table and `alerts_v`.
    assert!(rows[0]["fired_at"].is_string(), "{}", r.stdout);
    assert!(rows[0].get("at").is_none(), "{}", r.stdout);
    let r = run_tz(
        &["alerts", "--db", db, "--failed", "--format", "json"],
        "UTC",
    );
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let why: Vec<(&str, &str, &Value)> = rows
        .iter()
        .map(|a| {
            (
                a["status"].as_str().unwrap(),
                a["last_error"].as_str().unwrap(),
                &a["next_try"],
            )
        })
        .collect();
    assert_eq!(
        why,
        [
            ("hook:failed", "hook: HTTP 404 Not Found", &Value::Null),
            (
                "hook:pending",
                "hook: HTTP 503 Service Unavailable",
                &Value::from("2026-11-22T15:00:00Z")
            ),
        ]
    );
    let r = run_tz(
        &["alerts", "--db", db, "--failed", "--format", "table"],
        "UTC",
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stdout);
    assert!(
        lines[0].contains("  NEXT_TRY  ") && lines[0].ends_with("LAST_ERROR"),
        "{}",
        r.stdout
    );
    let r = run_tz(
        &["alerts", "--db", db, "--since", "1h", "--format", "table"],
        "UTC",
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, ""),
        "no header over nothing"
    );
    assert!(r.stderr.starts_with("no alerts since "), "{}", r.stderr);
    assert!(
        lines[2].contains("hook:pending  2026-11-22 15:00  hook: HTTP 503"),
        "{}",
        r.stdout
    );
}

#[test]
fn daily_hits_follow_prints_new_hits_as_they_are_stored() {
    let (dir, db) = dataset();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "hits",
            "--follow",
            "--limit",
            "1",
            "--db",
            s(&db),
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> String {
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line for {what} within 30 s"))
    };
    // The latest hit first, as `tail -f` shows the last lines.
    assert!(next("the latest hit").contains("\"post_id\":\"a3\""));
    // Then each hit as another process stores it.
    std::fs::write(
        dir.path().join("more.jsonl"),
        post("n1", "@zoe", "colis perdu", "2026-11-22T16:00:00Z") + "\n",
    )
    .unwrap();
    let r = replay(dir.path(), "more.jsonl", &db, "json");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let started = Instant::now();
    let line = next("the new hit");
    assert!(
        line.contains("\"post_id\":\"n1\""),
        "{line} after {:?}",
        started.elapsed()
    );
    child.kill().expect("kill");
    child.wait().expect("wait");
}

#[test]
fn daily_small_slips_preview_csv_rss_author_and_help_texts() {
    let server = TestServer::start();
    let feed = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
        <item><title>Mon colis, "perdu"</title><guid>1</guid><author>bob@example.org (Bob)</author></item>
        </channel></rss>"#;
    server.script("/feed", [Reply::ok(feed)]);
    let config = format!(
        "[daemon]\nrules = [\"rules.toml\"]\n\n[[source]]\nname = \"forum\"\nkind = \"rss\"\nurl = \"{}\"\n",
        server.url("/feed")
    );
    let dir = tree(&[("vigie.toml", &config), ("rules.toml", RULES)]);
    let cfg = dir.path().join("vigie.toml");
    // CSV is CSV, with the address as the author and the name beside it.
    let r = vigie(
        &["preview", "forum", "--config", s(&cfg), "--format", "csv"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "id,created_at,author,author_name,url,rules,text\n\
         1,,bob@example.org,Bob,,livraison,\"Mon colis, \"\"perdu\"\"\"\n"
    );
    server.script("/feed", [Reply::ok(feed)]);
    let r = vigie(
        &["preview", "forum", "--config", s(&cfg), "--format", "json"],
        "",
    );
    let post: Value = serde_json::from_str(r.stdout.trim()).expect("json");
    assert_eq!(
        (&post["author"], &post["author_name"]),
        (&Value::from("bob@example.org"), &Value::from("Bob"))
    );
    // The table shows the name.
    server.script("/feed", [Reply::ok(feed)]);
    let r = vigie(
        &["preview", "forum", "--config", s(&cfg), "--format", "table"],
        "",
    );
    assert!(r.stdout.contains("Bob (bob@example.org)"), "{}", r.stdout);

    // `help hits` describes its own --until; `help replay` no default it does not have.
    let r = vigie(&["help", "hits"], "");
    assert!(!r.stdout.contains("vigie stats"), "{}", r.stdout);
    let r = vigie(&["help", "replay"], "");
    assert!(!r.stdout.contains("default on a terminal"), "{}", r.stdout);
    assert!(!r.stdout.contains("default when piped"), "{}", r.stdout);
    assert!(!r.stdout.contains("SPEC"), "{}", r.stdout);
}

#[test]
fn daily_hits_search_speaks_the_rule_language() {
    let (_dir, db) = dataset();
    let search = |q: &str| {
        let r = run_tz(
            &["hits", "--db", s(&db), "--search", q, "--format", "json"],
            "UTC",
        );
        assert_eq!(r.code, 0, "{q}: {}", r.stderr);
        post_ids(&r.stdout)
    };
    assert_eq!(search("colis NEAR/3 retard"), ["a1"]);
    assert_eq!(search("\"objet cassé\" OR remboursement"), ["a3"]);
    assert_eq!(search("colis OR retard"), ["a2", "a1"]);
    assert_eq!(search("COLIS -retard*"), ["a2"]);
    assert_eq!(search("NOT colis"), ["a3"]);
    assert_eq!(search("\"lundi dernier\""), ["a1"]);
    assert!(search("\"dernier lundi\"").is_empty());
    // The limit counts what the query keeps, not what the index let through.
    let r = run_tz(
        &[
            "hits",
            "--db",
            s(&db),
            "--search",
            "colis -retard",
            "--limit",
            "1",
            "--format",
            "json",
        ],
        "UTC",
    );
    assert_eq!(post_ids(&r.stdout), ["a2"]);
    // A bad query is a usage error with a caret.
    let r = run_tz(&["hits", "--db", s(&db), "--search", "(colis OR"], "UTC");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("--search:") && r.stderr.contains('^'),
        "{}",
        r.stderr
    );
}

#[test]
fn daily_the_daemon_says_what_it_does() {
    let posts = [
        post(
            "p1",
            "@a",
            "mon colis est en retard",
            "2026-11-22T08:00:00Z",
        ),
        post("p2", "@b", "il fait beau", "2026-11-22T08:01:00Z"),
        post("p3", "@c", "l'objet cassé", "2026-11-22T08:02:00Z"),
    ]
    .join("\n")
        + "\n";
    let config = "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\n\
                  [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n";
    let files = [
        ("vigie.toml", config),
        ("rules.toml", RULES),
        ("posts.jsonl", posts.as_str()),
    ];
    // At info: one line for the poll that found something, none for the empty ones.
    let mut d = crate::daemon_util::Daemon::start_env(&files, &[("RUST_LOG", "info")]);
    let wait = Duration::from_secs(30);
    d.wait_for("the poll line", wait, || {
        d.log().contains("demo: 3 new posts, 2 hits; next poll ")
    });
    d.wait_for("a second poll", wait, || {
        d.count("SELECT COUNT(*) FROM sources WHERE last_poll_at > created_at") > 0
    });
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
    let log = d.log();
    assert!(!log.contains("nothing new"), "{log}");
    // A summary of the polls at shutdown (and every hour).
    assert!(log.contains("Summary of the last 0 min: "), "{log}");
    assert!(
        log.contains("(0 failed), 3 new posts, 2 hits, 0 alerts."),
        "{log}"
    );

    // At debug, the empty polls too.
    let d = crate::daemon_util::Daemon::start_env(&files, &[("RUST_LOG", "vigie=debug")]);
    d.wait_for("an empty poll", wait, || {
        d.log().contains("demo: nothing new; next poll ")
    });
}

#[test]
fn daily_long_cli_work_shows_progress_on_a_terminal_only() {
    let lines: String = (0..3000)
        .map(|i| {
            let at = format!(
                "2026-11-22T{:02}:{:02}:{:02}Z",
                i / 3600,
                i / 60 % 60,
                i % 60
            );
            post(
                &format!("p{i}"),
                "@a",
                &format!("mon colis {i} est en retard"),
                &at,
            ) + "\n"
        })
        .collect();
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", &lines),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let file = dir.path().join("posts.jsonl");
    let count = ["match", "--count", "--config", s(&cfg), "--input", s(&file)];
    let screen = on_terminal(&count, 80);
    assert!(screen.contains(" read, "), "{screen}");
    assert!(screen.contains("3000  posts read"), "{screen}");
    let r = vigie(&count, "");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let replay = ["replay", s(&file), "--config", s(&cfg), "--format", "json"];
    let screen = on_terminal(&replay, 80);
    assert!(screen.contains("/3000 posts"), "{screen}");
    let r = vigie(&replay, "");
    assert!(!r.stderr.contains("/3000 posts"), "{}", r.stderr);
}

#[test]
fn daily_check_warns_about_rules_that_cannot_do_what_was_meant() {
    let config = "[daemon]\nrules = [\"r*.toml\"]\n\n[[source]]\nname = \"forum-a\"\nkind = \"jsonl\"\npath = \"p.jsonl\"\n\n\
                  [[notifier]]\nname = \"console\"\nkind = \"console\"\n";
    let r1 = "[[rule]]\nname = \"a\"\nquery = '\"train 🚆\"'\nwindow = \"0s\"\nalert = { threshold = 0 }\n\n\
              [[rule]]\nname = \"b\"\nquery = 'colis NEAR/0 perdu'\nsources = [\"foru-*\"]\n\n\
              [[rule]]\nname = \"c\"\nquery = 'NOT colis'\nsources = [\"forum-*\", \"fourm-a\"]\n";
    let r2 = "[[rule]]\nname = \"d\"\nquery = '-colis -retard'\n";
    let dir = tree(&[("vigie.toml", config), ("r1.toml", r1), ("r2.toml", r2)]);
    let cfg = dir.path().join("vigie.toml");
    for strict in [false, true] {
        let mut args = vec!["check", "--config", s(&cfg)];
        if strict {
            args.push("--strict");
        }
        let r = vigie(&args, "");
        assert_eq!(
            r.code, 0,
            "warnings never change the exit code: {}",
            r.stderr
        );
        assert!(r.stdout.contains(": ok, 8 warnings\n"), "{}", r.stdout);
        for want in [
            "r1.toml:1:1: warning: rule \"a\": \"train 🚆\": \"🚆\" is not part of any word",
            "r1.toml:1:1: warning: rule \"a\": window = \"0s\"",
            "r1.toml:1:1: warning: rule \"a\": threshold = 0",
            "r1.toml:7:1: warning: rule \"b\": NEAR/0",
            "r1.toml:7:1: warning: rule \"b\": sources: [\"foru-*\"] match no configured source (forum-a), so the rule never fires",
            "r1.toml:12:1: warning: rule \"c\": sources: no source named \"fourm-a\", did you mean \"forum-a\"?",
            "r1.toml:12:1: warning: rule \"c\": the query \"NOT colis\" is only a negation",
            "r2.toml:1:1: warning: rule \"d\": the query \"-colis -retard\" is only a negation",
        ] {
            assert!(r.stderr.contains(want), "missing {want:?} in:\n{}", r.stderr);
        }
    }

    // A duplicate rule name names both places; an unknown notifier in [defaults] is one error.
    let r3 = "[defaults]\nnotify = [\"nope\"]\n\n[[rule]]\nname = \"x\"\nquery = 'a'\n\n\
              [[rule]]\nname = \"y\"\nquery = 'b'\n\n[[rule]]\nname = \"d\"\nquery = 'c'\n";
    std::fs::write(dir.path().join("r3.toml"), r3).unwrap();
    let r = vigie(&["check", "--config", s(&cfg)], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("no notifier named \"nope\"").count(),
        1,
        "{}",
        r.stderr
    );
    let first = format!("{}:2:8", dir.path().join("r2.toml").display());
    assert!(
        r.stderr.contains(&format!(
            "r3.toml:13:8: duplicate rule name \"d\" (first at {first})"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn daily_init_writes_a_starter_that_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("la poste");
    let init = [
        "init",
        s(&target),
        "--brand",
        "La Poste",
        "--terms",
        "colis, retard*, objet cassé",
        "--handle",
        "lisalaposte",
        "--feed",
        "http://127.0.0.1:9/latest.rss",
    ];
    let r = vigie(&init, "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rules = std::fs::read_to_string(target.join("rules/la-poste.toml")).unwrap();
    assert!(
        rules.contains(r#"query = '"La Poste" OR colis OR retard* OR "objet cassé"'"#),
        "{rules}"
    );
    // The handle is the brand's account (its posts never complaints, its replies answer
    // cases), and a mention of it opens a case.
    assert!(rules.contains("reply_within = \"30m\""), "{rules}");
    let config = std::fs::read_to_string(target.join("vigie.toml")).unwrap();
    assert!(config.contains("http://127.0.0.1:9/latest.rss"), "{config}");
    assert!(
        config.contains(r#"brand_accounts = ["@lisalaposte"]"#),
        "{config}"
    );
    // The next three commands, each of which works as printed.
    let next: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| *l != "Next:")
        .skip(1)
        .collect();
    assert_eq!(next.len(), 3, "{}", r.stdout);
    assert!(
        next[0].starts_with("  vigie check --config '"),
        "{}",
        r.stdout
    );
    assert!(
        next[2].starts_with("  vigie run --config '"),
        "{}",
        r.stdout
    );
    let cfg = target.join("vigie.toml");
    let r = vigie(&["check", "--config", s(&cfg)], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "", "no warning either");
    assert!(
        r.stdout.contains("2 rules in 1 file, 2 examples checked"),
        "{}",
        r.stdout
    );
    let example = next[1].split_once(".toml' ").unwrap().1.trim_matches('\'');
    let r = vigie(&["match", "--config", s(&cfg), example], "");
    assert!(r.stdout.contains("la-poste-mentions"), "{}", r.stdout);
    // It never overwrites.
    let r = vigie(&init, "");
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("exists; vigie init never overwrites"),
        "{}",
        r.stderr
    );
    // Without a feed, a local jsonl file that vigie follows.
    let local = dir.path().join("local");
    let r = vigie(&["init", s(&local), "--brand", "Posteo"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = vigie(&["check", "--config", s(&local.join("vigie.toml"))], "");
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{}", r.stdout);
    assert!(r.stdout.contains("1 source: local (jsonl)"), "{}", r.stdout);
}

#[test]
fn daily_the_demo_never_goes_stale() {
    // The shipped demo, copied with its layout; whatever today is, its week ends now.
    let dir = crate::util::shipped_tree();
    let cfg = dir.path().join("config/vigie.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--config", s(&cfg)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Hits on at least 6 of the last 7 days, and the burst within the last hour.
    let days = |since: &str| -> Vec<String> {
        let r = run_tz(
            &[
                "hits",
                "--config",
                s(&cfg),
                "--since",
                since,
                "--format",
                "json",
            ],
            "UTC",
        );
        let mut days: Vec<String> = r
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| Some(v["created_at"].as_str()?[..10].to_string()))
            .collect();
        days.dedup();
        days
    };
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while t0.elapsed() < Duration::from_secs(60) {
        seen = days("7d");
        let recent = run_tz(
            &[
                "hits",
                "--config",
                s(&cfg),
                "--since",
                "1h",
                "--format",
                "json",
            ],
            "UTC",
        );
        if seen.len() >= 6 && recent.stdout.lines().count() >= 25 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.len() >= 6,
        "hits on {} days only: {seen:?}",
        seen.len()
    );
    let r = run_tz(
        &[
            "stats",
            "--config",
            s(&cfg),
            "--since",
            "7d",
            "--every",
            "1d",
            "--format",
            "json",
        ],
        "UTC",
    );
    let busy: std::collections::BTreeSet<String> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["count"].as_u64() > Some(0))
        .filter_map(|v| v["bucket"].as_str().map(str::to_string))
        .collect();
    assert!(
        busy.len() >= 6,
        "stats shows {} busy days: {busy:?}",
        busy.len()
    );
}

#[test]
fn daily_author_names_are_stored_and_shown() {
    let line = serde_json::json!({"id": "n1", "source": "forum", "text": "mon colis est perdu",
        "author": "bob@example.org", "author_name": "Bob", "created_at": "2026-11-22T08:00:00Z"});
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", &format!("{line}\n")),
    ]);
    let db = dir.path().join("replay.db");
    let r = replay(dir.path(), "posts.jsonl", &db, "json");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_tz(&["hits", "--db", s(&db), "--format", "json"], "UTC");
    let hit: Value = serde_json::from_str(r.stdout.trim()).expect("one hit");
    assert_eq!(
        (&hit["author"], &hit["author_name"]),
        (&Value::from("bob@example.org"), &Value::from("Bob"))
    );
    let r = run_tz(&["hits", "--db", s(&db), "--format", "table"], "UTC");
    assert!(
        r.stdout.contains("  Bob (bob@example.org)  "),
        "{}",
        r.stdout
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let name: String = conn
        .query_row("SELECT author_name FROM hits_v", [], |r| r.get(0))
        .unwrap();
    assert_eq!(name, "Bob");
}
