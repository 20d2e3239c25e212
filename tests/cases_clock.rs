//! The reply clock (issue 27, SPEC §5.1) with the real daemon on a `jsonl` source: a complaint
//! opens a case, the brand's reply in its thread answers it, an unanswered case reminds at half
//! its promise and escalates at its deadline (to real webhook receivers on loopback), business
//! hours move the clock's start, a kill -9 around the deadline neither loses nor doubles the
//! escalation, and `vigie replay` of a generated month gives the same cases as the daemon.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, tree, vigie};

const LONG: Duration = Duration::from_secs(60);

/// The daemon's config: a jsonl source polled `every`, the brand's account, two webhook
/// notifiers (`cm` for the rule, `boss` for escalations) and `extra` lines in `[daemon]`.
fn config(server: &TestServer, extra: &str, every: &str) -> String {
    format!(
        r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]
brand_accounts = ["@laposte"]
{extra}

[[source]]
name = "feed"
kind = "jsonl"
path = "posts.jsonl"
every = "{every}"

[[notifier]]
name = "cm"
kind = "webhook"
url = "{}"

[[notifier]]
name = "boss"
kind = "webhook"
url = "{}"
"#,
        server.url("/cm"),
        server.url("/boss")
    )
}

/// One rule that promises a reply within `promise`, reminding `cm` and escalating to `boss`.
fn rules(promise: &str, alert: &str) -> String {
    format!(
        r#"[[rule]]
name = "livraison"
query = "colis"
reply_within = "{promise}"
notify = ["cm"]
escalate = ["boss"]
{alert}
"#
    )
}

fn start(server: &TestServer, promise: &str, extra: &str, alert: &str) -> Daemon {
    Daemon::start(&[
        ("vigie.toml", &config(server, extra, "1s")),
        ("rules.toml", &rules(promise, alert)),
        ("posts.jsonl", ""),
    ])
}

/// The daemon on a source polled once an hour whose file already holds `posts`: after the
/// first poll nothing commits but the writer's case timer.
fn start_quiet(server: &TestServer, promise: &str, posts: &[Value]) -> Daemon {
    let file: String = posts.iter().map(|p| format!("{p}\n")).collect();
    Daemon::start(&[
        ("vigie.toml", &config(server, "", "1h")),
        ("rules.toml", &rules(promise, "")),
        ("posts.jsonl", &file),
    ])
}

/// Appends posts to the followed file.
fn append(d: &Daemon, posts: &[Value]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("posts.jsonl"))
        .expect("posts.jsonl");
    for p in posts {
        writeln!(f, "{p}").expect("append");
    }
}

fn complaint(id: &str, at: Option<DateTime<Utc>>) -> Value {
    let mut p = json!({"id": id, "text": format!("Mon colis {id} est perdu"), "author": "@alice"});
    if let Some(at) = at {
        p["created_at"] = json!(vigie::store::fmt_time(at));
    }
    p
}

fn brand_reply(id: &str, to: &str, at: Option<DateTime<Utc>>) -> Value {
    let mut p = json!({"id": id, "text": "Bonjour, nous regardons votre colis en DM", "author": "@LaPoste", "in_reply_to": to});
    if let Some(at) = at {
        p["created_at"] = json!(vigie::store::fmt_time(at));
    }
    p
}

/// One text value from the database (None while missing).
fn text(d: &Daemon, sql: &str) -> Option<String> {
    d.db().query_row(sql, [], |r| r.get(0)).ok().flatten()
}

/// The `kind` of each JSON body received on `path`.
fn kinds(server: &TestServer, path: &str) -> Vec<String> {
    server
        .requests(path)
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).expect("json body");
            v["kind"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn a_complaint_opens_a_case_and_the_brand_reply_in_its_thread_answers_it() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    let d = start(&server, "30m", "", "alert = { each = true }");
    let t0 = Utc::now() - chrono::Duration::minutes(5);
    append(&d, &[complaint("c1", Some(t0))]);
    d.wait_for("the case", LONG, || {
        d.count("SELECT COUNT(*) FROM cases") == 1
    });
    // The complaint's `each` alert names its case.
    d.wait_for("the each alert", LONG, || {
        d.count("SELECT COUNT(*) FROM alerts WHERE kind = 'each'") == 1
    });
    assert_eq!(
        d.count("SELECT json_extract(payload, '$.case.id') = (SELECT id FROM cases) FROM alerts"),
        1
    );
    // A customer's follow-up joins the case; the brand's reply answers it, 95 s later.
    let follow = json!({"id": "c2", "text": "toujours rien", "author": "@alice", "in_reply_to": "c1",
        "created_at": vigie::store::fmt_time(t0 + chrono::Duration::seconds(30))});
    append(
        &d,
        &[
            follow,
            brand_reply("r1", "c2", Some(t0 + chrono::Duration::seconds(95))),
        ],
    );
    d.wait_for("the answer", LONG, || {
        text(&d, "SELECT state FROM cases").as_deref() == Some("answered")
    });
    let row: (i64, String, String, i64, String) = d
        .db()
        .query_row(
            "SELECT c.response_secs, c.answered_by, c.answer, c.posts, p.source_id
             FROM cases c JOIN posts p ON p.id = c.answer_post_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row, (95, "@LaPoste".into(), "reply".into(), 2, "r1".into()));
    // The brand's post is stored with its text and author, and hit nothing.
    assert_eq!(
        text(
            &d,
            "SELECT author || ': ' || text FROM posts WHERE source_id = 'r1'"
        )
        .as_deref(),
        Some("@LaPoste: Bonjour, nous regardons votre colis en DM")
    );
    assert_eq!(
        d.count(
            "SELECT COUNT(*) FROM hits h JOIN posts p ON p.id = h.post_id WHERE p.source_id = 'r1'"
        ),
        0
    );
    assert_eq!(
        text(&d, "SELECT group_concat(thread) FROM posts").as_deref(),
        Some("feed:c1,feed:c1,feed:c1")
    );
}

#[test]
fn an_unanswered_case_reminds_at_half_time_and_escalates_at_the_deadline() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    // Polled once: the reminder and the escalation come from the writer's timer.
    let d = start_quiet(&server, "20s", &[complaint("c1", None)]);
    d.wait_for("the escalation", LONG, || {
        !server.requests("/boss").is_empty()
    });
    assert_eq!(kinds(&server, "/cm"), ["reminder"]);
    assert_eq!(kinds(&server, "/boss"), ["breach"]);
    let (remind_at, due_at): (String, String) = d
        .db()
        .query_row("SELECT remind_at, due_at FROM cases", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let (reminder, breach) = (&server.requests("/cm")[0], &server.requests("/boss")[0]);
    assert!(reminder.at < breach.at);
    // Neither was sent before its time (the receiver's clock is the test's).
    let sent_at = |r: &crate::util::http::Request| {
        Utc::now() - chrono::Duration::from_std(r.at.elapsed()).unwrap()
    };
    assert!(sent_at(reminder) >= remind_at.parse::<DateTime<Utc>>().unwrap());
    assert!(sent_at(breach) >= due_at.parse::<DateTime<Utc>>().unwrap());
    let body: Value = serde_json::from_slice(&breach.body).unwrap();
    assert_eq!(body["case"]["id"], 1);
    assert_eq!(body["posts"][0]["text"], "Mon colis c1 est perdu");
    assert!(body["summary"].as_str().unwrap().contains("20 s"), "{body}");
    assert_eq!(
        text(&d, "SELECT state || ' ' || (reminded_at IS NOT NULL) || ' ' || (breached_at IS NOT NULL) FROM cases").as_deref(),
        Some("breached 1 1")
    );
    assert_eq!(d.count("SELECT items_seen FROM sources"), 1);
    // Recorded once each, delivered once each.
    d.wait_for("both deliveries sent", LONG, || {
        d.count("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'") == 2
    });
    assert_eq!(d.count("SELECT COUNT(*) FROM alerts"), 2);
    assert_eq!(
        (server.requests("/cm").len(), server.requests("/boss").len()),
        (1, 1)
    );
}

#[test]
fn an_answer_cancels_an_escalation_still_pending() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(503)]);
    let d = start(&server, "4s", "", "");
    append(&d, &[complaint("c1", None)]);
    d.wait_for("a failed escalation", LONG, || {
        !server.requests("/boss").is_empty()
            && d.count("SELECT COUNT(*) FROM deliveries WHERE notifier = 'boss' AND status = 'pending' AND attempts > 0") == 1
    });
    append(&d, &[brand_reply("r1", "c1", None)]);
    d.wait_for("the cancelled escalation", LONG, || {
        text(&d, "SELECT status FROM deliveries WHERE notifier = 'boss'").as_deref()
            == Some("cancelled")
    });
    assert_eq!(
        text(
            &d,
            "SELECT state || ' ' || (breached_at IS NOT NULL) FROM cases"
        )
        .as_deref(),
        Some("answered 1")
    );
    let tried = server.requests("/boss").len();
    d.wait_polls(3);
    assert_eq!(server.requests("/boss").len(), tried);
    // `vigie alerts` shows the cancelled delivery as such.
    let out = vigie(
        &["alerts", "--config", s(&d.config()), "--format", "json"],
        "",
    );
    assert!(out.stdout.contains("boss:cancelled"), "{}", out.stdout);
}

#[test]
fn a_saturday_night_post_starts_its_clock_at_monday_opening() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    let extra =
        "timezone = \"Europe/Paris\"\nhours = \"mon-fri 08:00-20:00\"\nholidays = [\"2026-11-23\"]";
    let d = start(&server, "30m", extra, "");
    // Saturday 21 November 2026, 22:00 in Paris; Monday 23 is a holiday: Tuesday 08:00.
    let saturday: DateTime<Utc> = "2026-11-21T21:00:00Z".parse().unwrap();
    append(&d, &[complaint("c1", Some(saturday))]);
    d.wait_for("the case", LONG, || {
        d.count("SELECT COUNT(*) FROM cases") == 1
    });
    assert_eq!(
        text(&d, "SELECT opened_at || ' ' || clock_start || ' ' || remind_at || ' ' || due_at FROM cases").as_deref(),
        Some("2026-11-21T21:00:00Z 2026-11-24T07:00:00Z 2026-11-24T07:15:00Z 2026-11-24T07:30:00Z")
    );
    // Long past when it was first seen: breached in the database, sent to no one.
    d.wait_for("the breach", LONG, || {
        text(&d, "SELECT state FROM cases").as_deref() == Some("breached")
    });
    d.wait_polls(2);
    assert_eq!(d.count("SELECT COUNT(*) FROM deliveries"), 0);
    assert!(server.requests("/boss").is_empty());
}

/// Waits, with the daemon stopped, until the case's deadline has passed.
fn wait_until_due(d: &Daemon) {
    let due: DateTime<Utc> = text(d, "SELECT due_at FROM cases")
        .expect("a case")
        .parse()
        .unwrap();
    d.wait_for("the deadline", LONG, || Utc::now() > due);
}

#[test]
fn kill9_after_the_deadline_before_the_escalation_is_recorded_escalates_once() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    // Polled once an hour: after the restart, only the writer's timer can escalate.
    let mut d = start_quiet(&server, "8s", &[complaint("c1", None)]);
    d.wait_for("the case", LONG, || {
        d.count("SELECT COUNT(*) FROM cases") == 1
    });
    d.kill9();
    wait_until_due(&d);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM cases WHERE breached_at IS NULL"),
        1
    );
    d.restart();
    d.wait_for("the escalation", LONG, || {
        !server.requests("/boss").is_empty()
    });
    d.wait_for("its delivery recorded", LONG, || {
        d.count("SELECT COUNT(*) FROM deliveries WHERE notifier = 'boss' AND status = 'sent'") == 1
    });
    assert_eq!(kinds(&server, "/boss"), ["breach"]);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM alerts WHERE kind = 'breach'"),
        1
    );
}

#[test]
fn kill9_after_the_escalation_is_recorded_before_delivery_sends_it_once() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    // The escalation's attempts fail: recorded, not delivered.
    server.script("/boss", [Reply::new(503)]);
    let mut d = start(&server, "4s", "", "");
    append(&d, &[complaint("c1", None)]);
    d.wait_for("the recorded escalation", LONG, || {
        d.count("SELECT COUNT(*) FROM deliveries WHERE notifier = 'boss' AND status = 'pending' AND attempts > 0") == 1
    });
    d.kill9();
    server.script("/boss", [Reply::new(204)]);
    let failed = server.requests("/boss").len();
    d.restart();
    d.wait_for("the delivery", LONG, || {
        d.count("SELECT COUNT(*) FROM deliveries WHERE notifier = 'boss' AND status = 'sent'") == 1
    });
    d.wait_polls(3);
    let reqs = server.requests("/boss");
    assert_eq!(reqs.len(), failed + 1, "failed attempts, then one delivery");
    assert!(reqs
        .iter()
        .all(|r| r.header("webhook-id") == reqs[0].header("webhook-id")));
    assert_eq!(
        d.count("SELECT COUNT(*) FROM alerts WHERE kind = 'breach'"),
        1
    );
}

/// A month of complaints and brand replies (some late, some never, some before their complaint
/// in the file), in business hours and out, ending with a quiet post three days later.
fn month() -> Vec<Value> {
    let start: DateTime<Utc> = "2026-10-01T06:00:00Z".parse().unwrap();
    let mut out = Vec::new();
    for i in 0..90i64 {
        // Spread over 30 days, at hours of the day and night (a fixed pseudo-random walk).
        let at = start + chrono::Duration::minutes(i * 479 + (i * i * 37) % 600);
        let id = format!("c{i}");
        let mut c = complaint(&id, Some(at));
        c["source"] = json!("feed");
        let delay = match i % 6 {
            0 => None,
            1 => Some(5 * 60),
            2 => Some(25 * 60),
            3 => Some(3 * 3600),
            4 => Some(50),
            _ => Some(14 * 3600),
        };
        let reply = delay.map(|secs| {
            let mut r = brand_reply(
                &format!("r{i}"),
                &id,
                Some(at + chrono::Duration::seconds(secs)),
            );
            r["source"] = json!("feed");
            r
        });
        match (reply, i % 5) {
            (Some(r), 0) => out.extend([r, c]),
            (Some(r), _) => out.extend([c, r]),
            (None, _) => out.push(c),
        }
    }
    out.push(
        json!({"id": "end", "source": "feed", "text": "fin de l'export",
        "created_at": "2026-11-05T12:00:00Z"}),
    );
    out
}

/// Each case as "complaint state response_secs clock_start due_at reminded_at breached_at".
fn cases(db: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = db
        .prepare(
            "SELECT p.source_id || ' ' || c.state || ' ' || IFNULL(c.response_secs, '-') || ' '
                    || c.clock_start || ' ' || c.due_at || ' ' || IFNULL(c.reminded_at, '-')
                    || ' ' || IFNULL(c.breached_at, '-')
             FROM cases c JOIN posts p ON p.id = c.post_id ORDER BY p.source_id",
        )
        .unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

#[test]
fn replay_of_a_month_gives_the_cases_the_daemon_computed_live() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    let extra = "timezone = \"Europe/Paris\"\nhours = \"mon-fri 08:00-20:00, sat 09:00-13:00\"";
    let d = start(&server, "30m", extra, "");
    let posts = month();
    append(&d, &posts);
    d.wait_for("every post", LONG, || {
        d.count("SELECT COUNT(*) FROM posts") == posts.len() as i64
    });
    d.wait_polls(2);
    let live = cases(&d.db());
    assert_eq!(live.len(), 90);
    let answered = live.iter().filter(|c| c.contains(" answered ")).count();
    assert_eq!(answered, 75, "{live:#?}");
    // Some answers within the promise, some late; unanswered ones breached.
    assert!(
        live.iter().any(|c| c.contains(" answered 50 ")),
        "{live:#?}"
    );
    assert!(
        live.iter().any(|c| c.starts_with("c0 breached - ")),
        "{live:#?}"
    );

    let file: String = posts.iter().map(|p| format!("{p}\n")).collect();
    let dir = tree(&[
        ("vigie.toml", &config(&server, extra, "1s")),
        ("rules.toml", &rules("30m", "")),
        ("posts.jsonl", ""),
        ("month.jsonl", &file),
    ]);
    let db = dir.path().join("replay.db");
    let out = vigie(
        &[
            "replay",
            "--config",
            s(&dir.path().join("vigie.toml")),
            "--db",
            s(&db),
            s(&dir.path().join("month.jsonl")),
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let replayed = cases(&rusqlite::Connection::open(&db).unwrap());
    crate::eq_golden!(live.join("\n"), replayed.join("\n"));
    assert!(
        out.stdout.contains("90 case(s) opened: 75 answered,"),
        "{}",
        out.stdout
    );
    // Replay sends nothing; the daemon sent nothing for a month in the past either.
    assert!(server.requests("/boss").is_empty());
}

#[test]
fn bad_hours_holidays_and_promises_are_located() {
    let dir = tree(&[
        (
            "vigie.toml",
            "[daemon]\nrules = [\"rules.toml\"]\nhours = \"mon-fri 08:00-20:00, sam 09:00-13:00\"\nholidays = [\"2026-12-25\", \"25/12\"]\n\n[[notifier]]\nname = \"cm\"\nkind = \"console\"\n",
        ),
        (
            "rules.toml",
            "[defaults]\nescalate = [\"cm\"]\n\n[[rule]]\nname = \"r\"\nquery = \"colis\"\nreply_within = \"demain\"\nescalate = [\"chef\"]\n\n[[rule]]\nname = \"s\"\nquery = \"colis\"\nreply_within = \"0s\"\n",
        ),
    ]);
    let out = vigie(
        &["check", "--config", s(&dir.path().join("vigie.toml"))],
        "",
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    for want in [
        "vigie.toml:3:31: hours: \"sam\" is not a day",
        "vigie.toml:4:27: holidays: \"25/12\" is not a date such as \"2026-12-25\"",
        "rules.toml:7:16: \"reply_within\": invalid duration \"demain\"",
        "rules.toml:8:13: escalate: no notifier named \"chef\"",
        "rules.toml:13:16: \"reply_within\" must be at least one second",
    ] {
        assert!(out.stderr.contains(want), "{want}\n{}", out.stderr);
    }
}

/// What a reminder and an escalation say, in both languages, in the configured zone.
#[test]
fn reminder_and_breach_read_as_promised_in_both_languages() {
    use vigie::config::Language;
    use vigie::detect::{Alert, AlertKind, AlertPost, CaseRef};
    use vigie::notify::render::{self, Locale};
    let opened: DateTime<Utc> = "2026-11-20T09:00:00Z".parse().unwrap();
    let case = CaseRef {
        id: 12,
        opened_at: opened,
        due_at: opened + chrono::Duration::minutes(30),
        ack_url: None,
    };
    let post = AlertPost {
        source: "feed".into(),
        author: Some("@alice".into()),
        author_name: None,
        text: "Mon colis est perdu".into(),
        url: None,
        created_at: opened,
        followers: None,
        engagement: None,
        matched: vec!["colis".into()],
    };
    let at = opened + chrono::Duration::minutes(15);
    let reminder = Alert::case(
        AlertKind::Reminder,
        "livraison",
        case.clone(),
        1800,
        post.clone(),
        at,
    );
    let breach = Alert::case(AlertKind::Breach, "livraison", case, 1800, post, at);
    let en = Locale::default();
    let fr = Locale::new(Language::French, chrono_tz::Europe::Paris);
    assert_eq!(
        render::title(&reminder, &en),
        "Reply due in 15 min: case #12 on “livraison”"
    );
    assert_eq!(
        render::title(&breach, &en),
        "Case #12 on “livraison” breached: no reply after 30 min"
    );
    assert_eq!(
        render::title(&reminder, &fr),
        "Réponse attendue dans 15 min\u{a0}: cas n°\u{a0}12 sur «\u{a0}livraison\u{a0}»"
    );
    assert_eq!(
        render::title(&breach, &fr),
        "Cas n°\u{a0}12 sur «\u{a0}livraison\u{a0}» hors délai\u{a0}: pas de réponse après 30 min"
    );
    let text = render::text(&breach, &fr);
    assert!(
        text.contains("10:30"),
        "the deadline in Paris time:\n{text}"
    );
    assert!(text.contains("Mon colis est perdu"), "{text}");
    assert_eq!(reminder.reason, "reply due in 15m: case #12 on livraison");
    assert_eq!(
        breach.reason,
        "case #12 on livraison breached: no reply after 30m"
    );
}
