//! Case operations on the store (SPEC §5.1): the reads behind `vigie cases`, `vigie stats --by
//! response` and the `/metrics` case gauges, and the one write that closes a case by hand
//! ([`ack_case`], shared by `vigie cases ack` and the signed link of the `listen` listener).
//!
//! Opening, joining, answering by a brand reply, reminding and escalating are the commit's
//! (`write`, `alerts`); this module never opens a case and does not care who opened one: it
//! takes a case id. Reads go through `cases_v` with bound parameters only (filters assembled
//! as in `query`). The ack runs on its own read-write connection in a short `IMMEDIATE`
//! transaction with a busy timeout, so it waits its turn behind the daemon's writer instead of
//! failing, and the daemon's next commit waits at most that long behind it.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::{fmt_time, parse_time, Store, StoreError};

/// Filters of `vigie cases` (and of the response-time report).
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// Only these states (`open`, `answered`, `breached`); every state when empty.
    pub states: Vec<String>,
    /// Rule name (a glob when it contains `*`, `?` or `[`).
    pub rule: Option<String>,
    /// Source name (a glob when it contains `*`, `?` or `[`).
    pub source: Option<String>,
    /// Cases opened at or after.
    pub since: Option<DateTime<Utc>>,
    /// Cases opened before.
    pub until: Option<DateTime<Utc>>,
    /// Most rows returned.
    pub limit: Option<u64>,
}

/// One row of `cases_v`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseRow {
    /// The case id (what `vigie cases ack` takes).
    pub case_id: i64,
    /// The rule that opened it.
    pub rule: String,
    /// The source of its first post.
    pub source: String,
    /// The thread key.
    pub thread: String,
    /// The source's own id of the first post.
    pub post_id: String,
    /// Link to the first post.
    pub url: Option<String>,
    /// Author of the first post.
    pub author: Option<String>,
    /// Text of the first post.
    pub text: Option<String>,
    /// When the complaint was posted.
    pub opened_at: String,
    /// When its clock started (the next opening time outside business hours).
    pub clock_start: String,
    /// When a reply is due.
    pub due_at: String,
    /// `open`, `answered` or `breached`.
    pub state: String,
    /// Posts of the thread counted in the case.
    pub posts: i64,
    /// When it was answered.
    pub answered_at: Option<String>,
    /// Who answered: the brand account that replied, or the name given to `ack`.
    pub answered_by: Option<String>,
    /// `reply` or `ack`.
    pub answer: Option<String>,
    /// The note given to `ack`.
    pub note: Option<String>,
    /// First-response time in open-hours seconds.
    pub response_secs: Option<i64>,
    /// The promise in seconds (`reply_within`).
    pub promise_secs: i64,
    /// Whether the response came within the promise.
    pub within_promise: Option<bool>,
    /// When the half-time reminder was queued.
    pub reminded_at: Option<String>,
    /// When the case was breached.
    pub breached_at: Option<String>,
}

/// A case operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// No case has this id.
    #[error("no case {0}")]
    NotFound(i64),
    /// The database predates cases (the daemon migrates it when it starts).
    #[error("database {0} has no cases yet: start the daemon (vigie run) once to upgrade it")]
    NoCases(String),
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for CaseError {
    fn from(e: rusqlite::Error) -> CaseError {
        CaseError::Store(e.into())
    }
}

/// What [`ack_case`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Acked {
    /// The case is now answered by hand; `cancelled` pending reminder or escalation deliveries
    /// were cancelled.
    Done {
        /// The case as it now stands.
        case: CaseRow,
        /// Deliveries cancelled.
        cancelled: usize,
    },
    /// It was already answered: nothing changed.
    Already(CaseRow),
}

/// How long an ack waits for the daemon's writer before giving up.
const ACK_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The columns of [`CaseRow`], in order, from `cases_v`.
const COLUMNS: &str = "case_id, rule, source, thread, post_id, url, author, text, opened_at,
    clock_start, due_at, state, posts, answered_at, answered_by, answer, note, response_secs,
    promise_secs, within_promise, reminded_at, breached_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    Ok(CaseRow {
        case_id: r.get(0)?,
        rule: r.get(1)?,
        source: r.get(2)?,
        thread: r.get(3)?,
        post_id: r.get(4)?,
        url: r.get(5)?,
        author: r.get(6)?,
        text: r.get(7)?,
        opened_at: r.get(8)?,
        clock_start: r.get(9)?,
        due_at: r.get(10)?,
        state: r.get(11)?,
        posts: r.get(12)?,
        answered_at: r.get(13)?,
        answered_by: r.get(14)?,
        answer: r.get(15)?,
        note: r.get(16)?,
        response_secs: r.get(17)?,
        promise_secs: r.get(18)?,
        within_promise: r.get::<_, Option<i64>>(19)?.map(|b| b != 0),
        reminded_at: r.get(20)?,
        breached_at: r.get(21)?,
    })
}

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The first-response time of a case whose clock started at `clock_start`, answered at `at`,
/// in seconds.
///
/// Whether `e` says the `cases` table or view is missing (a database older than migration 7).
fn no_cases(e: &rusqlite::Error) -> bool {
    e.to_string().contains("no such table")
}

/// The case `id`, if any, on `conn`.
fn case_on(conn: &Connection, id: i64) -> rusqlite::Result<Option<CaseRow>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM cases_v WHERE case_id = ?1"))?
        .query_row([id], row)
        .optional()
}

impl Store {
    /// Cases matching `q`: open ones first, then the others, each by oldest deadline.
    pub fn cases(&self, q: &CaseQuery) -> Result<Vec<CaseRow>, CaseError> {
        let mut sql = format!("SELECT {COLUMNS} FROM cases_v WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        if !q.states.is_empty() {
            let marks = vec!["?"; q.states.len()].join(", ");
            sql.push_str(&format!(" AND state IN ({marks})"));
            args.extend(q.states.iter().map(|s| Value::Text(s.clone())));
        }
        for (column, value) in [("rule", &q.rule), ("source", &q.source)] {
            if let Some(v) = value {
                let op = if is_glob(v) { "GLOB" } else { "=" };
                sql.push_str(&format!(" AND {column} {op} ?"));
                args.push(Value::Text(v.clone()));
            }
        }
        if let Some(t) = q.since {
            sql.push_str(" AND opened_at >= ?");
            args.push(Value::Text(fmt_time(t)));
        }
        if let Some(t) = q.until {
            sql.push_str(" AND opened_at < ?");
            args.push(Value::Text(fmt_time(t)));
        }
        sql.push_str(" ORDER BY state <> 'open', due_at, case_id");
        if let Some(n) = q.limit {
            sql.push_str(" LIMIT ?");
            args.push(Value::Integer(n.min(i64::MAX as u64) as i64));
        }
        let read = || -> rusqlite::Result<Vec<CaseRow>> {
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), row)?;
            rows.collect()
        };
        read().map_err(|e| self.case_error(e))
    }

    /// The case `id`, if any.
    pub fn case(&self, id: i64) -> Result<Option<CaseRow>, CaseError> {
        case_on(&self.conn, id).map_err(|e| self.case_error(e))
    }

    /// For `/metrics`: cases open now, the age in seconds at `now` of the oldest open one (0
    /// when none), and the cases ever breached per rule (answered later or not).
    pub fn case_metrics(&self, now: DateTime<Utc>) -> Result<CaseMetrics, CaseError> {
        let read = || -> rusqlite::Result<CaseMetrics> {
            let (open, oldest): (i64, Option<String>) = self
                .conn
                .prepare_cached("SELECT COUNT(*), MIN(opened_at) FROM cases WHERE state = 'open'")?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let breached = self
                .conn
                .prepare_cached(
                    "SELECT rule, COUNT(*) FROM cases WHERE breached_at IS NOT NULL
                     GROUP BY rule ORDER BY rule",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let oldest_open_age = oldest
                .as_deref()
                .and_then(parse_time)
                .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            Ok(CaseMetrics {
                open,
                oldest_open_age,
                breached,
            })
        };
        read().map_err(|e| self.case_error(e))
    }

    fn case_error(&self, e: rusqlite::Error) -> CaseError {
        if no_cases(&e) {
            CaseError::NoCases(self.path.display().to_string())
        } else {
            CaseError::Store(e.into())
        }
    }
}

/// What `/metrics` reads about cases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseMetrics {
    /// Cases in state `open`.
    pub open: i64,
    /// Age in seconds of the oldest open case (0 when none).
    pub oldest_open_age: f64,
    /// Cases ever breached, per rule.
    pub breached: Vec<(String, i64)>,
}

/// Marks case `id` answered by hand at `now`: `answer = 'ack'`, `answered_by = by`, `note`,
/// `answered_at`, `response_secs` (the open seconds of `clock` from the case's clock start, as
/// for a brand reply), and cancels the deliveries of its reminder and escalation alerts that
/// are still pending ([`cases::cancel_pending`](super::cases::cancel_pending); sent or failed
/// ones stay as they are). A case already answered (by a reply or
/// by hand) is left as it is: [`Acked::Already`].
///
/// Opens `db` read-write (never creating it) on a connection of its own and writes in one
/// `IMMEDIATE` transaction, waiting up to a few seconds for the daemon's writer.
pub fn ack_case(
    db: &Path,
    id: i64,
    by: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
    clock: &crate::cases::Clock,
) -> Result<Acked, CaseError> {
    if !db.exists() {
        return Err(StoreError::Missing(db.display().to_string()).into());
    }
    let mut conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(ACK_BUSY_TIMEOUT)?;
    let missing = |e: rusqlite::Error| {
        if no_cases(&e) {
            CaseError::NoCases(db.display().to_string())
        } else {
            e.into()
        }
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(missing)?;
    let case = case_on(&tx, id)
        .map_err(missing)?
        .ok_or(CaseError::NotFound(id))?;
    if case.answered_at.is_some() {
        return Ok(Acked::Already(case));
    }
    let start = parse_time(&case.clock_start).ok_or_else(|| {
        StoreError::Corrupt(format!("case {id}: clock_start {:?}", case.clock_start))
    })?;
    tx.prepare_cached(
        "UPDATE cases SET state = 'answered', answer = 'ack', answered_by = ?2, note = ?3,
           answered_at = ?4, response_secs = ?5
         WHERE id = ?1 AND answered_at IS NULL",
    )?
    .execute(params![
        id,
        by,
        note,
        fmt_time(now),
        clock.open_secs(start, now).min(i64::MAX as u64) as i64
    ])?;
    let cancelled = super::cases::cancel_pending(&tx, id)?;
    let case = case_on(&tx, id)?.ok_or(CaseError::NotFound(id))?;
    tx.commit()?;
    Ok(Acked::Done { case, cancelled })
}
