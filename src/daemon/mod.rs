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
//! writer drains its queue and finishes its transaction, exit within seconds). When to poll is
//! `scheduler`'s decision; retry policy is `retry`'s; writing is `writer`'s.

pub mod dispatch;
pub mod pipeline;
pub mod retry;
pub mod scheduler;
pub mod writer;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{oneshot, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::matcher::RuleSet;
use crate::source::fetch::{FetchOptions, Fetcher};
use crate::source::{Cursor, Source, SourceError};
use crate::store::{AlertPolicy, PollOutcome, PollResult, Store};
pub use pipeline::{BuildError, Pipeline};
use writer::WriteJob;

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

/// What a poll task tells the control loop.
struct Report {
    index: usize,
    /// The cursor to use next: the new one when the commit succeeded, else the old one.
    cursor: Cursor,
    failures: u32,
    next_at: DateTime<Utc>,
    error: Option<String>,
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
    let pipeline = Pipeline::build(&config)?;
    let db = &config.daemon.database;
    let open = || {
        Store::open(db)
            .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))
    };
    let mut store = open()?;
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
    let (write_tx, writer) = writer::spawn(store, heartbeat.clone(), wake.clone())
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
    let mut shutdown = std::pin::pin!(shutdown_signal());
    tracing::info!(
        sources = sources.len(),
        rules = pipeline.rules.len(),
        database = %db.display(),
        "Vigie started."
    );
    loop {
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
            };
            tasks.spawn(task.run());
        }
        let wait = timetable
            .next()
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some(joined) = tasks.join_next() => {
                if let Ok(r) = joined {
                    let st = &mut states[r.index];
                    log_change(&meta[r.index].0, &st.last_error, &r.error);
                    st.cursor = r.cursor;
                    st.failures = r.failures;
                    st.last_error = r.error;
                    timetable.set(r.index, r.next_at);
                }
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::info!(in_flight = tasks.len(), "Shutting down.");
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
    }
    drop(write_tx);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .map_err(|e| DaemonError::Runtime(e.to_string()))?
        .map_err(|_| DaemonError::Runtime("the writer thread panicked".into()))?;
    // Deliveries in flight finish; what is left stays in the outbox for the next start.
    let _ = stop_dispatch.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE * 5, dispatcher)
        .await
        .is_err()
    {
        tracing::warn!(
            "Deliveries still in flight were abandoned; they are sent after the restart."
        );
    }
    tracing::info!("Stopped.");
    Ok(())
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

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled: before "Vigie started." tells a supervisor (or a test)
/// that the daemon is ready, so a signal sent on that line stops it cleanly instead of killing
/// it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    async move {
        tokio::select! {
            _ = next_signal(&mut int) => {}
            _ = next_signal(&mut term) => {}
        }
    }
}

/// The next delivery of `s`; never, if its handler could not be installed.
async fn next_signal(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// One poll of one source, from fetch to commit.
struct PollTask {
    index: usize,
    name: String,
    kind: &'static str,
    every: Duration,
    source: Arc<dyn Source>,
    rules: Arc<RuleSet>,
    fetcher: Arc<Fetcher>,
    cursor: Cursor,
    failures: u32,
    writer: tokio::sync::mpsc::Sender<WriteJob>,
    limit: Arc<Semaphore>,
}

impl PollTask {
    async fn run(self) -> Report {
        let _permit = self.limit.clone().acquire_owned().await;
        let polled_at = Utc::now();
        let polled = self.source.poll(&self.fetcher, &self.cursor).await;
        let (outcome, failures, delay, error, new_cursor) = match polled {
            Ok(page) => {
                let mut posts = Vec::with_capacity(page.posts.len());
                for mut post in page.posts {
                    post.source = Some(self.name.clone());
                    let hits = self.rules.matches(&post);
                    posts.push((post, hits));
                }
                let delay = scheduler::next_poll(Ok(()), self.every, 0, retry::rand01());
                let outcome = PollOutcome::Page {
                    posts,
                    cursor: page.cursor.clone(),
                    not_modified: false,
                };
                (outcome, 0, delay, None, page.cursor)
            }
            Err(e) => {
                let failures = self.failures.saturating_add(1);
                let delay = scheduler::next_poll(Err(&e), self.every, failures, retry::rand01());
                let error = e.to_string();
                let outcome = PollOutcome::Failed {
                    error: error.clone(),
                };
                (outcome, failures, delay, Some(error), self.cursor.clone())
            }
        };
        let next_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let result = PollResult {
            source: self.name.clone(),
            kind: self.kind.to_string(),
            polled_at,
            outcome,
            next_poll_at: next_at,
            failures,
        };
        let (done, answer) = oneshot::channel();
        let committed = match self.writer.send(WriteJob { result, done }).await {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err("the writer stopped".into())),
            Err(_) => Err("the writer stopped".into()),
        };
        match committed {
            Ok(_) => Report {
                index: self.index,
                cursor: new_cursor,
                failures,
                next_at,
                error,
            },
            // Not stored: keep the old cursor and try again soon.
            Err(e) => {
                let failures = self.failures.saturating_add(1);
                let err = SourceError::Transient(e.clone());
                let delay = scheduler::next_poll(Err(&err), self.every, failures, retry::rand01());
                Report {
                    index: self.index,
                    cursor: self.cursor,
                    failures,
                    next_at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                    error: Some(format!("cannot store the poll: {e}")),
                }
            }
        }
    }
}
