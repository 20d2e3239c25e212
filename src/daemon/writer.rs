//! The writer: one thread that owns the read-write SQLite connection.
//!
//! Poll tasks send a [`PollResult`] and wait for the answer; the writer commits it in one
//! transaction (posts, hits, source state together, see `store::write`) and answers. Only after
//! that answer does the scheduler move a source's cursor, so a crash can never advance a cursor
//! past posts that were not stored. Results that queue up while a commit runs are committed
//! together, one transaction for the batch. The heartbeat counts commits, for the watchdog.
//! A commit that records an alert wakes the dispatcher.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

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

/// Starts the writer thread; it stops when every sender is dropped and the queue is drained.
pub fn spawn(
    mut store: Store,
    heartbeat: Arc<AtomicU64>,
    on_alert: Arc<Notify>,
) -> std::io::Result<(mpsc::Sender<WriteJob>, JoinHandle<()>)> {
    let (tx, mut rx) = mpsc::channel::<WriteJob>(256);
    let handle = std::thread::Builder::new()
        .name("vigie-writer".into())
        .spawn(move || {
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
                        tracing::error!(error = %e, "Commit failed; the polls will be retried.");
                        for job in jobs {
                            let _ = job.done.send(Err(e.to_string()));
                        }
                    }
                }
            }
        })?;
    Ok((tx, handle))
}
