//! The outbox: delivery rows that the dispatcher reads and updates.
//!
//! Rows are created by `alerts::record` in the commit that records the alert; this module
//! only moves them along: `pending` → `sent`, or `pending` with a later `next_attempt_at`,
//! or `failed` (permanent error, or still failing after the retry horizon). Every update is
//! one small statement on the dispatcher's own connection, its own transaction, written as soon
//! as that one delivery's outcome is known (SQLite serialises it with the writer's
//! transactions). When to retry is `daemon::retry`'s decision.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{fmt_time, parse_time, Store, StoreError};
use crate::detect::Alert;

/// One pending delivery.
#[derive(Debug, Clone)]
pub struct Due {
    /// The row id.
    pub row: i64,
    /// The stable id sent with it (`webhook-id`, `Message-ID`).
    pub delivery_id: String,
    /// The notifier's name.
    pub notifier: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the row was created (the retry horizon counts from here).
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due.
    pub due_at: DateTime<Utc>,
    /// The alert to send.
    pub alert: Alert,
}

/// What `/metrics` reads from the database.
#[derive(Debug, Clone, Default)]
pub struct OutboxMetrics {
    /// Alerts recorded: rule, kind, count.
    pub alerts: Vec<(String, String, i64)>,
    /// Deliveries pending.
    pub pending: i64,
    /// Age in seconds of the oldest pending delivery (0 when none).
    pub oldest_age: f64,
}

impl Store {
    /// The first `limit` pending deliveries of `notifier`, soonest due first (due or not: the
    /// dispatcher sends those that are due and sleeps until the next one).
    pub fn pending_deliveries(&self, notifier: &str, limit: usize) -> Result<Vec<Due>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.delivery_id, d.notifier, d.attempts, d.created_at, d.next_attempt_at,
                    a.id, a.payload
             FROM deliveries d JOIN alerts a ON a.id = d.alert_id
             WHERE d.status = 'pending' AND d.notifier = ?1
             ORDER BY d.next_attempt_at, d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![notifier, limit as i64], |r| {
            Ok((
                (r.get::<_, i64>(0)?, r.get::<_, String>(1)?),
                (r.get::<_, String>(2)?, r.get::<_, i64>(3)?),
                (r.get::<_, String>(4)?, r.get::<_, String>(5)?),
                (r.get::<_, i64>(6)?, r.get::<_, String>(7)?),
            ))
        })?;
        let now = Utc::now();
        let mut out = Vec::new();
        for row in rows {
            let ((row, delivery_id), (notifier, attempts), (created, due), (alert_id, payload)) =
                row?;
            let mut alert: Alert = serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("alert {alert_id}: {e}")))?;
            alert.id = alert_id;
            out.push(Due {
                row,
                delivery_id,
                notifier,
                attempts: attempts.clamp(0, u32::MAX as i64) as u32,
                created_at: parse_time(&created).unwrap_or(now),
                due_at: parse_time(&due).unwrap_or(now),
                alert,
            });
        }
        Ok(out)
    }

    /// Hits found since `since`, and deliveries pending: the daemon's one-line status.
    pub fn activity(&self, since: DateTime<Utc>) -> Result<(i64, i64), StoreError> {
        let hits = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM hits WHERE created_at >= ?1")?
            .query_row([fmt_time(since)], |r| r.get(0))?;
        let pending = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok((hits, pending))
    }

    /// For `/metrics`: alerts recorded per rule and kind, pending deliveries, and the age in
    /// seconds of the oldest pending one at `now` (0 when none).
    pub fn metrics(&self, now: DateTime<Utc>) -> Result<OutboxMetrics, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule, kind, COUNT(*) FROM alerts GROUP BY rule, kind")?;
        let alerts = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let (pending, oldest): (i64, Option<String>) = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let age = oldest
            .as_deref()
            .and_then(parse_time)
            .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
        Ok(OutboxMetrics {
            alerts,
            pending,
            oldest_age: age,
        })
    }

    /// The notifiers that have pending deliveries.
    pub fn pending_notifiers(&self) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT notifier FROM deliveries WHERE status = 'pending'")?;
        let names = stmt.query_map([], |r| r.get(0))?;
        Ok(names.collect::<Result<_, _>>()?)
    }

    /// Marks every pending delivery of `notifier` failed (a notifier no longer configured).
    pub fn fail_pending(&self, notifier: &str, error: &str) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1,
                   last_error = ?2 WHERE status = 'pending' AND notifier = ?1",
            )?
            .execute(params![notifier, error])?)
    }

    /// The delivery went through.
    pub fn mark_sent(&self, row: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at = ?2,
                   last_error = NULL WHERE id = ?1",
            )?
            .execute(params![row, fmt_time(now)])?;
        Ok(())
    }

    /// The delivery failed and will be tried again at `next`.
    pub fn mark_retry(&self, row: i64, next: DateTime<Utc>, error: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?2,
                   last_error = ?3 WHERE id = ?1",
            )?
            .execute(params![row, fmt_time(next), error])?;
        Ok(())
    }

    /// The delivery failed for good.
    pub fn mark_failed(&self, row: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + 1,
                   last_error = ?2 WHERE id = ?1",
            )?
            .execute(params![row, error])?;
        Ok(())
    }
}
