//! `vigie run`: the long-running daemon.
//!
//! ```text
//! scheduler ──due──▶ poll task (semaphore) ──▶ Source::poll ──▶ RuleSet::matches
//!     ▲                                                        │ WriteJob
//!     └──── report (cursor, failures, next poll) ◀── writer: one transaction per batch
//! ```
//!
//! This module wires the pieces and runs the control loop: it builds the [`Pipeline`], opens
//! the store, resumes every source's cursor and schedule from it, spawns bounded poll tasks
//! when sources are due, and turns SIGTERM/SIGINT into a clean shutdown (no new polls, the
//! writer drains its queue and finishes its transaction, exit within seconds). One poll, from
//! fetch to commit, is `poll`'s; when to poll is `scheduler`'s decision; retry policy is
//! `retry`'s; writing is `writer`'s.

pub mod dispatch;
pub mod pipeline;
mod poll;
pub mod retry;
pub mod scheduler;
mod tally;
pub mod writer;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{oneshot, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::source::fetch::{FetchOptions, Fetcher};
use crate::source::{Cursor, Source};
use crate::store::{AlertPolicy, Store};
pub use pipeline::{BuildError, Pipeline};
use poll::{lost_task, PollTask, Report};
use tally::Tally;

/// Longest wait for in-flight polls at shutdown before they are abandoned (their posts are
/// fetched again after the restart: the cursor has not moved).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the daemon could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The pipeline could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The database could not be opened.
    #[error("{0}")]
    Store(String),
    /// An I/O or runtime failure.
    #[error("{0}")]
    Runtime(String),
}

/// Per-source state kept by the control loop.
struct SourceState {
    cursor: Cursor,
    failures: u32,
    last_error: Option<String>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(config: Config) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigie")
        .build()
        .map_err(|e| DaemonError::Runtime(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(run_async(config))
}

async fn run_async(config: Config) -> Result<(), DaemonError> {
    // Caught from the first instant, so a SIGTERM during start-up is a clean stop, never the
    // default kill: the stream keeps a signal that arrives before the loop first waits on it.
    let signals = StopSignals::install()
        .map_err(|e| DaemonError::Runtime(format!("cannot catch signals: {e}")))?;
    let pipeline = Pipeline::build(&config)?;
    let db = &config.daemon.database;
    let open = || {
        Store::open(db)
            .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))
    };
    // One daemon per database, for the life of the process; migrations run under the lock.
    let _lock = crate::store::lock(db)
        .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))?;
    let mut store = open()?;
    store
        .check()
        .map_err(|e| DaemonError::Store(e.to_string()))?;
    store
        .set_alert_policy(AlertPolicy::from_config(&config, true))
        .map_err(|e| DaemonError::Store(e.to_string()))?;
    if let Some(retention) = config.daemon.retention {
        store.set_retention(retention);
    }
    let wake = Arc::new(Notify::new());
    let (stop_dispatch, dispatch_stopped) = watch::channel(false);
    let dispatcher = tokio::spawn(
        dispatch::Dispatcher {
            store: std::sync::Mutex::new(open()?),
            notifiers: pipeline.notifiers.clone(),
            wake: wake.clone(),
        }
        .run(dispatch_stopped),
    );
    let saved = store
        .all_source_states()
        .map_err(|e| DaemonError::Store(e.to_string()))?;
    let fetcher = Arc::new(
        Fetcher::new(FetchOptions {
            user_agent: config.daemon.user_agent.clone(),
            timeout: config.daemon.http_timeout,
            ..FetchOptions::default()
        })
        .map_err(|e| DaemonError::Runtime(e.to_string()))?,
    );
    // Poll tasks ask it which posts are already stored, before matching them (see PollTask).
    let stored = Store::open_read_only(db)
        .map(|s| Arc::new(std::sync::Mutex::new(s)))
        .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))?;
    let now = Utc::now();
    let mut states = Vec::new();
    let mut due = Vec::new();
    for entry in &pipeline.sources {
        let s = saved.iter().find(|s| s.name == entry.name);
        states.push(SourceState {
            cursor: s.map(|s| s.cursor.clone()).unwrap_or_default(),
            failures: s.map_or(0, |s| s.failures),
            last_error: None,
        });
        due.push(Some(s.and_then(|s| s.next_poll_at).unwrap_or(now)));
    }
    let mut timetable = scheduler::Timetable::new(due);
    let heartbeat = Arc::new(AtomicU64::new(0));
    let (damaged_tx, damaged_rx) = oneshot::channel();
    let (write_tx, writer) = writer::spawn(store, heartbeat.clone(), wake.clone(), damaged_tx)
        .map_err(|e| DaemonError::Runtime(format!("cannot start the writer: {e}")))?;
    let sources: Vec<Arc<dyn Source>> = pipeline
        .sources
        .into_iter()
        .map(|e| Arc::from(e.source))
        .collect();
    let meta: Vec<(String, &'static str, Duration)> = config
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.kind.name(), s.every))
        .collect();
    let limit = Arc::new(Semaphore::new(config.daemon.max_concurrent_polls.max(1)));
    let mut tasks: JoinSet<Report> = JoinSet::new();
    // Which source each running task polls, so that a task that dies without a report (a
    // panic the task's own guard missed, an abort) still gets its source rescheduled.
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut shutdown = std::pin::pin!(stop_signal(signals, damaged_rx));
    let tally = Arc::new(Tally::new(Utc::now()));
    tracing::info!(
        sources = sources.len(),
        rules = pipeline.rules.len(),
        database = %db.display(),
        "Vigie started."
    );
    let damaged = loop {
        let now = Utc::now();
        for i in timetable.due(now) {
            timetable.take(i);
            let task = PollTask {
                index: i,
                name: meta[i].0.clone(),
                kind: meta[i].1,
                every: meta[i].2,
                source: sources[i].clone(),
                rules: pipeline.rules.clone(),
                fetcher: fetcher.clone(),
                cursor: states[i].cursor.clone(),
                failures: states[i].failures,
                writer: write_tx.clone(),
                limit: limit.clone(),
                stored: stored.clone(),
                tally: tally.clone(),
            };
            running.insert(tasks.spawn(task.run()).id(), i);
        }
        let wait = timetable
            .next()
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some(joined) = tasks.join_next_with_id() => {
                let r = match joined {
                    Ok((id, r)) => {
                        running.remove(&id);
                        r
                    }
                    Err(e) => {
                        let Some(i) = running.remove(&e.id()) else { continue };
                        lost_task(i, &states[i].cursor, states[i].failures, meta[i].2, &e)
                    }
                };
                let st = &mut states[r.index];
                log_change(&meta[r.index].0, &st.last_error, &r.error);
                st.cursor = r.cursor;
                st.failures = r.failures;
                st.last_error = r.error;
                timetable.set(r.index, r.next_at);
            }
            damaged = &mut shutdown => break damaged,
        }
    };
    tracing::info!(in_flight = tasks.len(), "Shutting down.");
    // No new delivery starts; those in flight end (each is bounded) and are recorded.
    let _ = stop_dispatch.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    // The read-only connection closes before the writer's: the last connection to close
    // checkpoints the WAL into the database, and a read-only one cannot.
    drop(tasks);
    drop(stored);
    drop(write_tx);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| DaemonError::Runtime(e.to_string()))?
        .map_err(|_| DaemonError::Runtime("the writer thread panicked".into()))?;
    // What is left stays in the outbox for the next start.
    if tokio::time::timeout(dispatch::SHUTDOWN_GRACE, dispatcher)
        .await
        .is_err()
    {
        tracing::warn!(
            "Deliveries still in flight were abandoned; they are sent again, with the same id, after the restart."
        );
    }
    tally.log_summary();
    if let Some(damaged) = damaged {
        return Err(DaemonError::Store(damaged));
    }
    tracing::info!("Stopped.");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (`None`), or when the writer found the database damaged
/// (`Some`: the message to exit 1 with).
async fn stop_signal(
    mut signals: StopSignals,
    damaged: oneshot::Receiver<String>,
) -> Option<String> {
    tokio::select! {
        _ = signals.term.recv() => None,
        _ = signals.int.recv() => None,
        Ok(message) = damaged => Some(message),
    }
}

/// The signals that stop the daemon, registered before anything else starts.
struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// Logs a source's error only when it changes, and its recovery once.
fn log_change(name: &str, before: &Option<String>, after: &Option<String>) {
    match (before, after) {
        (_, Some(e)) if before.as_ref() != Some(e) => {
            tracing::warn!(source = %name, error = %e, "Poll failed.")
        }
        (Some(_), None) => tracing::info!(source = %name, "Source recovered."),
        _ => {}
    }
}
