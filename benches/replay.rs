//! Replay throughput (issue 23): writes a generated history — N French posts over D days, R
//! rules (half `spike`, half `threshold`), most of them hit by a third of the posts or more —
//! and, given a `vigie` binary, times `vigie replay` (on the file in time order, then on the
//! same posts shuffled) and `vigie match --count` on it under `/usr/bin/time -v`: posts per
//! second of each, their ratio, and peak resident memory. It also
//! prints the hit rate (the share of posts that hit a rule, matched in-process as it writes
//! them) and the cores it ran on; `--save FILE` keeps replay's JSON alerts, to diff two builds.
//!
//! ```sh
//! cargo bench --bench replay -- --posts 1000000 --days 30 --rules 20 --out /tmp/replay \
//!     --vigie target/release/vigie
//! ```
//!
//! Without `--vigie` it only writes `posts.jsonl`, `posts-sorted.jsonl`, `rules.toml` and
//! `vigie.toml` into `--out`.
//! The posts come from `corpus.rs` (the matcher benchmark's generator), spread over the days
//! with a daily rhythm (busy afternoons, quiet nights) and a few bursts of complaints, so that
//! spike rules see a baseline, same-time-of-day windows and spikes.

use std::fmt::Write as _;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use vigie::matcher::{RuleSet, RuleSpec, Scratch};
use vigie::post::Post;

mod corpus;

struct Args {
    posts: usize,
    days: u64,
    rules: usize,
    seed: u64,
    out: PathBuf,
    vigie: Option<PathBuf>,
    /// Where to keep replay's JSON output (to compare two builds).
    save: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        posts: 200_000,
        days: 30,
        rules: 20,
        seed: 23,
        out: std::env::temp_dir().join("vigie-replay-bench"),
        vigie: None,
        save: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--posts" => a.posts = v().parse().expect("--posts N"),
            "--days" => a.days = v().parse().expect("--days D"),
            "--rules" => a.rules = v().parse().expect("--rules R"),
            "--seed" => a.seed = v().parse().expect("--seed S"),
            "--out" => a.out = v().into(),
            "--vigie" => a.vigie = Some(v().into()),
            "--save" => a.save = Some(v().into()),
            // `cargo bench` passes this to every bench binary.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Event times: a daily rhythm (from 0.2× at night to 1.8× in the afternoon) and, every few
/// days, a burst of complaints (a tenth of a day's posts in half an hour).
fn times(rng: &mut corpus::Rng, n: usize, days: u64) -> Vec<i64> {
    let span = days as i64 * 86_400;
    let mut out = Vec::with_capacity(n);
    let bursts: Vec<i64> = (0..days.div_ceil(3))
        .map(|d| d as i64 * 3 * 86_400 + rng.range(0, 86_400) as i64)
        .collect();
    let per_burst = n / days.max(1) as usize / 10;
    for &b in &bursts {
        for _ in 0..per_burst.min(n - out.len()) {
            out.push((b + rng.range(0, 1800) as i64).min(span - 1));
        }
    }
    while out.len() < n {
        let t = rng.range(0, span as usize) as i64;
        let hour = (t % 86_400) as f64 / 3600.0;
        let rhythm = 1.0 + 0.8 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin();
        if rng.unit() * 1.8 < rhythm {
            out.push(t);
        }
    }
    out
}

/// Writes the posts, the rules and the config into `--out`; returns the posts' path and how
/// many posts hit at least one rule (matched here, with the library, as replay will). The
/// posts are written twice: `posts.jsonl` in the order drawn (not in time order: replay sorts
/// it on disk first) and `posts-sorted.jsonl`, the same lines in time order, as most exports
/// are.
fn write_files(a: &Args) -> (PathBuf, PathBuf, u64) {
    std::fs::create_dir_all(&a.out).expect("create --out");
    let rules: Vec<(String, String)> = corpus::rules(a.seed, 20 * a.rules)
        .into_iter()
        .take(a.rules)
        .collect();
    let specs: Vec<RuleSpec> = rules
        .iter()
        .map(|(name, q)| RuleSpec::with_query(name, q).expect("a generated query"))
        .collect();
    let set = RuleSet::compile(&specs).expect("generated rules");
    let (mut scratch, mut found, mut hit) = (Scratch::default(), Vec::new(), 0u64);
    let mut rng = corpus::Rng::new(a.seed);
    let start = 1_790_000_000i64; // 2026-09-21
    let path = a.out.join("posts.jsonl");
    let mut posts = BufWriter::new(std::fs::File::create(&path).expect("create posts"));
    let mut post = Post::default();
    let mut lines = Vec::with_capacity(a.posts);
    for (i, t) in times(&mut rng, a.posts, a.days).into_iter().enumerate() {
        post.text.clear();
        corpus::post(&mut rng, &mut post.text);
        set.matched_rules(&post, &mut scratch, &mut found);
        hit += u64::from(!found.is_empty());
        let created = chrono::DateTime::from_timestamp(start + t, 0).expect("a time");
        let line = serde_json::json!({
            "id": format!("p{i}"),
            "created_at": created.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "author": format!("@u{}", rng.range(0, 5000)),
            "text": post.text,
        });
        let line = line.to_string();
        writeln!(posts, "{line}").expect("write posts");
        lines.push((t, line));
    }
    posts.flush().expect("write posts");
    lines.sort_by_key(|(t, _)| *t);
    let sorted = a.out.join("posts-sorted.jsonl");
    let mut out = BufWriter::new(std::fs::File::create(&sorted).expect("create posts"));
    for (_, line) in lines {
        writeln!(out, "{line}").expect("write posts");
    }
    out.flush().expect("write posts");
    let mut toml = String::new();
    for (i, (name, q)) in rules.into_iter().enumerate() {
        let alert = if i % 2 == 0 {
            "{ spike = 3.0, min_count = 5 }"
        } else {
            "{ threshold = 40 }"
        };
        writeln!(
            toml,
            "[[rule]]\nname = \"{name}\"\nquery = '{q}'\nalert = {alert}\n"
        )
        .expect("a string");
    }
    std::fs::write(a.out.join("rules.toml"), toml).expect("write rules");
    std::fs::write(
        a.out.join("vigie.toml"),
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n",
    )
    .expect("write config");
    (path, sorted, hit)
}

/// Runs `vigie ARGS` under `/usr/bin/time -v`: seconds, peak RSS in MB, stdout.
fn timed(vigie: &Path, config: &Path, args: &[&str]) -> (f64, f64, String) {
    let t0 = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(vigie)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run /usr/bin/time");
    let secs = t0.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vigie {args:?} failed:\n{err}");
    let rss_kb: f64 = err
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (
        secs,
        rss_kb / 1024.0,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn main() {
    let a = args();
    let t0 = Instant::now();
    let (posts, sorted, hit_posts) = write_files(&a);
    let config = a.out.join("vigie.toml");
    eprintln!(
        "wrote {} posts over {} days, {} rules into {} ({:.1} s)",
        a.posts,
        a.days,
        a.rules,
        a.out.display(),
        t0.elapsed().as_secs_f64()
    );
    let Some(vigie) = &a.vigie else {
        return;
    };
    let file = posts.to_str().expect("a UTF-8 path");
    let n = a.posts as f64;
    let (m_secs, m_rss, counts) = timed(vigie, &config, &["match", "--count", "--input", file]);
    // `match --count`: "N  rule" per rule, then "N  posts read".
    let hit: u64 = counts
        .lines()
        .filter(|l| !l.ends_with("posts read"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    let in_order = sorted.to_str().expect("a UTF-8 path");
    let (s_secs, s_rss, s_alerts) =
        timed(vigie, &config, &["replay", "--format", "json", in_order]);
    let (r_secs, r_rss, alerts) = timed(vigie, &config, &["replay", "--format", "json", file]);
    assert_eq!(
        s_alerts, alerts,
        "the same alerts, whatever the order of the file"
    );
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "posts {} days {} rules {} ({} spike) cores {cores}",
        a.posts,
        a.days,
        a.rules,
        a.rules.div_ceil(2)
    );
    println!(
        "hit rate {:.1}% ({hit_posts} posts hit a rule), {hit} hits ({:.2} a post)",
        100.0 * hit_posts as f64 / n,
        hit as f64 / n
    );
    println!(
        "match --count: {m_secs:.2} s, {:.0} posts/s, peak RSS {m_rss:.0} MB",
        n / m_secs
    );
    for (what, secs, rss) in [
        ("replay, file in time order", s_secs, s_rss),
        (
            "replay, shuffled file (sorted on disk first)",
            r_secs,
            r_rss,
        ),
    ] {
        println!(
            "{what}: {secs:.2} s, {:.0} posts/s, peak RSS {rss:.0} MB, {} alerts; {:.1}x the time of match --count",
            n / secs,
            alerts.lines().count(),
            secs / m_secs,
        );
    }
    if let Some(path) = &a.save {
        std::fs::write(path, &alerts).expect("write --save");
    }
}
