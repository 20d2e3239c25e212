//! The writer: one thread that owns the read-write SQLite connection.
//!
//! Poll tasks send a [`PollResult`] and wait for the answer; the writer commits it in one
//! transaction (posts, hits, source state together, see `store::write`) and answers. Only after
//! that answer does the scheduler move a source's cursor, so a crash can never advance a cursor
//! past posts that were not stored. Results that queue up while a commit runs are committed
//! together, one transaction for the batch. [`Progress`] says whether a batch has been running
//! for long or the last one failed, for the watchdog and `/health`; settings swapped by a reload
//! (alert policy, retention) are taken between batches.
//! A commit that records an alert wakes the dispatcher. Cases (SPEC §5.1) fall due while no
//! source may be polled: the writer also wakes at the next reminder or deadline of an open case
//! and commits its reminder or escalation like any other commit (`Store::sweep_cases`), between
//! batches, so that it is serialised with them. With a `[daemon] retention`, the writer
//! also prunes what grew older than it, between commits, a small transaction at a time.
//! A commit that fails because the database file is damaged (`Store::damaged`) stops the
//! writer and tells the control loop, which exits 1 with the store's message: retrying such a
//! commit would loop forever.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::store::{AlertPolicy, CasePolicy, CommitStats, PollResult, Store};

/// Where the writer stands, read by the control loop (watchdog) and `/health`.
#[derive(Debug, Default)]
pub struct Progress {
    /// Batches committed so far.
    pub commits: AtomicU64,
    /// When the batch being committed started (milliseconds since the Unix epoch), 0 when idle.
    busy_since: AtomicU64,
    /// Whether the last batch failed.
    failing: AtomicBool,
    /// Settings from a reload, applied before the next batch.
    next: Mutex<Option<Settings>>,
}

/// The store settings a reload can change.
#[derive(Debug)]
pub struct Settings {
    /// The alert rules of the new config.
    pub policy: AlertPolicy,
    /// Its reply promises, brand accounts and business hours.
    pub cases: CasePolicy,
    /// `[daemon] retention`.
    pub retention: Option<Duration>,
}

/// A batch running longer than this means the writer is stuck (a commit waits at most a few
/// seconds for a lock).
pub const STUCK_AFTER: Duration = Duration::from_secs(20);

impl Progress {
    /// Hands the writer new settings; it applies them before its next batch.
    pub fn reconfigure(&self, settings: Settings) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = Some(settings);
    }

    /// `Err(reason)` when the current batch has run for too long: the writer is wedged.
    pub fn check(&self, now_ms: u64) -> Result<(), String> {
        let since = self.busy_since.load(Ordering::Relaxed);
        if since != 0 && now_ms.saturating_sub(since) > STUCK_AFTER.as_millis() as u64 {
            return Err(format!(
                "the writer has been committing for {} s",
                now_ms.saturating_sub(since) / 1000
            ));
        }
        Ok(())
    }

    /// [`Progress::check`], and `Err` too while the last batch failed (until one succeeds):
    /// not wedged (a restart would not help), but not healthy either.
    pub fn health(&self, now_ms: u64) -> Result<(), String> {
        self.check(now_ms)?;
        if self.failing.load(Ordering::Relaxed) {
            return Err("the last commit failed".into());
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One result to commit, and where to send the outcome.
pub struct WriteJob {
    /// The poll's result.
    pub result: PollResult,
    /// Receives the commit's outcome (an error message on failure).
    pub done: oneshot::Sender<Result<CommitStats, String>>,
}

/// Most results committed in one transaction.
const MAX_BATCH: usize = 64;

/// Most posts one pruning transaction deletes: about 0.1 s (5,000 took up to 0.27 s with
/// 70% of them hits), so commits wait little.
const PRUNE_BATCH: usize = 2_000;

/// How often the writer looks for posts past the retention (at start, then this often, and
/// again at once while a pass still finds a full batch).
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Starts the writer thread; it stops when every sender is dropped and the queue is drained.
pub fn spawn(
    mut store: Store,
    progress: Arc<Progress>,
    metrics: Arc<super::metrics::Metrics>,
    on_alert: Arc<Notify>,
    on_damaged: oneshot::Sender<String>,
) -> std::io::Result<(mpsc::Sender<WriteJob>, JoinHandle<()>)> {
    let (tx, mut rx) = mpsc::channel::<WriteJob>(256);
    // The writer is a thread of its own; it waits for a job or a case's time on the runtime's
    // timer.
    let runtime = tokio::runtime::Handle::current();
    let handle = std::thread::Builder::new()
        .name("vigie-writer".into())
        .spawn(move || {
            let mut next_prune = Instant::now();
            let mut next_case = next_case_at(&store);
            loop {
                let first = match next_case {
                    None => rx.blocking_recv(),
                    Some(at) => {
                        let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                        // The timer is created inside the runtime's context.
                        let job = runtime.block_on(async { tokio::time::timeout(wait, rx.recv()).await });
                        match job {
                            Ok(job) => job,
                            Err(_) => {
                                let next = progress.next.lock().unwrap_or_else(|p| p.into_inner()).take();
                                if let Some(settings) = next {
                                    apply(&mut store, settings);
                                }
                                next_case = sweep(&mut store, &progress, &on_alert);
                                continue;
                            }
                        }
                    }
                };
                let Some(first) = first else {
                    break;
                };
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let next = progress.next.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(settings) = next {
                    apply(&mut store, settings);
                }
                let results: Vec<&PollResult> = jobs.iter().map(|j| &j.result).collect();
                progress.busy_since.store(now_ms().max(1), Ordering::Relaxed);
                let started = Instant::now();
                let committed = store.commit_many(&results);
                metrics.committed(started.elapsed());
                progress.busy_since.store(0, Ordering::Relaxed);
                progress.failing.store(committed.is_err(), Ordering::Relaxed);
                match committed {
                    Ok(stats) => {
                        progress.commits.fetch_add(1, Ordering::Relaxed);
                        let alerts: u64 = stats.iter().map(|s| s.new_alerts).sum();
                        if alerts > 0 {
                            tracing::info!(alerts, "Alerts recorded.");
                            on_alert.notify_one();
                        }
                        for (job, s) in jobs.into_iter().zip(stats) {
                            let _ = job.done.send(Ok(s));
                        }
                    }
                    Err(e) => {
                        let damaged = store.damaged(&e);
                        for job in jobs {
                            let _ = job.done.send(Err(e.to_string()));
                        }
                        if let Some(damaged) = damaged {
                            tracing::error!(commit_error = %e, error = %damaged, "Database damaged; stopping.");
                            let _ = on_damaged.send(damaged.to_string());
                            return;
                        }
                        tracing::error!(error = %e, "Commit failed; the polls will be retried.");
                    }
                }
                if Instant::now() >= next_prune {
                    next_prune = prune(&mut store);
                }
                next_case = next_case_at(&store);
            }
            if let Err(e) = store.checkpoint() {
                tracing::debug!(error = %e, "Final checkpoint incomplete.");
            }
        })?;
    Ok((tx, handle))
}

/// When the writer must next look at the cases: the earliest reminder or deadline, at most an
/// hour away (a reload may change the rules meanwhile); `None` without cases.
fn next_case_at(store: &Store) -> Option<chrono::DateTime<chrono::Utc>> {
    let cap = chrono::Utc::now() + chrono::Duration::hours(1);
    match store.next_case_at() {
        Ok(t) => t.map(|t| t.min(cap)),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read when the next case is due; looking again in a minute.");
            Some(chrono::Utc::now() + chrono::Duration::minutes(1))
        }
    }
}

/// Commits the reminders and escalations due now (the timer's commit); returns when to look
/// again.
fn sweep(
    store: &mut Store,
    progress: &Progress,
    on_alert: &Notify,
) -> Option<chrono::DateTime<chrono::Utc>> {
    progress
        .busy_since
        .store(now_ms().max(1), Ordering::Relaxed);
    let swept = store.sweep_cases(chrono::Utc::now());
    progress.busy_since.store(0, Ordering::Relaxed);
    match swept {
        Ok(alerts) => {
            if alerts > 0 {
                tracing::info!(alerts, "Case reminders and escalations recorded.");
                on_alert.notify_one();
            }
            next_case_at(store)
        }
        Err(e) => {
            tracing::error!(error = %e, "Recording case reminders failed; retrying in a few seconds.");
            Some(chrono::Utc::now() + chrono::Duration::seconds(5))
        }
    }
}

/// Applies a reload's settings to the store.
fn apply(store: &mut Store, settings: Settings) {
    store.set_case_policy(settings.cases);
    if let Err(e) = store.set_alert_policy(settings.policy) {
        tracing::error!(error = %e, "Cannot apply the new alert rules.");
    }
    store.set_retention_opt(settings.retention);
}

/// One pruning pass under the retention, if any; returns when the next is due.
fn prune(store: &mut Store) -> Instant {
    let now = Instant::now();
    let Some(cutoff) = store.retention_cutoff(chrono::Utc::now()) else {
        return now + Duration::from_secs(365 * 86_400);
    };
    match store.prune(cutoff, PRUNE_BATCH) {
        Ok(posts) => {
            if posts > 0 {
                tracing::info!(posts, before = %crate::store::fmt_time(cutoff), "Pruned posts past the retention, with their hits.");
            }
            if posts >= PRUNE_BATCH as u64 {
                now
            } else {
                now + PRUNE_EVERY
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "Pruning failed; it will be retried.");
            now + PRUNE_EVERY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_batch_is_wedged_and_a_failed_one_only_unhealthy() {
        let p = Progress::default();
        let now = now_ms();
        assert_eq!((p.check(now), p.health(now)), (Ok(()), Ok(())));
        p.failing.store(true, Ordering::Relaxed);
        assert_eq!(
            p.check(now),
            Ok(()),
            "a failed commit does not stop the watchdog"
        );
        assert_eq!(p.health(now), Err("the last commit failed".into()));
        p.failing.store(false, Ordering::Relaxed);
        p.busy_since.store(now - 60_000, Ordering::Relaxed);
        assert!(p.check(now).unwrap_err().contains("committing for 60 s"));
        assert!(p.health(now).is_err());
    }
}
