//! `vigie replay` streaming its file (issue 23 point 2): a file in time order and the same
//! posts shuffled give the same output, also when the shuffled file is larger than the sort
//! buffer (sorted in runs on disk, then merged) and when it comes on stdin; skipped lines are
//! still counted; nothing is left in the temp dir.

use std::path::{Path, PathBuf};

use crate::eq_golden;
use crate::util::{s, tree, vigie_env, Run};

const RULES: &str = r#"
[[rule]]
name = "retard"
query = 'colis AND retard'
alert = { spike = 3.0, min_count = 5 }

[[rule]]
name = "perdu"
query = 'colis AND perdu'
alert = { threshold = 3 }
window = "1h"

[[rule]]
name = "arnaque"
query = 'arnaque'
alert = { each = true }
"#;

const CONFIG: &str = "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n";

/// Three days of posts from two sources, in time order: a complaint about every 40 minutes, a
/// burst on the third afternoon, lost parcels, scams, chatter. Several posts share each busy
/// second, each with its own fraction of a second, so that the order is the same whichever
/// order the file lists them in.
fn sorted_posts() -> Vec<String> {
    let mut seed = 23u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let texts = [
        "mon colis est en retard",
        "colis perdu encore",
        "quelle arnaque ce site",
        "il fait beau à Lyon",
        "Colis en RETARD, trois jours déjà",
    ];
    let start = 1_795_000_000i64; // 2026-11-18T09:46:40Z
    let mut posts = Vec::new();
    let mut t = start;
    let mut i = 0;
    while t < start + 3 * 86_400 {
        let burst = (2 * 86_400 + 14 * 3600..2 * 86_400 + 15 * 3600).contains(&(t - start));
        t += if burst {
            20
        } else {
            60 * (10 + next(60) as i64)
        };
        // One to three posts in this second, ten thousandths of a second apart at least.
        for k in 0..1 + next(3) {
            let text = if burst {
                texts[0]
            } else {
                texts[next(texts.len() as u64) as usize]
            };
            let at = chrono::DateTime::from_timestamp(t, (k as u32) * 100_000_000 + 1_000)
                .expect("a time");
            posts.push(
                serde_json::json!({
                    "id": format!("p{i}"),
                    "source": if i % 3 == 0 { "mastodon" } else { "forum" },
                    "author": format!("@u{}", next(40)),
                    "text": text,
                    "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                })
                .to_string(),
            );
            i += 1;
        }
    }
    posts
}

/// The same posts in another order (a deterministic shuffle), with three lines replay skips.
fn shuffled(posts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = posts.to_vec();
    let n = out.len();
    for i in (1..n).rev() {
        out.swap(i, (i * 7919 + 13) % (i + 1));
    }
    out.insert(n / 2, "not json".into());
    out.push(r#"{"text": "colis en retard sans date ni id"}"#.into());
    // Looks like a post at a glance (the order check, the runs), is not one when read whole:
    // skipped and counted as the others, wherever the sort put it.
    out.insert(
        n / 3,
        r#"{"id": 7, "created_at": "2026-11-20T10:00:00Z", "text": "colis en retard"}"#.into(),
    );
    out
}

fn lines(posts: &[String]) -> String {
    posts.join("\n") + "\n"
}

/// Replays `file` (or stdin when it is `-`) with `args`, with the temp dir inside `tmp`.
fn replay(config: &Path, file: &str, stdin: &str, tmp: &Path, args: &[&str]) -> Run {
    let mut all = vec!["replay", file, "--config", s(config)];
    all.extend_from_slice(args);
    let r = vigie_env(&all, stdin, &[("TMPDIR", s(tmp))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

/// The config, the posts in order and shuffled, and an empty temp dir, in one folder.
struct Files {
    dir: tempfile::TempDir,
    config: PathBuf,
    tmp: PathBuf,
    sorted: String,
    shuffled: String,
}

fn files(posts: &[String]) -> Files {
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("sorted.jsonl", &lines(posts)),
        ("shuffled.jsonl", &lines(&shuffled(posts))),
        ("tmp/.keep", ""),
    ]);
    let tmp = dir.path().join("tmp");
    std::fs::remove_file(tmp.join(".keep")).unwrap();
    Files {
        config: dir.path().join("vigie.toml"),
        tmp,
        sorted: s(&dir.path().join("sorted.jsonl")).to_string(),
        shuffled: s(&dir.path().join("shuffled.jsonl")).to_string(),
        dir,
    }
}

/// Whether `dir` holds nothing.
fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).expect("read dir").next().is_none()
}

#[test]
fn replay_of_shuffled_posts_prints_what_the_sorted_file_prints() {
    let posts = sorted_posts();
    let Files {
        dir: _d,
        config: c,
        tmp,
        sorted,
        shuffled,
    } = files(&posts);
    for format in ["table", "json"] {
        let want = replay(&c, &sorted, "", &tmp, &["--format", format]);
        let got = replay(&c, &shuffled, "", &tmp, &["--format", format]);
        eq_golden!(want.stdout, got.stdout);
        assert!(!want.stderr.contains("skipped"), "{}", want.stderr);
        assert!(got.stderr.contains("3 line(s) skipped"), "{}", got.stderr);
        // One run in memory: nothing said about sorting, nothing written.
        assert!(!got.stderr.contains("runs"), "{}", got.stderr);
    }
    let json = replay(&c, &shuffled, "", &tmp, &["--format", "json"]).stdout;
    // Not a vacuous comparison: every kind fired, and a spike.
    for kind in ["\"each\"", "\"threshold\"", "\"spike\""] {
        assert!(json.contains(kind), "no {kind} alert:\n{json}");
    }
    assert!(empty(&tmp), "the temp dir is left clean");
}

#[test]
fn replay_sorts_a_file_larger_than_its_sort_buffer_in_runs_on_disk() {
    let posts = sorted_posts();
    assert!(posts.len() > 100, "{} posts", posts.len());
    let Files {
        dir: _d,
        config: c,
        tmp,
        sorted,
        shuffled,
    } = files(&posts);
    // The line that only looks like a post is sorted with the posts.
    let runs = (posts.len() + 1).div_ceil(7);
    for format in ["table", "json"] {
        let want = replay(&c, &sorted, "", &tmp, &["--format", format]);
        let got = replay(
            &c,
            &shuffled,
            "",
            &tmp,
            &["--format", format, "--sort-buffer", "7"],
        );
        eq_golden!(want.stdout, got.stdout);
        assert!(
            got.stderr
                .contains(&format!("sorted in {runs} runs of up to 7 posts")),
            "{}",
            got.stderr
        );
        assert!(got.stderr.contains("3 line(s) skipped"), "{}", got.stderr);
        // A file in order is streamed as it is, whatever the buffer.
        let straight = replay(
            &c,
            &sorted,
            "",
            &tmp,
            &["--format", format, "--sort-buffer", "7"],
        );
        eq_golden!(want.stdout, straight.stdout);
        assert!(!straight.stderr.contains("runs"), "{}", straight.stderr);
    }
    assert!(empty(&tmp), "the runs are removed");
}

#[test]
fn replay_reads_shuffled_posts_from_stdin() {
    let posts = sorted_posts();
    let d = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("sorted.jsonl", &lines(&posts)),
        ("tmp/.keep", ""),
    ]);
    let (c, tmp) = (d.path().join("vigie.toml"), d.path().join("tmp"));
    std::fs::remove_file(tmp.join(".keep")).unwrap();
    let sorted = s(&d.path().join("sorted.jsonl")).to_string();
    let input = lines(&shuffled(&posts));
    let want = replay(&c, &sorted, "", &tmp, &["--format", "json"]);
    for extra in [&[][..], &["--sort-buffer", "10"][..]] {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let got = replay(&c, "-", &input, &tmp, &args);
        eq_golden!(want.stdout, got.stdout);
        assert!(got.stderr.contains("3 line(s) skipped"), "{}", got.stderr);
        assert!(
            got.stderr
                .contains(&format!("replayed {} posts", posts.len())),
            "{}",
            got.stderr
        );
    }
    assert!(empty(&tmp), "the spooled stdin is removed");
}
