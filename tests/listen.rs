//! `[daemon] listen` with the real daemon: `/metrics` read by the reference OpenMetrics parser
//! (the `prometheus_client` Python package) with counters moving as posts flow, and `/health`
//! turning 503 while another connection holds the database's write lock.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::client::{free_port, get, scrape};

const WAIT: Duration = Duration::from_secs(60);

const RULES: &str = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND retard*'\n";

fn post(i: usize) -> String {
    serde_json::json!({"id": format!("p{i}"), "text": format!("colis {i} en retard")}).to_string()
        + "\n"
}

fn value(samples: &[(String, Value, f64)], name: &str, label: (&str, &str)) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && l[label.0] == label.1)
        .map_or(0.0, |(_, _, v)| *v)
}

#[test]
fn metrics_parse_and_move_with_posts_and_health_turns_503_on_a_stuck_writer() {
    let port = free_port();
    let config = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n"
    );
    let posts: String = (0..5).map(post).collect();
    let d = Daemon::start(&[
        ("vigie.toml", &config),
        ("rules.toml", RULES),
        ("posts.jsonl", &posts),
    ]);
    d.wait_for("5 hits", WAIT, || d.count("SELECT COUNT(*) FROM hits") == 5);
    d.wait_for("/health", WAIT, || get(port, "/health").0 == 200);
    let before = scrape(port);
    assert_eq!(
        value(&before, "vigie_hits_total", ("rule", "livraison")),
        5.0
    );
    assert_eq!(
        value(&before, "vigie_posts_seen_total", ("source", "demo")),
        5.0
    );
    assert!(value(&before, "vigie_polls_total", ("source", "demo")) >= 1.0);
    assert!(
        value(
            &before,
            "vigie_last_success_timestamp_seconds",
            ("source", "demo")
        ) > 0.0
    );
    assert_eq!(
        value(
            &before,
            "vigie_build_info",
            ("version", env!("CARGO_PKG_VERSION"))
        ),
        1.0
    );
    for name in [
        "vigie_outbox_depth",
        "vigie_outbox_oldest_pending_age_seconds",
        "vigie_match_duration_seconds_count",
        "vigie_commit_duration_seconds_count",
        "vigie_poll_duration_seconds_count",
    ] {
        assert!(
            before.iter().any(|(n, _, _)| n == name),
            "{name} missing from /metrics"
        );
    }
    // Three more posts: the counters move.
    let more: String = (5..8).map(post).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("posts.jsonl"))
        .unwrap()
        .write_all(more.as_bytes())
        .unwrap();
    d.wait_for("hits counted", WAIT, || {
        value(&scrape(port), "vigie_hits_total", ("rule", "livraison")) == 8.0
    });
    assert_eq!(
        value(&scrape(port), "vigie_posts_seen_total", ("source", "demo")),
        8.0
    );
    // Another connection holds the write lock: the writer's commits fail, /health says so.
    let (code, body) = get(port, "/health");
    assert_eq!((code, body.trim()), (200, "{\"status\":\"ok\"}"));
    let holder = rusqlite::Connection::open(d.path().join("vigie.db")).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("posts.jsonl"))
        .unwrap()
        .write_all(post(8).as_bytes())
        .unwrap();
    d.wait_for("/health 503", WAIT, || get(port, "/health").0 == 503);
    let (_, body) = get(port, "/health");
    assert!(body.contains("commit"), "the reason: {body}");
    holder.execute_batch("ROLLBACK").unwrap();
    d.wait_for("/health 200 again", WAIT, || get(port, "/health").0 == 200);
}
