//! The dispatcher: the ONLY place that retries deliveries (outbox → notifier).
//!
//! Each notifier has its own lane: a task that reads that notifier's pending rows from the
//! outbox, sends up to [`CONCURRENCY`] of them at once, and writes each delivery's outcome to
//! its row, in its own small transaction, the moment that one send ends: `sent`; or a later
//! `next_attempt_at` (exponential backoff with full jitter from `retry`, at least the
//! receiver's `Retry-After`) while the delivery is younger than [`HORIZON`]; or `failed`. A
//! lane that gets a `Retry-After` holds its other sends until then. Lanes share nothing but the
//! database connection (held for one statement at a time, never across a send), so a hung
//! receiver delays only its own lane, and a delivery that a receiver accepted is recorded as
//! sent whatever the others do.
//!
//! Because the row is the state, a crash or a restart resumes exactly where it stopped: an
//! alert is delayed, never lost, and a delivery recorded as sent is never sent again. Every send
//! is bounded ([`SEND_LIMIT`]: each notifier kind enforces its own connect, greeting and
//! whole-send timeouts within [`notify::MAX_SEND`]). At shutdown no new send starts, and the
//! ones in flight run to their end, so their outcome is recorded too: the daemon's wait for
//! this ([`SHUTDOWN_GRACE`]) is longer than the longest send. Only a send cut by SIGKILL or a
//! crash has an unknown outcome: its row stays pending and it is sent again, with the same
//! `webhook-id` / `Message-ID`, after the restart. The writer wakes the lanes when a commit
//! records an alert; otherwise each sleeps until its next row is due. Logs say when an error
//! changes, not at every retry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::task::{self, JoinSet};

use super::retry::{self, Backoff};
use crate::notify::{self, DeliveryError, Notifier};
use crate::store::outbox::Due;
use crate::store::Store;

/// How long a delivery is retried before it is marked failed.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// Backoff between attempts: 2 s doubling up to 30 min.
pub const BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(2),
    cap: Duration::from_secs(1800),
};

/// Longest single send before it counts as a transient failure: a backstop a little past
/// [`notify::MAX_SEND`], so a notifier's own, more precise timeout fires first.
pub const SEND_LIMIT: Duration = notify::MAX_SEND.saturating_add(Duration::from_secs(2));

/// How long the daemon waits at shutdown for the sends in flight to end and be recorded:
/// longer than any send may take.
pub const SHUTDOWN_GRACE: Duration = SEND_LIMIT.saturating_add(Duration::from_secs(3));

/// Most deliveries one notifier has in flight at once.
pub const CONCURRENCY: usize = 4;

/// Longest sleep without looking at the outbox (rows written by another process, clock jumps).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// The shared connection: each lane holds it for one statement, never across a send.
type Db = Arc<Mutex<Store>>;

/// The dispatcher's state, handed over to its lanes by [`Dispatcher::run`].
pub struct Dispatcher {
    /// Its own read-write connection (behind a mutex to share it between lanes).
    pub store: Mutex<Store>,
    /// Every configured notifier by name.
    pub notifiers: HashMap<String, Arc<dyn Notifier>>,
    /// Signalled by the writer when a commit recorded an alert.
    pub wake: Arc<Notify>,
    /// When its loop last went round (ms since the Unix epoch), for the watchdog; it goes round
    /// at least every [`MAX_IDLE`].
    pub alive: Arc<std::sync::atomic::AtomicU64>,
    /// Delivery outcomes are counted here for `/metrics`.
    pub metrics: Arc<super::metrics::Metrics>,
    /// Signs the one-click link of each case alert, just before it is sent (`listen` set).
    pub links: Option<Arc<super::case_link::CaseLinks>>,
}

/// The dispatcher is stuck when its loop has not gone round for this long.
pub const STUCK_AFTER: Duration = Duration::from_secs(2 * MAX_IDLE.as_secs() + 10);

/// What one attempt came to.
enum Outcome {
    Sent,
    Retry {
        at: DateTime<Utc>,
        error: String,
        retry_after: Option<Duration>,
    },
    Failed(String),
}

impl Dispatcher {
    /// Runs one lane per notifier until `shutdown` turns true; sends in flight are finished
    /// and recorded first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let db: Db = Arc::new(self.store);
        let (kick, kicked) = watch::channel(());
        let mut lanes = JoinSet::new();
        for (name, notifier) in &self.notifiers {
            let lane = Lane {
                name: name.clone(),
                notifier: notifier.clone(),
                db: db.clone(),
                metrics: self.metrics.clone(),
                links: self.links.clone(),
            };
            lanes.spawn(lane.run(shutdown.clone(), kicked.clone()));
        }
        loop {
            self.alive.store(
                super::writer::now_ms(),
                std::sync::atomic::Ordering::Relaxed,
            );
            fail_unknown(&db, &self.notifiers);
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                _ = self.wake.notified() => {
                    let _ = kick.send(());
                }
                _ = tokio::time::sleep(MAX_IDLE) => {}
                stopped = shutdown.changed() => if stopped.is_err() { break },
            }
        }
        while lanes.join_next().await.is_some() {}
    }
}

/// Fails the pending rows of notifiers that are no longer configured.
fn fail_unknown(db: &Db, notifiers: &HashMap<String, Arc<dyn Notifier>>) {
    let names = match tokio::task::block_in_place(|| lock(db).pending_notifiers()) {
        Ok(names) => names,
        Err(e) => {
            tracing::error!(error = %e, "Cannot read the outbox.");
            return;
        }
    };
    for name in names.iter().filter(|n| !notifiers.contains_key(*n)) {
        let error = format!("no notifier named \"{name}\" in the config");
        match tokio::task::block_in_place(|| lock(db).fail_pending(name, &error)) {
            Ok(n) => {
                tracing::error!(notifier = %name, deliveries = n, error = %error, "Delivery failed for good.")
            }
            Err(e) => {
                tracing::error!(notifier = %name, error = %e, "Cannot record a delivery's outcome.")
            }
        }
    }
}

fn lock(db: &Db) -> std::sync::MutexGuard<'_, Store> {
    db.lock().unwrap_or_else(|e| e.into_inner())
}

/// One notifier's queue: its rows, its sends in flight, its pause.
struct Lane {
    name: String,
    notifier: Arc<dyn Notifier>,
    db: Db,
    metrics: Arc<super::metrics::Metrics>,
    links: Option<Arc<super::case_link::CaseLinks>>,
}

impl Lane {
    async fn run(self, mut shutdown: watch::Receiver<bool>, mut kicked: watch::Receiver<()>) {
        let mut in_flight: JoinSet<Outcome> = JoinSet::new();
        // The deliveries in flight, by task (a panicking send still frees its place).
        let mut busy: HashMap<task::Id, Due> = HashMap::new();
        let mut last_errors: HashMap<i64, String> = HashMap::new();
        // Set by a receiver's `Retry-After`: no send starts before it.
        let mut paused_until: Option<DateTime<Utc>> = None;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = Utc::now();
            let mut next = now + chrono::Duration::from_std(MAX_IDLE).unwrap_or_default();
            if let Some(t) = paused_until.filter(|t| *t > now) {
                next = next.min(t);
            } else if busy.len() < CONCURRENCY {
                // Enough rows to fill the free places and see when the next one is due, even
                // if every row in flight comes first.
                let pending = tokio::task::block_in_place(|| {
                    lock(&self.db).pending_deliveries(&self.name, CONCURRENCY + 1)
                });
                let pending = pending.unwrap_or_else(|e| {
                    tracing::error!(notifier = %self.name, error = %e, "Cannot read the outbox.");
                    Vec::new()
                });
                for d in pending {
                    if busy.values().any(|b| b.row == d.row) {
                        continue;
                    }
                    if d.due_at > now || busy.len() == CONCURRENCY {
                        next = next.min(d.due_at);
                        break;
                    }
                    let (notifier, mut due) = (self.notifier.clone(), d.clone());
                    self.sign(&mut due, now);
                    let task =
                        in_flight.spawn(async move { attempt(notifier.as_ref(), &due).await });
                    busy.insert(task.id(), d);
                }
            }
            let wait = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                Some(joined) = in_flight.join_next_with_id() => {
                    let (d, outcome) = finished(joined, &mut busy);
                    if let Outcome::Retry { retry_after: Some(ra), .. } = &outcome {
                        paused_until = Some(Utc::now() + chrono::Duration::from_std(*ra).unwrap_or_default());
                    }
                    if let Some(d) = d {
                        self.record(&d, outcome, &mut last_errors);
                    }
                }
                _ = tokio::time::sleep(wait), if busy.len() < CONCURRENCY => {}
                _ = kicked.changed() => {}
                stopped = shutdown.changed() => if stopped.is_err() { break },
            }
        }
        // No new send; the ones in flight end (each is bounded) and are recorded.
        if !in_flight.is_empty() {
            tracing::info!(notifier = %self.name, in_flight = in_flight.len(), "Waiting for deliveries in flight.");
        }
        while let Some(joined) = in_flight.join_next_with_id().await {
            if let (Some(d), outcome) = finished(joined, &mut busy) {
                self.record(&d, outcome, &mut last_errors);
            }
        }
    }

    /// Fills the case link of a case alert, signed for this notifier until [`LIFETIME`] from
    /// `now`: each delivery signs its own, and nothing of it is stored.
    ///
    /// [`LIFETIME`]: super::case_link::LIFETIME
    fn sign(&self, d: &mut Due, now: DateTime<Utc>) {
        if let (Some(links), Some(case)) = (&self.links, d.alert.case.as_mut()) {
            case.ack_url = Some(links.url(case.id, &self.name, now + super::case_link::LIFETIME));
        }
    }

    /// Writes the outcome to the row, in its own transaction, and logs what changed.
    fn record(&self, d: &Due, outcome: Outcome, last_errors: &mut HashMap<i64, String>) {
        let rule = &d.alert.rule;
        let kind = d.alert.kind.as_str();
        let counted = match &outcome {
            Outcome::Sent => "sent",
            Outcome::Retry { .. } => "retry",
            Outcome::Failed(_) => "failed",
        };
        self.metrics.delivery(&d.notifier, counted);
        let written = match &outcome {
            Outcome::Sent => {
                last_errors.remove(&d.row);
                tracing::info!(alert = d.alert.id, rule = %rule, kind, notifier = %d.notifier, attempts = d.attempts + 1, "Alert delivered.");
                tokio::task::block_in_place(|| lock(&self.db).mark_sent(d.row, Utc::now()))
            }
            Outcome::Retry { at, error, .. } => {
                if last_errors.get(&d.row) != Some(error) {
                    tracing::warn!(alert = d.alert.id, rule = %rule, notifier = %d.notifier, error = %error, next_attempt = %at.to_rfc3339(), "Delivery failed; will retry.");
                    last_errors.insert(d.row, error.clone());
                }
                tokio::task::block_in_place(|| lock(&self.db).mark_retry(d.row, *at, error))
            }
            Outcome::Failed(error) => {
                last_errors.remove(&d.row);
                tracing::error!(alert = d.alert.id, rule = %rule, notifier = %d.notifier, error = %error, "Delivery failed for good.");
                tokio::task::block_in_place(|| lock(&self.db).mark_failed(d.row, error))
            }
        };
        if let Err(e) = written {
            // The row stays pending: the delivery may be repeated, never lost.
            tracing::error!(alert = d.alert.id, notifier = %d.notifier, error = %e, "Cannot record a delivery's outcome.");
        }
    }
}

/// The delivery a finished send task was for, and its outcome (a panic is a transient failure).
fn finished(
    joined: Result<(task::Id, Outcome), task::JoinError>,
    busy: &mut HashMap<task::Id, Due>,
) -> (Option<Due>, Outcome) {
    match joined {
        Ok((id, outcome)) => (busy.remove(&id), outcome),
        Err(e) => {
            let d = busy.remove(&e.id());
            let error = "the notifier panicked".to_string();
            let outcome = match d.as_ref().and_then(|d| {
                next_attempt(d.created_at, d.attempts, None, Utc::now(), retry::rand01())
            }) {
                Some(at) => Outcome::Retry {
                    at,
                    error,
                    retry_after: None,
                },
                None => Outcome::Failed(error),
            };
            (d, outcome)
        }
    }
}

/// Sends one delivery and decides what comes next.
async fn attempt(notifier: &dyn Notifier, d: &Due) -> Outcome {
    let sent = tokio::time::timeout(SEND_LIMIT, notifier.send(&d.alert, &d.delivery_id))
        .await
        .unwrap_or_else(|_| {
            Err(DeliveryError::Transient {
                reason: format!("no answer within {}s", SEND_LIMIT.as_secs()),
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
            Some(at) => Outcome::Retry {
                at,
                error: reason,
                retry_after,
            },
            None => Outcome::Failed(format!(
                "gave up after {}h: {reason}",
                HORIZON.as_secs() / 3600
            )),
        },
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
