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

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::sync::{oneshot, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::matcher::{Hits, RuleSet};
use crate::post::Post;
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
    // Which source each running task polls, so that a task that dies without a report (a
    // panic the task's own guard missed, an abort) still gets its source rescheduled.
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
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
                stored: stored.clone(),
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
                        let Some(index) = running.remove(&e.id()) else { continue };
                        lost_task(index, &states[index], meta[index].2, &e)
                    }
                };
                let st = &mut states[r.index];
                log_change(&meta[r.index].0, &st.last_error, &r.error);
                st.cursor = r.cursor;
                st.failures = r.failures;
                st.last_error = r.error;
                timetable.set(r.index, r.next_at);
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

/// The report for a poll task that ended without one: the cursor stays, the failure counts and
/// the source is retried with backoff like any other failed poll.
fn lost_task(
    index: usize,
    state: &SourceState,
    every: Duration,
    e: &tokio::task::JoinError,
) -> Report {
    let reason = if e.is_panic() {
        "the poll task panicked"
    } else {
        "the poll task was cancelled"
    };
    let failures = state.failures.saturating_add(1);
    let err = SourceError::Transient(reason.into());
    let delay = scheduler::next_poll(Err(&err), every, failures, retry::rand01());
    Report {
        index,
        cursor: state.cursor.clone(),
        failures,
        next_at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
        error: Some(reason.into()),
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
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

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
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
    /// A read-only connection shared by poll tasks (the writer keeps the only read-write one).
    stored: Arc<std::sync::Mutex<Store>>,
}

impl PollTask {
    /// Polls the source and matches its posts against the rules.
    async fn poll_and_match(&self) -> Result<(Vec<(Post, Hits)>, Cursor), SourceError> {
        let page = self.source.poll(&self.fetcher, &self.cursor).await?;
        let listed = page.posts.len();
        let unstored = self.unstored(page.posts).await;
        tracing::debug!(source = %self.name, listed, new = unstored.len(), "Polled.");
        let mut posts = Vec::with_capacity(unstored.len());
        for mut post in unstored {
            post.source = Some(self.name.clone());
            let hits = self.rules.matches(&post);
            posts.push((post, hits));
        }
        Ok((posts, page.cursor))
    }

    /// `posts` without those already stored: a feed re-downloaded without validators lists
    /// the same items again, and matching them again would only cost time. On a read error
    /// every post is kept: the writer's unique key drops the stored ones anyway.
    async fn unstored(&self, posts: Vec<Post>) -> Vec<Post> {
        if posts.is_empty() {
            return posts;
        }
        let keys: Vec<String> = posts.iter().map(crate::store::write::dedup_key).collect();
        let (stored, name) = (self.stored.clone(), self.name.clone());
        let lookup = tokio::task::spawn_blocking(move || {
            let store = stored.lock().unwrap_or_else(|p| p.into_inner());
            store.stored(&name, &keys).map_err(|e| e.to_string())
        });
        match lookup.await.unwrap_or_else(|e| Err(e.to_string())) {
            Ok(flags) => posts
                .into_iter()
                .zip(flags)
                .filter_map(|(post, stored)| (!stored).then_some(post))
                .collect(),
            Err(e) => {
                tracing::debug!(source = %self.name, error = %e, "Cannot tell stored posts apart; matching them all.");
                posts
            }
        }
    }

    async fn run(self) -> Report {
        let _permit = self.limit.clone().acquire_owned().await;
        let polled_at = Utc::now();
        // A panic in a source or in the matcher is a failed poll like any other: stored as the
        // source's error (`vigie sources`, source-health alerts), retried with backoff. Without
        // this guard the task dies, and with it the source's place in the timetable.
        let polled = AssertUnwindSafe(self.poll_and_match())
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(SourceError::Transient(format!(
                    "the poll panicked: {}",
                    panic_message(&*panic)
                )))
            });
        let (outcome, failures, delay, error, new_cursor) = match polled {
            Ok((posts, cursor)) => {
                let delay = scheduler::next_poll(Ok(()), self.every, 0, retry::rand01());
                let outcome = PollOutcome::Page {
                    posts,
                    cursor: cursor.clone(),
                    not_modified: false,
                };
                (outcome, 0, delay, None, cursor)
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

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::source::Page;

    /// A source whose poll panics, as a parser or a dependency might on hostile input.
    struct Panics;

    #[async_trait]
    impl Source for Panics {
        async fn poll(&self, _: &Fetcher, _: &Cursor) -> Result<Page, SourceError> {
            panic!("index out of bounds in a feed parser")
        }
    }

    #[tokio::test]
    async fn a_panicking_poll_is_stored_as_a_source_error_and_retried() {
        let (writer, mut jobs) = tokio::sync::mpsc::channel::<WriteJob>(1);
        let cursor = Cursor {
            position: Some("42".into()),
            ..Cursor::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("vigie.db");
        Store::open(&db).unwrap();
        let stored = Arc::new(std::sync::Mutex::new(Store::open_read_only(&db).unwrap()));
        let task = PollTask {
            index: 3,
            name: "forum".into(),
            kind: "rss",
            every: Duration::from_secs(60),
            source: Arc::new(Panics),
            rules: Arc::new(RuleSet::compile(&[]).unwrap()),
            fetcher: Arc::new(Fetcher::new(FetchOptions::default()).unwrap()),
            cursor: cursor.clone(),
            failures: 2,
            writer,
            limit: Arc::new(Semaphore::new(1)),
            stored,
        };
        let started = Utc::now();
        let report = tokio::spawn(task.run());
        let job = jobs
            .recv()
            .await
            .expect("the failure is sent to the writer");
        let PollOutcome::Failed { error } = &job.result.outcome else {
            panic!("expected a failed poll, got {:?}", job.result.outcome);
        };
        assert!(
            error.contains("the poll panicked: index out of bounds in a feed parser"),
            "{error}"
        );
        assert_eq!(job.result.failures, 3);
        job.done.send(Ok(Default::default())).unwrap();
        let report = report.await.expect("the task itself does not panic");
        assert_eq!(report.index, 3);
        assert_eq!(report.failures, 3);
        assert_eq!(report.cursor, cursor, "the cursor does not move");
        assert!(report.error.is_some_and(|e| e.contains("panicked")));
        assert!(report.next_at >= started + chrono::Duration::seconds(60));
    }

    #[tokio::test]
    async fn a_lost_task_is_rescheduled_with_backoff() {
        let e = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let state = SourceState {
            cursor: Cursor::default(),
            failures: 0,
            last_error: None,
        };
        let before = Utc::now();
        let r = lost_task(7, &state, Duration::from_secs(10), &e);
        assert_eq!((r.index, r.failures), (7, 1));
        assert_eq!(r.error.as_deref(), Some("the poll task panicked"));
        assert!(r.next_at >= before + chrono::Duration::seconds(10));
    }
}
