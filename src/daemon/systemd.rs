//! Telling systemd where the daemon stands (`sd_notify`), and whether its loops make progress.
//!
//! [`Systemd`] sends `READY=1` (database open, every source scheduled), `STATUS=` (a one-line
//! summary, sent when it changes), `RELOADING=1` with `MONOTONIC_USEC=` then `READY=1` around a
//! reload, `STOPPING=1`, and `WATCHDOG=1` at half of `WATCHDOG_USEC`. The `sd-notify` crate
//! writes the datagrams; with no `NOTIFY_SOCKET` (not under systemd) every call does nothing.
//! [`Liveness`] is the one test of progress, shared by the watchdog and `/health`: the control
//! loop went round recently, the writer is not stuck in a commit, and the dispatcher's loop went
//! round recently; `/health` also reports a writer whose last commit failed (a restart would
//! not cure a locked or full disk, so that one does not stop the pings). A wedged loop stops the pings, so systemd restarts
//! the service. When to ping is the control loop's tick; what the loops do is theirs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

use super::writer::{self, now_ms};

/// How often the status line is refreshed when no watchdog asks for more.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// The control loop is stuck when it has not gone round for this many ticks.
const STUCK_TICKS: u32 = 4;

/// The notification side: what was last said, and how often the watchdog wants a ping.
#[derive(Debug)]
pub struct Systemd {
    watchdog: Option<Duration>,
    status: String,
}

impl Systemd {
    /// Reads `WATCHDOG_USEC`/`WATCHDOG_PID` (for this process only).
    pub fn from_env() -> Systemd {
        Systemd {
            watchdog: sd_notify::watchdog_enabled(),
            status: String::new(),
        }
    }

    /// How often the control loop ticks: half the watchdog timeout, or [`STATUS_EVERY`].
    pub fn tick(&self) -> Duration {
        self.watchdog
            .map_or(STATUS_EVERY, |w| (w / 2).min(STATUS_EVERY))
            .max(Duration::from_millis(10))
    }

    /// `READY=1` with the status line.
    pub fn ready(&mut self, status: String) {
        send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        self.status = status;
    }

    /// `STATUS=`, when it changed.
    pub fn status(&mut self, status: String) {
        if status != self.status {
            send(&[NotifyState::Status(&status)]);
            self.status = status;
        }
    }

    /// `RELOADING=1` with the monotonic time systemd uses to match it with `READY=1`.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => send(&[NotifyState::Reloading, now]),
            Err(_) => send(&[NotifyState::Reloading]),
        }
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }

    /// `WATCHDOG=1` if a watchdog is set and `alive` holds; logs when it stops or resumes.
    pub fn watchdog(&self, alive: &Result<(), String>, was: &mut Option<String>) {
        match alive {
            Ok(()) => {
                if was.take().is_some() {
                    tracing::info!("Progress again; watchdog pings resumed.");
                }
                if self.watchdog.is_some() {
                    send(&[NotifyState::Watchdog]);
                }
            }
            Err(reason) => {
                if was.as_deref() != Some(reason) {
                    tracing::error!(reason = %reason, "No progress; watchdog pings stopped.");
                    *was = Some(reason.clone());
                }
            }
        }
    }
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "Cannot notify systemd.");
    }
}

/// The progress of the three loops, for the watchdog and `/health`.
#[derive(Debug, Clone)]
pub struct Liveness {
    /// The writer's progress.
    pub writer: Arc<writer::Progress>,
    /// When the dispatcher's loop last went round (ms since the epoch).
    pub dispatcher: Arc<AtomicU64>,
    /// When the control loop last went round (ms since the epoch).
    pub control: Arc<AtomicU64>,
    /// The control loop's tick.
    pub tick: Duration,
}

impl Liveness {
    /// `Err(reason)` when one of the loops is stuck: the watchdog's test.
    pub fn check(&self) -> Result<(), String> {
        self.test(|w, now| w.check(now))
    }

    /// [`Liveness::check`], and a failing writer too: `/health`'s test.
    pub fn health(&self) -> Result<(), String> {
        self.test(|w, now| w.health(now))
    }

    fn test(
        &self,
        writer: impl Fn(&writer::Progress, u64) -> Result<(), String>,
    ) -> Result<(), String> {
        let now = now_ms();
        let age = |at: &AtomicU64| now.saturating_sub(at.load(Ordering::Relaxed));
        let control_limit = (self.tick * STUCK_TICKS).max(Duration::from_secs(30));
        if age(&self.control) > control_limit.as_millis() as u64 {
            return Err("the poll loop has not run for a while".into());
        }
        writer(&self.writer, now)?;
        if age(&self.dispatcher) > super::dispatch::STUCK_AFTER.as_millis() as u64 {
            return Err("the dispatcher has not run for a while".into());
        }
        Ok(())
    }
}

/// `STATUS=`: "3 sources (1 failing), 41 hits in the last hour, outbox 0", and why the last
/// reload was refused.
pub(super) fn status_line(
    slots: &[super::reload::Slot],
    stored: &std::sync::Mutex<crate::store::Store>,
    refused: &Option<String>,
) -> String {
    let failing = slots
        .iter()
        .filter(|s| s.state.last_error.is_some())
        .count();
    let n = slots.len();
    let mut line = format!(
        "{n} source{} ({failing} failing)",
        if n == 1 { "" } else { "s" }
    );
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let activity = tokio::task::block_in_place(|| {
        stored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .activity(since)
    });
    if let Ok((hits, outbox)) = activity {
        line.push_str(&format!(", {hits} hits in the last hour, outbox {outbox}"));
    }
    if let Some(error) = refused {
        line.push_str(&format!("; reload refused: {error}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_is_half_the_watchdog_at_most() {
        let s = |w| Systemd {
            watchdog: w,
            status: String::new(),
        };
        assert_eq!(s(None).tick(), STATUS_EVERY);
        assert_eq!(
            s(Some(Duration::from_secs(2))).tick(),
            Duration::from_secs(1)
        );
        assert_eq!(s(Some(Duration::from_secs(60))).tick(), STATUS_EVERY);
    }

    #[test]
    fn a_stale_loop_is_not_alive() {
        let now = now_ms();
        let live = Liveness {
            writer: Arc::default(),
            dispatcher: Arc::new(AtomicU64::new(now)),
            control: Arc::new(AtomicU64::new(now)),
            tick: Duration::from_secs(1),
        };
        assert_eq!(live.check(), Ok(()));
        live.dispatcher.store(now - 3_600_000, Ordering::Relaxed);
        assert!(live.check().unwrap_err().contains("dispatcher"));
        live.dispatcher.store(now, Ordering::Relaxed);
        live.control.store(now - 3_600_000, Ordering::Relaxed);
        assert!(live.check().unwrap_err().contains("poll loop"));
    }
}
