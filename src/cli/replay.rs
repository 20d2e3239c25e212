//! `vigie replay FILE`: a backtest of the rules and the alert logic in event time.
//!
//! Posts are read from JSON lines (SPEC §7; each needs `id` and `created_at`) in creation-time
//! order ([`sorted`] streams them, sorting a file that is not in order with bounded memory),
//! and committed as if each had been fetched at the moment it was created, through the same
//! store commit the daemon uses: the same dedup, the same counts, the same `detect` decisions
//! with `now` = the post's time. Each second of posts is one step, decided alone; many steps
//! share a transaction ([`Store::commit_steps`]), so the cost of a commit is paid once per
//! thousands of posts. Nothing is sent: the policy writes no outbox rows. The database is a
//! throw-away in-memory one unless `--db` names a file: no full-text index, and the posts and
//! hits in memory rather than as rows ([`Store::throw_away`]). Reading, sorting and matching
//! run on a second thread ([`read_steps`]) while this one commits.

mod sorted;

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result};
use clap::Args;
use lettre::message::Mailbox;
use serde_json::{json, Value};

use super::cases::human_secs;
use super::output::{self, Format};
use super::stats::response::nearest_rank;
use super::{alerts, load, Invalid};
use crate::detect::Alert;
use crate::matcher::{Hits, RuleSet, Scratch};
use crate::notify::render::{self, ChartRef, Locale};
use crate::notify::{chart, email};
use crate::store::{AlertPolicy, AlertQuery, CasePolicy, PollOutcome, PollResult, Store};

/// Arguments of `vigie replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// JSON lines of posts, in any order, each with "id", "created_at" (RFC 3339) and "text"
    /// (and optionally "source", "author", "followers"…); `-` reads stdin.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Keep the replay's database in this file, every post and hit as rows, to query it with
    /// `vigie hits --db FILE` (slower) [default: a throw-away database in memory].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Output format [default: table, also when piped]: table (hits per rule, then alerts), or
    /// json / csv (one alert per line, its time in "at"; the summary goes to stderr).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Also write each alert as its notifiers would render it, into this folder: the email
    /// (`alert-N.eml`), its HTML part (`alert-N.html`), its chart (`alert-N.png`) and the chat
    /// text (`alert-N.txt`), in the config's language and time zone.
    #[arg(long, value_name = "DIR")]
    pub dump_alerts: Option<PathBuf>,
    /// Posts sorted in memory at once when FILE is not in time order; more are sorted in runs
    /// on disk (in the temp dir) and merged [default: 100000].
    #[arg(long, value_name = "POSTS", hide = true)]
    pub sort_buffer: Option<usize>,
}

/// Source name for posts that do not say theirs.
const DEFAULT_SOURCE: &str = "replay";

/// Posts committed in one transaction (many event-time steps; each still decided alone).
const TX_POSTS: usize = 20_000;

/// Runs `vigie replay`.
pub fn run(config: &Path, args: ReplayArgs) -> Result<()> {
    let config = load(config)?;
    output::set_zone(Some(&config), false);
    let rules =
        RuleSet::compile(config.rule_specs()).map_err(|e| Invalid(format!("vigie: {e}")))?;
    let mut input = sorted::Input::open(&args.file)?;
    let scan = input.scan()?;
    let db = args.db.clone().unwrap_or_else(|| PathBuf::from(":memory:"));
    let mut store = Store::open(&db).with_context(|| format!("cannot open {}", db.display()))?;
    let mut policy = AlertPolicy::from_config(&config, false);
    policy.sources.clear();
    store.set_alert_policy(policy)?;
    // Cases in event time too (SPEC §5.1): the brand's posts answer them, never hit a rule.
    let cases = CasePolicy::from_config(&config);
    store.set_case_policy(cases.clone());
    if args.db.is_none() {
        store.throw_away()?;
    }
    let buffer = args.sort_buffer.unwrap_or(sorted::SORT_BUFFER);
    let (posts, runs) = input.ordered(&scan, buffer)?;
    if runs > 1 {
        eprintln!(
            "vigie: the posts are not in time order: sorted in {runs} runs of up to {buffer} posts in the temp dir"
        );
    }
    let bar = output::progress(scan.posts, "posts", true);
    // Two stages on two threads: reading, sorting and matching the posts into steps, and
    // committing them. The matcher's share of the work then costs no time of its own.
    let (sender, steps) = mpsc::sync_channel(2);
    let (recycle, recycled) = mpsc::channel();
    let read = std::thread::scope(|scope| -> Result<Read> {
        let reader = scope.spawn(|| read_steps(posts, &rules, &cases, sender, recycled));
        for batch in steps {
            let batch = batch?;
            batch.commit(&mut store, &bar)?;
            // The reader frees the posts (and reuses the room): not this thread's time.
            let _ = recycle.send(batch);
        }
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the thread reading the posts stopped"))
    })?;
    if read.skipped > 0 {
        eprintln!("vigie: {} line(s) skipped: a replayed post needs \"id\", \"created_at\" (RFC 3339) and \"text\"", read.skipped);
    }
    bar.finish_and_clear();
    let alerts = store.alerts(&AlertQuery {
        oldest_first: true,
        ..AlertQuery::default()
    })?;
    if let Some(dir) = &args.dump_alerts {
        let locale = Locale::new(config.daemon.language, config.daemon.alert_zone());
        for row in &alerts {
            if let Some(alert) = store.alert(row.alert_id)? {
                dump(dir, &alert, &locale)?;
            }
        }
    }
    let format = args.format.unwrap_or(Format::Table);
    let listing = alerts::Listing {
        format,
        time_field: "at",
        deliveries: false,
        width: output::fit_width(false),
    };
    let mut out = BufWriter::new(io::stdout().lock());
    if format != Format::Table {
        alerts::write(&mut out, &listing, &alerts)?;
        eprintln!(
            "vigie: replayed {} posts, {} hits, {} alerts",
            read.posts,
            store.hit_count()?,
            alerts.len()
        );
        return Ok(out.flush()?);
    }
    let summary = hit_summary(&store)?;
    writeln!(
        out,
        "Replayed {} posts: {} hits.",
        read.posts,
        store.hit_count()?
    )?;
    if !summary.is_empty() {
        let cols = [
            "rule".to_string(),
            "hits".into(),
            output::time_column("first"),
            output::time_column("last"),
        ];
        output::write(&mut out, format, &cols, &summary)?;
    }
    if alerts.is_empty() {
        writeln!(out, "\nNo alert would have fired.")?;
    } else {
        writeln!(out, "\n{} alert(s) would have fired:", alerts.len())?;
        alerts::write(&mut out, &listing, &alerts)?;
    }
    case_summary(&mut out, &store)?;
    Ok(out.flush()?)
}

/// The cases the replay kept, after the alerts (nothing without a rule with `reply_within`):
/// per rule, how many opened, were answered, breached (answered late or not at all) or are still
/// open, and the median and 90th percentile of the first-response time, in open time.
fn case_summary(out: &mut impl Write, store: &Store) -> Result<()> {
    let mut stmt = store.connection().prepare(
        "SELECT rule, state, breached_at IS NOT NULL, response_secs FROM cases ORDER BY rule, id",
    )?;
    let cases: Vec<(String, String, bool, Option<i64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    if cases.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut all = Vec::new();
    let mut rules: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
    rules.dedup();
    for rule in rules {
        let of: Vec<_> = cases.iter().filter(|c| c.0 == rule).collect();
        let count = |state: &str| of.iter().filter(|c| c.1 == state).count();
        let mut secs: Vec<i64> = of.iter().filter_map(|c| c.3).collect();
        secs.sort_unstable();
        all.extend_from_slice(&secs);
        rows.push(vec![
            json!(rule),
            json!(of.len()),
            json!(count("answered")),
            json!(of.iter().filter(|c| c.2).count()),
            json!(count("open")),
            json!(nearest_rank(&secs, 50.0).map_or(String::new(), human_secs)),
            json!(nearest_rank(&secs, 90.0).map_or(String::new(), human_secs)),
        ]);
    }
    all.sort_unstable();
    let breached = cases.iter().filter(|c| c.2).count();
    let answered = cases.iter().filter(|c| c.1 == "answered").count();
    writeln!(
        out,
        "\n{} case(s) opened: {answered} answered, {breached} breached; first response median {}, p90 {} (open hours):",
        cases.len(),
        nearest_rank(&all, 50.0).map_or("-".into(), human_secs),
        nearest_rank(&all, 90.0).map_or("-".into(), human_secs),
    )?;
    let cols = [
        "rule", "cases", "answered", "breached", "open", "median", "p90",
    ];
    output::write(out, Format::Table, &cols, &rows)?;
    Ok(())
}

/// What reading the file found: the posts replayed, the lines skipped.
#[derive(Debug, Clone, Copy, Default)]
struct Read {
    posts: u64,
    skipped: u64,
}

/// Reads the posts in time order, matches them and sends them in batches of steps of one
/// second each, until the posts end, an error (sent too) or the receiver hangs up. Batches
/// come back through `recycled` once committed, to be freed and reused here.
fn read_steps(
    mut posts: sorted::Ordered,
    rules: &RuleSet,
    cases: &CasePolicy,
    sender: mpsc::SyncSender<Result<Steps>>,
    recycled: mpsc::Receiver<Steps>,
) -> Read {
    let mut read = Read::default();
    let batches = send_steps(&mut posts, rules, cases, &sender, &recycled, &mut read);
    if let Err(e) = batches {
        let _ = sender.send(Err(e));
    }
    read.skipped = posts.skipped();
    read
}

/// [`read_steps`]' loop: an error reading the posts ends it.
fn send_steps(
    posts: &mut sorted::Ordered,
    rules: &RuleSet,
    cases: &CasePolicy,
    sender: &mpsc::SyncSender<Result<Steps>>,
    recycled: &mpsc::Receiver<Steps>,
    read: &mut Read,
) -> Result<()> {
    let mut steps = Steps::default();
    let mut scratch = Scratch::default();
    let mut next = posts.next_post()?;
    // Posts created in the same second are one step: one poll per run of posts of one
    // source, then one evaluation, as if they had been committed alone.
    while let Some((at, _)) = &next {
        let at = *at;
        let start = steps.results.len();
        while let Some((_, mut post)) = next.take_if(|(t, _)| *t == at) {
            next = posts.next_post()?;
            let source = post
                .source
                .clone()
                .unwrap_or_else(|| DEFAULT_SOURCE.to_string());
            post.source = Some(source.clone());
            let mut hits = Hits::default();
            if !cases.is_brand(&source, post.author.as_deref()) {
                rules.matches_into(&post, &mut scratch, &mut hits);
            }
            steps.posts += 1;
            read.posts += 1;
            match steps.results[start..].last_mut() {
                Some(PollResult {
                    source: s,
                    outcome: PollOutcome::Page { posts, .. },
                    ..
                }) if *s == source => posts.push((post, hits)),
                _ => {
                    steps
                        .results
                        .push(PollResult::page(&source, "replay", at, vec![(post, hits)]))
                }
            }
        }
        steps.ends.push(steps.results.len());
        if steps.posts >= TX_POSTS {
            let mut empty = recycled.try_recv().unwrap_or_default();
            empty.clear();
            if sender
                .send(Ok(std::mem::replace(&mut steps, empty)))
                .is_err()
            {
                // The committing thread stopped (on an error of its own).
                return Ok(());
            }
        }
    }
    let _ = sender.send(Ok(steps));
    Ok(())
}

/// Writes one alert's renderings into `dir` (created if needed): what a reader would receive.
fn dump(dir: &Path, alert: &Alert, locale: &Locale) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |ext: &str, bytes: &[u8]| {
        let path = dir.join(format!("alert-{}.{ext}", alert.id));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    let from: Mailbox = "Vigie <vigie@localhost>".parse().expect("a valid address");
    let to: Mailbox = "community@localhost".parse().expect("a valid address");
    let id = format!("replay-{}", alert.id);
    write(
        "eml",
        &email::message(alert, locale, &id, &from, &[to]).formatted(),
    )?;
    let has_chart = !alert.series.counts.is_empty();
    let png_name = format!("alert-{}.png", alert.id);
    let chart_ref = has_chart.then_some(ChartRef {
        cid: &png_name,
        width: chart::WIDTH,
        height: chart::HEIGHT,
    });
    // The HTML file points at the PNG beside it, so a browser shows both.
    let html = render::html(alert, locale, chart_ref).replace("src=\"cid:", "src=\"");
    write("html", html.as_bytes())?;
    if has_chart {
        write("png", &chart::png(alert, locale))?;
    }
    write("txt", render::text(alert, locale).as_bytes())?;
    Ok(())
}

/// Event-time steps waiting for their transaction: poll results, where each step ends.
#[derive(Default)]
struct Steps {
    results: Vec<PollResult>,
    /// The end of each step in `results`.
    ends: Vec<usize>,
    /// Posts in `results`.
    posts: usize,
}

impl Steps {
    /// Empties the steps, keeping their room.
    fn clear(&mut self) {
        self.results.clear();
        self.ends.clear();
        self.posts = 0;
    }

    /// Commits the steps in one transaction, each evaluated at its own time.
    fn commit(&self, store: &mut Store, bar: &indicatif::ProgressBar) -> Result<()> {
        if self.ends.is_empty() {
            return Ok(());
        }
        let refs: Vec<&PollResult> = self.results.iter().collect();
        let mut steps = Vec::with_capacity(self.ends.len());
        let mut start = 0;
        for &end in &self.ends {
            steps.push(&refs[start..end]);
            start = end;
        }
        store.commit_steps(&steps)?;
        bar.inc(self.posts as u64);
        Ok(())
    }
}

/// Hits per rule with the first and last hit times.
fn hit_summary(store: &Store) -> Result<Vec<Vec<Value>>> {
    Ok(store
        .hits_per_rule()?
        .into_iter()
        .map(|(rule, hits, first, last)| {
            vec![
                json!(rule),
                json!(hits),
                json!(output::local_time(&first)),
                json!(output::local_time(&last)),
            ]
        })
        .collect())
}
