//! SIGHUP with the real daemon: new rules and sources take effect without a restart, a broken
//! rule file is refused (the old rules keep matching), unchanged sources keep their cursor.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon_util::Daemon;

const RULES: &str = r#"
[[rule]]
name = "livraison"
query = 'colis AND retard*'
"#;

const WAIT: Duration = Duration::from_secs(60);

fn config(sources: &[&str]) -> String {
    let mut c = String::from("[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n");
    for name in sources {
        c.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"jsonl\"\npath = \"{name}.jsonl\"\nevery = \"1s\"\n"
        ));
    }
    c
}

fn post(id: &str, text: &str) -> String {
    serde_json::json!({"id": id, "text": text, "created_at": "2026-11-22T09:00:00Z"}).to_string()
        + "\n"
}

fn append(d: &Daemon, file: &str, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join(file))
        .expect("open for append");
    f.write_all(line.as_bytes()).expect("append");
}

fn hup(d: &Daemon) {
    let pid = d.child.as_ref().expect("running").id();
    let ok = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(ok.success());
}

/// Hits of `rule` on `post_id`.
fn hits(d: &Daemon, rule: &str, post_id: &str) -> i64 {
    d.count(&format!(
        "SELECT COUNT(*) FROM hits_v WHERE rule = '{rule}' AND post_id = '{post_id}'"
    ))
}

fn still_running(d: &mut Daemon) {
    let child = d.child.as_mut().expect("running");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the daemon exited; log:\n{}",
        d.log()
    );
}

#[test]
fn a_rule_added_before_sighup_matches_the_next_post_without_a_restart() {
    let d = Daemon::start(&[
        ("vigie.toml", &config(&["demo"])),
        ("rules.toml", RULES),
        ("demo.jsonl", &post("p1", "colis en retard")),
    ]);
    d.wait_for("the first hit", WAIT, || hits(&d, "livraison", "p1") == 1);
    let added = format!("{RULES}\n[[rule]]\nname = \"casse\"\nquery = '\"objet cassé\"'\n");
    std::fs::write(d.path().join("rules.toml"), added).unwrap();
    let t0 = Instant::now();
    hup(&d);
    d.wait_for("the reload", WAIT, || d.log().contains("Reloaded."));
    append(&d, "demo.jsonl", &post("p2", "Un objet cassé à l'arrivée"));
    d.wait_for("the new rule's hit", WAIT, || hits(&d, "casse", "p2") == 1);
    // Written to stderr past the harness's capture, for the closing note.
    eprintln!(
        "reload: SIGHUP to the new rule's hit in the database: {} ms (polls every 1 s)",
        t0.elapsed().as_millis()
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM hits_v WHERE post_id = 'p1'"),
        1,
        "a post stored before the reload is not matched again"
    );
}

#[test]
fn a_source_added_is_polled_and_an_unchanged_one_keeps_its_cursor() {
    let first: String = (0..30)
        .map(|i| post(&format!("a{i}"), "colis en retard"))
        .collect();
    let d = Daemon::start(&[
        ("vigie.toml", &config(&["demo"])),
        ("rules.toml", RULES),
        ("demo.jsonl", &first),
        ("more.jsonl", &post("b1", "mon colis a du retard")),
    ]);
    d.wait_for("30 posts", WAIT, || {
        d.count("SELECT COUNT(*) FROM posts") == 30
    });
    std::fs::write(d.config(), config(&["demo", "more"])).unwrap();
    hup(&d);
    d.wait_for("the new source's post", WAIT, || {
        hits(&d, "livraison", "b1") == 1
    });
    append(&d, "demo.jsonl", &post("a30", "colis toujours en retard"));
    d.wait_for("the old source's next post", WAIT, || {
        hits(&d, "livraison", "a30") == 1
    });
    // The daemon logs each poll at debug level with how many posts it read. Had the reload
    // rebuilt "demo", it would read its 30 (already stored) posts again from the start.
    let log = d.log();
    let after = &log[log.find("Reloaded.").expect("reloaded")..];
    let demo_polls: Vec<&str> = after
        .lines()
        .filter(|l| l.contains("Polled.") && l.contains("source=demo"))
        .collect();
    assert!(!demo_polls.is_empty(), "no poll of demo logged:\n{log}");
    for line in demo_polls {
        assert!(
            !line.contains("listed=30") && !line.contains("listed=31"),
            "demo read its file again from the start after the reload: {line}"
        );
    }
}

#[test]
fn a_broken_rule_file_is_refused_and_the_old_rules_keep_matching() {
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&["demo"])),
        ("rules.toml", RULES),
        ("demo.jsonl", &post("p1", "colis en retard")),
    ]);
    d.wait_for("the first hit", WAIT, || hits(&d, "livraison", "p1") == 1);
    let broken = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND (retard'\n";
    std::fs::write(d.path().join("rules.toml"), broken).unwrap();
    hup(&d);
    d.wait_for("the refusal", WAIT, || d.log().contains("Reload refused"));
    let log = d.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("Reload refused"))
        .expect("refusal line");
    assert!(
        refusal.contains("rules.toml:3:"),
        "the error names file:line:col: {refusal}"
    );
    append(&d, "demo.jsonl", &post("p2", "encore un colis en retard"));
    d.wait_for("the old rule's hit", WAIT, || {
        hits(&d, "livraison", "p2") == 1
    });
    still_running(&mut d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}
