//! Matcher throughput: normalisation alone, the whole match, and the Aho-Corasick alternative,
//! on a generated corpus of French posts with 10, 1,000, 20,000 and 100,000 watch terms.
//!
//! ```text
//! cargo bench --bench matcher                              # ~50 MB, T = 10,1000,20000,100000
//! cargo bench --bench matcher -- --mb 10 --terms 10,1000   # quicker
//! cargo bench --bench matcher -- --no-ac                   # skip the Aho-Corasick comparison
//! cargo bench --bench matcher -- --write-corpus /tmp/posts.txt 200000   # posts, one per line
//! cargo bench --bench matcher -- --write-rules /tmp/rules.toml 1000     # a rule file of T terms
//! ```
//!
//! Single thread, each post a `Post` already in memory (no I/O, no JSON). MB/s counts the posts'
//! text bytes (UTF-8), 10^6 bytes per MB. Each of `--runs` (10) passes times the corpus in slices
//! of about 1 MB, every mode in turn on each slice (the AC scan apart); a slice's time is its
//! best over the passes, and a mode's figure is the sum of those bests. On a shared or virtual
//! host a preemption or a noisy neighbour then costs one slice of one pass, and falls on all
//! modes alike: the best of whole passes, one mode after another, varied by ±20% between runs
//! here. It is a best case (the slice's text is warm in cache, no other load), as the best of
//! whole passes was.
//!
//! - **normalise**: `normalize::for_each_word` with a sink that only folds the word lengths in.
//! - **match**: `RuleSet::matches_into` with one reused `Scratch` and `Hits`, quoting included
//!   (what `vigie match` does per post; the daemon's `matches` also allocates the post's `Hits`).
//! - **rules**: `RuleSet::matched_rules`: the same pass without quoting (`vigie match --count`).
//! - **AC scan**: the alternative design: fold the post into one buffer (` w1 #w2 @w3 `), run an
//!   `aho-corasick` overlapping search for every literal of every term (phrases as `a b`,
//!   hashtags as `#a`), and keep matches whose ends fall on word boundaries. It yields literal
//!   occurrences only — no positions, no rule evaluation, no quoting — so it is a lower bound
//!   on the cost of an automaton-based `matches`; the dictionary wins if `match` beats it.
//!
//! Memory: `RuleSet::stats` (dictionary heap bytes), the growth of the resident set across
//! parsing + compiling (glibc may keep freed pages, so this is approximate), and the process
//! peak (`VmHWM`, which includes the corpus).
//! The corpus and rule generator, and its choices, are in `benches/corpus.rs`.

mod corpus;

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, MatchKind};
use vigie::matcher::query::{Expr, Term};
use vigie::matcher::RuleSpec;
use vigie::matcher::{Hits, RuleSet, Scratch};
use vigie::normalize::{self, WordKind};
use vigie::post::Post;

struct Args {
    mb: usize,
    terms: Vec<usize>,
    runs: usize,
    seed: u64,
    ac: bool,
    write_corpus: Option<(String, usize)>,
    write_rules: Option<(String, usize)>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench matcher -- [--mb N] [--terms 10,1000,...] [--runs N] \
         [--seed N] [--no-ac] [--write-corpus PATH POSTS] [--write-rules PATH TERMS]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        mb: 50,
        terms: vec![10, 1_000, 20_000, 100_000],
        runs: 10,
        seed: 0x0056_4947_4945,
        ac: true,
        write_corpus: None,
        write_rules: None,
    };
    let mut it = std::env::args().skip(1);
    let num = |s: Option<String>| -> usize {
        s.and_then(|s| s.replace('_', "").parse().ok())
            .unwrap_or_else(|| usage())
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            "--mb" => a.mb = num(it.next()),
            "--runs" => a.runs = num(it.next()).max(1),
            "--seed" => a.seed = num(it.next()) as u64,
            "--no-ac" => a.ac = false,
            "--terms" => {
                a.terms = it
                    .next()
                    .unwrap_or_else(|| usage())
                    .split(',')
                    .map(|t| num(Some(t.to_string())))
                    .collect()
            }
            "--write-corpus" => {
                let path = it.next().unwrap_or_else(|| usage());
                a.write_corpus = Some((path, num(it.next())));
            }
            "--write-rules" => {
                let path = it.next().unwrap_or_else(|| usage());
                a.write_rules = Some((path, num(it.next())));
            }
            _ => usage(),
        }
    }
    a
}

/// A field of `/proc/self/status` in KiB (0 where unavailable).
fn proc_status_kib(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Posts per timed slice: about 1 MB of the generated corpus (mean post ~220 bytes).
const SLICE_POSTS: usize = 4_500;

/// One timed way of processing posts; returns two counters to check and report.
type Mode<'a> = Box<dyn FnMut(&[Post]) -> [usize; 2] + 'a>;

/// Runs every mode over `posts` slice by slice, `runs` times: pass after pass, and within a
/// pass slice after slice, each mode in turn on the same slice, so a slow spell of the host
/// falls on all modes alike rather than on whichever ran then. Returns per mode the sum over
/// slices of each slice's shortest time, and the counters it returned in one pass.
fn best_by_slice(runs: usize, posts: &[Post], modes: &mut [Mode]) -> Vec<(Duration, [usize; 2])> {
    let slices: Vec<&[Post]> = posts.chunks(SLICE_POSTS).collect();
    let mut best = vec![vec![Duration::MAX; slices.len()]; modes.len()];
    let mut out = vec![[0; 2]; modes.len()];
    for _ in 0..runs {
        out.iter_mut().for_each(|o| *o = [0; 2]);
        for (i, slice) in slices.iter().enumerate() {
            for (m, mode) in modes.iter_mut().enumerate() {
                let t = Instant::now();
                let r = black_box(mode(slice));
                best[m][i] = best[m][i].min(t.elapsed());
                out[m] = [out[m][0] + r[0], out[m][1] + r[1]];
            }
        }
    }
    best.iter().map(|b| b.iter().sum()).zip(out).collect()
}

/// The Aho-Corasick alternative: literals over the folded text, with boundary checks.
struct AcAlt {
    ac: AhoCorasick,
    /// Per pattern: (its first word accepts a hashtag or mention body, it is a prefix).
    info: Vec<(bool, bool)>,
}

fn collect_terms<'a>(e: &'a Expr, out: &mut Vec<&'a Term>) {
    match e {
        Expr::Term(t) => out.push(t),
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| collect_terms(e, out)),
        Expr::Not(e) => collect_terms(e, out),
        Expr::Near(a, b, _) => {
            collect_terms(a, out);
            collect_terms(b, out);
        }
    }
}

impl AcAlt {
    fn build(specs: &[RuleSpec]) -> AcAlt {
        let mut terms = Vec::new();
        for s in specs {
            if let Some(q) = &s.query {
                collect_terms(&q.expr, &mut terms);
            }
        }
        let mut index: HashMap<(Vec<u8>, bool), usize> = HashMap::new();
        let mut pats: Vec<Vec<u8>> = Vec::new();
        let mut info = Vec::new();
        for t in terms {
            let mut p = Vec::new();
            for (i, (w, k)) in t.words.iter().enumerate() {
                if i > 0 {
                    p.push(b' ');
                }
                match k {
                    WordKind::Hashtag => p.push(b'#'),
                    WordKind::Mention => p.push(b'@'),
                    WordKind::Plain => {}
                }
                p.extend_from_slice(w.as_bytes());
            }
            let plain = t.words[0].1 == WordKind::Plain;
            index.entry((p.clone(), t.prefix)).or_insert_with(|| {
                pats.push(p);
                info.push((plain, t.prefix));
                info.len() - 1
            });
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&pats)
            .expect("aho-corasick builds");
        AcAlt { ac, info }
    }

    /// Folds `text` into `fold` and returns how many literal occurrences it holds.
    fn scan(&self, text: &str, buf: &mut normalize::Buffers, fold: &mut Vec<u8>) -> usize {
        fold.clear();
        fold.push(b' ');
        normalize::for_each_word(text, buf, |w| {
            match w.kind {
                WordKind::Hashtag => fold.push(b'#'),
                WordKind::Mention => fold.push(b'@'),
                WordKind::Plain => {}
            }
            fold.extend_from_slice(w.text);
            fold.push(b' ');
        });
        let mut n = 0;
        for m in self.ac.find_overlapping_iter(&fold[..]) {
            let (plain, prefix) = self.info[m.pattern().as_usize()];
            let before = fold[m.start() - 1];
            let start_ok = before == b' ' || (plain && (before == b'#' || before == b'@'));
            if start_ok && (prefix || fold[m.end()] == b' ') {
                n += 1;
            }
        }
        n
    }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn kposts(posts: usize, d: Duration) -> f64 {
    posts as f64 / d.as_secs_f64() / 1e3
}

fn main() {
    let args = parse_args();
    if let Some((path, n)) = &args.write_corpus {
        let text = corpus::corpus_posts(args.seed, *n);
        std::fs::write(path, &text).expect("write corpus");
        eprintln!("wrote {n} posts, {} bytes, to {path}", text.len());
    }
    if let Some((path, t)) = &args.write_rules {
        let rules = corpus::rules(args.seed, *t);
        std::fs::write(path, corpus::rules_toml(&rules)).expect("write rules");
        eprintln!("wrote {} rules, {t} terms, to {path}", rules.len());
    }
    if args.write_corpus.is_some() || args.write_rules.is_some() {
        return;
    }

    let t0 = Instant::now();
    let text = corpus::corpus_bytes(args.seed, args.mb * 1_000_000);
    let posts: Vec<Post> = text.lines().map(Post::from_text).collect();
    drop(text);
    let bytes: usize = posts.iter().map(|p| p.text.len()).sum();
    let chars: Vec<usize> = posts.iter().map(|p| p.text.chars().count()).collect();
    let (lo, hi) = (chars.iter().min().unwrap(), chars.iter().max().unwrap());
    assert!(*lo >= 80 && *hi <= 280, "post lengths {lo}..{hi}");
    println!(
        "corpus: {} posts, {:.1} MB, {lo}–{hi} chars/post, mean {:.0} bytes; generated in {:.2}s; \
         best of {} runs per ~1 MB slice, single thread",
        posts.len(),
        bytes as f64 / 1e6,
        bytes as f64 / posts.len() as f64,
        t0.elapsed().as_secs_f64(),
        args.runs,
    );
    let n = posts.len();

    let mut compile_rows = Vec::new();
    let mut speed_rows = Vec::new();
    for &t in &args.terms {
        let rules = corpus::rules(args.seed, t);
        let rss0 = proc_status_kib("VmRSS:");
        let tp = Instant::now();
        let specs: Vec<RuleSpec> = rules
            .iter()
            .map(|(name, q)| {
                RuleSpec::with_query(name, q).unwrap_or_else(|e| panic!("{name}: {q}: {e}"))
            })
            .collect();
        let parse = tp.elapsed();
        let tc = Instant::now();
        let set = RuleSet::compile(&specs).expect("rules compile");
        let compile = tc.elapsed();
        let rss1 = proc_status_kib("VmRSS:");
        let (lits, dict_bytes) = set.stats();

        let ac_alt = args.ac.then(|| {
            let tb = Instant::now();
            let alt = AcAlt::build(&specs);
            (alt, tb.elapsed())
        });

        // The modes, timed slice by slice in turn (see `best_by_slice`), each with its own
        // buffers; each returns two counters summed over the corpus.
        let mut buf = normalize::Buffers::default();
        let mut scratch = Scratch::default();
        let mut found = Hits::default();
        let mut count_scratch = Scratch::default();
        let mut out = Vec::new();
        let mut ac_buf = normalize::Buffers::default();
        let mut fold = Vec::new();
        let mut modes: Vec<Mode> = vec![
            Box::new(|posts| {
                let mut words = 0usize;
                for p in posts {
                    normalize::for_each_word(&p.text, &mut buf, |w| {
                        words += w.text.len() ^ w.pos as usize;
                    });
                }
                [words, 0]
            }),
            Box::new(|posts| {
                let (mut hp, mut h) = (0usize, 0usize);
                for p in posts {
                    set.matches_into(p, &mut scratch, &mut found);
                    hp += !found.is_empty() as usize;
                    h += found.len();
                }
                [hp, h]
            }),
            Box::new(|posts| {
                let mut h = 0usize;
                for p in posts {
                    set.matched_rules(p, &mut count_scratch, &mut out);
                    h += out.len();
                }
                [h, 0]
            }),
        ];
        let timed = best_by_slice(args.runs, &posts, &mut modes);
        drop(modes);
        // Timed on its own: its automaton, interleaved, would evict the dictionary (and the
        // reverse) between slices, which neither design suffers in a daemon.
        let mut modes: Vec<Mode> = Vec::new();
        if let Some((alt, _)) = &ac_alt {
            modes.push(Box::new(|posts| {
                let (mut lp, mut l) = (0usize, 0usize);
                for p in posts {
                    let k = alt.scan(&p.text, &mut ac_buf, &mut fold);
                    lp += (k > 0) as usize;
                    l += k;
                }
                [lp, l]
            }));
        }
        let ac_timed = best_by_slice(args.runs, &posts, &mut modes);
        drop(modes);
        let (norm, _) = timed[0];
        let (whole, [hit_posts, hits]) = timed[1];
        let (count, [count_hits, _]) = timed[2];
        assert_eq!(count_hits, hits, "matched_rules agrees with matches_into");

        let ac = ac_alt.map(|(alt, build)| {
            let (d, [lit_posts, _]) = ac_timed[0];
            let row = (
                d,
                build,
                alt.ac.memory_usage(),
                format!("{:?}", alt.ac.kind()),
                lit_posts,
            );
            drop(alt);
            row
        });

        compile_rows.push(format!(
            "{:>7} {:>6} {:>7} {:>9.1} {:>10.1} {:>10.2} {:>9.1} {:>10.1}",
            t,
            specs.len(),
            lits,
            parse.as_secs_f64() * 1e3,
            compile.as_secs_f64() * 1e3,
            dict_bytes as f64 / (1 << 20) as f64,
            rss1.saturating_sub(rss0) as f64 / 1024.0,
            proc_status_kib("VmHWM:") as f64 / 1024.0,
        ));
        let mut row = format!(
            "{:>7} {:>8.0} {:>7.0} {:>8.0} {:>7.0} {:>8.0} {:>7.0} {:>6.1}%",
            t,
            mbps(bytes, norm),
            kposts(n, norm),
            mbps(bytes, whole),
            kposts(n, whole),
            mbps(bytes, count),
            kposts(n, count),
            100.0 * hit_posts as f64 / n as f64,
        );
        if let Some((d, build, mem, kind, lit_posts)) = &ac {
            row += &format!(
                " {:>8.0} {:>7.0} {:>6.1}% {:>9.1} {:>8.1} {:>5}",
                mbps(bytes, *d),
                kposts(n, *d),
                100.0 * *lit_posts as f64 / n as f64,
                build.as_secs_f64() * 1e3,
                *mem as f64 / (1 << 20) as f64,
                kind.replace("Contiguous", "c")
                    .replace("Noncontiguous", "n"),
            );
        }
        eprintln!("T = {t} done");
        let _ = std::io::stderr().flush();
        speed_rows.push(row);
        drop(set);
    }

    println!("\ncompile and memory");
    println!(
        "{:>7} {:>6} {:>7} {:>9} {:>10} {:>10} {:>9} {:>10}",
        "terms", "rules", "lits", "parse ms", "compile ms", "dict MiB", "ΔRSS MiB", "peak MiB"
    );
    for r in &compile_rows {
        println!("{r}");
    }
    println!("\nthroughput (MB/s, kposts/s; hit% = posts hitting a rule / with an AC literal)");
    let mut head = format!(
        "{:>7} {:>8} {:>7} {:>8} {:>7} {:>8} {:>7} {:>7}",
        "terms", "norm", "kp/s", "match", "kp/s", "rules", "kp/s", "hit%"
    );
    if args.ac {
        head += &format!(
            " {:>8} {:>7} {:>7} {:>9} {:>8} {:>5}",
            "AC scan", "kp/s", "lit%", "AC build", "AC MiB", "kind"
        );
    }
    println!("{head}");
    for r in &speed_rows {
        println!("{r}");
    }
}
