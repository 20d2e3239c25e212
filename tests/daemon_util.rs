//! The real daemon on a temp dir: start, wait for conditions in its database, stop or kill.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// A `vigie run` child process on a temporary directory.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub log: PathBuf,
    /// Environment variables set for the daemon, on every (re)start.
    env: Vec<(String, String)>,
}

impl Daemon {
    /// Writes `files` into a new temp dir (must include `vigie.toml`) and starts the daemon.
    pub fn start(files: &[(&str, &str)]) -> Daemon {
        Daemon::start_env(files, &[])
    }

    /// [`Daemon::start`] with these environment variables set for the daemon.
    pub fn start_env(files: &[(&str, &str)], env: &[(&str, &str)]) -> Daemon {
        let dir = crate::util::tree(files);
        let mut d = Daemon {
            log: dir.path().join("daemon.log"),
            dir,
            child: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        d.restart();
        d
    }

    /// The temp dir.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("vigie.toml")
    }

    /// Starts (again) the daemon, appending to the same log.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let started = self.log().matches("Vigie started.").count();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(["run", "--config"])
            .arg(self.config())
            .env("RUST_LOG", "vigie=debug,info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn vigie run");
        self.child = Some(child);
        // Ready when this run logs its start (or exits: some tests expect it to refuse), so a
        // signal sent next reaches a daemon that catches it.
        self.wait_for("the daemon to start", Duration::from_secs(60), || {
            self.log().matches("Vigie started.").count() > started || self.exited()
        });
    }

    /// Whether the daemon has exited (its status is kept for `wait`).
    fn exited(&self) -> bool {
        let pid = self.child.as_ref().expect("running").id();
        // An exited child stays a zombie until it is waited for: read its state.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'))
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A read-only connection to the daemon's database, once it exists.
    pub fn db(&self) -> Connection {
        let path = self.path().join("vigie.db");
        self.wait_for("the database", Duration::from_secs(20), || path.exists());
        Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open read-only")
    }

    /// One integer from the database (0 while tables do not exist yet).
    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap_or(0)
    }

    /// Waits until `cond` holds, failing with the daemon's log after `timeout` (at least 30 s:
    /// a deadline is for a stuck test, not a speed test on a loaded machine).
    pub fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let timeout = timeout.max(Duration::from_secs(30));
        let t0 = Instant::now();
        while !cond() {
            if t0.elapsed() > timeout {
                panic!("timed out waiting for {what}; daemon log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the sources have been polled `n` more times (the `last_poll_at` of one of
    /// them changed `n` times), however slow the machine. What a test waits for before it
    /// asserts that something did not happen (a second delivery, a second alert), instead of
    /// sleeping a fixed time that a loaded machine may not give the daemon.
    pub fn wait_polls(&self, n: usize) {
        let stamps = || -> Option<String> {
            self.db()
                .query_row(
                    "SELECT group_concat(last_poll_at, ' ') \
                     FROM (SELECT last_poll_at FROM sources ORDER BY name)",
                    [],
                    |r| r.get(0),
                )
                .ok()
                .flatten()
        };
        let (mut last, mut seen) = (stamps(), 0);
        self.wait_for(&format!("{n} more polls"), Duration::from_secs(60), || {
            let now = stamps();
            if now != last {
                (last, seen) = (now, seen + 1);
            }
            seen >= n
        });
    }

    /// SIGTERM, then waits for the exit code.
    pub fn terminate(&mut self, within: Duration) -> i32 {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let t0 = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            if t0.elapsed() > within {
                let _ = child.kill();
                panic!(
                    "daemon did not exit within {within:?} of SIGTERM; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
