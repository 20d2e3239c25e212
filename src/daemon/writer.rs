//! The writer: one thread that owns the read-write SQLite connection.
//!
//! Poll tasks send a [`PollResult`] and wait for the answer; the writer commits it in one
//! transaction (posts, hits, source state together, see `store::write`) and answers. Only after
//! that answer does the scheduler move a source's cursor, so a crash can never advance a cursor
//! past posts that were not stored. Results that queue up while a commit runs are committed
//! together, one transaction for the batch. The heartbeat counts commits, for the watchdog.
//! A commit that records an alert wakes the dispatcher. With a `[daemon] retention`, the writer
//! also prunes what grew older than it, between commits, a small transaction at a time.
//! A commit that fails because the database file is damaged (`Store::damaged`) stops the
//! writer and tells the control loop, which exits 1 with the store's message: retrying such a
//! commit would loop forever.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::store::{CommitStats, PollResult, Store};

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
    heartbeat: Arc<AtomicU64>,
    on_alert: Arc<Notify>,
    on_damaged: oneshot::Sender<String>,
) -> std::io::Result<(mpsc::Sender<WriteJob>, JoinHandle<()>)> {
    let (tx, mut rx) = mpsc::channel::<WriteJob>(256);
    let handle = std::thread::Builder::new()
        .name("vigie-writer".into())
        .spawn(move || {
            let mut next_prune = Instant::now();
            while let Some(first) = rx.blocking_recv() {
                let mut jobs = vec![first];
                while jobs.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => jobs.push(job),
                        Err(_) => break,
                    }
                }
                let results: Vec<&PollResult> = jobs.iter().map(|j| &j.result).collect();
                match store.commit_many(&results) {
                    Ok(stats) => {
                        heartbeat.fetch_add(1, Ordering::Relaxed);
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
            }
        })?;
    Ok((tx, handle))
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
