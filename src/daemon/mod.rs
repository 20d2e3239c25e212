//! `vigie run`: the long-running daemon.
//!
//! ```text
//! scheduler ──due──▶ poll task (semaphore) ──▶ Source::poll ──▶ RuleSet::matches
//!     ▲                                                        │ WriteJob
//!     └──── report (cursor, failures, next poll) ◀── writer: one transaction per batch
//! ```
//!
//! This module runs the control loop on the `Daemon` that `startup` built (the [`Pipeline`],
//! the store, every source's cursor and schedule resumed from it): it spawns bounded poll
//! tasks when sources are due, and turns signals into messages: SIGTERM/SIGINT into a clean
//! shutdown (no new polls, the writer drains its queue and finishes its transaction, exit
//! within seconds), SIGHUP into a reload through the same [`Pipeline::build`] as start-up (a
//! config that cannot be loaded or built is refused and the running one stays). The signal
//! handlers are installed before the config is read, so a SIGHUP during start-up does not kill
//! the process. One poll, from fetch to commit, is `poll`'s; when to poll is `scheduler`'s
//! decision; which sources a reload keeps is `reload`'s; retry policy is `retry`'s; writing is
//! `writer`'s; what systemd is told is `systemd`'s.

pub mod case_link;
pub mod dispatch;
pub mod http;
pub mod metrics;
pub mod pipeline;
mod poll;
mod reload;
pub mod retry;
pub mod scheduler;
mod startup;
pub mod systemd;
mod tally;
pub mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::Semaphore;
use tokio::task::JoinError;

use crate::config::{self, Config, ConfigError};
use crate::store::AlertPolicy;
pub use pipeline::{BuildError, Pipeline};
use poll::{lost_task, PollTask, Report};
use startup::Daemon;

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
        let config = config::load(path, &pipeline::kinds()).map_err(DaemonError::Config)?;
        run_async(path, config, signals).await
    })
}

async fn run_async(path: &Path, config: Config, signals: Signals) -> Result<(), DaemonError> {
    let Signals {
        mut term,
        mut int,
        mut hup,
    } = signals;
    let mut d = Daemon::start(config).await?;
    let damaged = loop {
        d.poll_due(Utc::now());
        tokio::select! {
            _ = tokio::time::sleep(d.wait()) => {}
            _ = d.ticker.tick() => d.tick(),
            Some(joined) = d.tasks.join_next_with_id() => d.report(joined),
            _ = hup.recv() => d.reload(path),
            _ = term.recv() => break None,
            _ = int.recv() => break None,
            // The writer says the database is damaged, or it is gone (it panicked: nothing
            // can be stored any more). Either way the daemon stops with the reason; the
            // receiver is never polled again once it has answered.
            stopped = &mut d.damaged => break Some(writer_stopped(stopped)),
        }
    };
    d.shutdown(damaged).await
}

/// Why the daemon stops when its writer's channel answers: the damage it reported, or that
/// the writer is gone without a word.
fn writer_stopped(answer: Result<String, tokio::sync::oneshot::error::RecvError>) -> String {
    answer.unwrap_or_else(|_| "the database writer stopped unexpectedly".to_string())
}

impl Daemon {
    /// Spawns a poll task for every source due at `now`.
    fn poll_due(&mut self, now: DateTime<Utc>) {
        for i in self.timetable.due(now) {
            self.timetable.take(i);
            let slot = &self.slots[i];
            let task = PollTask {
                name: slot.spec.name.clone(),
                kind: slot.spec.kind,
                every: slot.spec.every,
                source: slot.source.clone(),
                rules: self.pipeline.rules.clone(),
                brand: slot.spec.brand_accounts.clone(),
                fetcher: self.fetcher.clone(),
                cursor: slot.state.cursor.clone(),
                failures: slot.state.failures,
                writer: self.write_tx.clone(),
                limit: self.limit.clone(),
                stored: self.stored.clone(),
                tally: self.tally.clone(),
                metrics: self.metrics.clone(),
            };
            self.running.insert(self.tasks.spawn(task.run()).id(), i);
        }
    }

    /// How long until the next source is due (an hour when none is).
    fn wait(&self) -> Duration {
        self.timetable
            .next()
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600))
    }

    /// The control loop's heartbeat: the watchdog, if everything progresses, and the status.
    fn tick(&mut self) {
        let liveness = &self.liveness;
        liveness.control.store(writer::now_ms(), Ordering::Relaxed);
        self.systemd.watchdog(&liveness.check(), &mut self.stuck);
        let status = systemd::status_line(&self.slots, &self.stored, &self.refused);
        self.systemd.status(status);
    }

    /// A poll task ended: its source's cursor, failures, error and next poll are updated.
    fn report(&mut self, joined: Result<(tokio::task::Id, Report), JoinError>) {
        // The slot comes from `running`, which a reload keeps up to date; a report of a source
        // that a reload removed or changed has no slot any more.
        let (i, r) = match joined {
            Ok((id, r)) => match self.running.remove(&id) {
                Some(i) => (i, r),
                None => return,
            },
            Err(e) => {
                let Some(i) = self.running.remove(&e.id()) else {
                    return;
                };
                let st = &self.slots[i].state;
                (
                    i,
                    lost_task(&st.cursor, st.failures, self.slots[i].spec.every, &e),
                )
            }
        };
        let slot = &mut self.slots[i];
        log_change(&slot.spec.name, &slot.state.last_error, &r.error);
        let st = &mut slot.state;
        st.cursor = r.cursor;
        st.failures = r.failures;
        st.last_error = r.error;
        self.timetable.set(i, r.next_at);
    }

    /// SIGHUP: the config at `path` is loaded and built, then swapped in; a config that cannot
    /// be is refused, and the running one stays.
    fn reload(&mut self, path: &Path) {
        self.systemd.reloading();
        let started = std::time::Instant::now();
        match reload::load_and_build(path) {
            Err(errors) => {
                for e in &errors {
                    tracing::error!(error = %e, "Reload refused; the running config stays.");
                }
                self.refused = errors
                    .first()
                    .map(|e| e.lines().next().unwrap_or("").to_string());
            }
            Ok((new, built)) => self.swap(new, built, started),
        }
        let status = systemd::status_line(&self.slots, &self.stored, &self.refused);
        self.systemd.ready(status);
    }

    /// Puts a loaded and built config in place of the running one: sources (kept ones keep
    /// their state), HTTP settings, poll limit, alert policy and notifiers.
    fn swap(&mut self, new: Config, mut built: Pipeline, started: std::time::Instant) {
        let config = &self.config;
        reload::needs_restart(config, &new);
        let (s, t) = reload::swap(
            std::mem::take(&mut self.slots),
            &self.timetable,
            &mut self.running,
            &new.sources,
            std::mem::take(&mut built.sources),
            Utc::now(),
        );
        (self.slots, self.timetable) = (s, t);
        if (&new.daemon.user_agent, new.daemon.http_timeout)
            != (&config.daemon.user_agent, config.daemon.http_timeout)
        {
            match startup::fetcher(&new) {
                Ok(f) => self.fetcher = f,
                Err(e) => {
                    tracing::error!(error = %e, "Cannot apply the new HTTP settings; the running ones stay.")
                }
            }
        }
        if new.daemon.max_concurrent_polls != config.daemon.max_concurrent_polls {
            self.limit = Arc::new(Semaphore::new(new.daemon.max_concurrent_polls.max(1)));
        }
        self.progress.reconfigure(writer::Settings {
            policy: AlertPolicy::from_config(&new, true),
            cases: crate::store::CasePolicy::from_config(&new),
            retention: new.daemon.retention,
        });
        if reload::notifiers_changed(config, &new) {
            // The new dispatcher starts once the old one has finished its sends in flight, so
            // that no delivery goes out twice.
            let _ = self.stop_dispatch.send(true);
            let old = std::mem::replace(&mut self.dispatcher, tokio::spawn(async {}));
            match startup::start_dispatcher(
                &self.db,
                &built,
                &self.wake,
                &self.dispatcher_alive,
                &self.metrics,
                self.links.clone(),
                Some(old),
            ) {
                Ok(started) => (self.stop_dispatch, self.dispatcher) = started,
                Err(e) => {
                    tracing::error!(error = %e, "Cannot start the new notifiers; deliveries wait for the next reload or restart.")
                }
            }
        }
        tracing::info!(
            sources = self.slots.len(),
            rules = built.rules.len(),
            notifiers = built.notifiers.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "Reloaded."
        );
        (self.config, self.pipeline, self.refused) = (new, built, None);
    }

    /// Stops polling, lets the writer drain and the dispatcher finish its sends in flight
    /// (each within a grace period), and logs the summary. `damaged` is why the writer stopped
    /// the daemon, if it did.
    async fn shutdown(self, damaged: Option<String>) -> Result<(), DaemonError> {
        let Daemon {
            systemd,
            http,
            stop_dispatch,
            mut tasks,
            stored,
            write_tx,
            writer,
            dispatcher,
            tally,
            // The database stays locked until the daemon is done with it.
            lock: _lock,
            ..
        } = self;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that died (its sender dropped) stops the daemon with a reason, once, instead
    /// of the control loop polling a finished channel again (a panic).
    #[tokio::test]
    async fn a_vanished_writer_stops_the_daemon_with_a_reason() {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<String>();
        drop(tx);
        let why = tokio::select! {
            stopped = &mut rx => writer_stopped(stopped),
        };
        assert_eq!(why, "the database writer stopped unexpectedly");
        let (tx, mut rx) = tokio::sync::oneshot::channel::<String>();
        tx.send("database disk image is malformed".into()).unwrap();
        let why = tokio::select! {
            stopped = &mut rx => writer_stopped(stopped),
        };
        assert_eq!(why, "database disk image is malformed");
    }
}
