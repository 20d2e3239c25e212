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
use rusqlite::{params, OptionalExtension, Transaction};

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

/// The `each` alert for one new hit of `rule` by `post` (from `source`, at event time
/// `created_at`), if it fires. The post is quoted only then, with the `case` it opened if any.
#[allow(clippy::too_many_arguments)]
pub fn each_hit(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    rule: &str,
    source: &str,
    post: &Post,
    created_at: DateTime<Utc>,
    fetched_at: DateTime<Utc>,
    wall: DateTime<Utc>,
    case: Option<&crate::detect::CaseRef>,
) -> Result<Option<i64>, StoreError> {
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
    // `write` calls this right after inserting the hit: its row holds the matched words.
    let matched: Option<String> = tx
        .prepare_cached("SELECT matched FROM hits WHERE id = ?1 AND rule = ?2")?
        .query_row(params![tx.last_insert_rowid(), rule], |r| r.get(0))
        .optional()?;
    let post = AlertPost {
        source: source.to_string(),
        author: post.author.clone(),
        author_name: post.author_name.clone(),
        text: post.text.clone(),
        url: post.url.clone(),
        created_at,
        followers: post.followers,
        engagement: post.engagement,
        matched: matched_words(matched.as_deref()),
    };
    let mut alert = Alert::each(rule, r.window, min_followers, post, fetched_at);
    alert.case = case.cloned();
    record(tx, policy, alert, &r.notify, wall).map(Some)
}

/// Evaluates every `threshold` and `spike` rule at `now` and records what fires. The counts
/// come from `counters` (which must hold the hits of this transaction too) where they answer,
/// else from SQL range counts, the reference they must agree with.
pub fn windows(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    counters: Option<&Counters>,
    earliest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
    memo: &mut WindowMemo,
) -> Result<u64, StoreError> {
    let mut fired = 0;
    for (name, r) in &policy.rules {
        // Cheap looks first: the current window against the lowest possible bar, then the
        // cooldown. Only a rule that passes both pays for the baseline's counts over days of
        // history; `detect::evaluate` decides the same either way.
        let Some(floor) = detect::floor(&r.spec) else {
            continue;
        };
        let (kind, period) = match r.spec {
            AlertSpec::Spike { baseline, .. } => (AlertKind::Spike, baseline),
            _ => (AlertKind::Threshold, r.window),
        };
        // The current window, as `detect::plan` bounds it: most rules stop there, before the
        // plan's baseline ranges are even laid out (a replay asks every rule at every second).
        let window = chrono::Duration::from_std(r.window).unwrap_or(chrono::Duration::MAX);
        let current = count(tx, counters, name, now - window, now)?;
        if current < floor {
            continue;
        }
        let plan = detect::plan(now, r.window, period, earliest);
        debug_assert_eq!(plan.current, (now - window, now));
        let last = memo.last_alert(tx, name, kind)?;
        if detect::cooling(last, r.cooldown, now) {
            continue;
        }
        let periods = rule_down_periods(tx, memo, r, &plan, now)?;
        let plan = plan.leave_out(&periods);
        let counts = count_plan(tx, counters, name, &plan, current)?;
        let Some(d) = detect::evaluate(&r.spec, r.window, r.cooldown, &counts, last, now) else {
            continue;
        };
        let posts = top_posts(tx, name, plan.current.0, now)?;
        let series = series(tx, name, r.window, now)?;
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

/// Counts `rule`'s hits in every range of `plan`, reusing `current`, already counted.
fn count_plan(
    tx: &Transaction<'_>,
    counters: Option<&Counters>,
    rule: &str,
    plan: &Plan,
    current: u64,
) -> Result<detect::Counts, StoreError> {
    let mut err = None;
    let counts = plan.counts(|s, e| {
        if (s, e) == plan.current {
            return current;
        }
        count(tx, counters, rule, s, e).unwrap_or_else(|e| {
            err = Some(e);
            0
        })
    });
    err.map_or(Ok(counts), Err)
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
    /// The `since` the rows were read for (as stored: RFC 3339 strings compare in time
    /// order), and the rows.
    rows: Option<(String, Vec<DownRow>)>,
    /// Each rule's last `threshold` or `spike` alert time, as stored (a rule alerts with one
    /// of the two kinds only).
    last: HashMap<String, Option<String>>,
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
        if !self.last.contains_key(rule) {
            let at = last_alert(tx, rule, kind)?;
            self.last.insert(rule.to_string(), at);
        }
        Ok(self.last[rule].as_deref().and_then(parse_time))
    }

    /// `rule` just alerted at `now`.
    fn fired(&mut self, rule: &str, now: DateTime<Utc>) {
        let now = fmt_time(now);
        let last = self.last.entry(rule.to_string()).or_default();
        if last.as_ref().is_none_or(|l| *l < now) {
            *last = Some(now);
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
        let since = fmt_time(since);
        // Rows read for an earlier `since` hold every row a later one wants.
        if self.rows.as_ref().is_none_or(|(read, _)| *read > since) {
            self.rows = Some((since.clone(), down_rows(tx, &since)?));
        }
        let now = fmt_time(now);
        let rows = self.rows.as_ref().map_or(&[][..], |(_, rows)| rows);
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

/// Hits of `rule` with `start < created_at <= end`: from `counters` when they hold the range,
/// else counted in SQL.
fn count(
    tx: &Transaction<'_>,
    counters: Option<&Counters>,
    rule: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<u64, StoreError> {
    match counters.and_then(|c| c.count(rule, start, end)) {
        Some(n) => Ok(n),
        None => count_hits(tx, rule, start, end),
    }
}

/// Counters for the policy's `threshold` and `spike` rules, each spanning its longest range
/// (baseline period and window), filled from the database: the hits of each rule's span back
/// from its newest hit.
pub fn counters(conn: &rusqlite::Connection, policy: &AlertPolicy) -> Result<Counters, StoreError> {
    let spans = policy.rules.values().filter_map(|r| {
        detect::floor(&r.spec)?;
        let period = match r.spec {
            AlertSpec::Spike { baseline, .. } => baseline,
            _ => r.window,
        };
        Some((r.name.as_str(), period.saturating_add(r.window)))
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

/// The rule's hits over the 24 hours before `now`, in `detect`'s chart buckets.
fn series(
    tx: &Transaction<'_>,
    rule: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Series, StoreError> {
    let mut series = Series::day_before(window, now);
    let mut stmt = tx.prepare_cached(
        "SELECT created_at FROM hits WHERE rule = ?1 AND created_at > ?2 AND created_at <= ?3",
    )?;
    let mut rows = stmt.query(params![rule, fmt_time(series.start), fmt_time(now)])?;
    while let Some(row) = rows.next()? {
        if let Some(t) = parse_time(&row.get::<_, String>(0)?) {
            series.add(t);
        }
    }
    Ok(series)
}
