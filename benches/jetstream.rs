//! Jetstream throughput: events per second through parse, match and store on one core.
//!
//! A WebSocket server on loopback (its own thread) sends N events built from
//! `tests/fixtures/bluesky/jetstream.jsonl` (each post with its own rkey, `time_us` increasing)
//! as fast as it can; the `bluesky` source in mode `jetstream` reads them in batches through
//! its real `poll`, the rules match every post, and each batch is committed in one transaction
//! to a real SQLite file in a temp dir, all on ONE current-thread runtime, as the daemon's poll
//! task and writer do (without the daemon's check for already-stored posts: these are all new).
//! Prints events/s and posts/s. The real firehose peaks at a few hundred posts per second.
//!
//!     cargo bench --bench jetstream -- [N]

use std::time::Instant;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use vigie::matcher::{Hits, RuleSet, RuleSpec};
use vigie::post::Post;
use vigie::source::bluesky::jetstream::JetstreamSource;
use vigie::source::fetch::{FetchOptions, Fetcher};
use vigie::source::{Cursor, Source};
use vigie::store::{PollOutcome, PollResult, Store};

const FIXTURE: &str = include_str!("../tests/fixtures/bluesky/jetstream.jsonl");

/// `n` events from the fixture's, unique rkeys, `time_us` 10 µs apart from `base`.
fn events(n: usize, base: i64) -> Vec<String> {
    let lines: Vec<&str> = FIXTURE.lines().collect();
    (0..n)
        .map(|i| {
            let mut v: serde_json::Value = serde_json::from_str(lines[i % lines.len()]).unwrap();
            v["time_us"] = (base + i as i64 * 10).into();
            if v["commit"]["rkey"].is_string() {
                v["commit"]["rkey"] = format!("3mpt{i:09}b").into();
            }
            v.to_string()
        })
        .collect()
}

/// The README's delivery rules, as a brand would write them.
fn rules() -> Vec<RuleSpec> {
    [
        ("livraison", "(colis OR lettre OR recommandé*) AND (retard* OR \"pas reçu\" OR perdu*) NOT \"colis suspect\""),
        ("colis", "colis OR livraison OR dépôt"),
        ("service", "\"service client\" OR réclamation OR remboursement"),
        ("plainte", "\"mise en demeure\" OR avocat OR \"UFC que choisir\""),
    ]
    .iter()
    .map(|(name, q)| RuleSpec::with_query(name, q).expect("bench rule"))
    .collect()
}

/// Serves `events` to every connection, then keeps it open.
fn serve(events: Vec<String>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("ws://{}/subscribe", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((stream, _)) = listener.accept().await {
                let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                for e in &events {
                    if ws.feed(Message::text(e.clone())).await.is_err() {
                        return;
                    }
                }
                let _ = ws.flush().await;
                while let Some(Ok(_)) = ws.next().await {}
            }
        });
    });
    url
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(300_000);
    let base = Utc::now().timestamp_micros();
    let events = events(n, base);
    let last = base + (n as i64 - 1) * 10;
    let bytes: usize = events.iter().map(String::len).sum();
    let url = serve(events);
    let ruleset = RuleSet::compile(&rules()).expect("compile");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("jetstream.db")).expect("open");
    let fetcher = Fetcher::new(FetchOptions::default()).expect("fetcher");
    let source = JetstreamSource::new(
        "bench".into(),
        url,
        vec!["fr".into()],
        "http://127.0.0.1:9".into(),
        64 << 20,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "jetstream: {n} events ({} MB) over a loopback WebSocket, langs = [\"fr\"], {} rules, one core",
        bytes / 1_000_000,
        rules().len()
    );
    let (mut cursor, mut posts, mut hits, mut batches) = (Cursor::default(), 0, 0, 0);
    let t = Instant::now();
    rt.block_on(async {
        loop {
            let page = source.poll(&fetcher, &cursor).await.expect("poll");
            let matched: Vec<(Post, Hits)> = page
                .posts
                .into_iter()
                .map(|p| {
                    let h = ruleset.matches(&p);
                    (p, h)
                })
                .collect();
            posts += matched.len();
            hits += matched.iter().filter(|(_, h)| !h.is_empty()).count();
            batches += 1;
            let result = PollResult {
                source: "bench".into(),
                kind: "bluesky".into(),
                polled_at: Utc::now(),
                outcome: PollOutcome::Page {
                    posts: matched,
                    cursor: page.cursor.clone(),
                    not_modified: false,
                    paused: None,
                },
                next_poll_at: Utc::now(),
                failures: 0,
            };
            store.commit(&result).expect("commit");
            cursor = page.cursor;
            let at: serde_json::Value =
                serde_json::from_str(cursor.position.as_deref().unwrap_or("{}")).unwrap();
            if at["time_us"].as_i64() == Some(last) {
                break;
            }
        }
    });
    let dt = t.elapsed().as_secs_f64();
    println!("  {batches} batches, {posts} posts stored, {hits} hitting a rule, in {dt:.2} s");
    println!(
        "  parse + match + store: {:>9.0} events/s, {:>9.0} posts/s  (target ≥ 20,000 events/s)",
        n as f64 / dt,
        posts as f64 / dt
    );
}
