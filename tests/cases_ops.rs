//! Issue 27, case operations with the real binary: `vigie cases` (order, filters, formats) and
//! `vigie stats --by response` on a database prepared as the daemon writes cases, `vigie cases
//! ack` while a daemon runs, and the `/metrics` case gauges through the reference parser.
//!
//! Cases are written here with SQL into a database that vigie created (migrations applied), the
//! way the daemon's commit writes them; these commands take a case id and never care who opened
//! it. [`seed`] is shared with `case_link`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection};
use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::client::{free_port, get, scrape};
use crate::util::{s, vigie};

const WAIT: Duration = Duration::from_secs(60);

/// One case to write, with its first post.
#[derive(Clone)]
pub struct Seed {
    pub rule: &'static str,
    pub source: &'static str,
    pub author: &'static str,
    pub text: &'static str,
    pub opened_at: DateTime<Utc>,
    pub promise_secs: i64,
    pub state: &'static str,
    /// Response time in seconds, for an answered case.
    pub response: Option<i64>,
    pub breached: bool,
}

impl Seed {
    pub fn open(rule: &'static str, opened_at: DateTime<Utc>) -> Seed {
        Seed {
            rule,
            source: "forum",
            author: "@alice",
            text: "Mon colis est en retard",
            opened_at,
            promise_secs: 1800,
            state: "open",
            response: None,
            breached: false,
        }
    }
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Creates the database at `db` as vigie does (every migration), if needed.
pub fn create(db: &Path) {
    vigie::store::Store::open(db).expect("vigie creates the database");
}

/// Writes `cases` (and their first posts) into the database at `db`; returns their ids.
pub fn seed(db: &Path, cases: &[Seed]) -> Vec<i64> {
    create(db);
    let conn = Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let mut ids = Vec::new();
    for c in cases {
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM posts", [], |r| r.get(0))
            .unwrap();
        let post_id = format!("p{n}");
        let thread = format!("https://forum.example/t/{n}");
        conn.execute(
            "INSERT INTO posts (source, source_id, url, author, text, created_at, fetched_at, thread)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?3)",
            params![c.source, post_id, thread, c.author, c.text, fmt(c.opened_at)],
        )
        .unwrap();
        let post = conn.last_insert_rowid();
        let due = c.opened_at + chrono::Duration::seconds(c.promise_secs);
        let remind = c.opened_at + chrono::Duration::seconds(c.promise_secs / 2);
        let answered = c
            .response
            .map(|r| fmt(c.opened_at + chrono::Duration::seconds(r)));
        conn.execute(
            "INSERT INTO cases (thread, rule, source, post_id, author, opened_at, clock_start,
               promise_secs, remind_at, due_at, state, last_post_at, answered_at, answered_by,
               answer, response_secs, breached_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?6, ?11, ?12, ?13, ?14, ?15)",
            params![
                thread,
                c.rule,
                c.source,
                post,
                c.author,
                fmt(c.opened_at),
                c.promise_secs,
                fmt(remind),
                fmt(due),
                c.state,
                answered,
                c.response.map(|_| "@laposte"),
                c.response.map(|_| "reply"),
                c.response,
                c.breached.then(|| fmt(due)),
            ],
        )
        .unwrap();
        ids.push(conn.last_insert_rowid());
    }
    ids
}

/// Records an alert about case `case` (its payload carries the case, as reminders and
/// escalations do) with one delivery per `(notifier, status, next attempt)`: returns the alert id.
pub fn case_alert(db: &Path, case: i64, kind: &str, deliveries: &[(&str, &str, &str)]) -> i64 {
    let at = "2026-11-22T10:00:00Z";
    let payload = serde_json::json!({
        "id": 0, "rule": "livraison", "kind": "each", "fired_at": at, "window_secs": 900,
        "count": 1, "baseline": 0.0, "bar": 1.0, "reason": "a complaint waits for an answer",
        "posts": [{"source": "forum", "author": "@alice", "text": "Mon colis est en retard",
                   "url": null, "created_at": at, "followers": null}],
        "series": {"start": at, "bucket_secs": 900, "counts": []},
        "source_state": null, "error": null,
        "case": {"id": case, "opened_at": at, "due_at": "2026-11-22T10:30:00Z"},
    });
    let conn = Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.execute(
        "INSERT INTO alerts (rule, kind, fired_at, window_start, window_end, count, baseline, bar,
           reason, payload)
         VALUES ('livraison', ?1, ?2, ?2, ?2, 1, 0, 1, 'case', ?3)",
        params![kind, at, payload.to_string()],
    )
    .unwrap();
    let alert = conn.last_insert_rowid();
    for (notifier, status, next) in deliveries {
        conn.execute(
            "INSERT INTO deliveries (alert_id, notifier, delivery_id, status, next_attempt_at,
               created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                alert,
                notifier,
                format!("msg_case{case}_{alert}_{notifier}"),
                status,
                next,
                fmt(Utc::now())
            ],
        )
        .unwrap();
    }
    alert
}

/// `vigie cases ARGS --db DB --format json`, parsed.
fn cases_json(db: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["cases", "--db", s(db), "--format", "json"];
    all.extend_from_slice(args);
    let run = vigie(&all, "");
    assert_eq!(run.code, 0, "vigie {all:?}: {}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["case_id"].as_i64().unwrap())
        .collect()
}

#[test]
fn cases_list_open_first_by_oldest_deadline_with_filters_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigie.db");
    let answered = Seed {
        state: "answered",
        response: Some(600),
        ..Seed::open("livraison", t("2026-11-20T08:00:00Z"))
    };
    let ids_ = seed(
        &db,
        &[
            // 1: open, due 10:30 (promise 30 min)
            Seed::open("livraison", t("2026-11-20T10:00:00Z")),
            // 2: answered, due 08:30
            answered,
            // 3: open, due 09:40 (an earlier deadline than case 1's, opened later: 2 h promise
            // is not the order; the deadline is)
            Seed {
                promise_secs: 600,
                source: "mastodon-fr",
                ..Seed::open("plainte", t("2026-11-20T09:30:00Z"))
            },
            // 4: breached, due 07:30
            Seed {
                state: "breached",
                breached: true,
                ..Seed::open("plainte", t("2026-11-20T07:00:00Z"))
            },
        ],
    );
    assert_eq!(ids_, [1, 2, 3, 4]);

    // Open first (earliest deadline first), then the rest by deadline.
    let all = cases_json(&db, &[]);
    assert_eq!(ids(&all), [3, 1, 4, 2]);
    assert_eq!(all[0]["state"], "open");
    assert_eq!(all[0]["due_at"], "2026-11-20T09:40:00Z");
    assert_eq!(all[3]["answered_by"], "@laposte");
    assert_eq!(all[3]["response_secs"], 600);
    assert_eq!(all[3]["within_promise"], true);
    assert_eq!(all[1]["text"], "Mon colis est en retard");

    // Filters: states (repeated or a comma list), rule, source, opening span, limit.
    assert_eq!(
        ids(&cases_json(&db, &["--state", "open,breached"])),
        [3, 1, 4]
    );
    assert_eq!(
        ids(&cases_json(
            &db,
            &["--state", "answered", "--state", "breached"]
        )),
        [4, 2]
    );
    assert_eq!(ids(&cases_json(&db, &["--rule", "plainte"])), [3, 4]);
    assert_eq!(ids(&cases_json(&db, &["--rule", "liv*"])), [1, 2]);
    assert_eq!(ids(&cases_json(&db, &["--source", "mastodon-*"])), [3]);
    assert_eq!(
        ids(&cases_json(
            &db,
            &[
                "--since",
                "2026-11-20T08:00:00Z",
                "--until",
                "2026-11-20T10:00:00Z"
            ]
        )),
        [3, 2]
    );
    assert_eq!(ids(&cases_json(&db, &["--limit", "2"])), [3, 1]);

    // A bad state is a usage error.
    let bad = vigie(&["cases", "--db", s(&db), "--state", "closed"], "");
    assert_eq!(bad.code, 2, "{}", bad.stderr);

    // CSV: the header, then one line per case.
    let csv = vigie(
        &[
            "cases",
            "--db",
            s(&db),
            "--format",
            "csv",
            "--state",
            "answered",
        ],
        "",
    );
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert!(lines[0].starts_with("case_id,rule,source,thread,post_id,url,author,text,opened_at,"));
    assert_eq!(lines.len(), 2);
    assert!(lines[1].starts_with("2,livraison,forum,"), "{}", lines[1]);

    // Table: the columns people read, times in the asked zone, response as people say it.
    let table = vigie(
        &[
            "cases",
            "--db",
            s(&db),
            "--format",
            "table",
            "--utc",
            "--rule",
            "livraison",
        ],
        "",
    );
    assert_eq!(table.code, 0, "{}", table.stderr);
    let mut lines = table.stdout.lines();
    let head = lines.next().unwrap();
    for col in [
        "ID",
        "STATE",
        "RULE",
        "SOURCE",
        "AUTHOR",
        "OPENED (UTC)",
        "DUE",
        "ANSWERED",
        "RESPONSE",
        "BY",
        "EXCERPT",
    ] {
        assert!(head.contains(col), "{col} in {head}");
    }
    let first = lines.next().unwrap();
    assert!(first.starts_with("1 "), "{first}");
    assert!(first.contains("2026-11-20 10:00") && first.contains("2026-11-20 10:30"));
    let second = lines.next().unwrap();
    assert!(
        second.contains("10 min") && second.contains("@laposte"),
        "{second}"
    );

    // A case the brand's reply answered cannot be acked: refused, nothing changes.
    let ack = vigie(
        &["cases", "ack", "2", "--by", "Bob", "--utc", "--db", s(&db)],
        "",
    );
    assert_eq!(ack.code, 2, "{}", ack.stderr);
    assert!(
        ack.stderr
            .contains("case 2 is already answered (reply by @laposte at 2026-11-20 08:10"),
        "{}",
        ack.stderr
    );
    assert_eq!(cases_json(&db, &["--state", "answered"])[0], all[3]);

    // Nothing: one line on stderr, no table.
    let none = vigie(
        &["cases", "--db", s(&db), "--format", "table", "--rule", "x"],
        "",
    );
    assert_eq!((none.code, none.stdout.as_str()), (0, ""));
    assert!(none.stderr.contains("no cases"), "{}", none.stderr);
}

fn case_row(db: &Path, id: i64) -> Value {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(
        "SELECT state, answer, answered_by, note, answered_at, response_secs FROM cases WHERE id = ?1",
        [id],
        |r| {
            Ok(serde_json::json!({
                "state": r.get::<_, String>(0)?, "answer": r.get::<_, Option<String>>(1)?,
                "answered_by": r.get::<_, Option<String>>(2)?, "note": r.get::<_, Option<String>>(3)?,
                "answered_at": r.get::<_, Option<String>>(4)?,
                "response_secs": r.get::<_, Option<i64>>(5)?,
            }))
        },
    )
    .unwrap()
}

fn statuses(db: &Path) -> Vec<(String, String)> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn
        .prepare("SELECT delivery_id, status FROM deliveries ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn post(i: usize) -> String {
    serde_json::json!({"id": format!("p{i}"), "text": format!("colis {i} en retard")}).to_string()
        + "\n"
}

#[test]
fn cases_ack_closes_a_case_and_cancels_its_pending_reminders_while_the_daemon_runs() {
    // A notifier for the reminders' deliveries (none is due during the test: nothing is sent).
    let server = crate::util::http::TestServer::start();
    server.script("/hook", [crate::util::http::Reply::ok("")]);
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\n\
         [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n\n\
         [[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        server.url("/hook")
    );
    let rules = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND retard*'\n";
    let d = Daemon::start(&[
        ("vigie.toml", &config),
        ("rules.toml", rules),
        ("posts.jsonl", &post(0)),
    ]);
    d.wait_for("the first hit", WAIT, || {
        d.count("SELECT COUNT(*) FROM hits") == 1
    });
    let db = d.path().join("vigie.db");
    let opened = Utc::now() - chrono::Duration::minutes(12);
    let ids = seed(
        &db,
        &[
            Seed::open("livraison", opened),
            Seed::open("livraison", opened),
        ],
    );
    // The first case's reminder: one delivery still pending (not due before long), one sent;
    // the second case's reminder, pending: not this case's, it stays.
    case_alert(
        &db,
        ids[0],
        "reminder",
        &[("hook", "pending", "2099-01-01T00:00:00Z")],
    );
    case_alert(
        &db,
        ids[0],
        "reminder",
        &[("hook", "sent", "2026-11-22T10:00:00Z")],
    );
    case_alert(
        &db,
        ids[1],
        "breach",
        &[("hook", "pending", "2099-01-01T00:00:00Z")],
    );
    let before = statuses(&db);

    // The daemon keeps writing while the ack runs: posts are appended all along.
    let path = d.path().join("posts.jsonl");
    let writer = std::thread::spawn(move || {
        for i in 1..=40 {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(post(i).as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(25));
        }
    });
    let cfg = d.config();
    let id = ids[0].to_string();
    let ack = vigie(
        &[
            "cases",
            "ack",
            &id,
            "--by",
            "Alice (SAV)",
            "--note",
            "répondu en DM",
            "--config",
            s(&cfg),
        ],
        "",
    );
    writer.join().unwrap();
    assert_eq!(ack.code, 0, "{}", ack.stderr);
    assert!(
        ack.stdout
            .starts_with(&format!("case {id} marked answered by Alice (SAV) at ")),
        "{}",
        ack.stdout
    );
    assert!(
        ack.stdout
            .contains("1 pending reminder/escalation delivery cancelled"),
        "{}",
        ack.stdout
    );

    let row = case_row(&db, ids[0]);
    assert_eq!(row["state"], "answered");
    assert_eq!(row["answer"], "ack");
    assert_eq!(row["answered_by"], "Alice (SAV)");
    assert_eq!(row["note"], "répondu en DM");
    let secs = row["response_secs"].as_i64().unwrap();
    assert!((720..720 + 600).contains(&secs), "response_secs {secs}");
    // Only this case's pending delivery is cancelled; the sent one and the other case's stay.
    let after = statuses(&db);
    assert_eq!(after[0], (before[0].0.clone(), "cancelled".to_string()));
    assert_eq!(after[1..], before[1..]);
    assert_eq!(case_row(&db, ids[1])["state"], "open");

    // The daemon went on storing every post, and never saw the database locked.
    d.wait_for("41 hits", WAIT, || {
        d.count("SELECT COUNT(*) FROM hits") == 41
    });
    assert!(!d.log().contains("locked"), "{}", d.log());

    // Acking it again is refused, says who did it, and changes nothing.
    let again = vigie(
        &["cases", "ack", &id, "--by", "Bob", "--config", s(&cfg)],
        "",
    );
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains(&format!(
            "case {id} is already answered (ack by Alice (SAV) at "
        )),
        "{}",
        again.stderr
    );
    assert_eq!(case_row(&db, ids[0]), row);
    // An unknown case: refused the same way.
    let missing = vigie(
        &["cases", "ack", "999", "--by", "Bob", "--config", s(&cfg)],
        "",
    );
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("no case 999"), "{}", missing.stderr);
}

#[test]
fn stats_by_response_gives_nearest_rank_percentiles_per_rule_source_and_week() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vigie.db");
    // Week 47 of 2026 (Mon 16 – Sun 22 November), rule livraison on forum: ten answered in
    // 1..10 min (promise 5 min: five within), one breached and never answered, one open.
    let monday = t("2026-11-16T09:00:00Z");
    let mut seeds: Vec<Seed> = (1..=10)
        .map(|i| Seed {
            promise_secs: 300,
            state: "answered",
            response: Some(60 * i),
            ..Seed::open("livraison", monday + chrono::Duration::hours(i))
        })
        .collect();
    seeds.push(Seed {
        promise_secs: 300,
        state: "breached",
        breached: true,
        ..Seed::open("livraison", monday + chrono::Duration::days(2))
    });
    seeds.push(Seed {
        promise_secs: 300,
        ..Seed::open("livraison", t("2026-11-22T23:00:00Z"))
    });
    // The next week, same rule and source: one answered late (breached, then answered).
    seeds.push(Seed {
        promise_secs: 300,
        state: "answered",
        response: Some(900),
        breached: true,
        ..Seed::open("livraison", t("2026-11-23T08:00:00Z"))
    });
    // Another source, week 47.
    seeds.push(Seed {
        source: "mastodon-fr",
        state: "answered",
        response: Some(120),
        ..Seed::open("livraison", monday)
    });
    seed(&db, &seeds);

    let run = vigie(
        &[
            "stats",
            "--by",
            "response",
            "--db",
            s(&db),
            "--since",
            "2026-11-01T00:00:00Z",
            "--until",
            "2026-12-01T00:00:00Z",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = [
        serde_json::json!({"rule": "livraison", "source": "forum", "week": "2026-W47",
            "week_start": "2026-11-16T00:00:00Z", "answered": 10, "median_secs": 300,
            "p90_secs": 540, "within_promise_pct": 45.5, "open": 1, "breached": 1}),
        serde_json::json!({"rule": "livraison", "source": "forum", "week": "2026-W48",
            "week_start": "2026-11-23T00:00:00Z", "answered": 1, "median_secs": 900,
            "p90_secs": 900, "within_promise_pct": 0.0, "open": 0, "breached": 1}),
        serde_json::json!({"rule": "livraison", "source": "mastodon-fr", "week": "2026-W47",
            "week_start": "2026-11-16T00:00:00Z", "answered": 1, "median_secs": 120,
            "p90_secs": 120, "within_promise_pct": 100.0, "open": 0, "breached": 0}),
    ];
    assert_eq!(rows, want);

    // The table says the same for people.
    let table = vigie(
        &[
            "stats",
            "--by",
            "response",
            "--db",
            s(&db),
            "--since",
            "2026-11-01T00:00:00Z",
            "--until",
            "2026-12-01T00:00:00Z",
            "--format",
            "table",
            "--source",
            "forum",
        ],
        "",
    );
    assert_eq!(table.code, 0, "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    let cells: Vec<&str> = lines[1]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cells,
        [
            "livraison",
            "forum",
            "2026-W47",
            "10",
            "5 min",
            "9 min",
            "45%",
            "1",
            "1"
        ]
    );
}

#[test]
fn metrics_show_open_cases_the_oldest_open_age_and_breaches_per_rule() {
    let port = free_port();
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n"
    );
    let rules = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND retard*'\n";
    let d = Daemon::start(&[
        ("vigie.toml", &config),
        ("rules.toml", rules),
        ("posts.jsonl", ""),
    ]);
    d.wait_for("/health", WAIT, || get(port, "/health").0 == 200);
    let before = scrape(port);
    let value = |samples: &[(String, Value, f64)], name: &str, rule: Option<&str>| {
        samples
            .iter()
            .find(|(n, l, _)| n == name && rule.is_none_or(|r| l["rule"] == r))
            .map(|(_, _, v)| *v)
    };
    assert_eq!(value(&before, "vigie_cases_open", None), Some(0.0));
    assert_eq!(
        value(&before, "vigie_cases_oldest_open_age_seconds", None),
        Some(0.0)
    );
    assert_eq!(value(&before, "vigie_cases_breached_total", None), None);

    let now = Utc::now();
    seed(
        &d.path().join("vigie.db"),
        &[
            Seed::open("livraison", now - chrono::Duration::hours(2)),
            Seed::open("livraison", now - chrono::Duration::minutes(5)),
            Seed {
                state: "breached",
                breached: true,
                ..Seed::open("plainte", now - chrono::Duration::hours(5))
            },
            Seed {
                state: "answered",
                response: Some(4000),
                breached: true,
                ..Seed::open("plainte", now - chrono::Duration::hours(6))
            },
            Seed {
                state: "answered",
                response: Some(60),
                ..Seed::open("livraison", now)
            },
        ],
    );
    let after = scrape(port);
    assert_eq!(value(&after, "vigie_cases_open", None), Some(2.0));
    let age = value(&after, "vigie_cases_oldest_open_age_seconds", None).unwrap();
    assert!(
        (7200.0..7200.0 + 600.0).contains(&age),
        "oldest open age {age}"
    );
    assert_eq!(
        value(&after, "vigie_cases_breached_total", Some("plainte")),
        Some(2.0)
    );
    assert_eq!(
        value(&after, "vigie_cases_breached_total", Some("livraison")),
        None
    );
}

/// An ack counts its response time in open hours, as a brand reply does: a case whose clock
/// ran only on holidays (the config closes yesterday, today and tomorrow) was answered after
/// no open time at all, not after the hour that passed.
#[test]
fn cases_ack_counts_open_hours_only() {
    let dir = tempfile::tempdir().unwrap();
    let today = Utc::now().date_naive();
    let days: Vec<String> = [-1i64, 0, 1]
        .iter()
        .map(|d| format!("\"{}\"", today + chrono::Duration::days(*d)))
        .collect();
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = []\nholidays = [{}]\n",
        days.join(", ")
    );
    std::fs::write(dir.path().join("vigie.toml"), config).unwrap();
    let db = dir.path().join("vigie.db");
    let ids = seed(
        &db,
        &[
            Seed::open("livraison", Utc::now() - chrono::Duration::minutes(30)),
            Seed::open("livraison", Utc::now() - chrono::Duration::minutes(30)),
        ],
    );
    let cfg = dir.path().join("vigie.toml");
    let ack = |id: i64, with_config: bool| {
        let id = id.to_string();
        let mut args = vec!["cases", "ack", &id, "--by", "Alice"];
        let db_arg = s(&db).to_string();
        if with_config {
            args.extend(["--config", s(&cfg)]);
        } else {
            args.extend(["--db", &db_arg]);
        }
        let r = vigie(&args, "");
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    ack(ids[0], true);
    assert_eq!(case_row(&db, ids[0])["response_secs"], 0);
    // With `--db` alone there are no hours to read: the clock is always open.
    ack(ids[1], false);
    let secs = case_row(&db, ids[1])["response_secs"].as_i64().unwrap();
    assert!((1800..1800 + 600).contains(&secs), "response_secs {secs}");
}
