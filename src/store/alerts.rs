//! Alerts inside the commit: query the counts, ask `detect`, record the alert and its outbox
//! rows.
//!
//! Called by `write::commit_many` with the open transaction, so an alert and one delivery row
//! per notifier are written in the same transaction as the hits that caused it: a crash either
//! loses both (and the re-polled posts cause them again) or keeps both (and the dispatcher
//! sends them). The cooldown comes from the `alerts` table, never from memory, so a restart
//! never re-fires an alert; `source` alerts are `health`'s, recorded through [`record`]. The periods a rule's
//! sources were down (`source_downtime`, and `failing_since` while still failing) come from the
//! database too, and `detect` leaves them out of the rule's baseline. This module stores and
//! queries only: deciding, and assembling the [`Alert`] from what it queried, is `detect`'s
//! job; sending is the dispatcher's.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::time::Duration;

use chrono::{DateTime, Utc};
use globset::{Glob, GlobSet, GlobSetBuilder};
use rusqlite::{params, Transaction};

use super::memory::RecentHits;
use super::{fmt_time, parse_time, StoreError};
use crate::config::{AlertSpec, Config};
use crate::detect::alert::TOP_POSTS;
use crate::detect::{self, Alert, AlertKind, AlertPost, Counters, Plan, Series, SourceCondition};
use crate::post::Post;

/// One rule's alert settings.
#[derive(Debug, Clone)]
pub struct RuleAlert {
    /// The rule's name.
    pub name: String,
    /// How it alerts.
    pub spec: AlertSpec,
    /// Counting window.
    pub window: Duration,
    /// Quiet period after a threshold or spike alert.
    pub cooldown: Duration,
    /// Notifiers to deliver to.
    pub notify: Vec<String>,
    /// The rule's `sources` globs; `None`: every source. Their down periods are left out of
    /// its baseline.
    pub sources: Option<GlobSet>,
}

impl RuleAlert {
    /// Whether the rule watches `source`.
    fn watches(&self, source: &str) -> bool {
        self.sources.as_ref().is_none_or(|g| g.is_match(source))
    }
}

/// The rule's `sources` globs as a set (`None`: every source; the matcher compiled them
/// already, so a glob that fails here, which cannot happen, counts as every source).
fn source_globs(globs: &[String]) -> Option<GlobSet> {
    if globs.is_empty() {
        return None;
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).ok()?);
    }
    b.build().ok()
}

/// What the commit needs to decide and record alerts.
#[derive(Debug, Clone, Default)]
pub struct AlertPolicy {
    /// Rules that alert, by name (ordered, so alerts of one commit get ids in name order).
    pub rules: BTreeMap<String, RuleAlert>,
    /// Notifiers for `source` alerts.
    pub admin_notify: Vec<String>,
    /// How long a source may fail before a `source` alert.
    pub source_alert_after: Duration,
    /// Each source's poll interval; `source` alerts are judged only for these.
    pub sources: HashMap<String, Duration>,
    /// Write outbox rows (false in `replay`, which sends nothing).
    pub deliver: bool,
}

impl AlertPolicy {
    /// The policy of a validated config.
    pub fn from_config(config: &Config, deliver: bool) -> AlertPolicy {
        let rules = config
            .rules
            .iter()
            .filter_map(|r| {
                let spec = r.alert.clone()?;
                Some((
                    r.spec.name.clone(),
                    RuleAlert {
                        name: r.spec.name.clone(),
                        spec,
                        window: r.window,
                        cooldown: r.cooldown,
                        notify: r.notify.clone(),
                        sources: source_globs(&r.spec.sources),
                    },
                ))
            })
            .collect();
        AlertPolicy {
            rules,
            admin_notify: config.daemon.admin_notify.clone(),
            source_alert_after: config.daemon.source_alert_after,
            sources: config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.every))
                .collect(),
            deliver,
        }
    }
}

/// Records `alert` and, when delivering, one outbox row per notifier. Returns the alert's id.
pub fn record(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    mut alert: Alert,
    notify: &[String],
    wall: DateTime<Utc>,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO alerts (rule, kind, fired_at, window_start, window_end, count, baseline,
           ratio, bar, state, reason, payload)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '{}')",
    )?
    .execute(params![
        alert.rule,
        alert.kind.as_str(),
        fmt_time(alert.fired_at),
        fmt_time(alert.window_start()),
        fmt_time(alert.fired_at),
        alert.count as i64,
        alert.baseline,
        alert.ratio(),
        alert.bar,
        alert.source_state.map(SourceCondition::as_str),
        alert.reason,
    ])?;
    let id = tx.last_insert_rowid();
    alert.id = id;
    let payload = serde_json::to_string(&alert).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached("UPDATE alerts SET payload = ?2 WHERE id = ?1")?
        .execute(params![id, payload])?;
    if policy.deliver {
        let now = fmt_time(wall);
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO deliveries (alert_id, notifier, delivery_id, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
        )?;
        for (i, n) in notify.iter().enumerate() {
            // Stable across retries and restarts: sent as `webhook-id` and in `Message-ID`.
            let delivery_id = format!("msg_{id}_{i}_{:016x}", random_u64());
            insert.execute(params![id, n, delivery_id, now])?;
        }
    }
    Ok(id)
}

/// A random suffix, so delivery ids stay unique across databases (a receiver that keeps ids
/// from two vigie instances, or from a database restored from a backup). std's `RandomState`
/// draws its keys from the operating system once per thread and moves them on for each new
/// one, so hashing the time with a fresh one gives an unpredictable value without a random
/// number crate, and without reaching up into the daemon's generator.
fn random_u64() -> u64 {
    RandomState::new().hash_one(Utc::now().timestamp_nanos_opt().unwrap_or(0))
        ^ std::process::id() as u64
}

/// One new hit, as [`each_hit`] reads it.
#[derive(Debug, Clone, Copy)]
pub struct NewHit<'a> {
    /// The rule hit.
    pub rule: &'a str,
    /// The post's source.
    pub source: &'a str,
    /// The post.
    pub post: &'a Post,
    /// The hit's `matched` column (JSON).
    pub matched: &'a str,
    /// The post's event time.
    pub created_at: DateTime<Utc>,
    /// When the poll that found it ran.
    pub fetched_at: DateTime<Utc>,
}

/// The `each` alert for one new hit, if it fires. The post is quoted only then, with the
/// `case` it opened if any.
pub fn each_hit(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    hit: NewHit<'_>,
    wall: DateTime<Utc>,
    case: Option<&crate::detect::CaseRef>,
) -> Result<Option<i64>, StoreError> {
    let NewHit {
        rule,
        source,
        post,
        matched,
        created_at,
        fetched_at,
    } = hit;
    let Some(r) = policy.rules.get(rule) else {
        return Ok(None);
    };
    let AlertSpec::Each { min_followers } = r.spec else {
        return Ok(None);
    };
    if !detect::each_fires(
        min_followers,
        post.followers,
        created_at,
        fetched_at,
        r.window,
    ) {
        return Ok(None);
    }
    let post = AlertPost {
        source: source.to_string(),
        author: post.author.clone(),
        author_name: post.author_name.clone(),
        text: post.text.clone(),
        url: post.url.clone(),
        created_at,
        followers: post.followers,
        engagement: post.engagement,
        matched: matched_words(Some(matched)),
    };
    let mut alert = Alert::each(rule, r.window, min_followers, post, fetched_at);
    alert.case = case.cloned();
    record(tx, policy, alert, &r.notify, wall).map(Some)
}

/// What the window checks read before the tables: the counters (which must hold the hits of
/// the transaction too), and a throw-away database's hits in memory.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// The rules' counters, if built.
    pub counters: Option<&'a Counters>,
    /// The hits a throw-away database holds instead of rows.
    pub hits: Option<&'a RecentHits>,
}

/// Evaluates every `threshold` and `spike` rule at `now` and records what fires. The counts
/// come from the counters where they answer, else from SQL range counts, the reference they
/// must agree with; the top posts from the hits held in memory, else from the tables.
pub fn windows(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    held: Held<'_>,
    earliest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
    memo: &mut WindowMemo,
) -> Result<u64, StoreError> {
    let mut fired = 0;
    for (name, r) in &policy.rules {
        // Cheap looks first: the current window against the lowest possible bar, then the
        // cooldown, then the trailing mean. Only a rule that passes them pays for the
        // same-time counts over days of history; `detect::evaluate` decides the same either
        // way (a replay asks every rule at every second).
        let Some(floor) = detect::floor(&r.spec) else {
            continue;
        };
        let (kind, period) = match r.spec {
            AlertSpec::Spike { baseline, .. } => (AlertKind::Spike, baseline),
            _ => (AlertKind::Threshold, r.window),
        };
        let hits = RuleHits {
            tx,
            rule: name,
            tally: held.counters.and_then(|c| c.tally(name)),
            in_memory: held.hits.is_some(),
        };
        // The current window, as `detect::plan` bounds it.
        let current = hits.current(now, r.window)?;
        if current < floor {
            continue;
        }
        let last = memo.last_alert(tx, name, kind)?;
        if detect::cooling(last, r.cooldown, now) {
            continue;
        }
        // The trailing range first: most windows are ruled out by its mean alone, before the
        // plan lays out (and the counters count) a range per previous day. Not when sources
        // were down: the plan's cut then decides the trailing ranges.
        let head = detect::trailing_plan(now, r.window, period, earliest);
        debug_assert_eq!(
            head.current,
            (
                now - chrono::Duration::from_std(r.window).unwrap_or(chrono::Duration::MAX),
                now
            )
        );
        let periods = rule_down_periods(tx, memo, r, &head, now)?;
        let mut trailing = None;
        if periods.is_empty() {
            let counted = hits.sum(&head.trailing)?;
            if detect::rules_out(&r.spec, &head, current, counted) {
                continue;
            }
            // Nothing to leave out: the whole plan has these same trailing ranges.
            trailing = Some(counted);
        }
        let plan = detect::plan(now, r.window, period, earliest).leave_out(&periods);
        let trailing = match trailing {
            Some(t) => t,
            None => hits.sum(&plan.trailing)?,
        };
        let mut same_time = Vec::with_capacity(plan.same_time.len());
        for &(s, e) in &plan.same_time {
            same_time.push(hits.count(s, e)?);
        }
        let counts = detect::Counts {
            current,
            trailing,
            trailing_windows: plan.trailing_windows,
            same_time,
            history: plan.history,
        };
        let Some(d) = detect::evaluate(&r.spec, r.window, r.cooldown, &counts, last, now) else {
            continue;
        };
        let posts = match held.hits {
            Some(hits) => hits.top(name, plan.current.0, now).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the top posts of {name} are no longer held in memory"
                ))
            })?,
            None => top_posts(tx, name, plan.current.0, now)?,
        };
        let series = hits.series(r.window, now)?;
        let alert = Alert::window(name, r.window, d, now, posts, series);
        record(tx, policy, alert, &r.notify, wall)?;
        memo.fired(name, now);
        fired += 1;
    }
    Ok(fired)
}

/// A period of time, from, to.
type Period = (DateTime<Utc>, DateTime<Utc>);

/// The periods, since the plan's first range, in which a source that `rule` watches was down.
fn rule_down_periods(
    tx: &Transaction<'_>,
    memo: &mut WindowMemo,
    rule: &RuleAlert,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<Vec<Period>, StoreError> {
    let since = plan.trailing.first().map_or(plan.current.0, |r| r.0);
    Ok(memo
        .periods(tx, since, now)?
        .into_iter()
        .filter(|(source, ..)| rule.watches(source))
        .map(|(_, s, e)| (s, e))
        .collect())
}

/// One rule's hits in the transaction: counted by its counters when they hold the range, else
/// in SQL.
struct RuleHits<'a> {
    tx: &'a Transaction<'a>,
    rule: &'a str,
    tally: Option<detect::Tally<'a>>,
    /// The hits are held in memory, not in the table: only the counters can count them.
    in_memory: bool,
}

impl RuleHits<'_> {
    /// Hits with `start < created_at <= end`.
    fn count(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<u64, StoreError> {
        match self.tally.and_then(|t| t.count(start, end)) {
            Some(n) => Ok(n),
            None if self.in_memory => Err(self.beyond()),
            None => count_hits(self.tx, self.rule, start, end),
        }
    }

    /// Hits in all of `ranges`.
    fn sum(&self, ranges: &[Period]) -> Result<u64, StoreError> {
        ranges.iter().map(|&(s, e)| self.count(s, e)).sum()
    }

    /// Hits in the window up to `now`, `(now - window, now]`: the counters count it in whole
    /// seconds, without date arithmetic (a replay asks every rule at every second).
    fn current(&self, now: DateTime<Utc>, window: Duration) -> Result<u64, StoreError> {
        let secs = (window.subsec_nanos() == 0)
            .then(|| i64::try_from(window.as_secs()).ok())
            .flatten();
        let counted = self
            .tally
            .zip(secs)
            .and_then(|(t, secs)| t.last_secs(now.timestamp(), secs));
        match counted {
            Some(n) => Ok(n),
            None => {
                let w = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
                self.count(now - w, now)
            }
        }
    }

    /// A range the counters of a throw-away database do not hold (never, with `now` moving
    /// forward as a replay's does): its hits are in no table either.
    fn beyond(&self) -> StoreError {
        StoreError::Corrupt(format!(
            "the hits of {} before the counters' first minute are not held",
            self.rule
        ))
    }

    /// The hits per window over the day before `now`, for the alert's chart: from the
    /// counters, one range per bar, when they hold the day (they do past the first day of a
    /// baseline), else read from the table.
    fn series(&self, window: Duration, now: DateTime<Utc>) -> Result<Series, StoreError> {
        let mut series = Series::day_before(window, now);
        let bucket = chrono::Duration::seconds(series.bucket_secs as i64);
        let from_counters: Option<Vec<u64>> = self.tally.and_then(|t| {
            (0..series.counts.len())
                .map(|i| {
                    let start = series.start + bucket * i as i32;
                    t.count(start, start + bucket)
                })
                .collect()
        });
        match from_counters {
            Some(counts) => series.counts = counts,
            None if self.in_memory => return Err(self.beyond()),
            None => series_from_table(self.tx, self.rule, &mut series, now)?,
        }
        Ok(series)
    }
}

/// Fills `series` (the day before `now`) from the rule's hits in the table.
fn series_from_table(
    tx: &Transaction<'_>,
    rule: &str,
    series: &mut Series,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT created_at FROM hits WHERE rule = ?1 AND created_at > ?2 AND created_at <= ?3",
    )?;
    let mut rows = stmt.query(params![rule, fmt_time(series.start), fmt_time(now)])?;
    while let Some(row) = rows.next()? {
        if let Some(t) = parse_time(&row.get::<_, String>(0)?) {
            series.add(t);
        }
    }
    Ok(())
}

/// One period a source was down: its name, from, to.
type Down = (String, DateTime<Utc>, DateTime<Utc>);

/// The rows [`WindowMemo::periods`] reads: a source, the start of its down period, its end
/// (`None`: still failing), as stored.
type DownRow = (String, String, Option<String>);

/// What the window checks of one transaction read once: the down periods, kept until the
/// transaction writes one (a failure, or the recovery that closes a period: see
/// [`WindowMemo::clear`]), and each rule's last window alert, kept up to date by [`windows`],
/// the only writer of those. A replay asks for both once per rule per second of posts while
/// its sources never fail; the answers are those of the queries each time.
#[derive(Debug, Default)]
pub struct WindowMemo {
    /// The `since` the rows were read for, and the rows.
    rows: Option<(DateTime<Utc>, Vec<DownRow>)>,
    /// Each rule's last `threshold` or `spike` alert time, as stored: to the second (a rule
    /// alerts with one of the two kinds only).
    last: HashMap<String, Option<DateTime<Utc>>>,
}

impl WindowMemo {
    /// Forgets the rows: the transaction changed a source's down periods.
    pub fn clear(&mut self) {
        self.rows = None;
    }

    /// When `rule` last alerted with `kind`, as [`last_alert`] reads it.
    fn last_alert(
        &mut self,
        tx: &Transaction<'_>,
        rule: &str,
        kind: AlertKind,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        if let Some(&last) = self.last.get(rule) {
            return Ok(last);
        }
        let at = last_alert(tx, rule, kind)?.as_deref().and_then(parse_time);
        self.last.insert(rule.to_string(), at);
        Ok(at)
    }

    /// `rule` just alerted at `now` (stored to the second, as `record` writes it).
    fn fired(&mut self, rule: &str, now: DateTime<Utc>) {
        let now = parse_time(&fmt_time(now));
        let last = self.last.entry(rule.to_string()).or_default();
        if *last < now {
            *last = now;
        }
    }

    /// Periods each source was down that end after `since`: those recorded at its recovery,
    /// and the one still open (failing since, until `now`).
    fn periods(
        &mut self,
        tx: &Transaction<'_>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Down>, StoreError> {
        // Rows read for an earlier `since` hold every row a later one wants.
        if self.rows.as_ref().is_none_or(|(read, _)| *read > since) {
            self.rows = Some((since, down_rows(tx, &fmt_time(since))?));
        }
        let rows = self.rows.as_ref().map_or(&[][..], |(_, rows)| rows);
        if rows.is_empty() {
            // Sources that never failed: nothing to format or parse.
            return Ok(Vec::new());
        }
        let (since, now) = (fmt_time(since), fmt_time(now));
        Ok(rows
            .iter()
            .filter(|(_, _, end)| end.as_ref().is_none_or(|e| *e > since))
            .filter_map(|(source, start, end)| {
                let end = end.as_deref().unwrap_or(&now);
                Some((source.clone(), parse_time(start)?, parse_time(end)?))
            })
            .collect())
    }
}

/// The down periods that end after `since` (recorded ones), and those still open (`None`).
fn down_rows(tx: &Transaction<'_>, since: &str) -> Result<Vec<DownRow>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT source, start, end FROM source_downtime WHERE end > ?1
         UNION ALL
         SELECT name, failing_since, NULL FROM sources WHERE failing_since IS NOT NULL",
    )?;
    let rows = stmt.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Counters for the policy's `threshold` and `spike` rules, each spanning its longest range
/// (baseline period and window, or the chart's day), filled from the database: the hits of each rule's span back
/// from its newest hit.
pub fn counters(conn: &rusqlite::Connection, policy: &AlertPolicy) -> Result<Counters, StoreError> {
    let spans = policy.rules.values().filter_map(|r| {
        detect::floor(&r.spec)?;
        let period = match r.spec {
            AlertSpec::Spike { baseline, .. } => baseline,
            _ => r.window,
        };
        // The chart's day too, so that an alert's chart is counted here as well.
        let span = period.saturating_add(r.window).max(Series::reach(r.window));
        Some((r.name.as_str(), span))
    });
    let mut counters = Counters::new(spans);
    let mut latest = conn.prepare_cached("SELECT MAX(created_at) FROM hits WHERE rule = ?1")?;
    let mut since =
        conn.prepare_cached("SELECT created_at FROM hits WHERE rule = ?1 AND created_at >= ?2")?;
    for name in policy.rules.keys() {
        if !counters.has(name) {
            continue;
        }
        let newest: Option<String> = latest.query_row(params![name], |r| r.get(0))?;
        let Some(from) = counters.restart(name, newest.as_deref().and_then(parse_time)) else {
            continue;
        };
        let mut rows = since.query(params![name, fmt_time(from)])?;
        while let Some(row) = rows.next()? {
            if let Some(t) = parse_time(&row.get::<_, String>(0)?) {
                counters.add(name, t);
            }
        }
    }
    Ok(counters)
}

/// Hits of `rule` with `start < created_at <= end`, counted in SQL.
pub(super) fn count_hits(
    tx: &Transaction<'_>,
    rule: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let n: i64 = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM hits WHERE rule = ?1 AND created_at > ?2 AND created_at <= ?3",
        )?
        .query_row(params![rule, fmt_time(start), fmt_time(end)], |r| r.get(0))?;
    Ok(n as u64)
}

/// When `rule` last alerted with `kind`, as stored.
fn last_alert(
    tx: &Transaction<'_>,
    rule: &str,
    kind: AlertKind,
) -> Result<Option<String>, StoreError> {
    Ok(tx
        .prepare_cached("SELECT MAX(fired_at) FROM alerts WHERE rule = ?1 AND kind = ?2")?
        .query_row(params![rule, kind.as_str()], |r| r.get(0))?)
}

/// Up to five posts of the window (SPEC §5): most engaged posts first, then most followed
/// authors, then newest.
fn top_posts(
    tx: &Transaction<'_>,
    rule: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<AlertPost>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT p.source, p.author, p.text, p.url, p.created_at, p.followers, h.matched,
                p.author_name, p.engagement
         FROM hits h JOIN posts p ON p.id = h.post_id
         WHERE h.rule = ?1 AND h.created_at > ?2 AND h.created_at <= ?3
         ORDER BY COALESCE(p.engagement, 0) DESC, COALESCE(p.followers, 0) DESC, h.created_at DESC, h.id DESC
         LIMIT ?4",
    )?;
    let rows = stmt.query_map(
        params![rule, fmt_time(start), fmt_time(end), TOP_POSTS as i64],
        |row| {
            Ok(AlertPost {
                source: row.get(0)?,
                author: row.get(1)?,
                author_name: row.get(7)?,
                text: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                url: row.get(3)?,
                created_at: row
                    .get::<_, String>(4)
                    .map(|s| parse_time(&s).unwrap_or(end))?,
                followers: row.get::<_, Option<i64>>(5)?.map(|f| f.max(0) as u64),
                matched: matched_words(row.get::<_, Option<String>>(6)?.as_deref()),
                engagement: row.get::<_, Option<i64>>(8)?.map(|e| e.max(0) as u64),
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The words a hit matched, as written in the post, from its `matched` column (a JSON array
/// of `{term, text, position}`); none when the column is unreadable.
pub(super) fn matched_words(json: Option<&str>) -> Vec<String> {
    let items: Vec<serde_json::Value> = json
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let mut words: Vec<String> = items
        .iter()
        .filter_map(|m| m.get("text")?.as_str().map(str::to_string))
        .filter(|w| !w.is_empty())
        .collect();
    words.dedup();
    words
}
