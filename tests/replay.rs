//! `vigie replay` (a backtest in event time that sends nothing) and `vigie alerts`.

use serde_json::Value;

use crate::util::http::{Reply, TestServer};
use crate::util::{s, tree, vigie};

const RULES: &str = r#"
[[rule]]
name = "retard"
query = 'colis AND retard'
alert = { spike = 3.0, min_count = 5 }
notify = ["hook"]

[[rule]]
name = "perdu"
query = 'colis AND perdu'
alert = { threshold = 4 }
window = "1h"
notify = ["hook"]

[[rule]]
name = "influent"
query = 'arnaque'
alert = { each = true, min_followers = 10000 }
notify = ["hook"]
"#;

fn config(hook: &str) -> String {
    format!(
        r#"[daemon]
database = "replay.db"
rules = ["rules.toml"]

[[notifier]]
name = "hook"
kind = "webhook"
url = "{hook}"
"#
    )
}

fn post(id: &str, at: &str, text: &str, followers: u64) -> String {
    serde_json::json!({
        "id": id, "source": "forum", "text": text, "author": format!("@{id}"),
        "created_at": at, "followers": followers,
    })
    .to_string()
}

/// Three days of one complaint every two hours, then a burst of 12 in ten minutes on day 4;
/// four lost parcels within the hour; an 'arnaque' post by a small and by a big account.
/// Written in reverse order: replay sorts by time.
fn posts() -> String {
    let mut lines = Vec::new();
    for h in (0..72).step_by(2) {
        let at = format!("2026-11-{:02}T{:02}:30:00Z", 19 + h / 24, h % 24);
        lines.push(post(&format!("h{h}"), &at, "mon colis est en retard", 50));
    }
    for i in 0..12 {
        let at = format!("2026-11-22T14:{:02}:00Z", 2 + i * 3 / 4);
        lines.push(post(&format!("b{i}"), &at, "Colis en RETARD encore !", 50));
    }
    for i in 0..4 {
        let at = format!("2026-11-21T09:{:02}:00Z", 10 * i);
        lines.push(post(&format!("l{i}"), &at, "colis perdu", 50));
    }
    lines.push(post("small", "2026-11-20T08:00:00Z", "quelle arnaque", 10));
    lines.push(post(
        "big",
        "2026-11-20T09:00:00Z",
        "quelle arnaque",
        250_000,
    ));
    lines.push("not json".into());
    lines.push(r#"{"text": "colis en retard sans date ni id"}"#.into());
    lines.reverse();
    lines.join("\n") + "\n"
}

/// The config (a webhook on `server`), the rules and the posts in a temp dir.
fn setup(server: &TestServer) -> tempfile::TempDir {
    let cfg = config(&server.url("/hook"));
    let posts = posts();
    tree(&[
        ("vigie.toml", &cfg),
        ("rules.toml", RULES),
        ("posts.jsonl", &posts),
    ])
}

fn alerts(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn replay_fires_each_kind_once_in_event_time_and_sends_nothing() {
    let server = TestServer::start();
    server.script("/hook", [Reply::new(200)]);
    let d = setup(&server);
    let c = d.path().join("vigie.toml");
    let file = d.path().join("posts.jsonl");
    let r = vigie(
        &["replay", s(&file), "--config", s(&c), "--format", "json"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("2 line(s) skipped"), "{}", r.stderr);
    let got: Vec<(String, String, String, u64)> = alerts(&r.stdout)
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
                a["at"].as_str().unwrap().to_string(),
                a["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [
        // Only the 250k-follower author passes min_followers.
        ("influent", "each", "2026-11-20T09:00:00Z", 1),
        // The fourth lost parcel within the hour.
        ("perdu", "threshold", "2026-11-21T09:30:00Z", 4),
        // The burst: usual 36 posts over 85h20m of history (0.105 per 15 min; the same
        // quarter-hour on earlier days had none), so min_count 5 decides: the fifth and sixth
        // burst posts share 14:05, and one alert covers the whole burst.
        ("retard", "spike", "2026-11-22T14:05:00Z", 6),
    ];
    let want: Vec<(String, String, String, u64)> = want
        .iter()
        .map(|(a, b, c, n)| (a.to_string(), b.to_string(), c.to_string(), *n))
        .collect();
    assert_eq!(got, want, "{}", r.stdout);
    let spike = &alerts(&r.stdout)[2];
    let baseline = spike["baseline"].as_f64().unwrap();
    let windows = (85.0 * 3600.0 + 20.0 * 60.0 + 1.0) / 900.0;
    assert!((baseline - 36.0 / windows).abs() < 1e-9, "{spike}");
    assert!(server.requests("/hook").is_empty(), "replay sends nothing");
    assert!(
        !d.path().join("replay.db").exists(),
        "the default database is thrown away"
    );
}

#[test]
fn replay_table_and_alerts_history_from_a_kept_database() {
    let server = TestServer::start();
    let d = setup(&server);
    let c = d.path().join("vigie.toml");
    let db = d.path().join("replay.db");
    let file = d.path().join("posts.jsonl");
    let r = vigie(
        &[
            "replay",
            s(&file),
            "--config",
            s(&c),
            "--db",
            s(&db),
            "--format",
            "table",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Replayed 54 posts: 54 hits."),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("3 alert(s) would have fired"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("retard"), "{}", r.stdout);
    // `vigie alerts` reads the kept database (the config points at it), newest first.
    let r = vigie(&["alerts", "--config", s(&c), "--format", "json"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = alerts(&r.stdout);
    let rules: Vec<&str> = rows.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["retard", "perdu", "influent"]);
    assert_eq!(rows[0]["status"], "", "replay queues no delivery");
    let r = vigie(
        &[
            "alerts",
            "--config",
            s(&c),
            "--kind",
            "threshold",
            "--format",
            "csv",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert!(
        r.stdout.starts_with("alert_id,rule,kind,fired_at,"),
        "{}",
        r.stdout
    );
    let r = vigie(&["alerts", "--config", s(&c), "--since", "banana"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
}
