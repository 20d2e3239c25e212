//! The dispatcher: the ONLY place that retries deliveries (outbox → notifier).
//!
//! A single task reads due rows from the outbox, hands each alert to its notifier, and records
//! the outcome in the same row: `sent`; or a later `next_attempt_at` (exponential backoff with
//! full jitter from `retry`, at least the receiver's `Retry-After`) while the delivery is
//! younger than [`HORIZON`]; or `failed`. Because the row is the state, a crash or a restart
//! resumes exactly where it stopped: an alert is delayed, never lost, and a delivery recorded
//! as sent is never sent again. The writer wakes it when a commit records an alert; otherwise
//! it sleeps until the next row is due. Logs say when an error changes, not at every retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use tokio::sync::{watch, Notify};

use super::retry::{self, Backoff};
use crate::notify::{DeliveryError, Notifier};
use crate::store::outbox::Due;
use crate::store::Store;

/// How long a delivery is retried before it is marked failed.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// Backoff between attempts: 2 s doubling up to 30 min.
pub const BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(2),
    cap: Duration::from_secs(1800),
};

/// Longest single send before it counts as a transient failure.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Most deliveries sent at once.
const BATCH: usize = 32;

/// Longest sleep without looking at the outbox (rows written by another process, clock jumps).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// The dispatcher task's state.
pub struct Dispatcher {
    /// Its own read-write connection (behind a mutex only to make the task `Send`).
    pub store: Mutex<Store>,
    /// Every configured notifier by name.
    pub notifiers: HashMap<String, Arc<dyn Notifier>>,
    /// Signalled by the writer when a commit recorded an alert.
    pub wake: Arc<Notify>,
}

/// What one attempt came to.
enum Outcome {
    Sent,
    Retry(DateTime<Utc>, String),
    Failed(String),
}

impl Dispatcher {
    /// Runs until `shutdown` turns true; a batch in flight is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut last_errors: HashMap<i64, String> = HashMap::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = Utc::now();
            let due = match tokio::task::block_in_place(|| self.db().due_deliveries(now, BATCH)) {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "Cannot read the outbox.");
                    Vec::new()
                }
            };
            let full = due.len() == BATCH;
            let sends = due.iter().map(|d| self.attempt(d));
            let outcomes = join_all(sends).await;
            for (d, outcome) in due.iter().zip(outcomes) {
                self.record(d, outcome, &mut last_errors);
            }
            if full {
                continue;
            }
            let wait = tokio::task::block_in_place(|| self.db().next_delivery_at())
                .ok()
                .flatten()
                .map_or(MAX_IDLE, |t| {
                    (t - Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .min(MAX_IDLE)
                });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one delivery and decides what comes next.
    async fn attempt(&self, d: &Due) -> Outcome {
        let Some(notifier) = self.notifiers.get(&d.notifier) else {
            return Outcome::Failed(format!(
                "no notifier named \"{}\" in the config",
                d.notifier
            ));
        };
        let sent = tokio::time::timeout(SEND_TIMEOUT, notifier.send(&d.alert, &d.delivery_id))
            .await
            .unwrap_or_else(|_| {
                Err(DeliveryError::Transient {
                    reason: "timed out".into(),
                    retry_after: None,
                })
            });
        let now = Utc::now();
        match sent {
            Ok(()) => Outcome::Sent,
            Err(DeliveryError::Permanent { reason }) => Outcome::Failed(reason),
            Err(DeliveryError::Transient {
                reason,
                retry_after,
            }) => match next_attempt(d.created_at, d.attempts, retry_after, now, retry::rand01()) {
                Some(at) => Outcome::Retry(at, reason),
                None => Outcome::Failed(format!(
                    "gave up after {}h: {reason}",
                    HORIZON.as_secs() / 3600
                )),
            },
        }
    }

    /// Writes the outcome to the row and logs what changed.
    fn record(&self, d: &Due, outcome: Outcome, last_errors: &mut HashMap<i64, String>) {
        let rule = &d.alert.rule;
        let kind = d.alert.kind.as_str();
        let written = match &outcome {
            Outcome::Sent => {
                last_errors.remove(&d.row);
                tracing::info!(alert = d.alert.id, rule = %rule, kind, notifier = %d.notifier, attempts = d.attempts + 1, "Alert delivered.");
                tokio::task::block_in_place(|| self.db().mark_sent(d.row, Utc::now()))
            }
            Outcome::Retry(at, error) => {
                if last_errors.get(&d.row) != Some(error) {
                    tracing::warn!(alert = d.alert.id, rule = %rule, notifier = %d.notifier, error = %error, next_attempt = %at.to_rfc3339(), "Delivery failed; will retry.");
                    last_errors.insert(d.row, error.clone());
                }
                tokio::task::block_in_place(|| self.db().mark_retry(d.row, *at, error))
            }
            Outcome::Failed(error) => {
                last_errors.remove(&d.row);
                tracing::error!(alert = d.alert.id, rule = %rule, notifier = %d.notifier, error = %error, "Delivery failed for good.");
                tokio::task::block_in_place(|| self.db().mark_failed(d.row, error))
            }
        };
        if let Err(e) = written {
            // The row stays pending: the delivery may be repeated, never lost.
            tracing::error!(alert = d.alert.id, notifier = %d.notifier, error = %e, "Cannot record a delivery's outcome.");
        }
    }
}

/// When to try a transiently failed delivery again, or `None` past the horizon: the backoff
/// after `attempts` failures, at least `retry_after`, never later than the horizon's end.
pub fn next_attempt(
    created_at: DateTime<Utc>,
    attempts: u32,
    retry_after: Option<Duration>,
    now: DateTime<Utc>,
    rand01: f64,
) -> Option<DateTime<Utc>> {
    let deadline = created_at + chrono::Duration::from_std(HORIZON).unwrap_or_default();
    if now >= deadline {
        return None;
    }
    let wait = BACKOFF
        .delay(attempts, rand01)
        .max(retry_after.unwrap_or_default())
        .max(Duration::from_millis(200));
    let at = now + chrono::Duration::from_std(wait).unwrap_or_default();
    Some(at.min(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retries_back_off_honour_retry_after_and_stop_at_the_horizon() {
        let created = t("2026-11-22T12:00:00Z");
        let now = t("2026-11-22T12:00:10Z");
        // Full jitter: rand 1.0 gives the ceiling, 2 s × 2^attempts.
        assert_eq!(
            next_attempt(created, 0, None, now, 1.0),
            Some(t("2026-11-22T12:00:12Z"))
        );
        assert_eq!(
            next_attempt(created, 3, None, now, 1.0),
            Some(t("2026-11-22T12:00:26Z"))
        );
        // The ceiling stops growing at 30 min.
        assert_eq!(
            next_attempt(created, 30, None, now, 1.0),
            Some(t("2026-11-22T12:30:10Z"))
        );
        // Retry-After wins over a shorter backoff.
        let ra = Some(Duration::from_secs(120));
        assert_eq!(
            next_attempt(created, 0, ra, now, 0.5),
            Some(t("2026-11-22T12:02:10Z"))
        );
        // Never past 24 h after the alert, and nothing once there.
        let late = t("2026-11-23T11:59:00Z");
        assert_eq!(
            next_attempt(created, 30, None, late, 1.0),
            Some(t("2026-11-23T12:00:00Z"))
        );
        assert_eq!(
            next_attempt(created, 30, None, t("2026-11-23T12:00:00Z"), 1.0),
            None
        );
    }
}
