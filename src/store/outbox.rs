//! The outbox: delivery rows that the dispatcher reads and updates.
//!
//! Rows are created by `alerts::record` in the commit that records the alert; this module
//! only moves them along: `pending` → `sent`, or `pending` with a later `next_attempt_at`,
//! or `failed` (permanent error, or still failing after the retry horizon). Every update is
//! one small statement on the dispatcher's own connection (SQLite serialises it with the
//! writer's transactions). When to retry is `daemon::retry`'s decision.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{fmt_time, parse_time, Store, StoreError};
use crate::notify::Alert;

/// One delivery that is due.
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
    /// The alert to send.
    pub alert: Alert,
}

impl Store {
    /// Pending deliveries due at `now`, oldest first.
    pub fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Due>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.delivery_id, d.notifier, d.attempts, d.created_at, a.id, a.payload
             FROM deliveries d JOIN alerts a ON a.id = d.alert_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
             ORDER BY d.next_attempt_at, d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![fmt_time(now), limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (row, delivery_id, notifier, attempts, created, alert_id, payload) = row?;
            let mut alert: Alert = serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("alert {alert_id}: {e}")))?;
            alert.id = alert_id;
            out.push(Due {
                row,
                delivery_id,
                notifier,
                attempts: attempts.clamp(0, u32::MAX as i64) as u32,
                created_at: parse_time(&created).unwrap_or(now),
                alert,
            });
        }
        Ok(out)
    }

    /// When the next pending delivery is due, if any.
    pub fn next_delivery_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let t: Option<String> = self.conn.query_row(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )?;
        Ok(t.as_deref().and_then(parse_time))
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
