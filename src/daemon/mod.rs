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
//! when sources are due, and turns signals into messages: SIGTERM/SIGINT into a clean shutdown
//! (no new polls, the writer drains its queue and finishes its transaction, exit within
//! seconds), SIGHUP into a reload through the same [`Pipeline::build`] as start-up (a config
//! that cannot be loaded or built is refused and the running one stays). The signal handlers
//! are installed before the config is read, so a SIGHUP during start-up does not kill the
//! process. One poll, from fetch to commit, is `poll`'s; when to poll is `scheduler`'s
//! decision; which sources a reload keeps is `reload`'s; retry policy is `retry`'s; writing is
//! `writer`'s; what systemd is told is `systemd`'s.

pub mod dispatch;
pub mod http;
pub mod metrics;
pub mod pipeline;
mod poll;
mod reload;
pub mod retry;
pub mod scheduler;
pub mod systemd;
mod tally;
pub mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{oneshot, watch, Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::{self, Config, ConfigError};
use crate::source::fetch::{FetchOptions, Fetcher};
use crate::store::{AlertPolicy, Store};
pub use pipeline::{BuildError, Pipeline};
use poll::{lost_task, PollTask, Report};
use reload::{Slot, SourceState};
use systemd::{Liveness, Systemd};
use tally::Tally;

/// Longest wait for in-flight polls at shutdown before they are abandoned (their posts are
/// fetched again after the restart: the cursor has not moved).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Why the daemon could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The config or a rule file is invalid (at start; a reload that fails is only logged).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Config(Vec<ConfigError>),
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

/// The signals the daemon handles, installed before anything else.
struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> Result<Signals, DaemonError> {
        let on = |kind| {
            signal(kind).map_err(|e| DaemonError::Runtime(format!("cannot handle signals: {e}")))
        };
        Ok(Signals {
            hup: on(SignalKind::hangup())?,
            term: on(SignalKind::terminate())?,
            int: on(SignalKind::interrupt())?,
        })
    }
}

/// Runs the daemon on the config at `path` until SIGTERM or SIGINT; SIGHUP reloads it.
pub fn run(path: &Path) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigie")
        .build()
        .map_err(|e| DaemonError::Runtime(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        // First: SIGHUP's default action ends the process, and systemd may send it at any time.
        let signals = Signals::install()?;
        let config = config::load(path).map_err(DaemonError::Config)?;
        run_async(path, config, signals).await
    })
}

/// Starts a dispatcher on its own connection, once `after` (the previous one) has ended, so
/// that two never send the same delivery.
fn start_dispatcher(
    db: &Path,
    pipeline: &Pipeline,
    wake: &Arc<Notify>,
    alive: &Arc<AtomicU64>,
    metrics: &Arc<metrics::Metrics>,
    after: Option<JoinHandle<()>>,
) -> Result<(watch::Sender<bool>, JoinHandle<()>), DaemonError> {
    let store = Store::open(db)
        .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))?;
    let dispatcher = dispatch::Dispatcher {
        store: std::sync::Mutex::new(store),
        notifiers: pipeline.notifiers.clone(),
        wake: wake.clone(),
        alive: alive.clone(),
        metrics: metrics.clone(),
    };
    let (stop, stopped) = watch::channel(false);
    let handle = tokio::spawn(async move {
        if let Some(previous) = after {
            let _ = previous.await;
        }
        dispatcher.run(stopped).await;
    });
    Ok((stop, handle))
}

/// The fetcher for `config`'s HTTP settings.
fn fetcher(config: &Config) -> Result<Arc<Fetcher>, DaemonError> {
    Fetcher::new(FetchOptions {
        user_agent: config.daemon.user_agent.clone(),
        timeout: config.daemon.http_timeout,
        ..FetchOptions::default()
    })
    .map(Arc::new)
    .map_err(|e| DaemonError::Runtime(e.to_string()))
}

async fn run_async(path: &Path, mut config: Config, signals: Signals) -> Result<(), DaemonError> {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    let mut systemd = Systemd::from_env();
    let mut pipeline = Pipeline::build(&config)?;
    let db = config.daemon.database.clone();
    let open = || {
        Store::open(&db)
            .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))
    };
    // One daemon per database, for the life of the process; migrations run under the lock.
    let _lock = crate::store::lock(&db)
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
    let metrics = Arc::new(metrics::Metrics::default());
    let dispatcher_alive = Arc::new(AtomicU64::new(writer::now_ms()));
    let (mut stop_dispatch, mut dispatcher) =
        start_dispatcher(&db, &pipeline, &wake, &dispatcher_alive, &metrics, None)?;
    let saved = store
        .saved_sources()
        .map_err(|e| DaemonError::Store(e.to_string()))?;
    let mut fetcher = fetcher(&config)?;
    // Poll tasks ask it which posts are already stored, before matching them (see PollTask).
    let stored = Store::open_read_only(&db)
        .map(|s| Arc::new(std::sync::Mutex::new(s)))
        .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))?;
    let now = Utc::now();
    let mut slots = Vec::new();
    let mut due = Vec::new();
    for (spec, entry) in config
        .sources
        .iter()
        .zip(std::mem::take(&mut pipeline.sources))
    {
        let s = saved.iter().find(|s| s.name == entry.name);
        slots.push(Slot {
            spec: spec.clone(),
            source: Arc::from(entry.source),
            state: SourceState {
                cursor: s.map(|s| s.cursor.clone()).unwrap_or_default(),
                failures: s.map_or(0, |s| s.failures),
                last_error: None,
            },
        });
        due.push(Some(s.and_then(|s| s.next_poll_at).unwrap_or(now)));
    }
    let mut timetable = scheduler::Timetable::new(due);
    let progress = Arc::new(writer::Progress::default());
    let (damaged_tx, mut damaged_rx) = oneshot::channel::<String>();
    let (write_tx, writer) = writer::spawn(
        store,
        progress.clone(),
        metrics.clone(),
        wake.clone(),
        damaged_tx,
    )
    .map_err(|e| DaemonError::Runtime(format!("cannot start the writer: {e}")))?;
    let mut limit = Arc::new(Semaphore::new(config.daemon.max_concurrent_polls.max(1)));
    let mut tasks: JoinSet<Report> = JoinSet::new();
    // Which source each running task polls, so that a task that dies without a report (a
    // panic the task's own guard missed, an abort) still gets its source rescheduled.
    let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
    let liveness = Liveness {
        writer: progress.clone(),
        dispatcher: dispatcher_alive.clone(),
        control: Arc::new(AtomicU64::new(writer::now_ms())),
        tick: systemd.tick(),
    };
    let http = match &config.daemon.listen {
        Some(addr) => Some(listen(addr, &db, &metrics, &liveness).await?),
        None => None,
    };
    let mut ticker = tokio::time::interval(systemd.tick());
    let mut stuck: Option<String> = None;
    let mut refused: Option<String> = None;
    let tally = Arc::new(Tally::new(Utc::now()));
    tracing::info!(
        sources = slots.len(),
        rules = pipeline.rules.len(),
        database = %db.display(),
        "Vigie started."
    );
    systemd.ready(systemd::status_line(&slots, &stored, &refused));
    let damaged = loop {
        let now = Utc::now();
        for i in timetable.due(now) {
            timetable.take(i);
            let slot = &slots[i];
            let task = PollTask {
                name: slot.spec.name.clone(),
                kind: slot.spec.kind.name(),
                every: slot.spec.every,
                source: slot.source.clone(),
                rules: pipeline.rules.clone(),
                fetcher: fetcher.clone(),
                cursor: slot.state.cursor.clone(),
                failures: slot.state.failures,
                writer: write_tx.clone(),
                limit: limit.clone(),
                stored: stored.clone(),
                tally: tally.clone(),
                metrics: metrics.clone(),
            };
            running.insert(tasks.spawn(task.run()).id(), i);
        }
        let wait = timetable
            .next()
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = ticker.tick() => {
                liveness.control.store(writer::now_ms(), Ordering::Relaxed);
                systemd.watchdog(&liveness.check(), &mut stuck);
                systemd.status(systemd::status_line(&slots, &stored, &refused));
            }
            Some(joined) = tasks.join_next_with_id() => {
                // The slot comes from `running`, which a reload keeps up to date; a report of
                // a source that a reload removed or changed has no slot any more.
                let (i, r) = match joined {
                    Ok((id, r)) => match running.remove(&id) {
                        Some(i) => (i, r),
                        None => continue,
                    },
                    Err(e) => {
                        let Some(i) = running.remove(&e.id()) else { continue };
                        let st = &slots[i].state;
                        (i, lost_task(&st.cursor, st.failures, slots[i].spec.every, &e))
                    }
                };
                log_change(&slots[i].spec.name, &slots[i].state.last_error, &r.error);
                let st = &mut slots[i].state;
                st.cursor = r.cursor;
                st.failures = r.failures;
                st.last_error = r.error;
                timetable.set(i, r.next_at);
            }
            _ = hup.recv() => {
                systemd.reloading();
                let started = std::time::Instant::now();
                match reload::load_and_build(path) {
                    Err(errors) => {
                        for e in &errors {
                            tracing::error!(error = %e, "Reload refused; the running config stays.");
                        }
                        refused = errors.first().map(|e| e.lines().next().unwrap_or("").to_string());
                    }
                    Ok((new, mut built)) => {
                        reload::needs_restart(&config, &new);
                        let (s, t) = reload::swap(
                            std::mem::take(&mut slots),
                            &timetable,
                            &mut running,
                            &new.sources,
                            std::mem::take(&mut built.sources),
                            Utc::now(),
                        );
                        (slots, timetable) = (s, t);
                        if (&new.daemon.user_agent, new.daemon.http_timeout)
                            != (&config.daemon.user_agent, config.daemon.http_timeout)
                        {
                            match crate::daemon::fetcher(&new) {
                                Ok(f) => fetcher = f,
                                Err(e) => tracing::error!(error = %e, "Cannot apply the new HTTP settings; the running ones stay."),
                            }
                        }
                        if new.daemon.max_concurrent_polls != config.daemon.max_concurrent_polls {
                            limit = Arc::new(Semaphore::new(new.daemon.max_concurrent_polls.max(1)));
                        }
                        progress.reconfigure(writer::Settings {
                            policy: AlertPolicy::from_config(&new, true),
                            retention: new.daemon.retention,
                        });
                        if reload::notifiers_changed(&config, &new) {
                            // The new dispatcher starts once the old one has finished its
                            // sends in flight, so that no delivery goes out twice.
                            let _ = stop_dispatch.send(true);
                            let old = std::mem::replace(&mut dispatcher, tokio::spawn(async {}));
                            match start_dispatcher(
                                &db, &built, &wake, &dispatcher_alive, &metrics, Some(old),
                            ) {
                                Ok(started) => (stop_dispatch, dispatcher) = started,
                                Err(e) => tracing::error!(error = %e, "Cannot start the new notifiers; deliveries wait for the next reload or restart."),
                            }
                        }
                        tracing::info!(
                            sources = slots.len(),
                            rules = built.rules.len(),
                            notifiers = built.notifiers.len(),
                            took_ms = started.elapsed().as_millis() as u64,
                            "Reloaded."
                        );
                        (config, pipeline, refused) = (new, built, None);
                    }
                }
                systemd.ready(systemd::status_line(&slots, &stored, &refused));
            }
            _ = term.recv() => break None,
            _ = int.recv() => break None,
            Ok(message) = &mut damaged_rx => break Some(message),
        }
    };
    systemd.stopping();
    tracing::info!(in_flight = tasks.len(), "Shutting down.");
    if let Some(http) = http {
        http.abort();
    }
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

/// Binds `addr` and serves `/metrics` and `/health` there.
async fn listen(
    addr: &str,
    db: &Path,
    metrics: &Arc<metrics::Metrics>,
    liveness: &Liveness,
) -> Result<JoinHandle<()>, DaemonError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| DaemonError::Runtime(format!("cannot listen on {addr}: {e}")))?;
    let store = Store::open_read_only(db)
        .map_err(|e| DaemonError::Store(format!("cannot open {}: {e}", db.display())))?;
    let state = http::State {
        registry: metrics.registry(store),
        liveness: liveness.clone(),
    };
    tracing::info!(listen = %addr, "Serving /metrics and /health.");
    Ok(tokio::spawn(http::serve(listener, Arc::new(state))))
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
