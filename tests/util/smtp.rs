//! A real SMTP server on loopback for tests: `smtp_sink.py` (Python `aiosmtpd`) in a child
//! process, each received message a file in a temporary directory.
//!
//! It owns only the wire and the record: tests decide what to send and what to assert. Options
//! turn on AUTH (one accepted login, 535 for the rest) or a fixed reply to DATA (`451 …`, `554 …`)
//! to test how a client classifies failures. `stop()` kills the process (connections drop,
//! the port refuses), and `restart()` or `start_on(port)` brings a sink back on the same port
//! for outage tests. Dropping the server kills the process. Needs `pip install aiosmtpd`.
//!
//! ```ignore
//! let sink = SmtpServer::start();
//! // … send one mail to sink.url() …
//! let mails = sink.wait_for(1, Duration::from_secs(10));
//! ```

// Not every suite uses every helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the sink may take to print its port.
const STARTUP: Duration = Duration::from_secs(20);

/// What the sink accepts and how it answers.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// The port to listen on; 0 picks a free one.
    pub port: u16,
    /// The one login accepted (AUTH PLAIN/LOGIN over plain text, required before MAIL).
    pub auth: Option<(String, String)>,
    /// A reply to every DATA instead of `250` (e.g. `451 4.3.0 try later`); nothing is stored.
    pub data_reply: Option<String>,
    /// TLS with the test certificate of `tests/fixtures/tls` (`server.pem`, signed by `ca.pem`).
    pub tls: Option<SmtpTls>,
}

/// How the sink speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS offered, and required before MAIL (`smtp://…?tls=required`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Implicit,
}

/// The CA that signed the sink's TLS certificate, for the client's `SSL_CERT_FILE`.
pub fn test_ca() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem")
}

/// One running (or stopped) sink.
pub struct SmtpServer {
    options: SmtpOptions,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpServer {
    /// A sink on a free port that accepts every message, without AUTH.
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(SmtpOptions::default())
    }

    /// A sink on `port` (e.g. the port of a stopped sink, to end an outage).
    pub fn start_on(port: u16) -> SmtpServer {
        SmtpServer::start_with(SmtpOptions {
            port,
            ..SmtpOptions::default()
        })
    }

    /// A sink with `options`.
    pub fn start_with(options: SmtpOptions) -> SmtpServer {
        let mut server = SmtpServer {
            options,
            dir: tempfile::tempdir().expect("tempdir"),
            child: None,
        };
        server.spawn();
        server
    }

    /// Starts the script and records the port it bound.
    fn spawn(&mut self) {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/util/smtp_sink.py");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let stderr_path = self.dir.path().join("sink.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("sink stderr file");
        let mut cmd = Command::new(&python);
        cmd.arg(&script)
            .arg("--port")
            .arg(self.options.port.to_string())
            .arg("--dir")
            .arg(self.mail_dir());
        if let Some((user, password)) = &self.options.auth {
            cmd.args(["--user", user, "--password", password]);
        }
        if let Some(reply) = &self.options.data_reply {
            cmd.args(["--data-reply", reply]);
        }
        if let Some(tls) = self.options.tls {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
            let mode = match tls {
                SmtpTls::StartTls => "starttls",
                SmtpTls::Implicit => "implicit",
            };
            cmd.args(["--tls", mode, "--cert"])
                .arg(dir.join("server.pem"))
                .arg("--key")
                .arg(dir.join("server.key"));
        }
        std::fs::create_dir_all(self.mail_dir()).expect("mail dir");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} (pip install aiosmtpd): {e}"));
        let stdout = child.stdout.take().expect("sink stdout");
        // Read the port on a thread so a hung interpreter fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(STARTUP).unwrap_or_default();
        match line.trim().parse::<u16>() {
            Ok(port) if port != 0 => {
                self.options.port = port;
                self.child = Some(child);
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let mut err = String::new();
                let _ =
                    std::fs::File::open(&stderr_path).and_then(|mut f| f.read_to_string(&mut err));
                panic!(
                    "smtp sink did not start (is aiosmtpd installed? pip install aiosmtpd):\n{err}"
                );
            }
        }
    }

    /// Where the sink writes messages.
    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The bound port (kept after `stop()`).
    pub fn port(&self) -> u16 {
        self.options.port
    }

    /// The URL a client uses: `smtp://127.0.0.1:PORT`, with `?tls=required` for STARTTLS, or
    /// `smtps://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match self.options.tls {
            None => format!("smtp://127.0.0.1:{}", self.port()),
            Some(SmtpTls::StartTls) => format!("smtp://127.0.0.1:{}?tls=required", self.port()),
            Some(SmtpTls::Implicit) => format!("smtps://127.0.0.1:{}", self.port()),
        }
    }

    /// Files named `*.{ext}` in the mail directory, in arrival order. Not the sink's
    /// `.tmp-NNNNNN.{ext}` files: read while being written, or gone once renamed, they made
    /// `messages` fail now and then.
    fn files(&self, ext: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.mail_dir())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == ext))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Every message received so far (raw RFC 5322 bytes), in arrival order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.files("eml")
            .iter()
            .map(|p| std::fs::read(p).expect("read message"))
            .collect()
    }

    /// The envelope of every message so far: (MAIL FROM, RCPT TO list), in arrival order.
    pub fn envelopes(&self) -> Vec<(String, Vec<String>)> {
        self.files("eml")
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p.with_extension("env")).unwrap_or_default();
                let mut from = String::new();
                let mut to = Vec::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("MAIL FROM: ") {
                        from = v.to_string();
                    } else if let Some(v) = line.strip_prefix("RCPT TO: ") {
                        to.push(v.to_string());
                    }
                }
                (from, to)
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived, then returns them all; panics after `timeout`
    /// (at least 30 s: a deadline is for a stuck test, not a speed test on a loaded machine).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let timeout = timeout.max(Duration::from_secs(30));
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "smtp sink: {} message(s) after {timeout:?}, wanted {n}\n{}",
                    got.len(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the sink wrote to stderr (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.stderr")).unwrap_or_default()
    }

    /// Kills the sink: open connections drop and the port refuses until a restart.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the sink again on the same port and directory (messages keep accumulating).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The temporary directory holding the messages.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
