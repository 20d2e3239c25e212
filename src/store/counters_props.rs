//! The in-memory counters against the SQL range counts they replace (issue 23): two stores take
//! the same random history (bursts, backfills, a source's outages, restarts that rebuild the
//! counters from the database, retention pruning), one counting in memory and one in SQL; every
//! range of every rule's plan gets the same count, and both record the same alerts, to their
//! payloads (the charts are drawn from the counters, or read from the table).
//!
//! And a throw-away store (`replay` without `--db`: posts and hits in memory, no rows) against
//! a store that writes every row and counts in SQL, on the histories a replay sees (duplicates,
//! backfills, outages, no restart): the same alerts, to their top posts and charts, and the same
//! hits per rule.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::alerts::{count_hits, AlertPolicy, RuleAlert};
use super::{fmt_time, PollOutcome, PollResult, Store};
use crate::config::AlertSpec;
use crate::detect;
use crate::matcher::{RuleSet, RuleSpec};
use crate::post::Post;

const MIN: u64 = 60;

fn rule(name: &str, spec: AlertSpec, window: u64, sources: Option<&str>) -> RuleAlert {
    RuleAlert {
        name: name.into(),
        spec,
        window: Duration::from_secs(window * MIN),
        cooldown: Duration::from_secs(30 * MIN),
        notify: Vec::new(),
        sources: sources.map(|g| {
            let mut b = globset::GlobSetBuilder::new();
            b.add(globset::Glob::new(g).unwrap());
            b.build().unwrap()
        }),
    }
}

fn policy() -> AlertPolicy {
    let spike = |baseline_h: u64| AlertSpec::Spike {
        factor: 2.0,
        min_count: 3,
        p: 0.01,
        baseline: Duration::from_secs(baseline_h * 3600),
        learn: Duration::from_secs(3600),
    };
    let rules = [
        rule("s", spike(30), 10, None),
        rule("s2", spike(6), 15, Some("a")),
        rule("t", AlertSpec::Threshold { count: 4 }, 10, None),
    ];
    AlertPolicy {
        rules: rules.into_iter().map(|r| (r.name.clone(), r)).collect(),
        admin_notify: Vec::new(),
        source_alert_after: Duration::from_secs(5 * MIN),
        sources: HashMap::from([
            ("a".to_string(), Duration::from_secs(MIN)),
            ("b".to_string(), Duration::from_secs(MIN)),
        ]),
        deliver: false,
    }
}

fn rules() -> RuleSet {
    let specs = [
        RuleSpec::with_query("s", "alpha").unwrap(),
        RuleSpec::with_query("s2", "beta").unwrap(),
        RuleSpec::with_query("t", "alpha OR beta").unwrap(),
    ];
    RuleSet::compile(&specs).unwrap()
}

/// One step of a history, after the clock moved on by `advance` seconds.
#[derive(Debug, Clone)]
enum Step {
    /// A poll of source `a` (or `b`) bringing posts `(seconds before now, words)`.
    Poll(bool, Vec<(u32, u8)>),
    /// A failed poll of source `a`.
    Fail,
    /// Both stores closed and opened again: counters rebuilt from the database.
    Restart,
    /// Retention pruning, the cutoff this many minutes before now, `batch` posts at most.
    Prune(u32, usize),
}

fn step() -> impl Strategy<Value = (u32, Step)> {
    let post = (prop_oneof![8 => 0u32..900, 1 => 0u32..40_000], 0u8..4);
    let kind = prop_oneof![
        12 => (any::<bool>(), proptest::collection::vec(post, 0..7))
            .prop_map(|(a, p)| Step::Poll(a, p)),
        3 => Just(Step::Fail),
        1 => Just(Step::Restart),
        1 => (30u32..1500, 1usize..40).prop_map(|(m, b)| Step::Prune(m, b)),
    ];
    (
        prop_oneof![6 => 1u32..400, 2 => 400u32..3600, 1 => 3600u32..30_000],
        kind,
    )
}

fn result(source: &str, now: DateTime<Utc>, failures: u32, outcome: PollOutcome) -> PollResult {
    PollResult {
        source: source.into(),
        kind: "rss".into(),
        polled_at: now,
        outcome,
        next_poll_at: now,
        failures,
    }
}

fn open(path: &Path, counting: bool) -> Store {
    let mut store = Store::open(path).unwrap();
    store.counting = counting;
    store.set_alert_policy(policy()).unwrap();
    store
}

fn alerts(store: &Store) -> Vec<String> {
    let mut stmt = store
        .connection()
        .prepare(
            "SELECT rule, kind, fired_at, count, baseline, bar, reason FROM alerts ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {} {} {} {} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, f64>(4)?,
                r.get::<_, f64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// Every range of every rule's plan at `now`, down periods left out, counted both ways.
fn compare_counts(mem: &mut Store, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    let policy = policy();
    let counters = mem.counters.clone().expect("counters built");
    let tx = mem.conn.transaction().unwrap();
    let down: Vec<(DateTime<Utc>, DateTime<Utc>)> = {
        let mut stmt = tx
            .prepare("SELECT start, end FROM source_downtime WHERE source = 'a'")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .unwrap();
        rows.map(|r| {
            let (s, e) = r.unwrap();
            (s.parse().unwrap(), e.parse().unwrap())
        })
        .collect()
    };
    for (name, r) in &policy.rules {
        let period = match r.spec {
            AlertSpec::Spike { baseline, .. } => baseline,
            _ => r.window,
        };
        let plan = detect::plan(now, r.window, period, mem.earliest).leave_out(&down);
        let ranges = std::iter::once(plan.current)
            .chain(plan.trailing.iter().copied())
            .chain(plan.same_time.iter().copied());
        for (s, e) in ranges {
            let sql = count_hits(&tx, name, s, e).unwrap();
            let memory = counters.count(name, s, e);
            prop_assert_eq!(
                memory,
                Some(sql),
                "{} ({}, {}]",
                name,
                fmt_time(s),
                fmt_time(e)
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn counters_agree_with_sql_counts_and_decide_the_same_alerts(
        steps in proptest::collection::vec(step(), 20..90),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (pm, ps) = (dir.path().join("mem.db"), dir.path().join("sql.db"));
        let (mut mem, mut sql) = (open(&pm, true), open(&ps, false));
        prop_assert!(sql.counters.is_none());
        let rules = rules();
        let mut now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let mut failures = 0;
        let mut n = 0;
        for (advance, step) in steps {
            now += chrono::Duration::seconds(advance as i64);
            match step {
                Step::Poll(a, posts) => {
                    failures = 0;
                    let source = if a { "a" } else { "b" };
                    let posts = posts
                        .into_iter()
                        .map(|(back, words)| {
                            n += 1;
                            let text = ["bonjour", "alpha", "beta", "alpha beta"][words as usize];
                            let post = Post {
                                id: Some(format!("p{n}")),
                                created_at: Some(fmt_time(now - chrono::Duration::seconds(back as i64))),
                                source: Some(source.into()),
                                ..Post::from_text(text)
                            };
                            let hits = rules.matches(&post);
                            (post, hits)
                        })
                        .collect();
                    let r = PollResult::page(source, "rss", now, posts);
                    prop_assert_eq!(mem.commit(&r).unwrap(), sql.commit(&r).unwrap());
                }
                Step::Fail => {
                    failures += 1;
                    let r = result("a", now, failures, PollOutcome::Failed { error: "HTTP 503".into() });
                    mem.commit(&r).unwrap();
                    sql.commit(&r).unwrap();
                }
                Step::Restart => {
                    drop((mem, sql));
                    (mem, sql) = (open(&pm, true), open(&ps, false));
                }
                Step::Prune(minutes, batch) => {
                    let cutoff = now - chrono::Duration::minutes(minutes as i64);
                    prop_assert_eq!(mem.prune(cutoff, batch).unwrap(), sql.prune(cutoff, batch).unwrap());
                }
            }
            compare_counts(&mut mem, now)?;
            prop_assert_eq!(payloads(&mem), payloads(&sql));
        }
    }
}

/// Every alert as recorded: its row's rule, kind, time, and whole payload (top posts, chart).
fn payloads(store: &Store) -> Vec<String> {
    let mut stmt = store
        .connection()
        .prepare("SELECT rule, kind, fired_at, payload FROM alerts ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} {} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// The history's posts: `(seconds before now, words, engagement)`, or an earlier post again.
fn replay_post() -> impl Strategy<Value = Option<(u32, u8, u8)>> {
    prop_oneof![
        8 => (prop_oneof![8 => 0u32..900, 1 => 0u32..40_000], 0u8..4, 0u8..4).prop_map(Some),
        1 => Just(None),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn a_throw_away_store_records_the_alerts_of_a_store_with_every_row(
        steps in proptest::collection::vec(
            (
                prop_oneof![6 => 1u32..400, 2 => 400u32..3600, 1 => 3600u32..30_000],
                prop_oneof![
                    12 => (any::<bool>(), proptest::collection::vec(replay_post(), 0..7)).prop_map(Some),
                    2 => Just(None),
                ],
            ),
            20..120,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        // As `replay` sets them: no source's health judged.
        let open = |name: &str, counting: bool| {
            let mut store = open(&dir.path().join(name), counting);
            let mut policy = policy();
            policy.sources.clear();
            store.set_alert_policy(policy).unwrap();
            store
        };
        let mut lean = open("lean.db", true);
        lean.throw_away().unwrap();
        prop_assert!(lean.memory.is_some());
        let mut full = open("full.db", false);
        let rules = rules();
        let mut now: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let (mut failures, mut sent) = (0, Vec::<Post>::new());
        for (advance, step) in steps {
            now += chrono::Duration::seconds(advance as i64);
            let r = match step {
                Some((a, posts)) => {
                    failures = 0;
                    let source = if a { "a" } else { "b" };
                    let posts = posts
                        .into_iter()
                        .map(|p| {
                            let post = match (p, sent.len()) {
                                (Some(_), _) | (None, 0) => {
                                    // A repeat with nothing sent yet is a new post.
                                    let (back, words, likes) = p.unwrap_or((0, 1, 0));
                                    let text = ["bonjour", "alpha", "beta", "alpha beta"][words as usize];
                                    Post {
                                        id: Some(format!("p{}", sent.len())),
                                        created_at: Some(fmt_time(now - chrono::Duration::seconds(back as i64))),
                                        source: Some(source.into()),
                                        engagement: Some(u64::from(likes)),
                                        author: Some(format!("@u{}", sent.len() % 5)),
                                        ..Post::from_text(text)
                                    }
                                }
                                (None, n) => sent[(advance as usize) % n].clone(),
                            };
                            sent.push(post.clone());
                            let hits = rules.matches(&post);
                            (post, hits)
                        })
                        .collect();
                    PollResult::page(source, "rss", now, posts)
                }
                None => {
                    failures += 1;
                    result("a", now, failures, PollOutcome::Failed { error: "HTTP 503".into() })
                }
            };
            prop_assert_eq!(lean.commit(&r).unwrap(), full.commit(&r).unwrap());
        }
        prop_assert_eq!(payloads(&lean), payloads(&full));
        prop_assert_eq!(lean.hit_count().unwrap(), full.hit_count().unwrap());
        prop_assert_eq!(lean.hits_per_rule().unwrap(), full.hits_per_rule().unwrap());
        let rows: i64 = lean.connection().query_row("SELECT COUNT(*) FROM posts", [], |r| r.get(0)).unwrap();
        prop_assert_eq!(rows, 0, "a throw-away store writes no post row");
    }
}

/// The test above must see alerts fire, or it compares nothing but silence: a fixed burst.
#[test]
fn a_burst_fires_through_the_counters() {
    let dir = tempfile::tempdir().unwrap();
    let mut mem = open(&dir.path().join("mem.db"), true);
    let rules = rules();
    let t0: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
    let mut n = 0;
    for minute in (0..180).step_by(20).chain(180..186) {
        let now = t0 + chrono::Duration::minutes(minute);
        n += 1;
        let post = Post {
            id: Some(format!("p{n}")),
            created_at: Some(fmt_time(now)),
            ..Post::from_text("alpha")
        };
        let hits = rules.matches(&post);
        mem.commit(&PollResult::page("b", "rss", now, vec![(post, hits)]))
            .unwrap();
    }
    let fired: BTreeMap<String, usize> = alerts(&mem).iter().fold(BTreeMap::new(), |mut m, a| {
        *m.entry(a.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .or_default() += 1;
        m
    });
    assert_eq!(
        fired,
        BTreeMap::from([("s spike".into(), 1), ("t threshold".into(), 1)])
    );
}
