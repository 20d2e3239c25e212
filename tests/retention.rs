//! `[daemon] retention`: posts already past it are not stored, and those that grow older are
//! pruned with their hits and full-text entries, a batch at a time, by the store and by the
//! running daemon.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigie::matcher::RuleSet;
use vigie::matcher::RuleSpec;
use vigie::post::Post;
use vigie::source::Cursor;
use vigie::store::{fmt_time, PollOutcome, PollResult, Store};

use crate::daemon_util::Daemon;

const DAY: i64 = 86_400;

fn rules() -> RuleSet {
    RuleSet::compile(&[RuleSpec::with_query("colis", "colis").expect("rule")]).expect("compile")
}

/// One page of posts `(id, text, age in seconds)` polled at `now`.
fn page(now: DateTime<Utc>, posts: &[(&str, &str, i64)]) -> PollResult {
    let rules = rules();
    PollResult {
        source: "forum".into(),
        kind: "rss".into(),
        polled_at: now,
        outcome: PollOutcome::Page {
            posts: posts
                .iter()
                .map(|&(id, text, age)| {
                    let post = Post {
                        id: Some(id.into()),
                        created_at: Some(fmt_time(now - chrono::Duration::seconds(age))),
                        ..Post::from_text(text)
                    };
                    let hits = rules.matches(&post);
                    (post, hits)
                })
                .collect(),
            cursor: Cursor::default(),
            not_modified: false,
        },
        next_poll_at: now,
        failures: 0,
    }
}

fn ids(store: &Store, sql: &str) -> Vec<String> {
    let mut stmt = store.connection().prepare(sql).unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn posts_past_the_retention_are_not_stored_and_older_ones_are_pruned_in_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("vigie.db")).unwrap();
    let now = Utc::now();
    // Stored before any retention: five old posts sharing one time, two recent ones.
    store
        .commit(&page(
            now,
            &[
                ("old1", "colis perdu", 5 * DAY),
                ("old2", "colis perdu", 5 * DAY),
                ("old3", "colis perdu", 5 * DAY),
                ("old4", "rien", 5 * DAY),
                ("old5", "colis cassé", 5 * DAY),
                ("new1", "colis arrivé", 3600),
                ("new2", "rien", 60),
            ],
        ))
        .unwrap();
    store.set_retention(Duration::from_secs(2 * DAY as u64));
    let cutoff = store.retention_cutoff(now).unwrap();
    // Batches of two: posts sharing the boundary's time all go, and every pass makes progress.
    let mut passes = Vec::new();
    loop {
        let n = store.prune(cutoff, 2).unwrap();
        passes.push(n);
        if n < 2 {
            break;
        }
    }
    assert_eq!(passes.iter().sum::<u64>(), 5, "{passes:?}");
    assert_eq!(
        ids(&store, "SELECT source_id FROM posts ORDER BY source_id"),
        ["new1", "new2"]
    );
    assert_eq!(ids(&store, "SELECT post_id FROM hits_v"), ["new1"]);
    let fts: i64 = store
        .connection()
        .query_row(
            "SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'colis'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(fts, 1, "the pruned posts' words are gone from the search");
    // A feed still listing a post older than the retention does not bring it back.
    store
        .commit(&page(
            now,
            &[("old1", "colis perdu", 5 * DAY), ("new3", "colis", 10)],
        ))
        .unwrap();
    assert_eq!(
        ids(&store, "SELECT source_id FROM posts ORDER BY source_id"),
        ["new1", "new2", "new3"]
    );
    assert_eq!(store.prune(cutoff, 2).unwrap(), 0);
}

#[test]
fn the_daemon_prunes_what_it_stored_before_the_retention_was_set() {
    let posts = |lines: &[(&str, i64)]| -> String {
        let now = Utc::now();
        lines
            .iter()
            .map(|(id, age)| {
                serde_json::json!({
                    "id": id,
                    "text": format!("Mon colis {id}"),
                    "created_at": fmt_time(now - chrono::Duration::seconds(*age)),
                })
                .to_string()
                    + "\n"
            })
            .collect()
    };
    let config = |retention: &str| {
        format!(
            "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n{retention}\n\
             [[source]]\nname = \"feed\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n"
        )
    };
    let rules = "[[rule]]\nname = \"colis\"\nquery = 'colis'\n";
    let mut d = Daemon::start(&[
        ("vigie.toml", &config("")),
        ("rules.toml", rules),
        (
            "posts.jsonl",
            &posts(&[("a", 10 * DAY), ("b", 3 * DAY), ("c", 60)]),
        ),
    ]);
    d.wait_for("three hits", Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM hits_v") == 3
    });
    d.terminate(Duration::from_secs(10));
    std::fs::write(d.path().join("vigie.toml"), config("retention = \"2d\"")).unwrap();
    d.restart();
    d.wait_for("the two old posts pruned", Duration::from_secs(20), || {
        d.count("SELECT COUNT(*) FROM posts") == 1
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM hits_v WHERE post_id = 'c'"),
        1
    );
    assert!(
        d.log().contains("Pruned posts past the retention"),
        "{}",
        d.log()
    );
}
