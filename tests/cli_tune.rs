//! `vigie tune` (issue 23, point 3) with the real binary on a generated history: three weeks of
//! complaints with a daily rhythm and four known bursts. The proposal, pasted into the rule,
//! catches every burst under the target rate in `vigie replay`; and for any setting, tune's
//! alerts are replay's.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use crate::util::{s, tree, vigie};

/// Where the history starts: a Monday at midnight.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
}

const DAYS: i64 = 21;

/// The known bursts: 30 complaints in 15 minutes from each of these (day, minute of the day),
/// after the first day (the learn period) and at different times of day.
const BURSTS: [(i64, i64); 4] = [
    (4, 10 * 60 + 20),
    (8, 15 * 60 + 40),
    (13, 21 * 60 + 10),
    (17, 8 * 60 + 5),
];
const BURST_LEN: i64 = 15 * 60;

fn burst_starts() -> Vec<DateTime<Utc>> {
    BURSTS
        .iter()
        .map(|&(d, m)| t0() + Duration::days(d) + Duration::minutes(m))
        .collect()
}

/// A small deterministic generator (64-bit LCG), so the history is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn post(id: String, at: DateTime<Utc>, text: &str) -> String {
    serde_json::json!({
        "id": id, "source": "forum", "text": text,
        "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
    .to_string()
}

/// Three weeks: complaints at 1 an hour at night, 4 by day and 8 at lunch time, twice as many
/// other posts, and the bursts; shuffled, with a few duplicates (same id, later copy).
fn history() -> String {
    let mut rng = Lcg(23);
    let mut lines = Vec::new();
    for h in 0..DAYS * 24 {
        let hour = h % 24;
        let complaints = match hour {
            0..=6 | 22..=23 => 1,
            12 | 13 => 8,
            _ => 4,
        };
        let start = t0() + Duration::hours(h);
        for i in 0..complaints * 3 {
            let at = start + Duration::milliseconds(rng.next(3_600_000) as i64);
            let text = if i < complaints {
                "Mon colis est en retard, encore"
            } else {
                "Bonjour, une question sur les horaires"
            };
            lines.push(post(format!("p{h}-{i}"), at, text));
        }
    }
    for (b, start) in burst_starts().into_iter().enumerate() {
        for i in 0..30 {
            let at = start + Duration::seconds(i * BURST_LEN / 30);
            lines.push(post(format!("b{b}-{i}"), at, "COLIS en retard !!"));
        }
    }
    // Shuffle (replay and tune take any order), then repeat a few posts an hour later: the
    // copies are not new posts.
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.next(i as u64 + 1) as usize);
    }
    let copies: Vec<String> = lines
        .iter()
        .step_by(97)
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let at = DateTime::parse_from_rfc3339(v["created_at"].as_str().unwrap()).unwrap();
            v["created_at"] = Value::from((at + Duration::hours(1)).to_rfc3339());
            v.to_string()
        })
        .collect();
    lines.extend(copies);
    lines.join("\n") + "\n"
}

const CONFIG: &str = "[daemon]\ndatabase = \"tune.db\"\nrules = [\"rules.toml\"]\n\n\
[[notifier]]\nname = \"console\"\nkind = \"console\"\n";

/// The rule file with `lines` (an `alert` and a `window` line) in the rule.
fn rules(lines: &str) -> String {
    format!(
        "[defaults]\nnotify = [\"console\"]\n\n[[rule]]\nname = \"retard\"\nquery = 'colis AND retard'\n{lines}\n"
    )
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The alert times `vigie replay` gives for the rule with these lines, in a new tree.
fn replay_alerts(lines: &str, posts: &str) -> Vec<DateTime<Utc>> {
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", &rules(lines)),
        ("posts.jsonl", posts),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let file = dir.path().join("posts.jsonl");
    let run = vigie(
        &["replay", "--config", s(&cfg), s(&file), "--format", "json"],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    json_lines(&run.stdout)
        .iter()
        .filter(|a| a["rule"] == "retard" && a["kind"] == "spike")
        .map(|a| {
            DateTime::parse_from_rfc3339(a["at"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect()
}

#[test]
fn tune_proposes_a_setting_that_catches_every_burst_under_the_target() {
    let posts = history();
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        (
            "rules.toml",
            &rules("alert = { spike = 1.5, min_count = 3 }\nwindow = \"5m\""),
        ),
        ("posts.jsonl", &posts),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let file = dir.path().join("posts.jsonl");
    let args = ["tune", "--config", s(&cfg), "retard", s(&file)];
    let run = vigie(
        &[&args[..], &["--target", "2/week", "--format", "json"]].concat(),
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = json_lines(&run.stdout);
    // The default grid (96 settings) and the rule's own, which is in it.
    assert_eq!(rows.len(), 96, "{}", run.stdout);
    // The four known bursts, and maybe a bunch of the background rare enough to be one.
    let bursts = rows[0]["bursts"].as_u64().unwrap();
    assert!((4..=6).contains(&bursts), "{}", run.stdout);
    let proposed: Vec<&Value> = rows.iter().filter(|r| r["proposed"] == true).collect();
    assert_eq!(proposed.len(), 1, "{}", run.stdout);
    let p = proposed[0];
    assert!(p["per_week"].as_f64().unwrap() <= 2.0, "{p}");
    assert_eq!(p["bursts_caught"], bursts, "{p}");
    // The rule's own setting is far too noisy: that is why one tunes.
    let own: Vec<&Value> = rows.iter().filter(|r| r["current"] == true).collect();
    assert_eq!(own.len(), 1);
    assert!(own[0]["per_week"].as_f64().unwrap() > 2.0, "{}", own[0]);

    // Pasted into the rule, the proposal does in replay what tune said.
    let alerts = replay_alerts(p["toml"].as_str().unwrap(), &posts);
    assert_eq!(
        alerts.len() as u64,
        p["alerts"].as_u64().unwrap(),
        "{alerts:?}"
    );
    for start in burst_starts() {
        let end = start + Duration::seconds(BURST_LEN);
        assert!(
            alerts.iter().any(|a| *a >= start && *a <= end),
            "no alert within the burst at {start}: {alerts:?} ({p})"
        );
    }
    let weeks = DAYS as f64 / 7.0;
    assert!(alerts.len() as f64 / weeks <= 2.0, "{alerts:?}");

    // The table says the same, for people, with the lines to paste.
    let table = vigie(&[&args[..], &["--target", "2/week"]].concat(), "");
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(
        table.stdout.contains(&format!("{bursts} bursts")),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(p["toml"].as_str().unwrap()),
        "{}",
        table.stdout
    );
}

#[test]
fn tune_counts_the_alerts_replay_fires_for_each_setting() {
    let posts = history();
    let own = "alert = { spike = 3.0, min_count = 5 }\nwindow = \"15m\"";
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", &rules(own))]);
    let cfg = dir.path().join("vigie.toml");
    let run = vigie(
        &[
            "tune",
            "--config",
            s(&cfg),
            "retard",
            "-",
            "--format",
            "json",
            "--spike",
            "1.5,3",
            "--min-count",
            "3,5",
            "--window",
            "5m,1h",
        ],
        &posts,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let rows = json_lines(&run.stdout);
    // Eight settings of the grid and the rule's own.
    assert_eq!(rows.len(), 9, "{}", run.stdout);
    let mut checked = 0;
    for row in &rows {
        let lines = row["toml"].as_str().unwrap();
        let replayed = replay_alerts(lines, &posts);
        assert_eq!(
            row["alerts"].as_u64().unwrap(),
            replayed.len() as u64,
            "{lines}: {replayed:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 9);
    let current = rows.iter().find(|r| r["current"] == true).unwrap();
    assert!(current["alerts"].as_u64().unwrap() >= 4, "{current}");
}

#[test]
fn tune_refuses_an_unknown_rule_and_bad_values() {
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", &rules("alert = { spike = 3.0 }")),
        ("posts.jsonl", ""),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let file = dir.path().join("posts.jsonl");
    for (args, says) in [
        (
            vec!["nope"],
            "vigie: no rule named \"nope\" (rules: retard)",
        ),
        (vec!["retard", "--target", "3/month"], "vigie: --target: "),
        (vec!["retard", "--spike", "0.5"], "vigie: --spike: \"0.5\""),
        (vec!["retard", "--min-count", "x"], "vigie: --min-count: "),
        (vec!["retard", "--window", "5 minutes"], "vigie: --window: "),
    ] {
        let mut full = vec!["tune", "--config", s(&cfg)];
        full.extend(&args[..1]);
        full.push(s(&file));
        full.extend(&args[1..]);
        let run = vigie(&full, "");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with(says), "{args:?}: {}", run.stderr);
    }
}
