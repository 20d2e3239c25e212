//! Issue 27 end to end on a Mastodon-shaped loopback server, with the real daemon: a complaint
//! on the hashtag timeline opens a case; the brand's reply, read from its own account on another
//! server and tied to the complaint by the thread's `uri`, answers it with the right response
//! time; an unanswered complaint reminds at half its promise and escalates at its deadline; and
//! outside business hours the clock starts at opening.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};

const LONG: Duration = Duration::from_secs(60);
const TAG: &str = "/api/v1/timelines/tag/colis";
const LOOKUP: &str = "/api/v1/accounts/lookup";
const BRAND: &str = "/api/v1/accounts/109350000000000042/statuses";

fn fixture(name: &str) -> Value {
    serde_json::from_str(&crate::util::fixture("mastodon", name)).expect("json")
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// A status as the instance serves it (the recorded complaint's shape), by `acct` on its
/// own server, answering `reply_to` if any.
fn status(id: &str, acct: &str, text: &str, at: DateTime<Utc>, reply_to: Option<&str>) -> Value {
    let mut s = fixture("tag-replies.json")[2].clone();
    let (user, server) = acct.split_once('@').unwrap_or((acct, "mastodon.example"));
    s["id"] = json!(id);
    s["uri"] = json!(format!("https://{server}/users/{user}/statuses/{id}"));
    s["url"] = json!(format!("https://{server}/@{user}/{id}"));
    s["created_at"] = json!(time(at));
    s["content"] = json!(format!("<p>{text}</p>"));
    s["in_reply_to_id"] = json!(reply_to);
    s["account"]["acct"] = json!(acct);
    s["account"]["username"] = json!(user);
    s
}

/// The brand's reply to `to`, as its account's statuses list it.
fn brand_reply(id: &str, to: &str, at: DateTime<Utc>) -> Value {
    let mut s = fixture("account-statuses.json")[2].clone();
    s["id"] = json!(id);
    s["uri"] = json!(format!(
        "https://mastodon.social/users/lisalaposte/statuses/{id}"
    ));
    s["created_at"] = json!(time(at));
    s["in_reply_to_id"] = json!(to);
    s["content"] = json!("<p>Bonjour, nous regardons votre envoi en message privé.</p>");
    s
}

fn page(statuses: &[Value]) -> Reply {
    Reply::ok(serde_json::to_string(statuses).unwrap())
}

fn start(server: &TestServer, daemon_extra: &str, promise: &str) -> Daemon {
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n\
         brand_accounts = [\"lisalaposte@mastodon.social\"]\n{daemon_extra}\n\n\
         [[source]]\nname = \"masto\"\nkind = \"mastodon\"\ninstance = \"{}\"\n\
         hashtags = [\"colis\"]\nevery = \"1s\"\n\n\
         [[notifier]]\nname = \"cm\"\nkind = \"webhook\"\nurl = \"{}\"\n\n\
         [[notifier]]\nname = \"boss\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        server.url(""),
        server.url("/cm"),
        server.url("/boss"),
    );
    let rules = format!(
        "[[rule]]\nname = \"livraison\"\nquery = 'colis OR retard'\nreply_within = \"{promise}\"\n\
         notify = [\"cm\"]\nescalate = [\"boss\"]\n"
    );
    Daemon::start(&[("vigie.toml", &config), ("rules.toml", &rules)])
}

/// `state | answered_by | response_secs | reminded | breached` of the case opened by `post`.
fn case_of(d: &Daemon, post: &str) -> String {
    d.db()
        .query_row(
            "SELECT state || '|' || IFNULL(answered_by, '') || '|' || IFNULL(response_secs, '')
                    || '|' || (reminded_at IS NOT NULL) || '|' || (breached_at IS NOT NULL)
             FROM cases_v WHERE post_id = ?1",
            [post],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("case of {post}: {e}"))
}

/// The `kind` and `case.id` of each alert received on `path`.
fn received(server: &TestServer, path: &str) -> Vec<(String, i64)> {
    server
        .requests(path)
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            (
                v["kind"].as_str().unwrap_or_default().to_string(),
                v["case"]["id"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_mastodon_complaint_is_answered_by_the_brand_reply_and_another_escalates() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    let now = Utc::now().trunc_subsecs(0);
    let alice = status(
        "9001",
        "alice@piaille.example",
        "Colis perdu depuis lundi #colis",
        now - chrono::Duration::seconds(10),
        None,
    );
    let bob = status(
        "9002",
        "bob",
        "Mon colis est en retard #colis",
        now - chrono::Duration::seconds(10),
        None,
    );
    server.script(
        TAG,
        [page(&[bob, alice.clone()]), Reply::ok("[]".to_string())],
    );
    server.script(
        LOOKUP,
        [Reply::ok(fixture("account-lookup.json").to_string())],
    );
    // The brand answers alice 7 s after her post, from its own server (read at the next poll,
    // before her reminder is due); bob gets no answer.
    let reply = brand_reply("9101", "9001", now - chrono::Duration::seconds(3));
    server.script(
        BRAND,
        [
            Reply::ok("[]".to_string()),
            page(&[reply]),
            Reply::ok("[]".to_string()),
        ],
    );
    server.script(
        "/api/v1/statuses/9101/context",
        [Reply::ok(
            json!({"ancestors": [alice], "descendants": []}).to_string(),
        )],
    );
    let d = start(&server, "", "30s");
    d.wait_for("two cases", LONG, || {
        d.count("SELECT COUNT(*) FROM cases") == 2
    });
    d.wait_for("alice's case answered", LONG, || {
        case_of(&d, "9001").starts_with("answered|")
    });
    assert_eq!(
        case_of(&d, "9001"),
        "answered|@lisalaposte@mastodon.social|7|0|0"
    );
    // The brand's reply is stored, hits nothing and opens nothing.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM hits_v WHERE post_id = '9101'"),
        0
    );
    let bob_case = d.count("SELECT case_id FROM cases_v WHERE post_id = '9002'");
    d.wait_for("bob's escalation", LONG, || {
        !server.requests("/boss").is_empty()
    });
    assert_eq!(
        received(&server, "/cm"),
        [("reminder".to_string(), bob_case)]
    );
    assert_eq!(
        received(&server, "/boss"),
        [("breach".to_string(), bob_case)]
    );
    assert_eq!(case_of(&d, "9002"), "breached|||1|1");
    // `vigie alerts` lists them without a count against a usual level.
    let alerts = crate::util::vigie(
        &[
            "alerts",
            "--config",
            crate::util::s(&d.config()),
            "--format",
            "table",
        ],
        "",
    );
    let lines: Vec<&str> = alerts
        .stdout
        .lines()
        .filter(|l| l.contains("reminder") || l.contains("breach"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", alerts.stdout);
    assert!(
        lines.iter().all(|l| !l.contains(" vs ")),
        "{}",
        alerts.stdout
    );
    // Alice's case never reminded anyone: it was answered before half its time.
    assert_eq!(
        case_of(&d, "9001"),
        "answered|@lisalaposte@mastodon.social|7|0|0"
    );
}

#[test]
fn a_saturday_night_mastodon_complaint_starts_its_clock_at_monday_opening() {
    let server = TestServer::start();
    server.script("/cm", [Reply::new(204)]);
    server.script("/boss", [Reply::new(204)]);
    // Saturday 21 November 2026, 22:00 in Paris; the brand answers on Monday at 08:12.
    let posted: DateTime<Utc> = "2026-11-21T21:00:00Z".parse().unwrap();
    let answered: DateTime<Utc> = "2026-11-23T07:12:00Z".parse().unwrap();
    let complaint = status(
        "9201",
        "carla@piaille.example",
        "Toujours pas de colis, personne ne répond",
        posted,
        None,
    );
    server.script(
        TAG,
        [
            page(std::slice::from_ref(&complaint)),
            Reply::ok("[]".to_string()),
        ],
    );
    server.script(
        LOOKUP,
        [Reply::ok(fixture("account-lookup.json").to_string())],
    );
    server.script(
        BRAND,
        [
            page(&[brand_reply("9301", "9201", answered)]),
            Reply::ok("[]".to_string()),
        ],
    );
    server.script(
        "/api/v1/statuses/9301/context",
        [Reply::ok(
            json!({"ancestors": [complaint], "descendants": []}).to_string(),
        )],
    );
    let d = start(
        &server,
        "timezone = \"Europe/Paris\"\nhours = \"mon-fri 08:00-20:00\"",
        "30m",
    );
    d.wait_for("the case answered", LONG, || {
        d.count("SELECT COUNT(*) FROM cases WHERE state = 'answered'") == 1
    });
    let (start, due): (String, String) = d
        .db()
        .query_row("SELECT clock_start, due_at FROM cases", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (start.as_str(), due.as_str()),
        ("2026-11-23T07:00:00Z", "2026-11-23T07:30:00Z")
    );
    // 12 minutes of open time, not the 34 hours since the post.
    assert_eq!(
        case_of(&d, "9201"),
        "answered|@lisalaposte@mastodon.social|720|0|0"
    );
    assert!(server.requests("/boss").is_empty());
}
