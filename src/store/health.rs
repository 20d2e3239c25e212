//! A source's health inside the commit: query what `detect` judges it on, and record the
//! `source` alert (failing, silent, recovered) it calls for.
//!
//! Called by `write::commit_many` for each poll result, after the source's row is written, in
//! the same transaction. "Was this source already reported" comes from the `alerts` table, so a
//! restart never reports it twice. Judging is `detect::health`'s; recording is `alerts::record`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use super::alerts::{record, AlertPolicy};
use super::{fmt_time, parse_time, StoreError};
use crate::detect::{self, Alert, Health, SourceCondition};

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
    let row = source_row(tx, source)?;
    let health = Health {
        failing_since: row.failing_since,
        last_new_post: row.last_new_post,
        usual_gap: usual_gap(tx, source, row.first_seen, now)?,
        every,
        open: open_source_alert(tx, source)?,
    };
    let Some(condition) = detect::evaluate_source(&health, policy.source_alert_after, now) else {
        return Ok(None);
    };
    let alert = Alert::source(source, condition, &health, error, now);
    record(tx, policy, alert, &policy.admin_notify, now).map(Some)
}

/// The times in a source's row that its health is judged on.
struct SourceTimes {
    /// Since when its polls have failed, if they do.
    failing_since: Option<DateTime<Utc>>,
    /// When a poll last brought a new post.
    last_new_post: Option<DateTime<Utc>>,
    /// When vigie first polled it.
    first_seen: Option<DateTime<Utc>>,
}

/// The source's row; all `None` before its first commit.
fn source_row(tx: &Transaction<'_>, source: &str) -> Result<SourceTimes, StoreError> {
    let (failing_since, last_new, first_seen): (Option<String>, Option<String>, Option<String>) =
        tx.prepare_cached(
            "SELECT failing_since, last_new_at, created_at FROM sources WHERE name = ?1",
        )?
        .query_row(params![source], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .unwrap_or((None, None, None));
    Ok(SourceTimes {
        failing_since: failing_since.as_deref().and_then(parse_time),
        last_new_post: last_new.as_deref().and_then(parse_time),
        first_seen: first_seen.as_deref().and_then(parse_time),
    })
}

/// The source's usual gap between posts ([`detect::usual_gap`]), from the posts it brought
/// and the time it was down since it was first seen, within [`detect::GAP_PERIOD`].
fn usual_gap(
    tx: &Transaction<'_>,
    source: &str,
    first_seen: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, StoreError> {
    let period_start = now - chrono::Duration::from_std(detect::GAP_PERIOD).unwrap_or_default();
    let watched_from = first_seen.map_or(now, |t| t.max(period_start));
    let posts: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM posts WHERE source = ?1 AND fetched_at > ?2")?
        .query_row(params![source, fmt_time(watched_from)], |r| r.get(0))?;
    let down = downtime_since(tx, source, watched_from)?;
    Ok((now - watched_from)
        .to_std()
        .ok()
        .and_then(|watched| detect::usual_gap(watched, down, posts.max(0) as u64)))
}

/// How long `source` was down after `since` (time down is not a quiet time).
fn downtime_since(
    tx: &Transaction<'_>,
    source: &str,
    since: DateTime<Utc>,
) -> Result<Duration, StoreError> {
    let mut stmt =
        tx.prepare_cached("SELECT start, end FROM source_downtime WHERE source = ?1 AND end > ?2")?;
    let rows = stmt.query_map(params![source, fmt_time(since)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut total = Duration::ZERO;
    for row in rows {
        let (start, end) = row?;
        if let (Some(s), Some(e)) = (parse_time(&start), parse_time(&end)) {
            total += (e - s.max(since)).to_std().unwrap_or_default();
        }
    }
    Ok(total)
}

/// The last `source` alert about `source` if it said failing or silent (no recovery
/// followed): its condition and when.
fn open_source_alert(
    tx: &Transaction<'_>,
    source: &str,
) -> Result<Option<(SourceCondition, DateTime<Utc>)>, StoreError> {
    let last: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT state, fired_at FROM alerts WHERE rule = ?1 AND kind = 'source'
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![source], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(last.and_then(|(state, at)| {
        let condition =
            SourceCondition::parse(&state).filter(|c| *c != SourceCondition::Recovered)?;
        Some((condition, parse_time(&at)?))
    }))
}
