//! Ops read the database as themselves: a member of the service's group runs `vigie hits` and
//! `sqlite3 -readonly` on the database of a daemon running as the service user, while it runs
//! and after it stopped (SPEC §8, issue 18 point 7). Needs root to create the two users: CI
//! runs as root; elsewhere the test says loudly that it did not run.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util;

/// The service user (and its group) and the ops user, member of that group.
const SERVICE: &str = "vigietestsvc";
const OPS: &str = "vigietestops";

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Creates the users once; `false` when not root (outside CI only).
fn users() -> bool {
    if run("id", &["-u"]).stdout != b"0\n" {
        assert!(
            std::env::var_os("CI").is_none(),
            "ops_access needs root to create users, and CI runs as root"
        );
        eprintln!("ops_access: NOT RUN: needs root to create users (CI runs it)");
        return false;
    }
    if !run("id", &[SERVICE]).status.success() {
        let out = run(
            "useradd",
            &["--system", "--no-create-home", "--user-group", SERVICE],
        );
        assert!(out.status.success() || run("id", &[SERVICE]).status.success());
    }
    if !run("id", &[OPS]).status.success() {
        let out = run(
            "useradd",
            &["--system", "--no-create-home", "-G", SERVICE, OPS],
        );
        assert!(out.status.success() || run("id", &[OPS]).status.success());
    }
    true
}

/// `vigie ARGS` as the ops user.
fn as_ops(program: &str, args: &[&str]) -> Output {
    Command::new("runuser")
        .args(["-u", OPS, "--", program])
        .args(args)
        .env_remove("VIGIE_CONFIG")
        .env_remove("STATE_DIRECTORY")
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .expect("runuser")
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// What the ops user sees: `vigie hits` and `sqlite3 -readonly`, both must succeed.
fn ops_reads(config: &Path, db: &Path, when: &str) {
    let hits = as_ops(
        env!("CARGO_BIN_EXE_vigie"),
        &[
            "hits",
            "--config",
            util::s(config),
            "--format",
            "json",
            "--since",
            "3650d",
        ],
    );
    assert!(
        hits.status.success() && String::from_utf8_lossy(&hits.stdout).contains("colis"),
        "vigie hits as a group member {when}: {:?}\n{}{}",
        hits.status,
        String::from_utf8_lossy(&hits.stdout),
        String::from_utf8_lossy(&hits.stderr)
    );
    let sql = as_ops(
        "sqlite3",
        &["-readonly", util::s(db), "SELECT COUNT(*) FROM hits_v"],
    );
    assert!(
        sql.status.success() && String::from_utf8_lossy(&sql.stdout).trim() == "2",
        "sqlite3 -readonly as a group member {when}: {:?}\n{}{}",
        sql.status,
        String::from_utf8_lossy(&sql.stdout),
        String::from_utf8_lossy(&sql.stderr)
    );
}

#[test]
fn a_group_member_reads_the_database_while_the_daemon_runs_and_after_it_stopped() {
    if !users() {
        return;
    }
    let posts = "{\"id\": \"1\", \"text\": \"colis en retard\"}\n{\"id\": \"2\", \"text\": \"colis perdu\"}\n";
    let dir = util::tree(&[
        (
            "vigie.toml",
            "[daemon]\ndatabase = \"state/vigie.db\"\nrules = [\"rules.toml\"]\n\n\
             [[source]]\nname = \"demo\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n",
        ),
        ("rules.toml", "[[rule]]\nname = \"colis\"\nquery = 'colis'\n"),
        ("posts.jsonl", posts),
    ]);
    // As systemd lays it out: the state directory belongs to the service, 0750.
    chmod(dir.path(), 0o755);
    for f in ["vigie.toml", "rules.toml", "posts.jsonl"] {
        chmod(&dir.path().join(f), 0o644);
    }
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    assert!(
        run("chown", &[&format!("{SERVICE}:{SERVICE}"), util::s(&state)])
            .status
            .success()
    );
    chmod(&state, 0o750);
    let config = dir.path().join("vigie.toml");
    let db = state.join("vigie.db");
    let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let mut daemon = Command::new("setpriv")
        .args([
            &format!("--reuid={SERVICE}"),
            &format!("--regid={SERVICE}"),
            "--init-groups",
            "--",
            env!("CARGO_BIN_EXE_vigie"),
            "run",
            "--config",
            util::s(&config),
        ])
        .stdin(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("setpriv");
    let t0 = Instant::now();
    let stored = || {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM hits", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    while stored() < 2 {
        let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no hits; log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ops_reads(&config, &db, "while the daemon runs");
    assert!(run("kill", &["-TERM", &daemon.id().to_string()])
        .status
        .success());
    assert!(daemon.wait().unwrap().success());
    eprintln!(
        "AFTER STOP: {:?}",
        std::fs::read_dir(&state)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    ops_reads(&config, &db, "after the daemon stopped");
    // Still nobody else's: the files stay 0640.
    for f in ["vigie.db", "vigie.db-wal", "vigie.db-shm"] {
        if let Ok(meta) = std::fs::metadata(state.join(f)) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o640, "{f}");
        }
    }
}
