//! Start-up: from a validated config to a running [`Daemon`], ready for the control loop.
//!
//! In order: the pipeline is built (`Pipeline::build`, as a reload does), the database is
//! locked (one daemon per database) and opened with its alert policy, the dispatcher starts on
//! its own connection, every source resumes its cursor and schedule from the `sources` table,
//! the writer thread starts, `/metrics` and `/health` are served if `listen` is set, and
//! systemd is told READY. What the loop then does with the `Daemon` is `mod.rs`'s; the helpers
//! a reload shares with start-up (the fetcher, a new dispatcher) are here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Interval;

use super::pipeline::Pipeline;
use super::poll::Report;
use super::reload::{Progress, Slot};
use super::scheduler::Timetable;
use super::systemd::{self, Liveness, Systemd};
use super::tally::Tally;
use super::writer::{self, WriteJob};
use super::{case_link, dispatch, http, metrics, DaemonError};
use crate::config::Config;
use crate::source::fetch::{FetchOptions, Fetcher};
use crate::store::{AlertPolicy, DbLock, Store};

/// Everything the control loop holds while the daemon runs.
pub(super) struct Daemon {
    /// The running config (a reload replaces it).
    pub config: Config,
    /// The running pipeline (its sources are in `slots`).
    pub pipeline: Pipeline,
    pub systemd: Systemd,
    pub db: PathBuf,
    /// Wakes the dispatcher when the writer stored an alert.
    pub wake: Arc<Notify>,
    pub metrics: Arc<metrics::Metrics>,
    pub dispatcher_alive: Arc<AtomicU64>,
    pub stop_dispatch: watch::Sender<bool>,
    pub dispatcher: JoinHandle<()>,
    pub fetcher: Arc<Fetcher>,
    /// Poll tasks ask it which posts are already stored, before matching them (see PollTask).
    pub stored: Arc<Mutex<Store>>,
    pub slots: Vec<Slot>,
    pub timetable: Timetable,
    pub progress: Arc<writer::Progress>,
    /// Says that the writer found the database damaged: the daemon stops.
    pub damaged: oneshot::Receiver<String>,
    pub write_tx: mpsc::Sender<WriteJob>,
    pub writer: std::thread::JoinHandle<()>,
    /// Bounds the polls running at once.
    pub limit: Arc<Semaphore>,
    pub tasks: JoinSet<Report>,
    /// Which source each running task polls, so that a task that dies without a report (a
    /// panic the task's own guard missed, an abort) still gets its source rescheduled.
    pub running: HashMap<tokio::task::Id, usize>,
    pub liveness: Liveness,
    /// The `listen` server, if any.
    pub http: Option<JoinHandle<()>>,
    /// The control loop's tick: watchdog and status.
    pub ticker: Interval,
    /// Why the watchdog is not pinged, while it is not.
    pub stuck: Option<String>,
    /// Why the last reload was refused, until one succeeds.
    pub refused: Option<String>,
    pub tally: Arc<Tally>,
    /// One daemon per database, for the life of the process.
    pub lock: DbLock,
    /// Signs the one-click case links (`listen` set); kept for the dispatchers of reloads.
    pub links: Option<Arc<case_link::CaseLinks>>,
}

impl Daemon {
    /// Builds the pipeline, opens the store, resumes the sources and starts the writer, the
    /// dispatcher and the `listen` server; then tells systemd READY.
    pub(super) async fn start(config: Config) -> Result<Daemon, DaemonError> {
        let mut systemd = Systemd::from_env();
        let mut pipeline = Pipeline::build(&config)?;
        let db = config.daemon.database.clone();
        let (lock, store) = open_store(&config)?;
        let links = case_link::CaseLinks::for_daemon(
            config.daemon.listen.as_deref(),
            config.daemon.public_url.as_deref(),
            &db,
        )
        .map_err(|e| DaemonError::Store(e.to_string()))?
        .map(Arc::new);
        let wake = Arc::new(Notify::new());
        let metrics = Arc::new(metrics::Metrics::default());
        let dispatcher_alive = Arc::new(AtomicU64::new(writer::now_ms()));
        let (stop_dispatch, dispatcher) = start_dispatcher(
            &db,
            &pipeline,
            &wake,
            &dispatcher_alive,
            &metrics,
            links.clone(),
            None,
        )?;
        let saved = store
            .saved_sources()
            .map_err(|e| DaemonError::Store(e.to_string()))?;
        let fetcher = fetcher(&config)?;
        let stored = Store::open_read_only(&db)
            .map(|s| Arc::new(Mutex::new(s)))
            .map_err(|e| cannot_open(&db, e))?;
        let (slots, timetable) = resume(&config, &mut pipeline, &saved, Utc::now());
        let progress = Arc::new(writer::Progress::default());
        let (damaged_tx, damaged) = oneshot::channel::<String>();
        let (write_tx, writer) = writer::spawn(
            store,
            progress.clone(),
            metrics.clone(),
            wake.clone(),
            damaged_tx,
        )
        .map_err(|e| DaemonError::Runtime(format!("cannot start the writer: {e}")))?;
        let limit = Arc::new(Semaphore::new(config.daemon.max_concurrent_polls.max(1)));
        let liveness = Liveness {
            writer: progress.clone(),
            dispatcher: dispatcher_alive.clone(),
            control: Arc::new(AtomicU64::new(writer::now_ms())),
            tick: systemd.tick(),
        };
        let http = match &config.daemon.listen {
            Some(addr) => Some(listen(addr, &config, &metrics, &liveness, links.clone()).await?),
            None => None,
        };
        let ticker = tokio::time::interval(systemd.tick());
        let tally = Arc::new(Tally::new(Utc::now()));
        tracing::info!(
            sources = slots.len(),
            rules = pipeline.rules.len(),
            database = %db.display(),
            "Vigie started."
        );
        let refused = None;
        systemd.ready(systemd::status_line(&slots, &stored, &refused));
        Ok(Daemon {
            config,
            pipeline,
            systemd,
            db,
            wake,
            metrics,
            dispatcher_alive,
            stop_dispatch,
            dispatcher,
            fetcher,
            stored,
            slots,
            timetable,
            progress,
            damaged,
            write_tx,
            writer,
            limit,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            liveness,
            http,
            ticker,
            stuck: None,
            refused,
            tally,
            lock,
            links,
        })
    }
}

/// The database error for `db` that cannot be opened.
fn cannot_open(db: &Path, e: impl std::fmt::Display) -> DaemonError {
    DaemonError::Store(format!("cannot open {}: {e}", db.display()))
}

/// Locks the database (migrations run under the lock) and opens it for writing, checked,
/// with the config's alert policy and retention.
fn open_store(config: &Config) -> Result<(DbLock, Store), DaemonError> {
    let db = &config.daemon.database;
    let lock = crate::store::lock(db).map_err(|e| cannot_open(db, e))?;
    let mut store = Store::open(db).map_err(|e| cannot_open(db, e))?;
    store
        .check()
        .map_err(|e| DaemonError::Store(e.to_string()))?;
    store
        .set_alert_policy(AlertPolicy::from_config(config, true))
        .map_err(|e| DaemonError::Store(e.to_string()))?;
    store.set_case_policy(crate::store::CasePolicy::from_config(config));
    if let Some(retention) = config.daemon.retention {
        store.set_retention(retention);
    }
    Ok((lock, store))
}

/// One slot per configured source, with the built source taken from `pipeline`, and the
/// cursor, failure count and next poll saved for it (a source never polled is due `now`).
fn resume(
    config: &Config,
    pipeline: &mut Pipeline,
    saved: &[crate::store::SavedSource],
    now: DateTime<Utc>,
) -> (Vec<Slot>, Timetable) {
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
            state: Progress {
                cursor: s.map(|s| s.cursor.clone()).unwrap_or_default(),
                failures: s.map_or(0, |s| s.failures),
                last_error: None,
            },
        });
        due.push(Some(s.and_then(|s| s.next_poll_at).unwrap_or(now)));
    }
    (slots, Timetable::new(due))
}

/// Starts a dispatcher on its own connection, once `after` (the previous one) has ended, so
/// that two never send the same delivery.
pub(super) fn start_dispatcher(
    db: &Path,
    pipeline: &Pipeline,
    wake: &Arc<Notify>,
    alive: &Arc<AtomicU64>,
    metrics: &Arc<metrics::Metrics>,
    links: Option<Arc<case_link::CaseLinks>>,
    after: Option<JoinHandle<()>>,
) -> Result<(watch::Sender<bool>, JoinHandle<()>), DaemonError> {
    let store = Store::open(db).map_err(|e| cannot_open(db, e))?;
    let dispatcher = dispatch::Dispatcher {
        store: Mutex::new(store),
        notifiers: pipeline.notifiers.clone(),
        wake: wake.clone(),
        alive: alive.clone(),
        metrics: metrics.clone(),
        links,
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
pub(super) fn fetcher(config: &Config) -> Result<Arc<Fetcher>, DaemonError> {
    Fetcher::new(FetchOptions {
        user_agent: config.daemon.user_agent.clone(),
        timeout: config.daemon.http_timeout,
        ..FetchOptions::default()
    })
    .map(Arc::new)
    .map_err(|e| DaemonError::Runtime(e.to_string()))
}

/// Binds `addr` and serves `/metrics`, `/health` and the case links there.
async fn listen(
    addr: &str,
    config: &Config,
    metrics: &Arc<metrics::Metrics>,
    liveness: &Liveness,
    links: Option<Arc<case_link::CaseLinks>>,
) -> Result<JoinHandle<()>, DaemonError> {
    let db = config.daemon.database.as_path();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| DaemonError::Runtime(format!("cannot listen on {addr}: {e}")))?;
    let store = Store::open_read_only(db).map_err(|e| cannot_open(db, e))?;
    let state = http::State {
        registry: metrics.registry(store),
        liveness: liveness.clone(),
        cases: links.map(|links| http::CaseRoutes {
            links,
            database: db.to_path_buf(),
            locale: crate::notify::render::Locale {
                language: config.daemon.language,
                zone: config.daemon.alert_zone(),
            },
            clock: config.daemon.clock(),
        }),
    };
    tracing::info!(listen = %addr, "Serving /metrics, /health and the case links.");
    Ok(tokio::spawn(http::serve(listener, Arc::new(state))))
}
