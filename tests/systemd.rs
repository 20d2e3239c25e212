//! systemd's side, played by the test: the notify socket (READY, STATUS, WATCHDOG, RELOADING,
//! STOPPING) with the real binary, and the shipped unit through `systemd-analyze`.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util;

const RULES: &str = "[[rule]]\nname = \"livraison\"\nquery = 'colis AND retard*'\n";

const CONFIG: &str = r#"[daemon]
database = "state/vigie.db"
rules = ["rules.toml"]

[[source]]
name = "demo"
kind = "jsonl"
path = "posts.jsonl"
every = "1s"
"#;

/// The notify socket's messages, read one datagram at a time.
struct Socket {
    sock: UnixDatagram,
    seen: Vec<String>,
}

impl Socket {
    /// The next message satisfying `want`, failing after 30 s with every message seen.
    fn expect(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let t0 = Instant::now();
        let mut buf = vec![0u8; 4096];
        while t0.elapsed() < Duration::from_secs(30) {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.seen.push(msg.clone());
                    if want(&msg) {
                        return msg;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("recv: {e}"),
            }
        }
        panic!("no {what} within 30 s; messages: {:#?}", self.seen);
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn the_daemon_tells_systemd_ready_status_watchdog_reloading_and_stopping() {
    let dir = util::tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        (
            "posts.jsonl",
            "{\"id\": \"1\", \"text\": \"colis en retard\"}\n",
        ),
    ]);
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut socket = Socket { sock, seen: vec![] };
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    // WATCHDOG_PID names the process that must ping: the shell's pid, which exec hands on.
    let mut child = Command::new("sh")
        .args(["-c", "WATCHDOG_PID=$$ exec \"$0\" run --config \"$1\""])
        .arg(env!("CARGO_BIN_EXE_vigie"))
        .arg(dir.path().join("vigie.toml"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "1000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn");
    let ready = socket.expect("READY=1", |m| m.lines().any(|l| l == "READY=1"));
    assert!(
        dir.path().join("state/vigie.db").exists(),
        "READY=1 came before the database existed"
    );
    assert!(
        ready.contains("STATUS=1 source (0 failing)"),
        "READY=1 carries the status line: {ready}"
    );
    for _ in 0..3 {
        socket.expect("WATCHDOG=1", |m| m.lines().any(|l| l == "WATCHDOG=1"));
    }
    // A reload: RELOADING=1 with the monotonic clock, then READY=1.
    signal(&child, "-HUP");
    let reloading = socket.expect("RELOADING=1", |m| m.lines().any(|l| l == "RELOADING=1"));
    assert!(
        reloading.lines().any(|l| l.starts_with("MONOTONIC_USEC=")
            && l["MONOTONIC_USEC=".len()..].parse::<u64>().is_ok()),
        "RELOADING=1 carries MONOTONIC_USEC: {reloading}"
    );
    socket.expect("READY=1 after the reload", |m| {
        m.lines().any(|l| l == "READY=1")
    });
    // A refused reload is shown in STATUS= and the daemon keeps pinging.
    std::fs::write(dir.path().join("rules.toml"), "[[rule]]\nname = \"x\"\n").unwrap();
    signal(&child, "-HUP");
    socket.expect("RELOADING=1", |m| m.lines().any(|l| l == "RELOADING=1"));
    let refused = socket.expect("READY=1", |m| m.lines().any(|l| l == "READY=1"));
    assert!(
        refused.contains("reload refused: ") && refused.contains("rules.toml:"),
        "STATUS= says the reload was refused, and where: {refused}"
    );
    socket.expect("WATCHDOG=1", |m| m.lines().any(|l| l == "WATCHDOG=1"));
    signal(&child, "-TERM");
    socket.expect("STOPPING=1", |m| m.lines().any(|l| l == "STOPPING=1"));
    let t0 = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert_eq!(code, Some(0), "exit code; log:\n{log}");
}

/// The shipped unit with `/usr/bin/vigie` replaced by the binary under test, in a temp dir.
fn unit_under_test() -> (tempfile::TempDir, std::path::PathBuf) {
    let unit = std::fs::read_to_string(util::root().join("systemd/vigie.service")).unwrap();
    let unit = unit.replace("/usr/bin/vigie", env!("CARGO_BIN_EXE_vigie"));
    let dir = util::tree(&[("vigie.service", &unit)]);
    let path = dir.path().join("vigie.service");
    (dir, path)
}

fn systemd_analyze(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("systemd-analyze (the systemd package; .ci/run installs it)")
}

#[test]
fn the_shipped_unit_verifies_without_a_word() {
    let (dir, unit) = unit_under_test();
    let out = systemd_analyze(&["verify", util::s(&unit)], dir.path());
    // verify exits 0 even on unknown keys: any output is a failure.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {:?}\n{said}",
        out.status
    );
}

#[test]
fn the_shipped_unit_is_exposed_2_0_or_less() {
    let (dir, unit) = unit_under_test();
    let out = systemd_analyze(
        &[
            "security",
            "--offline=yes",
            "--threshold=20",
            util::s(&unit),
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "exposure above 2.0:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_hardening_line_of_the_unit_says_why() {
    let unit = std::fs::read_to_string(util::root().join("systemd/vigie.service")).unwrap();
    let lines: Vec<&str> = unit.lines().collect();
    let hardening = lines
        .iter()
        .position(|l| l.starts_with("# Hardening"))
        .expect("a hardening section");
    let end = lines.iter().position(|l| *l == "[Install]").unwrap();
    for (i, line) in lines.iter().enumerate().take(end).skip(hardening + 1) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // A comment right above it, or above a group of at most four settings it belongs to.
        let group = lines[..i]
            .iter()
            .rev()
            .take_while(|l| !l.is_empty() && !l.starts_with('#'))
            .count();
        let commented = group < 4 && lines[i - group - 1].starts_with('#');
        assert!(commented, "no comment for {line}");
    }
}

/// Starts `vigie run` on `dir` with stderr into `log` and these variables; returns the log
/// once it holds "Vigie started." and the daemon has stopped on SIGTERM.
fn log_of_a_run(dir: &std::path::Path, log: &std::path::Path, env: &[(&str, String)]) -> String {
    let file = std::fs::File::create(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--config"])
        .arg(dir.join("vigie.toml"))
        .env("RUST_LOG", "info")
        .env_remove("JOURNAL_STREAM")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("Vigie started.")
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "no start");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, "-TERM");
    child.wait().unwrap();
    std::fs::read_to_string(log).unwrap()
}

#[test]
fn logs_to_the_journal_carry_a_priority_and_no_timestamp() {
    use std::os::unix::fs::MetadataExt;
    let dir = util::tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", ""),
    ]);
    // The journal is played by a file: JOURNAL_STREAM names its device and inode.
    let log = dir.path().join("journal.log");
    std::fs::write(&log, "").unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let journal = log_of_a_run(dir.path(), &log, &[("JOURNAL_STREAM", stream)]);
    let started = journal
        .lines()
        .find(|l| l.contains("Vigie started."))
        .unwrap();
    assert!(
        started.starts_with("<6>")
            && started["<6>".len()..].trim_start().starts_with("INFO")
            && !started.contains("\x1b["),
        "priority prefix, no colour, no timestamp: {started:?}"
    );
    // A JOURNAL_STREAM inherited by a process whose stderr went elsewhere: the human format.
    let other = dir.path().join("other.log");
    let human = log_of_a_run(dir.path(), &other, &[("JOURNAL_STREAM", "1:1".to_string())]);
    let started = human
        .lines()
        .find(|l| l.contains("Vigie started."))
        .unwrap();
    assert!(
        started.starts_with("20") && started.contains('T'),
        "timestamped human line: {started:?}"
    );
}

#[test]
fn the_shipped_service_config_checks_strictly_with_the_shipped_rules() {
    let config = std::fs::read_to_string(util::root().join("systemd/vigie.toml")).unwrap();
    let mut files = vec![("vigie.toml".to_string(), config)];
    for rule in std::fs::read_dir(util::root().join("rules"))
        .unwrap()
        .flatten()
    {
        let name = rule.file_name().to_string_lossy().into_owned();
        files.push((
            format!("rules/{name}"),
            std::fs::read_to_string(rule.path()).unwrap(),
        ));
    }
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = util::tree(&files);
    let config = dir.path().join("vigie.toml");
    let run = util::vigie(&["check", "--strict", "--config", util::s(&config)], "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// Whether process `pid` catches SIGHUP (signal 1: the lowest bit of `SigCgt` in
/// /proc/PID/status).
fn catches_sighup(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|mask| mask & 1 != 0)
}

#[test]
fn a_sighup_during_start_up_does_not_kill_the_daemon() {
    // Many rules make the start-up long enough for the signal to land before READY=1.
    let rules: String = (0..300)
        .map(|i| {
            format!(
                "[[rule]]\nname = \"r{i}\"\nquery = 'mot{i} OR terme{i}* OR \"phrase {i}\"'\n\n"
            )
        })
        .collect();
    let dir = util::tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", &rules),
        ("posts.jsonl", ""),
    ]);
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_nonblocking(true).unwrap();
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["run", "--config"])
        .arg(dir.path().join("vigie.toml"))
        .env("NOTIFY_SOCKET", &sock_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !catches_sighup(child.id()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the daemon exited during start-up"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the daemon never installed a SIGHUP handler"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut buf = [0u8; 4096];
    let mut ready_before = false;
    while let Ok(n) = sock.recv(&mut buf) {
        ready_before |= String::from_utf8_lossy(&buf[..n]).contains("READY=1");
    }
    signal(&child, "-HUP");
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut socket = Socket { sock, seen: vec![] };
    socket.expect("READY=1", |m| m.lines().any(|l| l == "READY=1"));
    eprintln!(
        "systemd: SIGHUP sent {} READY=1",
        if ready_before { "after" } else { "before" }
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP killed the daemon"
    );
    signal(&child, "-TERM");
    assert!(child.wait().unwrap().success());
}
