//! The SQLite store: one file in WAL mode, opened read-write by the daemon's writer and
//! read-only by the CLI.
//!
//! `migrations` owns the schema, `write` the single transaction per poll batch (where every
//! dedup constraint is used), `query` the read-only builders behind `vigie hits` and
//! `vigie sources`. Times are stored as RFC 3339 UTC text of fixed width
//! (`2026-11-22T09:14:00Z`), so `sqlite3` users can read and compare them as strings.
//!
//! `files` owns the modes of the database files and the daemon's lock. A database found
//! damaged (by `PRAGMA quick_check` at start, or on an error that smells of corruption) is
//! reported as [`StoreError::Damaged`], which names the file and the README's recovery
//! section, so the daemon stops rather than retrying a commit that can never succeed.

pub mod alerts;
pub mod cases;
pub mod cases_query;
pub mod files;
pub mod health;
mod memory;
pub mod migrations;
pub mod outbox;
pub mod query;
pub mod write;

#[cfg(test)]
mod counters_props;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use crate::detect::Counters;

pub use alerts::AlertPolicy;
pub use cases::CasePolicy;
pub use files::{lock, DbLock};
pub use query::{AlertQuery, AlertRow, HitQuery, HitRow, SourceRow};
pub use write::{CommitStats, PollOutcome, PollResult, SavedSource};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file does not exist (the CLI says to start the daemon first).
    #[error("database {0} does not exist yet: start the daemon (vigie run) first")]
    Missing(String),
    /// SQLite said no.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value could not be read back.
    #[error("database: {0}")]
    Corrupt(String),
    /// The database file itself is damaged: retrying cannot help.
    #[error(
        "database {path} is damaged ({detail}); stop vigie and recover it as the README's \
         \"Recovering a damaged database\" says: sqlite3 {path} \".recover\" | sqlite3 fixed.db, \
         or restore a backup"
    )]
    Damaged {
        /// The database file.
        path: String,
        /// What SQLite or `quick_check` said (first problem only).
        detail: String,
    },
    /// Another daemon holds the database's lock.
    #[error("another vigie (pid {}) is running on this database", pid.map_or("unknown".to_string(), |p| p.to_string()))]
    Locked {
        /// The holder's pid, as it wrote it in the lock file.
        pid: Option<u32>,
    },
    /// The database's folder, file modes or lock file.
    #[error("{0}")]
    Files(String),
}

/// Keeps the `-wal` and `-shm` files when this connection closes last (`SQLITE_FCNTL_PERSIST_WAL`;
/// the WAL is still checkpointed and truncated to `journal_size_limit`). Without them a reader
/// that cannot write in the database's folder (ops in the `vigie` group, SPEC §8) cannot open a
/// WAL database once the daemon has stopped: SQLite would need to create them.
fn persist_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut on: std::os::raw::c_int = 1;
    // SAFETY: the handle is live for the call (borrowed from `conn`), "main" is a NUL-terminated
    // schema name, and PERSIST_WAL reads and writes one int through the pointer we own.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut on as *mut std::os::raw::c_int).cast(),
        )
    };
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rc),
            None,
        ))
    }
}

/// Whether an error may come from a damaged file (so `quick_check` should look): SQLite's
/// corruption codes, and the messages a damaged schema or FTS5 table gives under a generic code.
fn suspect(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
                || msg.as_deref().is_some_and(|m| {
                    m.contains("malformed")
                        || m.contains("vtable constructor failed")
                        || m.contains("corrupt")
                })
        }
        _ => false,
    }
}

/// Whether SQLite itself said the file is damaged (no check needed to be sure).
fn certainly_damaged(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// An open database.
pub struct Store {
    conn: Connection,
    /// The database file, for messages.
    path: PathBuf,
    /// How commits decide alerts; `None`: record posts and hits only.
    policy: Option<alerts::AlertPolicy>,
    /// The earliest post's event time (where `learn` counts from): read when a policy is set,
    /// then kept up to date by commits.
    earliest: Option<DateTime<Utc>>,
    /// `[daemon] retention`: posts older than this (by event time) at the poll that found them
    /// are not stored, and [`Store::prune`] deletes those that grew older.
    retention: Option<chrono::Duration>,
    /// The rules' hits in memory, read by commits instead of range queries: built with the
    /// policy, kept up to date by commits and pruning; `None` until built (and after a failed
    /// commit, until the next one rebuilds them), when commits count in SQL.
    counters: Option<Counters>,
    /// Whether to keep `counters` (off only in the tests that compare with the SQL counts).
    counting: bool,
    /// Whether commits write the full-text rows behind `vigie hits --search` (off for a
    /// throw-away database, which nobody searches).
    full_text: bool,
    /// How commits keep cases (SPEC §5.1); `None`: no case is kept.
    cases: Option<cases::CasePolicy>,
    /// The posts and hits a throw-away database keeps in memory instead of as rows (see
    /// [`Store::throw_away`]); `None`: every post and hit is a row.
    memory: Option<memory::Memory>,
}

/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements the writer's connection keeps (rusqlite keeps 16 by default): more than
/// the commit path's ~20 with alerts and source health, so that no commit prepares one again
/// after another path pushed it out (issue 23: 11% of a busy replay went to preparing).
const STATEMENT_CACHE: usize = 64;

/// The size the `-wal` file is cut back to (`journal_size_limit`) when a writer restarts it
/// after a complete checkpoint: twice the 4 MB that the default auto-checkpoint (1,000 pages)
/// lets it reach in steady use. A reader holding an old snapshot lets the WAL grow past it;
/// once the reader lets go, the next commits checkpoint it, restart it and truncate it.
pub const WAL_LIMIT: i64 = 8 << 20;

impl Store {
    /// Opens (creating if needed, with the modes of [`files`]) the database read-write and
    /// applies migrations. The daemon takes [`lock`] first.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        files::create_folder(path)?;
        files::create_database(path)?;
        let opened = Connection::open(path).and_then(|mut conn| {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            if files::on_disk(path) {
                persist_wal(&conn)?;
            }
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.pragma_update(None, "foreign_keys", "ON")?;
            conn.pragma_update(None, "journal_size_limit", WAL_LIMIT)?;
            conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            // Plans that do not depend on the values bound: without this, SQLite marks some
            // statements of the commit path (`last_alert`, the top posts, a source's last
            // alert) to be prepared again at every new binding, which took a fifth of a busy
            // replay (issue 23). No query here gains from a per-value plan (no ANALYZE data).
            conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
                true,
            )?;
            migrations::apply(&mut conn)?;
            Ok(conn)
        });
        let conn = match opened {
            Ok(conn) => conn,
            Err(e) if suspect(&e) => {
                return Err(StoreError::Damaged {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            policy: None,
            earliest: None,
            retention: None,
            counters: None,
            counting: true,
            full_text: true,
            cases: None,
            memory: None,
        })
    }

    /// Opens an existing database read-only: never blocks the daemon (WAL readers don't).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            policy: None,
            earliest: None,
            retention: None,
            counters: None,
            counting: true,
            full_text: true,
            cases: None,
            memory: None,
        })
    }

    /// Runs `PRAGMA quick_check`: an error naming the file when it finds the database damaged.
    /// It reads every page once (see the README for its cost on a large database).
    pub fn check(&self) -> Result<(), StoreError> {
        let damaged = |detail: String| StoreError::Damaged {
            path: self.path.display().to_string(),
            detail,
        };
        let first: rusqlite::Result<String> =
            self.conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0));
        match first {
            Ok(s) if s == "ok" => Ok(()),
            // "*** in database main ***" then the problem: keep the problem, on one line.
            Ok(s) => Err(damaged(format!(
                "quick_check: {}",
                s.lines()
                    .filter(|l| !l.starts_with("***"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
            Err(e) if suspect(&e) => Err(damaged(e.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// After a failed operation: the [`StoreError::Damaged`] to stop on when the error says
    /// the file is damaged or `quick_check` finds it so; `None` for errors worth retrying.
    pub fn damaged(&self, e: &StoreError) -> Option<StoreError> {
        let StoreError::Sqlite(e) = e else {
            return None;
        };
        if !suspect(e) {
            return None;
        }
        match self.check() {
            Err(d @ StoreError::Damaged { .. }) => Some(d),
            _ if certainly_damaged(e) => Some(StoreError::Damaged {
                path: self.path.display().to_string(),
                detail: e.to_string(),
            }),
            _ => None,
        }
    }

    /// Makes every later commit decide and record alerts under `policy`.
    pub fn set_alert_policy(&mut self, policy: alerts::AlertPolicy) -> Result<(), StoreError> {
        let t: Option<String> =
            self.conn
                .query_row("SELECT MIN(created_at) FROM posts", [], |r| r.get(0))?;
        self.earliest = t.as_deref().and_then(parse_time);
        self.policy = Some(policy);
        self.rebuild_counters()
    }

    /// Builds the counters afresh from the database, for the current policy (none without
    /// one). On an error commits count in SQL until the next commit rebuilds them.
    fn rebuild_counters(&mut self) -> Result<(), StoreError> {
        self.counters = None;
        if let (Some(policy), true) = (&self.policy, self.counting) {
            self.counters = Some(alerts::counters(&self.conn, policy)?);
        }
        Ok(())
    }

    /// Copies the whole WAL into the database file and empties it (`wal_checkpoint(TRUNCATE)`),
    /// as the daemon stops: the file then holds everything by itself, and the persistent WAL
    /// left beside it is empty. A reader holding an old snapshot makes it partial, no harm.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Makes a fresh database a throw-away one (`replay` without `--db`), whose commits decide
    /// as any other's but keep only what the commit path reads back: no full-text rows (no
    /// one can search it), no indexes that only queries read ([`Store::drop_query_indexes`]),
    /// and, unless cases follow threads or sources' health is judged (a replay judges none),
    /// no post or hit rows at all: their keys and the hits that alerts quote stay in memory
    /// ([`memory`]); [`Store::hit_count`] and [`Store::hits_per_rule`] answer from there.
    /// Call it after [`Store::set_alert_policy`] and [`Store::set_case_policy`].
    pub fn throw_away(&mut self) -> Result<(), StoreError> {
        self.full_text = false;
        // Source health reads the posts' times, and cases their threads: rows for those.
        let health = self.policy.as_ref().is_some_and(|p| !p.sources.is_empty());
        if !health && self.cases.as_ref().is_none_or(|c| c.rules.is_empty()) {
            self.memory = Some(memory::Memory::new(self.policy.as_ref()));
        }
        self.drop_query_indexes()
    }

    /// Drops the indexes that only the query commands, [`Store::prune`], source health and
    /// (when no rule has `reply_within`) the cases read: `replay` without `--db` keeps a
    /// throw-away database that none of them reads, and each index costs a B-tree insert per
    /// post or hit. The indexes the commit path reads stay: posts by `(source, source_id)`
    /// (deduplication, threads) and hits by `(rule, created_at)` (counts, top posts, charts).
    pub fn drop_query_indexes(&mut self) -> Result<(), StoreError> {
        let cases = self.cases.as_ref().is_some_and(|c| !c.rules.is_empty());
        let mut drop = vec![
            "posts_source_fetched_at",
            "posts_created_at",
            "hits_created_at",
        ];
        if !cases {
            drop.extend(["posts_thread", "hits_post_id"]);
        }
        for index in drop {
            self.conn
                .execute_batch(&format!("DROP INDEX IF EXISTS {index}"))?;
        }
        Ok(())
    }

    /// Keeps posts and hits for `retention` (by the posts' event time); see [`Store::prune`].
    pub fn set_retention(&mut self, retention: Duration) {
        self.retention = chrono::Duration::from_std(retention).ok();
    }

    /// [`Store::set_retention`], or keep everything (`None`): a reload may remove the key.
    pub fn set_retention_opt(&mut self, retention: Option<Duration>) {
        self.retention = retention.and_then(|r| chrono::Duration::from_std(r).ok());
    }

    /// The oldest event time a post may have to be stored at `now`, under the retention.
    pub fn retention_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.retention.and_then(|r| now.checked_sub_signed(r))
    }

    /// Deletes up to about `batch` of the oldest posts created before `cutoff`, with their hits
    /// and full-text entries, in one transaction; returns how many posts went. Call again while
    /// it returns `batch` or more: small transactions keep the writer responsive.
    pub fn prune(&mut self, cutoff: DateTime<Utc>, batch: usize) -> Result<u64, StoreError> {
        let cutoff = fmt_time(cutoff);
        let tx = self.conn.transaction()?;
        // The event time of the `batch`-th oldest post to go: everything up to it goes (a few
        // more when several share that time, never none).
        let bound: Option<String> = tx
            .query_row(
                "SELECT created_at FROM posts WHERE created_at < ?1
                 ORDER BY created_at LIMIT 1 OFFSET ?2",
                rusqlite::params![cutoff, batch.saturating_sub(1) as i64],
                |r| r.get(0),
            )
            .optional()?;
        let bound = bound.unwrap_or_else(|| cutoff.clone());
        let condition = "created_at < ?1 AND created_at <= ?2";
        // A case goes with its complaint; a reply that goes first leaves the case its answer.
        tx.execute(
            &format!("DELETE FROM cases WHERE post_id IN (SELECT id FROM posts WHERE {condition})"),
            rusqlite::params![cutoff, bound],
        )?;
        tx.execute(
            &format!(
                "UPDATE cases SET answer_post_id = NULL
                 WHERE answer_post_id IN (SELECT id FROM posts WHERE {condition})"
            ),
            rusqlite::params![cutoff, bound],
        )?;
        tx.execute(
            &format!(
                "DELETE FROM posts_fts WHERE rowid IN (SELECT id FROM posts WHERE {condition})"
            ),
            rusqlite::params![cutoff, bound],
        )?;
        tx.execute(
            &format!("DELETE FROM hits WHERE {condition}"),
            rusqlite::params![cutoff, bound],
        )?;
        let posts = tx.execute(
            &format!("DELETE FROM posts WHERE {condition}"),
            rusqlite::params![cutoff, bound],
        )?;
        tx.commit()?;
        // Gone: hits before the cutoff up to the bound, on whole seconds.
        if let (Some(counters), Some(c), Some(b)) =
            (&mut self.counters, parse_time(&cutoff), parse_time(&bound))
        {
            counters.forget_through(b.min(c - chrono::Duration::seconds(1)));
        }
        Ok(posts as u64)
    }

    /// The underlying connection, for tests and ad-hoc reads.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

/// Formats a time as stored: RFC 3339 UTC, seconds, `Z`.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses a stored or given RFC 3339 time (any offset) into UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
