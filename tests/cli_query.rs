//! `vigie hits` and `vigie sources` on a known data set: every filter, every format.

use chrono::{DateTime, Utc};
use vigie::matcher::RuleSet;
use vigie::matcher::RuleSpec;
use vigie::post::Post;
use vigie::source::Cursor;
use vigie::store::{PollOutcome, PollResult, Store};

use crate::util::{s, tree, vigie, vigie_env};

const CONFIG: &str = "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n";
const RULES: &str = "[[rule]]\nname = \"livraison\"\nquery = 'colis OR retard*'\n\n[[rule]]\nname = \"casse\"\nquery = '\"objet cassé\"'\n";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// Six posts over three hours, from two sources and three authors.
fn dataset(dir: &std::path::Path) {
    let rules = RuleSet::compile(&[
        RuleSpec::with_query("livraison", "colis OR retard*").expect("rule"),
        RuleSpec::with_query("casse", "\"objet cassé\"").expect("rule"),
    ])
    .expect("compile");
    let posts = [
        (
            "forum",
            "1",
            "@Alice",
            "Mon colis est en retard",
            "2026-11-22T08:00:00Z",
        ),
        (
            "forum",
            "2",
            "@bob",
            "L'objet CASSÉ, colis ouvert",
            "2026-11-22T08:30:00Z",
        ),
        (
            "forum",
            "3",
            "carol",
            "Réclamation : objet cassé",
            "2026-11-22T09:00:00Z",
        ),
        (
            "mastodon-fr",
            "4",
            "@alice",
            "RETARD encore",
            "2026-11-22T09:30:00Z",
        ),
        (
            "mastodon-fr",
            "5",
            "@bob",
            "rien à voir",
            "2026-11-22T10:00:00Z",
        ),
        (
            "mastodon-fr",
            "6",
            "@dave",
            "colis perdu; réclamation envoyée",
            "2026-11-22T10:30:00Z",
        ),
    ];
    let mut store = Store::open(&dir.join("vigie.db")).expect("open");
    for source in ["forum", "mastodon-fr"] {
        let page: Vec<(Post, _)> = posts
            .iter()
            .filter(|p| p.0 == source)
            .map(|&(src, id, author, text, at)| {
                let post = Post {
                    id: Some(id.into()),
                    source: Some(src.into()),
                    author: Some(author.into()),
                    url: Some(format!("https://x.example/{id}")),
                    created_at: Some(at.into()),
                    // Likes + reposts + replies, where the platform counts them.
                    engagement: (id == "6").then_some(12),
                    ..Post::from_text(text)
                };
                let hits = rules.matches(&post);
                (post, hits)
            })
            .collect();
        store
            .commit(&PollResult {
                source: source.into(),
                kind: "rss".into(),
                polled_at: t("2026-11-22T11:00:00Z"),
                outcome: PollOutcome::Page {
                    posts: page,
                    cursor: Cursor::default(),
                    not_modified: false,
                    paused: None,
                },
                next_poll_at: t("2026-11-22T11:02:00Z"),
                failures: 0,
            })
            .expect("commit");
    }
}

/// `vigie hits ARGS --format json` → (post_id, rule) in output order.
fn hits(dir: &std::path::Path, args: &[&str]) -> Vec<(String, String)> {
    let cfg = dir.join("vigie.toml");
    let mut all = vec!["hits", "--config", s(&cfg), "--format", "json"];
    all.extend_from_slice(args);
    let r = vigie(&all, "");
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            (
                v["post_id"].as_str().unwrap_or("").to_string(),
                v["rule"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn hits_filters_on_a_known_data_set() {
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", RULES)]);
    dataset(dir.path());
    let d = dir.path();
    let all = pairs(&[
        ("6", "livraison"),
        ("4", "livraison"),
        ("3", "casse"),
        ("2", "casse"),
        ("2", "livraison"),
        ("1", "livraison"),
    ]);
    assert_eq!(hits(d, &[]), all, "newest first");
    assert_eq!(hits(d, &["--limit", "2"]), all[..2].to_vec());
    assert_eq!(
        hits(d, &["--since", "2026-11-22T09:00:00Z"]),
        all[..3].to_vec()
    );
    assert_eq!(
        hits(d, &["--until", "2026-11-22T09:00:00Z"]),
        all[3..].to_vec()
    );
    assert_eq!(
        hits(
            d,
            &[
                "--since",
                "2026-11-22T08:30:00Z",
                "--until",
                "2026-11-22T09:30:00Z"
            ]
        ),
        pairs(&[("3", "casse"), ("2", "casse"), ("2", "livraison")])
    );
    assert_eq!(
        hits(d, &["--rule", "casse"]),
        pairs(&[("3", "casse"), ("2", "casse")])
    );
    assert_eq!(
        hits(d, &["--rule", "cas*"]),
        pairs(&[("3", "casse"), ("2", "casse")])
    );
    assert_eq!(
        hits(d, &["--source", "mastodon-fr"]),
        pairs(&[("6", "livraison"), ("4", "livraison")])
    );
    assert_eq!(
        hits(d, &["--source", "mastodon-*", "--rule", "casse"]),
        vec![]
    );
    assert_eq!(
        hits(d, &["--author", "alice"]),
        pairs(&[("4", "livraison"), ("1", "livraison")])
    );
    assert_eq!(
        hits(d, &["--author", "@ALICE"]),
        pairs(&[("4", "livraison"), ("1", "livraison")])
    );
    // The rule language: accent- and case-insensitive, juxtaposition is AND.
    assert_eq!(
        hits(d, &["--search", "RECLAMATION"]),
        pairs(&[("6", "livraison"), ("3", "casse")])
    );
    assert_eq!(
        hits(d, &["--search", "réclamation cassé"]),
        pairs(&[("3", "casse")])
    );
    // Hostile search text is a query or a usage error (exit 2), never SQL or FTS syntax.
    let cfg = d.join("vigie.toml");
    for hostile in [
        "\"",
        "*",
        "OR",
        "NEAR(",
        "'; DROP TABLE hits; --",
        "colis\" OR \"x",
    ] {
        let r = vigie(&["hits", "--config", s(&cfg), "--search", hostile], "");
        assert!(r.code == 0 || r.code == 2, "{hostile}: {}", r.stderr);
    }
    assert_eq!(hits(d, &[]).len(), 6, "still there");
}

#[test]
fn hits_and_sources_formats() {
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", RULES)]);
    dataset(dir.path());
    let cfg = dir.path().join("vigie.toml");
    let r = vigie(
        &[
            "hits",
            "--config",
            s(&cfg),
            "--rule",
            "casse",
            "--format",
            "csv",
        ],
        "",
    );
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "hit_id,rule,source,post_id,url,author,text,created_at,fetched_at,matched,author_name,engagement"
        )
    );
    let row = lines.next().expect("a csv row");
    assert!(row.contains(",casse,forum,3,https://x.example/3,carol,Réclamation : objet cassé,2026-11-22T09:00:00Z,"), "{row}");
    let r = vigie_env(
        &[
            "hits",
            "--config",
            s(&cfg),
            "--author",
            "bob",
            "--format",
            "table",
        ],
        "",
        &[("TZ", "UTC")],
    );
    assert!(
        r.stdout.starts_with("CREATED_AT (UTC)  RULE"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("objet CASSÉ"), "{}", r.stdout);
    let r = vigie(&["sources", "--config", s(&cfg), "--format", "csv"], "");
    assert_eq!(
        r.stdout,
        "source,kind,last_poll_at,last_status,last_error,items_seen,hits,next_poll_at\n\
         forum,rss,2026-11-22T11:00:00Z,ok,,3,4,2026-11-22T11:02:00Z\n\
         mastodon-fr,rss,2026-11-22T11:00:00Z,ok,,3,2,2026-11-22T11:02:00Z\n"
    );
    // A source added to the config shows before its first poll, with empty poll columns; one
    // the database knows but the config no longer lists keeps its history.
    std::fs::write(
        &cfg,
        format!(
            "{CONFIG}\n[[source]]\nname = \"forum\"\nkind = \"rss\"\nurl = \"https://forum.example/feed\"\n\n\
             [[source]]\nname = \"avis\"\nkind = \"rss\"\nurl = \"https://avis.example/feed\"\n"
        ),
    )
    .unwrap();
    let r = vigie(&["sources", "--config", s(&cfg), "--format", "csv"], "");
    assert_eq!(
        r.stdout,
        "source,kind,last_poll_at,last_status,last_error,items_seen,hits,next_poll_at\n\
         forum,rss,2026-11-22T11:00:00Z,ok,,3,4,2026-11-22T11:02:00Z\n\
         mastodon-fr,rss,2026-11-22T11:00:00Z,ok,,3,2,2026-11-22T11:02:00Z\n\
         avis,rss,,,,0,0,\n",
        "{}",
        r.stderr
    );
    // The table reads times in the config's `timezone`, as every query command does.
    std::fs::write(
        &cfg,
        CONFIG.replace("[daemon]\n", "[daemon]\ntimezone = \"Asia/Tokyo\"\n"),
    )
    .unwrap();
    let r = vigie_env(
        &["sources", "--config", s(&cfg), "--format", "table"],
        "",
        &[("TZ", "UTC")],
    );
    assert!(
        r.stdout.contains("LAST_POLL_AT (Asia/Tokyo)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2026-11-22 20:00"), "{}", r.stdout);
}

/// Issue 19: the table shows each hit's engagement (likes + reposts + replies), blank where
/// the source gives none; json keeps the number.
#[test]
fn hits_table_and_json_show_engagement() {
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", RULES)]);
    dataset(dir.path());
    let cfg = dir.path().join("vigie.toml");
    let r = vigie_env(
        &["hits", "--config", s(&cfg), "--format", "table", "--wide"],
        "",
        &[("TZ", "UTC")],
    );
    let mut lines = r.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let words: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        words,
        [
            "CREATED_AT",
            "(UTC)",
            "RULE",
            "SOURCE",
            "AUTHOR",
            "ENGAGEMENT",
            "MATCHED",
            "TEXT"
        ],
        "{}",
        r.stdout
    );
    let column = header.find("ENGAGEMENT").expect("column");
    let cell = |line: &str| line[column..column + "ENGAGEMENT".len()].trim().to_string();
    let rows: Vec<String> = lines.map(cell).collect();
    assert_eq!(rows[0], "12", "@dave's post, newest: {}", r.stdout);
    assert!(rows[1..].iter().all(String::is_empty), "{}", r.stdout);
    let r = vigie(
        &[
            "hits",
            "--config",
            s(&cfg),
            "--format",
            "json",
            "--limit",
            "2",
        ],
        "",
    );
    let engagement: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["engagement"].clone())
        .collect();
    assert_eq!(engagement, [serde_json::json!(12), serde_json::Value::Null]);
    // Hits without any engagement (feeds, forums) keep the room for their text.
    let r = vigie_env(
        &[
            "hits",
            "--config",
            s(&cfg),
            "--format",
            "table",
            "--author",
            "bob",
        ],
        "",
        &[("TZ", "UTC")],
    );
    assert!(
        r.stdout.starts_with("CREATED_AT (UTC)  RULE") && !r.stdout.contains("ENGAGEMENT"),
        "{}",
        r.stdout
    );
}

#[test]
fn query_commands_say_when_there_is_no_database_yet() {
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", RULES)]);
    let r = vigie(&["hits", "--config", s(&dir.path().join("vigie.toml"))], "");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("does not exist yet: start the daemon (vigie run) first"),
        "{}",
        r.stderr
    );
    assert!(
        !dir.path().join("vigie.db").exists(),
        "a read-only command never creates the database"
    );
    let r = vigie(
        &[
            "hits",
            "--config",
            s(&dir.path().join("vigie.toml")),
            "--since",
            "yesterday",
        ],
        "",
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("invalid time \"yesterday\""),
        "{}",
        r.stderr
    );
}

#[test]
fn stats_count_per_bucket_by_rule_term_and_source() {
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", RULES)]);
    dataset(dir.path());
    let cfg = dir.path().join("vigie.toml");
    let stats = |args: &[&str]| {
        let mut all = vec![
            "stats",
            "--config",
            s(&cfg),
            "--since",
            "2026-11-22T08:00:00Z",
            "--until",
            "2026-11-22T11:00:00Z",
        ];
        all.extend_from_slice(args);
        vigie(&all, "")
    };
    let r = stats(&["--format", "csv"]);
    assert_eq!(
        r.stdout,
        "rule,bucket,count\n\
         livraison,2026-11-22T08:00:00Z,2\n\
         livraison,2026-11-22T09:00:00Z,1\n\
         livraison,2026-11-22T10:00:00Z,1\n\
         casse,2026-11-22T08:00:00Z,1\n\
         casse,2026-11-22T09:00:00Z,1\n\
         casse,2026-11-22T10:00:00Z,0\n",
        "{}",
        r.stderr
    );
    // A hit quoting two terms counts for both; the terms as the rules write them.
    let r = stats(&["--by", "term", "--every", "1d", "--format", "json"]);
    let rows: Vec<(String, u64)> = r
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            assert_eq!(
                v["bucket"], "2026-11-22T00:00:00Z",
                "days start at midnight UTC"
            );
            (
                v["term"].as_str().unwrap().to_string(),
                v["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("colis".to_string(), 3),
            ("\"objet cassé\"".to_string(), 2),
            ("retard*".to_string(), 2)
        ]
    );
    // Filters as in `vigie hits`; the table has one row per key with a sparkline.
    let r = stats(&["--by", "source", "--rule", "livr*", "--format", "table"]);
    assert_eq!(
        r.stdout,
        "3 buckets of 1h from 2026-11-22 08:00 UTC to 2026-11-22 11:00 UTC\n\
         SOURCE       TOTAL  MAX  SPARKLINE\n\
         forum        2      2    █▁▁\n\
         mastodon-fr  2      1    ▁██\n",
        "{}",
        r.stderr
    );
    // Bad values are usage errors: no bucket length, too many buckets, an empty span.
    let until_before = [
        "--since",
        "2026-11-22T10:00:00Z",
        "--until",
        "2026-11-22T09:00:00Z",
    ];
    for bad in [
        &["--every", "0s"][..],
        &["--every", "1s"],
        &["--every", "1s", "--since", "7d"],
        &until_before,
    ] {
        let mut all = vec!["stats", "--config", s(&cfg)];
        all.extend_from_slice(bad);
        let r = vigie(&all, "");
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("vigie: "), "{}", r.stderr);
    }
}
