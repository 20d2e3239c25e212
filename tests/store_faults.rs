//! The store under operator faults, with the real daemon (issue 21, points 9–13): a second
//! daemon on one database, a damaged file, a long reader and the WAL, file modes under any
//! umask, and a source's outage left out of a rule's spike baseline.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};

use crate::daemon_util::Daemon;
use crate::util::{s, tree};

const LONG: Duration = Duration::from_secs(60);

/// The size the README promises the WAL goes back to once no reader holds an old snapshot.
const WAL_LIMIT: u64 = 8 << 20;

const CONFIG: &str = r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]

[[source]]
name = "forum"
kind = "jsonl"
path = "posts.jsonl"
every = "1s"

[[notifier]]
name = "console"
kind = "console"
"#;

const RULES: &str = r#"
[defaults]
notify = ["console"]

[[rule]]
name = "livraison"
query = 'colis'
alert = { spike = 3.0, min_count = 5 }
"#;

/// `vigie run --config CONFIG` with its stderr in `log`, under `umask` when given (through
/// `sh`, which `exec`s vigie, so the child's pid is vigie's).
fn spawn(config: &Path, log: &Path, umask: Option<&str>) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    let mut cmd = match umask {
        Some(mask) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("umask {mask} && exec \"$0\" run --config \"$1\""))
                .arg(env!("CARGO_BIN_EXE_vigie"))
                .arg(config);
            c
        }
        None => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
            c.args(["run", "--config"]).arg(config);
            c
        }
    };
    cmd.env("RUST_LOG", "vigie=debug,info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn vigie run")
}

/// Waits until `cond` holds, failing with `log`'s content after `timeout`.
fn wait_until(what: &str, log: &Path, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        if t0.elapsed() > timeout {
            panic!(
                "timed out waiting for {what}; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then the exit code.
fn terminate(child: &mut Child) -> i32 {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().expect("wait").code().unwrap_or(-1)
}

fn post(id: &str, text: &str, at: DateTime<Utc>) -> String {
    serde_json::json!({
        "id": id,
        "text": text,
        "author": "@alice",
        "created_at": vigie::store::fmt_time(at),
    })
    .to_string()
        + "\n"
}

fn append(path: &Path, lines: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open posts");
    f.write_all(lines.as_bytes()).expect("append");
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(0)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Issue 21 point 9: two daemons started at once on a fresh database (which used to fail with
/// "duplicate column name: failing_since", or poll every source twice).
#[test]
fn a_second_daemon_on_one_database_exits_1_and_names_the_first() {
    let dir = tree(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", ""),
    ]);
    let config = dir.path().join("vigie.toml");
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let mut children = [
        spawn(&config, &logs[0], None),
        spawn(&config, &logs[1], None),
    ];
    let mut refused = None;
    wait_until("one of two daemons to exit", &logs[0], LONG, || {
        for (i, c) in children.iter_mut().enumerate() {
            if let Some(status) = c.try_wait().expect("try_wait") {
                refused = Some((i, status.code()));
                return true;
            }
        }
        false
    });
    let (out, code) = refused.unwrap();
    let runs = 1 - out;
    let refused_log = std::fs::read_to_string(&logs[out]).unwrap();
    assert_eq!(code, Some(1), "refused daemon's log:\n{refused_log}");
    let pid = children[runs].id();
    assert!(
        refused_log.contains(&format!(
            "another vigie (pid {pid}) is running on this database"
        )),
        "{refused_log}"
    );
    // The other one runs and works: its posts are stored.
    let db = dir.path().join("vigie.db");
    append(
        &dir.path().join("posts.jsonl"),
        &post("1", "mon colis", Utc::now()),
    );
    wait_until("the post stored", &logs[runs], LONG, || {
        count(&db, "SELECT COUNT(*) FROM posts") == 1
    });
    // A query command reads while the daemon holds the lock.
    let sources = crate::util::vigie(&["sources", "--config", s(&config), "--format", "json"], "");
    assert_eq!(sources.code, 0, "{}", sources.stderr);
    assert!(sources.stdout.contains("forum"), "{}", sources.stdout);
    // A third daemon on the now migrated database is refused the same way.
    let third = dir.path().join("c.log");
    let code = spawn(&config, &third, None).wait().expect("wait").code();
    let third_log = std::fs::read_to_string(&third).unwrap();
    assert_eq!(code, Some(1), "{third_log}");
    assert!(
        third_log.contains(&format!("another vigie (pid {pid})")),
        "{third_log}"
    );
    assert_eq!(terminate(&mut children[runs]), 0);
    for log in logs.iter().chain([&third]) {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(!text.contains("duplicate column"), "{text}");
    }
}

/// Overwrites `len` bytes at `at` with a fixed pseudo-random pattern.
fn scribble(path: &Path, at: u64, len: usize) {
    use std::io::{Seek, SeekFrom};
    let mut x: u32 = 0x9e37_79b9;
    let junk: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open db");
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&junk).unwrap();
    f.sync_all().unwrap();
}

/// A stopped daemon's database of 12,000 posts (about 8 MB: more than SQLite's page cache).
fn daemon_with_a_database() -> Daemon {
    let now = Utc::now();
    let posts: String = (0..12_000)
        .map(|i| {
            let text = format!("colis {i} perdu, {}", "bla ".repeat(40 + i % 50));
            post(&format!("p{i}"), &text, now)
        })
        .collect();
    let mut d = Daemon::start(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", &posts),
    ]);
    d.wait_for("12,000 posts", LONG, || {
        d.count("SELECT COUNT(*) FROM posts") == 12_000
    });
    assert_eq!(d.terminate(LONG), 0);
    d
}

/// Waits for the daemon to exit on its own: its exit code.
fn exit_code(d: &mut Daemon) -> Option<i32> {
    let t0 = Instant::now();
    loop {
        if let Some(status) = d.child.as_mut().unwrap().try_wait().unwrap() {
            d.child = None;
            return status.code();
        }
        assert!(
            t0.elapsed() < LONG,
            "the daemon still runs on a damaged database; log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The message a damaged database stops the daemon with.
fn assert_names_the_damage(d: &Daemon) {
    let log = d.log();
    let named = format!(
        "database {} is damaged",
        d.path().join("vigie.db").display()
    );
    assert!(log.contains(&named), "{log}");
    assert!(log.contains("Recovering a damaged database"), "{log}");
    assert!(log.contains("\".recover\""), "{log}");
}

/// Issue 21 point 10: a partly overwritten database used to make the daemon retry forever
/// ("vtable constructor failed: posts_fts"). Damaged while stopped: found at start.
#[test]
fn a_damaged_database_stops_the_daemon_with_exit_1_and_the_way_to_recover() {
    let mut d = daemon_with_a_database();
    let db = d.path().join("vigie.db");
    let size = std::fs::metadata(&db).unwrap().len();
    // Pages in the middle, as a bad disk or a stray `dd` would.
    scribble(&db, size / 3, (size / 3) as usize);
    append(
        &d.path().join("posts.jsonl"),
        &post("new", "un colis", Utc::now()),
    );
    d.restart();
    assert_eq!(exit_code(&mut d), Some(1), "{}", d.log());
    assert_names_the_damage(&d);
}

/// Issue 21 point 10, damaged while the daemon runs: the failed commit is checked, and the
/// daemon stops instead of retrying it forever.
#[test]
fn a_database_damaged_under_the_running_daemon_stops_it_with_exit_1() {
    let mut d = daemon_with_a_database();
    d.restart();
    d.wait_for("the start", LONG, || {
        d.log().matches("Vigie started.").count() == 2
    });
    let db = d.path().join("vigie.db");
    let size = std::fs::metadata(&db).unwrap().len();
    // Every page but the first (the schema stays readable).
    scribble(&db, 4096, (size - 4096) as usize);
    let news: String = (0..50)
        .map(|i| post(&format!("new{i}"), "un colis", Utc::now()))
        .collect();
    append(&d.path().join("posts.jsonl"), &news);
    assert_eq!(exit_code(&mut d), Some(1), "{}", d.log());
    assert!(
        d.log().contains("Database damaged; stopping."),
        "{}",
        d.log()
    );
    assert_names_the_damage(&d);
}

/// Issue 21 point 11: a reader holding a snapshot used to leave a 75 MB WAL until shutdown.
#[test]
fn the_wal_shrinks_back_once_a_long_reader_lets_go() {
    let d = Daemon::start(&[
        ("vigie.toml", CONFIG),
        ("rules.toml", RULES),
        ("posts.jsonl", ""),
    ]);
    let posts = d.path().join("posts.jsonl");
    let wal = d.path().join("vigie.db-wal");
    let db = d.db();
    let mut next = 0;
    let mut add = |n: usize| {
        let lines: String = (next..next + n)
            .map(|i| {
                let text = format!("colis {i} {}", "retard perdu cassé ".repeat(40));
                post(&format!("w{i}"), &text, Utc::now())
            })
            .collect();
        next += n;
        append(&posts, &lines);
        next
    };
    let total = add(10);
    d.wait_for("the first posts", LONG, || {
        d.count("SELECT COUNT(*) FROM posts") == total as i64
    });
    // A reader holds its snapshot while posts flow: the WAL cannot be reset and grows.
    db.execute_batch("BEGIN").unwrap();
    let seen: i64 = db
        .query_row("SELECT COUNT(*) FROM posts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, total as i64);
    let big = 3 * WAL_LIMIT;
    d.wait_for(
        "a WAL three times the limit",
        Duration::from_secs(120),
        || {
            let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
            if size < big {
                let total = add(300);
                let stored = || d.count("SELECT COUNT(*) FROM posts") >= total as i64;
                d.wait_for("the batch stored", LONG, stored);
            }
            size >= big
        },
    );
    // The reader lets go; while posts keep coming, the WAL goes back under the bound.
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let bound = 2 * WAL_LIMIT;
    d.wait_for("the WAL to shrink", LONG, || {
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        if size > bound {
            let total = add(5);
            let stored = || d.count("SELECT COUNT(*) FROM posts") >= total as i64;
            d.wait_for("the batch stored", LONG, stored);
        }
        size <= bound
    });
}

/// Issue 21 point 12: post text is personal data; the files must not follow a lax umask (nor
/// lose the group's read under a strict one).
#[test]
fn database_files_are_0640_and_their_folder_0750_whatever_the_umask() {
    for umask in ["000", "077"] {
        let config = CONFIG.replace("\"vigie.db\"", "\"state/vigie.db\"");
        let dir = tree(&[
            ("vigie.toml", &config),
            ("rules.toml", RULES),
            ("posts.jsonl", ""),
        ]);
        let log = dir.path().join("daemon.log");
        let mut child = spawn(&dir.path().join("vigie.toml"), &log, Some(umask));
        let state = dir.path().join("state");
        let files: Vec<PathBuf> = ["vigie.db", "vigie.db-wal", "vigie.db-shm"]
            .iter()
            .map(|f| state.join(f))
            .collect();
        wait_until("the database files", &log, LONG, || {
            files.iter().all(|f| f.exists())
                && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Vigie started."))
        });
        append(
            &dir.path().join("posts.jsonl"),
            &post("1", "mon colis", Utc::now()),
        );
        wait_until("the post stored", &log, LONG, || {
            count(&state.join("vigie.db"), "SELECT COUNT(*) FROM hits") == 1
        });
        assert_eq!(mode(&state), 0o750, "umask {umask}: {}", state.display());
        for f in files.iter().chain([&state.join("vigie.db.lock")]) {
            assert_eq!(mode(f), 0o640, "umask {umask}: {}", f.display());
        }
        assert_eq!(terminate(&mut child), 0);
    }
}

/// Issue 21 point 13 (SPEC §5): the hour after an outage is not a spike. The database records
/// that the source was down for most of the last day (as the daemon records an outage when
/// the source recovers); the rule's baseline is the rate while the source was up.
#[test]
fn a_spike_baseline_leaves_out_the_time_its_source_was_down() {
    let dir = tree(&[("vigie.toml", CONFIG), ("rules.toml", RULES)]);
    let t = Utc::now();
    let ago = |m: i64| t - chrono::Duration::minutes(m);
    let (fails, back) = (ago(18 * 60 + 10), ago(16));
    {
        let store = vigie::store::Store::open(&dir.path().join("vigie.db")).unwrap();
        store
            .connection()
            .execute(
                "INSERT INTO source_downtime (source, start, end) VALUES ('forum', ?1, ?2)",
                [vigie::store::fmt_time(fails), vigie::store::fmt_time(back)],
            )
            .unwrap();
    }
    // Six hours at one post a minute before the outage, then 15 posts in the current window.
    let mut lines: String = (0..360)
        .map(|i| post(&format!("old{i}"), "un colis", ago(24 * 60 + 10 - i)))
        .collect();
    lines.extend((0..15).map(|i| {
        post(
            &format!("now{i}"),
            "un colis",
            ago(14) + chrono::Duration::seconds(40 * i),
        )
    }));
    std::fs::write(dir.path().join("posts.jsonl"), lines).unwrap();
    let log = dir.path().join("daemon.log");
    let mut child = spawn(&dir.path().join("vigie.toml"), &log, None);
    let db = dir.path().join("vigie.db");
    wait_until("375 posts", &log, LONG, || {
        count(&db, "SELECT COUNT(*) FROM posts") == 375
    });
    // Alerts are recorded in the commit that stored the posts: none, as 15 is the usual rate.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM alerts WHERE kind = 'spike'"),
        0,
        "the outage was counted as a quiet time; log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // A real burst does alert, against the rate while the source was up (~15 per window).
    let burst: String = (0..40)
        .map(|i| {
            post(
                &format!("burst{i}"),
                "un colis",
                Utc::now() - chrono::Duration::seconds(i),
            )
        })
        .collect();
    append(&dir.path().join("posts.jsonl"), &burst);
    wait_until("a spike alert", &log, LONG, || {
        count(&db, "SELECT COUNT(*) FROM alerts WHERE kind = 'spike'") == 1
    });
    let (n, baseline): (i64, f64) = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count, baseline FROM alerts WHERE kind = 'spike'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!((45..=55).contains(&n), "count {n}");
    assert!((14.0..16.0).contains(&baseline), "baseline {baseline}");
    assert_eq!(terminate(&mut child), 0);
}
