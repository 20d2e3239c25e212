//! The real daemon end to end on a `jsonl` source: hits stored, read live, SIGTERM, SIGKILL.

use std::io::Write;
use std::time::Duration;

use crate::daemon_util::Daemon;

const RULES: &str = r#"
[[rule]]
name = "livraison"
query = 'colis AND (retard* OR perdu*)'

[[rule]]
name = "casse"
query = '"objet cassé"'
"#;

fn config(every: &str, max_bytes: u64) -> String {
    format!(
        r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]

[[source]]
name = "demo"
kind = "jsonl"
path = "posts.jsonl"
every = "{every}"
max_bytes = {max_bytes}
"#
    )
}

fn post(i: usize) -> String {
    let text = match i % 4 {
        0 => format!("Mon colis n°{i} est en retard"),
        1 => format!("L'objet CASSÉ, commande {i}"),
        2 => format!("Il fait beau aujourd'hui ({i})"),
        _ => format!("colis {i} perdu, objet cassé"),
    };
    serde_json::json!({
        "id": format!("p{i}"),
        "text": text,
        "author": format!("@user{}", i % 7),
        "created_at": "2026-11-22T09:00:00Z",
    })
    .to_string()
}

/// Hits the rules above give for posts 0..n.
fn expected_hits(n: usize) -> i64 {
    (0..n)
        .map(|i| match i % 4 {
            0 | 1 => 1,
            2 => 0,
            _ => 2,
        })
        .sum()
}

#[test]
fn daemon_stores_hits_serves_readers_and_stops_on_sigterm() {
    let posts: String = (0..40).map(|i| post(i) + "\n").collect();
    let mut d = Daemon::start(&[
        ("vigie.toml", &config("1s", 1 << 20)),
        ("rules.toml", RULES),
        ("posts.jsonl", &posts),
    ]);
    d.wait_for("40 posts", Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM posts") == 40
    });
    d.wait_for("all hits", Duration::from_secs(10), || {
        d.count("SELECT COUNT(*) FROM hits_v") == expected_hits(40)
    });
    // A read-only reader sees the hits through the documented view while the daemon runs.
    let db = d.db();
    let (rule, text, matched): (String, String, String) = db
        .query_row(
            "SELECT rule, text, matched FROM hits_v WHERE post_id = 'p1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("hit for p1");
    assert_eq!(rule, "casse");
    assert_eq!(text, "L'objet CASSÉ, commande 1");
    assert!(matched.contains("objet CASSÉ"), "{matched}");
    let status: String = db
        .query_row(
            "SELECT last_status FROM sources_v WHERE source = 'demo'",
            [],
            |r| r.get(0),
        )
        .expect("sources_v row");
    assert_eq!(status, "ok");
    drop(db);
    let code = d.terminate(Duration::from_secs(5));
    assert_eq!(code, 0, "log:\n{}", d.log());
}

#[test]
fn sigkill_mid_burst_loses_no_hit_and_doubles_none() {
    const N: usize = 3000;
    let mut d = Daemon::start(&[
        ("vigie.toml", &config("1s", 16 * 1024)),
        ("rules.toml", RULES),
        ("posts.jsonl", ""),
    ]);
    let path = d.path().join("posts.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("posts file");
    let mut written = 0;
    let mut write_burst = |file: &mut std::fs::File, upto: usize| {
        while written < upto {
            let chunk: String = (written..(written + 50).min(upto))
                .map(|i| post(i) + "\n")
                .collect();
            file.write_all(chunk.as_bytes()).expect("append");
            written = (written + 50).min(upto);
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    write_burst(&mut file, N / 2);
    // Kill as soon as the daemon has stored part of the burst, while more is still coming.
    d.wait_for("some posts", Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM posts") > 0
    });
    d.kill9();
    let stored_at_kill = d.count("SELECT COUNT(*) FROM posts");
    write_burst(&mut file, N);
    d.restart();
    d.wait_for("every post", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM posts") == N as i64
    });
    d.wait_for("every hit", Duration::from_secs(10), || {
        d.count("SELECT COUNT(*) FROM hits_v") >= expected_hits(N)
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM hits_v"),
        expected_hits(N),
        "no hit doubled"
    );
    assert_eq!(
        d.count("SELECT COUNT(DISTINCT post_id || '/' || rule) FROM hits_v"),
        expected_hits(N)
    );
    assert!(
        stored_at_kill < N as i64,
        "the kill happened mid-burst ({stored_at_kill} stored)"
    );
    assert_eq!(d.terminate(Duration::from_secs(5)), 0);
}

/// The README's first command: the shipped demo config prints a spike on the console within
/// a minute of starting (here: the shipped files copied to a temp dir, layout kept).
#[test]
fn demo_config_prints_a_spike_on_the_console_within_a_minute() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let dir = crate::util::shipped_tree();
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--config"])
        .arg(dir.path().join("config/vigie.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(Duration::from_secs(60).saturating_sub(t0.elapsed())) {
            // The demo config writes alerts in French (`language = "fr"`).
            Ok(line) if line.starts_with("[vigie] Pic sur «\u{202f}livraison-retard") => {
                break true
            }
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found,
        "no spike within a minute; stdout:\n{}",
        seen.join("\n")
    );
    eprintln!("demo: spike on the console {:?} after start", t0.elapsed());
}
