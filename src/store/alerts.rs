//! Alerts inside the commit: gather counts, ask `detect`, record the alert and its outbox rows.
//!
//! Called by `write::commit_many` with the open transaction, so an alert and one delivery row
//! per notifier are written in the same transaction as the hits that caused it: a crash either
//! loses both (and the re-polled posts cause them again) or keeps both (and the dispatcher
//! sends them). The cooldown and "was this source already reported" come from the `alerts`
//! table, never from memory, so a restart never re-fires an alert. The periods a rule's
//! sources were down (`source_downtime`, and `failing_since` while still failing) come from the
//! database too, and `detect` leaves them out of the rule's baseline. Deciding is `detect`'s
//! job; sending is the dispatcher's.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use globset::{Glob, GlobSet, GlobSetBuilder};
use rusqlite::{params, OptionalExtension, Transaction};

use super::{fmt_time, parse_time, StoreError};
use crate::config::{AlertSpec, Config};
use crate::detect::{self, Health};
use crate::notify::{Alert, AlertKind, AlertPost, Series, SourceState};
use crate::post::Post;

/// Most posts quoted in one alert.
const TOP_POSTS: usize = 5;
/// Most bars in an alert's 24-hour chart.
const MAX_BARS: u64 = 288;
/// Posts needed before a source's usual gap is trusted.
const MIN_POSTS_FOR_GAP: i64 = 10;

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
        alert.source_state.map(SourceState::as_str),
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
/// from two vigie instances, or from a database restored from a backup).
fn random_u64() -> u64 {
    (crate::daemon::retry::rand01() * u64::MAX as f64) as u64
        ^ std::process::id() as u64
        ^ Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64
}

/// The `each` alert for one new hit of `rule` by `post` (from `source`, at event time
/// `created_at`), if it fires. The post is quoted only then.
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
    let reason = match (min_followers, post.followers) {
        (Some(min), Some(f)) => {
            format!("a critical post by an author with {f} followers (≥ {min})")
        }
        _ => "a critical post".to_string(),
    };
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
    let alert = Alert {
        id: 0,
        rule: rule.to_string(),
        kind: AlertKind::Each,
        fired_at: fetched_at,
        window_secs: r.window.as_secs(),
        count: 1,
        baseline: 0.0,
        bar: 1.0,
        reason,
        posts: vec![post],
        series: Series::default(),
        source_state: None,
        error: None,
    };
    record(tx, policy, alert, &r.notify, wall).map(Some)
}

/// Evaluates every `threshold` and `spike` rule at `now` and records what fires.
pub fn windows(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    earliest: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
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
        let plan = detect::plan(now, r.window, period, earliest);
        let current = count_hits(tx, name, plan.current.0, plan.current.1)?;
        if current < floor {
            continue;
        }
        let last = last_alert(tx, name, kind)?;
        if detect::cooling(last, r.cooldown, now) {
            continue;
        }
        let since = plan.trailing.first().map_or(plan.current.0, |r| r.0);
        let down: Vec<_> = down_periods(tx, since, now)?
            .into_iter()
            .filter(|(source, ..)| r.watches(source))
            .map(|(_, s, e)| (s, e))
            .collect();
        let plan = plan.leave_out(&down);
        let mut err = None;
        let counts = plan.counts(|s, e| {
            if (s, e) == plan.current {
                return current;
            }
            count_hits(tx, name, s, e).unwrap_or_else(|e| {
                err = Some(e);
                0
            })
        });
        if let Some(e) = err {
            return Err(e);
        }
        let Some(d) = detect::evaluate(&r.spec, r.window, r.cooldown, &counts, last, now) else {
            continue;
        };
        let alert = Alert {
            id: 0,
            rule: name.clone(),
            kind: d.kind,
            fired_at: now,
            window_secs: r.window.as_secs(),
            count: d.count,
            baseline: d.baseline,
            bar: d.bar,
            reason: d.reason,
            posts: top_posts(tx, name, plan.current.0, now)?,
            series: series(tx, name, r.window, now)?,
            source_state: None,
            error: None,
        };
        record(tx, policy, alert, &r.notify, wall)?;
        fired += 1;
    }
    Ok(fired)
}

/// One period a source was down: its name, from, to.
type Down = (String, DateTime<Utc>, DateTime<Utc>);

/// Periods each source was down that end after `since`: those recorded at its recovery, and
/// the one still open (failing since, until `now`).
fn down_periods(
    tx: &Transaction<'_>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Down>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT source, start, end FROM source_downtime WHERE end > ?1
         UNION ALL
         SELECT name, failing_since, ?2 FROM sources WHERE failing_since IS NOT NULL",
    )?;
    let rows = stmt.query_map(params![fmt_time(since), fmt_time(now)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (source, start, end) = row?;
        if let (Some(s), Some(e)) = (parse_time(&start), parse_time(&end)) {
            out.push((source, s, e));
        }
    }
    Ok(out)
}

/// Hits of `rule` with `start < created_at <= end`.
fn count_hits(
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

/// When `rule` last alerted with `kind`.
fn last_alert(
    tx: &Transaction<'_>,
    rule: &str,
    kind: AlertKind,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let at: Option<String> = tx
        .prepare_cached("SELECT MAX(fired_at) FROM alerts WHERE rule = ?1 AND kind = ?2")?
        .query_row(params![rule, kind.as_str()], |r| r.get(0))?;
    Ok(at.as_deref().and_then(parse_time))
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
fn matched_words(json: Option<&str>) -> Vec<String> {
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

/// The rule's hits per window over the 24 hours before `now` (at most 288 bars: a shorter
/// window is widened for the chart).
fn series(
    tx: &Transaction<'_>,
    rule: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Series, StoreError> {
    let day = detect::DAY.as_secs();
    let bucket = window.as_secs().max(day / MAX_BARS).max(1);
    let n = day.div_ceil(bucket);
    let start = now - chrono::Duration::seconds((n * bucket) as i64);
    let mut counts = vec![0u64; n as usize];
    let mut stmt = tx.prepare_cached(
        "SELECT created_at FROM hits WHERE rule = ?1 AND created_at > ?2 AND created_at <= ?3",
    )?;
    let mut rows = stmt.query(params![rule, fmt_time(start), fmt_time(now)])?;
    while let Some(row) = rows.next()? {
        let Some(t) = parse_time(&row.get::<_, String>(0)?) else {
            continue;
        };
        // (start, now] split into n buckets, each (b_start, b_end].
        let offset = (t - start).num_seconds().max(1) as u64 - 1;
        counts[((offset / bucket) as usize).min(n as usize - 1)] += 1;
    }
    Ok(Series {
        start,
        bucket_secs: bucket,
        counts,
    })
}

/// A source's health after this commit, and the `source` alert it calls for, if any.
pub fn source_health(
    tx: &Transaction<'_>,
    policy: &AlertPolicy,
    source: &str,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let Some(&every) = policy.sources.get(source) else {
        return Ok(None);
    };
    let (failing_since, last_new, first_seen): (Option<String>, Option<String>, Option<String>) =
        tx.prepare_cached(
            "SELECT failing_since, last_new_at, created_at FROM sources WHERE name = ?1",
        )?
        .query_row(params![source], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .unwrap_or((None, None, None));
    // The usual gap: the period vigie has watched the source (at most a week, minus the time
    // it was down) over the posts it brought in that period; no opinion before a day of
    // watching and ten posts.
    let week_ago = now - chrono::Duration::from_std(detect::DAY * 7).unwrap_or_default();
    let watched_from = first_seen
        .as_deref()
        .and_then(parse_time)
        .map_or(now, |t| t.max(week_ago));
    let (n,): (i64,) = tx
        .prepare_cached("SELECT COUNT(*) FROM posts WHERE source = ?1 AND fetched_at > ?2")?
        .query_row(params![source, fmt_time(watched_from)], |r| {
            Ok((r.get(0)?,))
        })?;
    // Time the source was down inside that period does not count as a quiet time.
    let down = {
        let mut stmt = tx.prepare_cached(
            "SELECT start, end FROM source_downtime WHERE source = ?1 AND end > ?2",
        )?;
        let rows = stmt.query_map(params![source, fmt_time(watched_from)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut total = Duration::ZERO;
        for row in rows {
            let (start, end) = row?;
            if let (Some(s), Some(e)) = (parse_time(&start), parse_time(&end)) {
                total += (e - s.max(watched_from)).to_std().unwrap_or_default();
            }
        }
        total
    };
    let usual_gap = (now - watched_from)
        .to_std()
        .ok()
        .map(|watched| watched.saturating_sub(down))
        .filter(|watched| *watched >= detect::DAY && n >= MIN_POSTS_FOR_GAP)
        .map(|watched| watched / n as u32);
    let open: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT state, fired_at FROM alerts WHERE rule = ?1 AND kind = 'source'
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![source], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // Open: the last source alert said failing or silent, and no recovery followed.
    let open = open.and_then(|(state, at)| {
        let state = SourceState::parse(&state).filter(|s| *s != SourceState::Recovered)?;
        Some((state, parse_time(&at)?))
    });
    let health = Health {
        failing_since: failing_since.as_deref().and_then(parse_time),
        last_new_post: last_new.as_deref().and_then(parse_time),
        usual_gap,
        every,
        open,
    };
    let Some(state) = detect::evaluate_source(&health, policy.source_alert_after, now) else {
        return Ok(None);
    };
    let reason = match state {
        SourceState::Failing => format!(
            "source {source} has failed for {}",
            detect::human(health.failing_since.map_or(Duration::ZERO, |t| {
                (now - t).to_std().unwrap_or_default()
            }))
        ),
        SourceState::Silent => format!(
            "source {source} has brought no new post for {} (usually one every {})",
            detect::human(health.last_new_post.map_or(Duration::ZERO, |t| {
                (now - t).to_std().unwrap_or_default()
            })),
            detect::human(usual_gap.unwrap_or_default())
        ),
        SourceState::Recovered => format!("source {source} works again"),
    };
    let alert = Alert {
        id: 0,
        rule: source.to_string(),
        kind: AlertKind::Source,
        fired_at: now,
        window_secs: 0,
        count: 0,
        baseline: 0.0,
        bar: 0.0,
        reason,
        posts: Vec::new(),
        series: Series::default(),
        source_state: Some(state),
        error: error.map(str::to_string),
    };
    let notify = policy.admin_notify.clone();
    record(tx, policy, alert, &notify, now).map(Some)
}
