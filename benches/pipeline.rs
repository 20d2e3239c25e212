//! Pipeline throughput: normalise → match → store, as the daemon's writer does it.
//!
//! Generates N short posts (~100 characters) twice, once with few posts hitting a rule (a busy
//! brand stream) and once with a third of them hitting, compiles 100 rules, and
//! runs the three stages on one core: match only, store only (hits precomputed), then the whole
//! pipeline, committing 10,000 posts per transaction to a real SQLite file in a temp dir (WAL,
//! synchronous=NORMAL, as the daemon opens it). Prints posts/s for each.
//!
//!     cargo bench --bench pipeline -- [N]

use std::time::Instant;

use chrono::Utc;
use vigie::matcher::RuleSpec;
use vigie::matcher::{Hits, RuleSet};
use vigie::post::Post;
use vigie::source::Cursor;
use vigie::store::{PollOutcome, PollResult, Store};

/// Posts per transaction.
const BATCH: usize = 10_000;

const WATCH: &[&str] = &[
    "colis",
    "retard",
    "réclamation",
    "livraison",
    "remboursement",
    "facteur",
    "cassé",
    "perdu",
    "commande",
    "suivi",
];
const FILLER: &[&str] = &[
    "bonjour", "merci", "vraiment", "encore", "toujours", "depuis", "semaine", "hier", "demain",
    "super", "journée", "voilà", "alors", "quand", "même", "avec", "sans", "pour", "chez", "nous",
    "vous", "elle", "très", "beau", "temps", "match", "train", "métro", "café", "soleil",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// `n` posts in which each word is a watch word with probability `per_mille`/1000.
fn posts(n: usize, per_mille: u64) -> Vec<Post> {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    (0..n)
        .map(|i| {
            let mut text = String::new();
            while text.len() < 95 {
                let w = if rng.next() % 1000 < per_mille {
                    rng.pick(WATCH)
                } else {
                    rng.pick(FILLER)
                };
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(w);
            }
            Post {
                id: Some(format!("p{i}")),
                source: Some("bench".into()),
                author: Some(format!("@user{}", i % 1000)),
                created_at: Some("2026-11-22T09:00:00Z".into()),
                ..Post::from_text(text)
            }
        })
        .collect()
}

fn rules() -> Vec<RuleSpec> {
    let mut rng = Rng(42);
    (0..100)
        .map(|i| {
            let a = rng.pick(WATCH);
            let b = rng.pick(WATCH);
            let q = match i % 4 {
                0 => format!("{a} AND {b}*"),
                1 => format!("\"{a} {b}\" OR r{i}x"),
                2 => format!("{a} NEAR/5 {b}"),
                _ => format!("{a} -{b} OR z{i}q"),
            };
            RuleSpec::with_query(&format!("rule{i}"), &q).expect("bench rule")
        })
        .collect()
}

fn commit_all(store: &mut Store, batches: Vec<Vec<(Post, Hits)>>) {
    for page in batches {
        let r = PollResult {
            source: "bench".into(),
            kind: "jsonl".into(),
            polled_at: Utc::now(),
            outcome: PollOutcome::Page {
                posts: page,
                cursor: Cursor::default(),
                not_modified: false,
            },
            next_poll_at: Utc::now(),
            failures: 0,
        };
        store.commit(&r).expect("commit");
    }
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(200_000) as usize;
    let ruleset = RuleSet::compile(&rules()).expect("compile");
    println!(
        "pipeline: {n} posts of ~100 chars, 100 rules, {BATCH} posts per transaction, one core"
    );
    // A busy brand stream (few posts hit) and a very relevant one (a third of posts hit).
    for per_mille in [4, 30] {
        run(&ruleset, &posts(n, per_mille));
    }
}

fn run(ruleset: &RuleSet, posts: &[Post]) {
    let n = posts.len();
    let t = Instant::now();
    let matched: Vec<(Post, Hits)> = posts
        .iter()
        .map(|p| (p.clone(), ruleset.matches(p)))
        .collect();
    let dt = t.elapsed().as_secs_f64();
    let hitting = matched.iter().filter(|(_, h)| !h.is_empty()).count();
    println!(
        "  {:.1}% of posts hit a rule ({} hits):",
        100.0 * hitting as f64 / n as f64,
        matched.iter().map(|(_, h)| h.len()).sum::<usize>()
    );
    println!("    match only:     {:>9.0} posts/s", n as f64 / dt);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("store.db")).expect("open");
    let batches: Vec<Vec<(Post, Hits)>> = matched.chunks(BATCH).map(|c| c.to_vec()).collect();
    let t = Instant::now();
    commit_all(&mut store, batches);
    println!(
        "    store only:     {:>9.0} posts/s",
        n as f64 / t.elapsed().as_secs_f64()
    );
    let mut store = Store::open(&dir.path().join("pipeline.db")).expect("open");
    let t = Instant::now();
    for chunk in posts.chunks(BATCH) {
        let page: Vec<(Post, Hits)> = chunk
            .iter()
            .map(|p| (p.clone(), ruleset.matches(p)))
            .collect();
        commit_all(&mut store, vec![page]);
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    println!("    whole pipeline: {rate:>9.0} posts/s  (target ≥ 200,000)");
}
