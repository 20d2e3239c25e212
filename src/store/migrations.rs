//! The schema, as an append-only list of migrations, applied at start (`PRAGMA user_version`).
//!
//! Each step runs in its own transaction with the version bump, so a crash mid-migration
//! leaves the database at the previous version. Never edit a shipped step: add a new one.
//! The views `hits_v`, `sources_v`, `alerts_v`, `deliveries_v` and `cases_v` are the stable interface for ops (SPEC §6); the tables
//! behind them may change.

use rusqlite::{Connection, TransactionBehavior};

/// Migration steps; step `i` brings the database to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: sources, posts, hits, full-text search, the ops views. A post that hits no rule is
    // recorded by id only (text NULL): enough for dedup and counts, and vigie keeps no text it
    // has no use for.
    r#"
    CREATE TABLE sources (
        name          TEXT PRIMARY KEY,
        kind          TEXT NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        cursor        TEXT,
        last_poll_at  TEXT,
        last_status   TEXT,
        last_error    TEXT,
        failures      INTEGER NOT NULL DEFAULT 0,
        next_poll_at  TEXT,
        items_seen    INTEGER NOT NULL DEFAULT 0,
        hits          INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL
    );
    CREATE TABLE posts (
        id         INTEGER PRIMARY KEY,
        source     TEXT NOT NULL,
        source_id  TEXT NOT NULL,
        url        TEXT,
        author     TEXT,
        text       TEXT,
        created_at TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        lang       TEXT,
        followers  INTEGER,
        UNIQUE (source, source_id)
    );
    CREATE TABLE hits (
        id         INTEGER PRIMARY KEY,
        post_id    INTEGER NOT NULL REFERENCES posts (id),
        rule       TEXT NOT NULL,
        matched    TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX hits_rule_created_at ON hits (rule, created_at);
    CREATE INDEX hits_created_at ON hits (created_at);
    -- Full-text search over the folded text of posts that hit a rule. `detail = none` keeps
    -- only which posts hold a word: enough for "every word must occur", and inserts stay cheap.
    CREATE VIRTUAL TABLE posts_fts USING fts5 (
        text_folded, content = '', contentless_delete = 1, detail = none,
        tokenize = 'unicode61'
    );
    CREATE VIEW hits_v AS
        SELECT h.id AS hit_id, h.rule, p.source, p.source_id AS post_id, p.url, p.author,
               p.text, p.created_at, p.fetched_at, h.matched
        FROM hits h JOIN posts p ON p.id = h.post_id;
    CREATE VIEW sources_v AS
        SELECT name AS source, kind, last_poll_at, last_status, last_error, items_seen, hits,
               next_poll_at, failures
        FROM sources;
    "#,
    // 2: alerts and their outbox (one delivery row per notifier, written in the same
    // transaction as the alert), source health for `source` alerts, and the `alerts_v` view.
    r#"
    ALTER TABLE sources ADD COLUMN failing_since TEXT;
    ALTER TABLE sources ADD COLUMN last_new_at TEXT;
    CREATE INDEX posts_source_fetched_at ON posts (source, fetched_at);
    -- Periods a source was failing, recorded when it recovers: left out of its usual gap.
    CREATE TABLE source_downtime (
        source TEXT NOT NULL,
        start  TEXT NOT NULL,
        end    TEXT NOT NULL
    );
    CREATE INDEX source_downtime_source_end ON source_downtime (source, end);
    CREATE TABLE alerts (
        id           INTEGER PRIMARY KEY,
        rule         TEXT NOT NULL,
        kind         TEXT NOT NULL,
        fired_at     TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end   TEXT NOT NULL,
        count        INTEGER NOT NULL,
        baseline     REAL NOT NULL,
        ratio        REAL,
        bar          REAL NOT NULL,
        state        TEXT,
        reason       TEXT NOT NULL,
        payload      TEXT NOT NULL
    );
    CREATE INDEX alerts_rule_kind_fired_at ON alerts (rule, kind, fired_at);
    CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY,
        alert_id        INTEGER NOT NULL REFERENCES alerts (id),
        notifier        TEXT NOT NULL,
        delivery_id     TEXT NOT NULL UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        sent_at         TEXT,
        created_at      TEXT NOT NULL,
        UNIQUE (alert_id, notifier)
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
    CREATE VIEW alerts_v AS
        SELECT a.id AS alert_id, a.rule, a.kind, a.fired_at, a.window_start, a.window_end,
               a.count, a.baseline, a.ratio, a.state, a.reason,
               COALESCE((SELECT group_concat(d.notifier || ':' || d.status, ', '
                                             ORDER BY d.notifier)
                         FROM deliveries d WHERE d.alert_id = a.id), '') AS status
        FROM alerts a;
    CREATE VIEW deliveries_v AS
        SELECT d.id AS delivery_row, d.delivery_id, d.alert_id, a.rule, a.kind, d.notifier,
               d.status, d.attempts, d.next_attempt_at, d.sent_at, d.last_error
        FROM deliveries d JOIN alerts a ON a.id = d.alert_id;
    "#,
    // 3: `alerts_v` without `group_concat(… ORDER BY …)`, which needs SQLite 3.44: the
    // `sqlite3` of Debian 12 (3.40) or Ubuntu 22.04 (3.37) could not read the schema, so not
    // even `hits_v`. The notifiers are ordered in a subquery instead.
    r#"
    DROP VIEW alerts_v;
    CREATE VIEW alerts_v AS
        SELECT a.id AS alert_id, a.rule, a.kind, a.fired_at, a.window_start, a.window_end,
               a.count, a.baseline, a.ratio, a.state, a.reason,
               COALESCE((SELECT group_concat(s, ', ')
                         FROM (SELECT d.notifier || ':' || d.status AS s
                               FROM deliveries d WHERE d.alert_id = a.id
                               ORDER BY d.notifier)), '') AS status
        FROM alerts a;
    "#,
    // 4: retention prunes posts by event time, oldest first; deleting a post checks that no
    // hit refers to it (foreign keys), which without an index scans every hit per post.
    r#"
    CREATE INDEX posts_created_at ON posts (created_at);
    CREATE INDEX hits_post_id ON hits (post_id);
    "#,
    // 5: the author's display name beside the handle (SPEC §7: RSS `bob@example.org (Bob)` is
    // the author `bob@example.org` named `Bob`), kept like the author for posts that hit.
    r#"
    ALTER TABLE posts ADD COLUMN author_name TEXT;
    DROP VIEW hits_v;
    CREATE VIEW hits_v AS
        SELECT h.id AS hit_id, h.rule, p.source, p.source_id AS post_id, p.url, p.author,
               p.text, p.created_at, p.fetched_at, h.matched, p.author_name
        FROM hits h JOIN posts p ON p.id = h.post_id;
    "#,
    // 6: the post's engagement (SPEC §7: likes + reposts + replies), kept like the followers for
    // posts that hit; alerts quote the most engaged posts first.
    r#"
    ALTER TABLE posts ADD COLUMN engagement INTEGER;
    DROP VIEW hits_v;
    CREATE VIEW hits_v AS
        SELECT h.id AS hit_id, h.rule, p.source, p.source_id AS post_id, p.url, p.author,
               p.text, p.created_at, p.fetched_at, h.matched, p.author_name, p.engagement
        FROM hits h JOIN posts p ON p.id = h.post_id;
    "#,
    // 7: the reply clock (SPEC §5.1). Posts keep the post they answer and their thread key, so
    // a brand reply can be traced to the complaint it answers. One case per thread (UNIQUE), with
    // its clock (`clock_start` is the complaint's time, or the next opening time outside business
    // hours), its promise, and what happened to it: `state` is `open`, then `answered` (by a brand
    // reply or by hand, `answered_by` and `answer` = 'reply' | 'ack'), or `breached` when the
    // deadline passed unanswered (a breached case answered later becomes `answered` and keeps
    // its `breached_at`). `response_secs` counts open hours only. `reminded_at` and
    // `breached_at` are written in the same transaction as the reminder's or the escalation's
    // outbox rows, so neither is sent twice.
    r#"
    ALTER TABLE posts ADD COLUMN in_reply_to TEXT;
    ALTER TABLE posts ADD COLUMN thread TEXT;
    CREATE INDEX posts_thread ON posts (thread);
    CREATE TABLE cases (
        id             INTEGER PRIMARY KEY,
        thread         TEXT NOT NULL UNIQUE,
        rule           TEXT NOT NULL,
        source         TEXT NOT NULL,
        post_id        INTEGER NOT NULL REFERENCES posts (id),
        author         TEXT,
        opened_at      TEXT NOT NULL,
        clock_start    TEXT NOT NULL,
        promise_secs   INTEGER NOT NULL,
        remind_at      TEXT NOT NULL,
        due_at         TEXT NOT NULL,
        state          TEXT NOT NULL DEFAULT 'open'
                       CHECK (state IN ('open', 'answered', 'breached')),
        posts          INTEGER NOT NULL DEFAULT 1,
        last_post_at   TEXT NOT NULL,
        answered_at    TEXT,
        answered_by    TEXT,
        answer         TEXT CHECK (answer IN ('reply', 'ack')),
        answer_post_id INTEGER REFERENCES posts (id),
        note           TEXT,
        response_secs  INTEGER,
        reminded_at    TEXT,
        breached_at    TEXT
    );
    CREATE INDEX cases_state_due_at ON cases (state, due_at);
    CREATE INDEX cases_opened_at ON cases (opened_at);
    CREATE VIEW cases_v AS
        SELECT c.id AS case_id, c.rule, c.source, c.thread, p.source_id AS post_id, p.url,
               c.author, p.text, c.opened_at, c.clock_start, c.due_at, c.state, c.posts,
               c.answered_at, c.answered_by, c.answer, c.note, c.response_secs,
               c.promise_secs,
               CASE WHEN c.response_secs IS NULL THEN NULL
                    ELSE c.response_secs <= c.promise_secs END AS within_promise,
               c.reminded_at, c.breached_at
        FROM cases c JOIN posts p ON p.id = c.post_id;
    "#,
];

/// Applies every step the database has not seen yet. The daemon runs this under its lock;
/// each step also reads the version inside a write (`IMMEDIATE`) transaction, so two processes
/// that open one database at once (`vigie replay --db` beside a daemon) never both apply a step.
pub fn apply(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let Some(step) = MIGRATIONS.get(version.max(0) as usize) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
