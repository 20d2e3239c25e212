//! The daemon's alert decisions across a kill -9 (issue 23): the counters that commits read are
//! rebuilt from the database at start, so a burst that straddles the kill, judged against a
//! baseline stored before it, fires the same alerts as without the kill.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;

use crate::daemon_util::Daemon;

const RULES: &str = r#"
[[rule]]
name = "pic"
query = 'colis'
window = "1h"
alert = { spike = 3.0, min_count = 5 }

[[rule]]
name = "seuil"
query = 'colis'
window = "1h"
alert = { threshold = 5 }
"#;

const CONFIG: &str = r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]

[[source]]
name = "forum"
kind = "jsonl"
path = "posts.jsonl"
every = "1s"
"#;

fn post(id: &str, ago: chrono::Duration) -> String {
    serde_json::json!({
        "id": id,
        "text": format!("Mon colis {id} est en retard"),
        "created_at": vigie::store::fmt_time(Utc::now() - ago),
    })
    .to_string()
        + "\n"
}

/// Two days of history (one hit every three hours, none at this time of day yesterday: the
/// spike's baseline, and `learn`), then a
/// burst of five hits, three before the (optional) kill and two after. Returns the alerts'
/// rule, kind and count, and their baselines.
fn run(kill: bool) -> (Vec<(String, String, i64)>, Vec<f64>) {
    let mut posts: String = (0..16)
        .map(|k| post(&format!("h{k}"), chrono::Duration::minutes(90 + 180 * k)))
        .collect();
    for i in 0..3 {
        posts += &post(&format!("b{i}"), chrono::Duration::minutes(10 - i));
    }
    let mut d = Daemon::start(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", &posts),
    ]);
    d.wait_for("19 posts", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts") == 19
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM alerts"),
        0,
        "three hits: quiet"
    );
    if kill {
        d.kill9();
        d.restart();
    }
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("posts.jsonl"))
        .unwrap();
    for i in 3..5 {
        file.write_all(post(&format!("b{i}"), chrono::Duration::minutes(1)).as_bytes())
            .unwrap();
    }
    // The alerts are decided in the transaction that stores the last posts.
    d.wait_for("21 posts", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts") == 21
    });
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT rule, kind, count, baseline FROM alerts_v ORDER BY rule")
        .unwrap();
    let rows: Vec<(String, String, i64, f64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(d.terminate(Duration::from_secs(10)), 0);
    rows.into_iter().map(|(r, k, c, b)| ((r, k, c), b)).unzip()
}

#[test]
fn alerts_after_a_kill_9_are_those_without_it() {
    let (calm, calm_baselines) = run(false);
    let expected = [("pic", "spike", 5), ("seuil", "threshold", 5)]
        .map(|(r, k, c)| (r.to_string(), k.to_string(), c));
    assert_eq!(calm, expected);
    let (killed, killed_baselines) = run(true);
    assert_eq!(killed, calm, "the same alerts with a kill -9 mid-burst");
    // The spike's baseline (16 hits over 45.5 hours: 0.35 an hour) was counted after the
    // restart from what the first run stored; the runs' clocks differ by seconds only.
    let (a, b) = (calm_baselines[0], killed_baselines[0]);
    assert!((a - b).abs() < 0.01 && a > 0.3, "baselines {a} and {b}");
}
