//! The SQLite store: one file in WAL mode, opened read-write by the daemon's writer and
//! read-only by the CLI.
//!
//! `migrations` owns the schema, `write` the single transaction per poll batch (where every
//! dedup constraint is used), `query` the read-only builders behind `vigie hits` and
//! `vigie sources`. Times are stored as RFC 3339 UTC text of fixed width
//! (`2026-11-22T09:14:00Z`), so `sqlite3` users can read and compare them as strings.

pub mod alerts;
pub mod migrations;
pub mod outbox;
pub mod query;
pub mod write;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub use alerts::AlertPolicy;
pub use query::{AlertQuery, AlertRow, HitQuery, HitRow, SourceRow};
pub use write::{CommitStats, PollOutcome, PollResult, SourceState};

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
}

/// An open database.
pub struct Store {
    conn: Connection,
    /// How commits decide alerts; `None`: record posts and hits only.
    policy: Option<alerts::AlertPolicy>,
    /// The earliest post's event time (where `learn` counts from): read when a policy is set,
    /// then kept up to date by commits.
    earliest: Option<DateTime<Utc>>,
    /// `[daemon] retention`: posts older than this (by event time) at the poll that found them
    /// are not stored, and [`Store::prune`] deletes those that grew older.
    retention: Option<chrono::Duration>,
}

/// How long a connection waits for a lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl Store {
    /// Opens (creating if needed) the database read-write and applies migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Corrupt(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::apply(&mut conn)?;
        Ok(Store {
            conn,
            policy: None,
            earliest: None,
            retention: None,
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
            policy: None,
            earliest: None,
            retention: None,
        })
    }

    /// Makes every later commit decide and record alerts under `policy`.
    pub fn set_alert_policy(&mut self, policy: alerts::AlertPolicy) -> Result<(), StoreError> {
        let t: Option<String> =
            self.conn
                .query_row("SELECT MIN(created_at) FROM posts", [], |r| r.get(0))?;
        self.earliest = t.as_deref().and_then(parse_time);
        self.policy = Some(policy);
        Ok(())
    }

    /// Keeps posts and hits for `retention` (by the posts' event time); see [`Store::prune`].
    pub fn set_retention(&mut self, retention: Duration) {
        self.retention = chrono::Duration::from_std(retention).ok();
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
