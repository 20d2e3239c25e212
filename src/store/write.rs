//! The single write path: one transaction per batch of poll results.
//!
//! For each result, in one transaction with the others of its batch: every post is inserted
//! with `INSERT OR IGNORE` on `UNIQUE(source, source_id)`, and only a post that was really
//! inserted gets its hits and its full-text row, so a re-poll or a restart never adds a hit.
//! The source's row (cursor, validators, status, failures, next poll) is written in the same
//! transaction, so a crash can never leave a cursor ahead of the posts it covers. Deciding
//! what to poll and when is the scheduler's job; matching is the matcher's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{params, CachedStatement, OptionalExtension, Transaction};
use serde::Serialize;

use super::alerts::{self, AlertPolicy, WindowMemo};
use super::cases::{self, CasePolicy};
use super::health;
use super::memory::{HeldPost, Memory};
use super::{fmt_time, parse_time, Store, StoreError};
use crate::detect::{CaseRef, Counters};
use crate::matcher::{Hits, Match};
use crate::normalize;
use crate::post::Post;
use crate::source::Cursor;

/// What one poll of one source produced.
#[derive(Debug, Clone)]
pub struct PollResult {
    /// The source's name.
    pub source: String,
    /// Its kind (`rss`, `jsonl`…).
    pub kind: String,
    /// When the poll started.
    pub polled_at: DateTime<Utc>,
    /// Posts and cursor, or the error.
    pub outcome: PollOutcome,
    /// When the scheduler will poll it again.
    pub next_poll_at: DateTime<Utc>,
    /// Failures in a row, this poll included (0 after a success).
    pub failures: u32,
}

/// A poll's outcome.
#[derive(Debug, Clone)]
pub enum PollOutcome {
    /// The poll worked: posts (each with the rules it hit) and the cursor to resume from.
    Page {
        /// Posts with their hits.
        posts: Vec<(Post, Hits)>,
        /// The new cursor.
        cursor: Cursor,
        /// The server said nothing changed (304).
        not_modified: bool,
        /// The source holds back although it is healthy, and why and until when (`x` at its
        /// daily cap: "daily cap reached (5000 posts read), resumes at …"). Stored as status
        /// `paused`, the text in `last_error`, where `vigie sources` shows it.
        paused: Option<String>,
    },
    /// The poll failed; the cursor stays where it was.
    Failed {
        /// The error, already free of secrets.
        error: String,
    },
}

impl PollResult {
    /// A poll of `source` (of `kind`) at `at` that worked and brought `posts`, with no cursor
    /// to keep: what `replay` commits for each second of posts, and what tests commit.
    pub fn page(source: &str, kind: &str, at: DateTime<Utc>, posts: Vec<(Post, Hits)>) -> Self {
        PollResult {
            source: source.to_string(),
            kind: kind.to_string(),
            polled_at: at,
            outcome: PollOutcome::Page {
                posts,
                cursor: Cursor::default(),
                not_modified: false,
                paused: None,
            },
            next_poll_at: at,
            failures: 0,
        }
    }
}

/// What a commit added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Posts not seen before.
    pub new_posts: u64,
    /// Hits of those posts.
    pub new_hits: u64,
    /// Alerts recorded (with their outbox rows) in the same transaction.
    pub new_alerts: u64,
}

/// What the scheduler needs to resume a source after a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedSource {
    /// The source's name.
    pub name: String,
    /// Its stored cursor.
    pub cursor: Cursor,
    /// Failures in a row.
    pub failures: u32,
    /// When it is due.
    pub next_poll_at: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct MatchedJson<'a> {
    term: &'a str,
    text: &'a str,
    position: Option<u32>,
}

/// The `matched` column: a JSON array of `{term, text, position}`.
fn matched_json<'a>(text: &'a str, matched: impl Iterator<Item = Match<'a>>, out: &mut String) {
    let items: Vec<MatchedJson<'_>> = matched
        .map(|m| MatchedJson {
            term: m.term,
            text: m.text(text),
            position: m.position,
        })
        .collect();
    // Serialising strings and numbers into a String cannot fail.
    out.push_str(&serde_json::to_string(&items).unwrap_or_else(|_| "[]".into()));
}

/// The key `commit` deduplicates a post on, with its source: its id, or one derived from its
/// URL and text when it has none.
pub fn dedup_key(post: &Post) -> String {
    post.id.clone().unwrap_or_else(|| fallback_id(post))
}

/// A stable id for a post without one: FNV-1a of its URL and text.
fn fallback_id(post: &Post) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in post
        .url
        .as_deref()
        .unwrap_or("")
        .bytes()
        .chain([0])
        .chain(post.text.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("h{h:016x}")
}

impl Store {
    /// Commits one poll result.
    pub fn commit(&mut self, r: &PollResult) -> Result<CommitStats, StoreError> {
        Ok(self.commit_many(&[r])?.remove(0))
    }

    /// Commits several poll results in one transaction.
    pub fn commit_many(&mut self, results: &[&PollResult]) -> Result<Vec<CommitStats>, StoreError> {
        self.commit_steps(&[results])
    }

    /// Commits several steps of poll results in one transaction, each step as
    /// [`Store::commit_many`] would commit it alone: its results, then the window alerts at
    /// its latest poll time, seeing the steps before it. `replay` commits many event-time
    /// steps at once this way; the decisions are those of one commit per step. Returns the
    /// results' stats, step after step.
    pub fn commit_steps(
        &mut self,
        steps: &[&[&PollResult]],
    ) -> Result<Vec<CommitStats>, StoreError> {
        if self.memory.as_ref().is_some_and(|m| m.broken) {
            return Err(StoreError::Corrupt(
                "a commit to this throw-away database failed, and its posts and hits in memory cannot be taken back".into(),
            ));
        }
        if self.counters.is_none() {
            // A failed commit left them behind the database (or a rebuild failed): counted in
            // SQL meanwhile.
            let _ = self.rebuild_counters();
        }
        let out = self.commit_tx(steps);
        if out.is_err() {
            // The counters took this commit's hits, which the rollback took back.
            self.counters = None;
            let _ = self.rebuild_counters();
        }
        if let (Some(memory), Err(_)) = (&mut self.memory, &out) {
            memory.broken = true;
        }
        out
    }

    /// [`Store::commit_many`]'s transaction; the counters count its hits as they go in.
    fn commit_tx(&mut self, steps: &[&[&PollResult]]) -> Result<Vec<CommitStats>, StoreError> {
        let wall = Utc::now();
        // Disjoint fields: the policy is read while the connection is in a transaction.
        let tx = self.conn.transaction()?;
        let mut batch = Batch::prepare(&tx, self.policy.as_ref(), self.retention, wall)?;
        batch.earliest = self.earliest;
        batch.counters = self.counters.as_mut();
        batch.full_text = self.full_text;
        batch.cases = self.cases.as_ref().filter(|c| !c.rules.is_empty());
        batch.memory = self.memory.as_mut();
        let mut out = Vec::with_capacity(steps.iter().map(|s| s.len()).sum());
        for results in steps {
            for r in *results {
                out.push(batch.commit_result(r)?);
            }
            let fired = batch.window_alerts(results)? + batch.case_alerts(results)?;
            if let Some(last) = out.last_mut() {
                last.new_alerts += fired;
            }
        }
        batch.flush_sources()?;
        let earliest = batch.earliest;
        drop(batch);
        tx.commit()?;
        self.earliest = earliest;
        Ok(out)
    }

    /// Which of `keys` (see [`dedup_key`]) are already stored for `source`. The daemon asks
    /// this on a read-only connection before matching, so that an unchanged feed downloaded
    /// again is not matched again; `commit` still decides, so a race costs only a lookup.
    pub fn stored(&self, source: &str, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM posts WHERE source = ?1 AND source_id = ?2")?;
        keys.iter()
            .map(|key| Ok(stmt.exists(params![source, key])?))
            .collect()
    }

    /// Every source's saved state, for the scheduler to resume.
    pub fn saved_sources(&self) -> Result<Vec<SavedSource>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, etag, last_modified, cursor, failures, next_poll_at FROM sources",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(SavedSource {
                name: row.get(0)?,
                cursor: Cursor {
                    etag: row.get(1)?,
                    last_modified: row.get(2)?,
                    position: row.get(3)?,
                },
                failures: row.get::<_, i64>(4)?.clamp(0, u32::MAX as i64) as u32,
                next_poll_at: row
                    .get::<_, Option<String>>(5)?
                    .as_deref()
                    .and_then(parse_time),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One source's saved state.
    pub fn saved_source(&self, name: &str) -> Result<Option<SavedSource>, StoreError> {
        Ok(self.saved_sources()?.into_iter().find(|s| s.name == name))
    }

    /// Per rule with hits, by name: its hits, and its first and last hit's event time as
    /// stored (RFC 3339, UTC).
    pub fn hits_per_rule(&self) -> Result<Vec<(String, u64, String, String)>, StoreError> {
        if let Some(m) = &self.memory {
            return Ok(m.hits.per_rule());
        }
        let mut stmt = self.conn.prepare(
            "SELECT rule, COUNT(*), MIN(created_at), MAX(created_at) FROM hits GROUP BY rule ORDER BY rule",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get(2)?,
                r.get(3)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The number of stored hits (for tests and summaries).
    pub fn hit_count(&self) -> Result<u64, StoreError> {
        if let Some(m) = &self.memory {
            return Ok(m.hits.count());
        }
        let n: Option<i64> = self
            .conn
            .query_row("SELECT COUNT(*) FROM hits", [], |r| r.get(0))
            .optional()?;
        Ok(n.unwrap_or(0) as u64)
    }
}

/// One commit's transaction, its statements prepared once for every post of the batch, and
/// what the commit learns on the way.
struct Batch<'a> {
    tx: &'a Transaction<'a>,
    /// Decide and record alerts (none without a policy).
    policy: Option<&'a AlertPolicy>,
    /// `[daemon] retention`, if set.
    retention: Option<chrono::Duration>,
    /// The commit's wall time (outbox rows' first attempt).
    wall: DateTime<Utc>,
    /// The earliest post's event time, moved back by the posts this commit inserts.
    earliest: Option<DateTime<Utc>>,
    /// The store's counters, which count each hit as it is inserted.
    counters: Option<&'a mut Counters>,
    /// Write the full-text rows of hit posts.
    full_text: bool,
    /// Keep cases (with a rule that has `reply_within`).
    cases: Option<&'a CasePolicy>,
    /// The posts and hits kept in memory instead of as rows (a throw-away database), if so.
    memory: Option<&'a mut Memory>,
    /// When the next case is due, as last read (`None`: to be read again).
    next_case: Option<Option<DateTime<Utc>>>,
    insert_post: CachedStatement<'a>,
    insert_fts: CachedStatement<'a>,
    insert_hit: CachedStatement<'a>,
    /// The `matched` column being written, reused from hit to hit.
    json: String,
    /// What the window checks read once per transaction.
    memo: WindowMemo,
    /// Sources whose row this transaction wrote from a page (so it exists and is not failing),
    /// with the later pages' state not written yet: see [`Batch::write_source`].
    pages: HashMap<String, Option<SourcePage>>,
}

/// What the pages of one source after its first in a transaction leave in its row: the last
/// page's cursor and status, the counts summed.
#[derive(Debug)]
struct SourcePage {
    kind: String,
    cursor: Cursor,
    polled: String,
    status: &'static str,
    paused: Option<String>,
    next: String,
    new_posts: u64,
    new_hits: u64,
    /// The last of these pages' polls that brought a new post.
    last_new: Option<String>,
}

impl<'a> Batch<'a> {
    fn prepare(
        tx: &'a Transaction<'a>,
        policy: Option<&'a AlertPolicy>,
        retention: Option<chrono::Duration>,
        wall: DateTime<Utc>,
    ) -> Result<Batch<'a>, StoreError> {
        Ok(Batch {
            tx,
            policy,
            retention,
            wall,
            earliest: None,
            counters: None,
            full_text: true,
            cases: None,
            memory: None,
            next_case: None,
            insert_post: tx.prepare_cached(
                "INSERT OR IGNORE INTO posts (source, source_id, url, author, text, created_at, fetched_at, lang, followers, author_name, engagement, in_reply_to, thread)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?,
            insert_fts: tx
                .prepare_cached("INSERT INTO posts_fts (rowid, text_folded) VALUES (?1, ?2)")?,
            insert_hit: tx.prepare_cached(
                "INSERT INTO hits (post_id, rule, matched, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?,
            json: String::new(),
            memo: WindowMemo::default(),
            pages: HashMap::new(),
        })
    }

    /// One poll result: its new posts with their hits (and `each` alerts), the source's row,
    /// and the `source` alert its health calls for.
    fn commit_result(&mut self, r: &PollResult) -> Result<CommitStats, StoreError> {
        let mut stats = CommitStats::default();
        let polled = fmt_time(r.polled_at);
        if let PollOutcome::Page { posts, .. } = &r.outcome {
            for (post, hits) in posts {
                self.commit_post(r, &polled, post, hits, &mut stats)?;
            }
        }
        self.write_source(r, &polled, stats)?;
        // A paused source (`x` at its daily cap) is quiet on purpose: no `silent` alert.
        let paused = matches!(
            &r.outcome,
            PollOutcome::Page {
                paused: Some(_),
                ..
            }
        );
        if let Some(policy) = self.policy.filter(|_| !paused) {
            let error = match &r.outcome {
                PollOutcome::Failed { error } => Some(error.as_str()),
                PollOutcome::Page { .. } => None,
            };
            let fired = health::source_health(self.tx, policy, &r.source, error, r.polled_at)?;
            stats.new_alerts += u64::from(fired.is_some());
        }
        Ok(stats)
    }

    /// One post of `r`, unless already stored or already past the retention; with its hits
    /// and its full-text row only when it hit a rule.
    fn commit_post(
        &mut self,
        r: &PollResult,
        polled: &str,
        post: &Post,
        hits: &Hits,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        let created_at = event_time(post, r.polled_at);
        // Already past the retention: it would only be pruned (and, once pruned, stored again
        // at the next poll that still lists it).
        let cutoff = self
            .retention
            .and_then(|d| r.polled_at.checked_sub_signed(d));
        if cutoff.is_some_and(|c| created_at < c) {
            return Ok(());
        }
        // Only posts that hit a rule keep their text and details, and the brand's own posts
        // (its replies answer cases, SPEC §5.1).
        let brand = self
            .cases
            .is_some_and(|c| c.is_brand(&r.source, post.author.as_deref()));
        let keep = !hits.is_empty() || brand;
        let key = dedup_key(post);
        if self.memory.is_some() {
            return self.remember_post(r, post, hits, &key, created_at, stats);
        }
        let created = fmt_time(created_at);
        let thread = cases::thread_of(self.tx, &r.source, post, &key)?;
        if !self.insert_post(&r.source, post, &key, [&created, polled], keep, &thread)? {
            return Ok(());
        }
        self.new_post(created_at, stats);
        let rowid = self.tx.last_insert_rowid();
        let case = match (self.policy, self.cases) {
            (Some(policy), Some(c)) => {
                let new = cases::NewPost {
                    source: &r.source,
                    post,
                    rowid,
                    thread: &thread,
                    created_at,
                    hits,
                };
                cases::on_post(self.tx, policy, c, &new, self.wall)?
            }
            _ => None,
        };
        if case.is_some() {
            // A new case: due sooner, maybe, than the one the batch knew of.
            self.next_case = None;
        }
        if hits.is_empty() {
            return Ok(());
        }
        if self.full_text {
            self.insert_fts
                .execute(params![rowid, normalize::folded(&post.text)])?;
        }
        for hit in hits.iter() {
            self.json.clear();
            matched_json(&post.text, hit.matched(), &mut self.json);
            self.insert_hit
                .execute(params![rowid, hit.rule, self.json, created])?;
            stats.new_hits += 1;
            stats.new_alerts += self.count_hit(r, post, hit.rule, created_at, case.as_ref())?;
        }
        Ok(())
    }

    /// A post seen for the first time, created at `created_at`: counted, and the history
    /// reaches back to it.
    fn new_post(&mut self, created_at: DateTime<Utc>, stats: &mut CommitStats) {
        stats.new_posts += 1;
        self.earliest = Some(self.earliest.map_or(created_at, |e| e.min(created_at)));
    }

    /// After a hit of `rule` on `post` is stored (its `matched` column in `self.json`): the
    /// counters count it, and an `each` rule alerts on it (returns the alerts recorded).
    fn count_hit(
        &mut self,
        r: &PollResult,
        post: &Post,
        rule: &str,
        created_at: DateTime<Utc>,
        case: Option<&CaseRef>,
    ) -> Result<u64, StoreError> {
        if let Some(c) = self.counters.as_deref_mut() {
            c.add(rule, created_at);
        }
        let Some(policy) = self.policy else {
            return Ok(0);
        };
        let new = alerts::NewHit {
            rule,
            source: &r.source,
            post,
            matched: &self.json,
            created_at,
            fetched_at: r.polled_at,
        };
        let fired = alerts::each_hit(self.tx, policy, new, self.wall, case)?;
        Ok(u64::from(fired.is_some()))
    }

    /// [`Batch::commit_post`] for a throw-away database ([`Memory`]): the post is new unless
    /// its key was seen, and its hits are counted and held for the alerts, without a row.
    fn remember_post(
        &mut self,
        r: &PollResult,
        post: &Post,
        hits: &Hits,
        key: &str,
        created_at: DateTime<Utc>,
        stats: &mut CommitStats,
    ) -> Result<(), StoreError> {
        let memory = self.memory.as_deref_mut().expect("called with memory");
        if !memory.seen.insert(&r.source, key) {
            return Ok(());
        }
        self.new_post(created_at, stats);
        if hits.is_empty() {
            return Ok(());
        }
        let created: std::sync::Arc<str> = fmt_time(created_at).into();
        let held = std::sync::Arc::new(HeldPost::new(&r.source, post));
        for hit in hits.iter() {
            self.json.clear();
            matched_json(&post.text, hit.matched(), &mut self.json);
            let memory = self.memory.as_deref_mut().expect("called with memory");
            memory
                .hits
                .add(hit.rule, created_at, &created, &held, &self.json);
            stats.new_hits += 1;
            stats.new_alerts += self.count_hit(r, post, hit.rule, created_at, None)?;
        }
        Ok(())
    }

    /// Inserts the post's row under `key` with its event and fetch `times` (its details only
    /// when `keep`, its thread fields always, the `thread` resolved); false when
    /// `UNIQUE(source, source_id)` says it is already stored.
    fn insert_post(
        &mut self,
        source: &str,
        post: &Post,
        key: &str,
        times: [&str; 2],
        keep: bool,
        thread: &str,
    ) -> Result<bool, StoreError> {
        let [created, polled] = times;
        let inserted = self.insert_post.execute(params![
            source,
            key,
            keep.then_some(post.url.as_deref()).flatten(),
            keep.then_some(post.author.as_deref()).flatten(),
            keep.then_some(post.text.as_str()),
            created,
            polled,
            keep.then_some(post.lang.as_deref()).flatten(),
            keep.then_some(post.followers.map(|f| f.min(i64::MAX as u64) as i64))
                .flatten(),
            keep.then_some(post.author_name.as_deref()).flatten(),
            keep.then_some(post.engagement.map(|e| e.min(i64::MAX as u64) as i64))
                .flatten(),
            // Kept for every post, hit or not: a thread is followed through the posts between
            // a complaint and the brand's reply.
            post.in_reply_to.as_deref(),
            thread,
        ])?;
        Ok(inserted > 0)
    }

    /// The source's row after `r`. A page of a source whose row this transaction already
    /// wrote from a page changes only its cursor, status and counts (nothing closes a down
    /// period): that state is kept and written once, by [`Batch::flush_sources`], so a replay
    /// writes each source's row once per transaction rather than once per second of posts.
    /// Not for a source whose health is judged ([`health::source_health`] reads the row after
    /// each poll): the daemon commits one poll per transaction, and writes it at once.
    fn write_source(
        &mut self,
        r: &PollResult,
        polled: &str,
        stats: CommitStats,
    ) -> Result<(), StoreError> {
        let judged = self
            .policy
            .is_some_and(|p| p.sources.contains_key(&r.source));
        if let (
            PollOutcome::Page {
                cursor,
                not_modified,
                paused,
                ..
            },
            Some(pending),
            false,
        ) = (&r.outcome, self.pages.get_mut(&r.source), judged)
        {
            let (new_posts, new_hits, last_new) = pending
                .take()
                .map_or((0, 0, None), |p| (p.new_posts, p.new_hits, p.last_new));
            *pending = Some(SourcePage {
                kind: r.kind.clone(),
                cursor: cursor.clone(),
                polled: polled.to_string(),
                status: page_status(paused.as_ref(), *not_modified),
                paused: paused.clone(),
                next: fmt_time(r.next_poll_at),
                new_posts: new_posts + stats.new_posts,
                new_hits: new_hits + stats.new_hits,
                last_new: (stats.new_posts > 0)
                    .then(|| polled.to_string())
                    .or(last_new),
            });
            return Ok(());
        }
        if let Some(Some(p)) = self.pages.remove(&r.source) {
            write_page(self.tx, &r.source, &p)?;
        }
        if write_source(self.tx, r, polled, stats)? {
            self.memo.clear();
        }
        if matches!(r.outcome, PollOutcome::Page { .. }) {
            self.pages.insert(r.source.clone(), None);
        }
        Ok(())
    }

    /// Writes the sources' rows kept back by [`Batch::write_source`].
    fn flush_sources(&mut self) -> Result<(), StoreError> {
        for (source, pending) in std::mem::take(&mut self.pages) {
            if let Some(p) = pending {
                write_page(self.tx, &source, &p)?;
            }
        }
        Ok(())
    }

    /// The reminders and escalations of cases due at the batch's latest poll time. The next
    /// time one is due is read once and kept until a sweep or a new case changes it (answers
    /// only take cases away), so the steps of a replay sweep only when something is due.
    fn case_alerts(&mut self, results: &[&PollResult]) -> Result<u64, StoreError> {
        let (Some(policy), Some(c), Some(now)) = (
            self.policy,
            self.cases,
            results.iter().map(|r| r.polled_at).max(),
        ) else {
            return Ok(0);
        };
        let next = match self.next_case {
            Some(next) => next,
            None => *self.next_case.insert(cases::next_at(self.tx)?),
        };
        if next.is_none_or(|t| t > now) {
            return Ok(0);
        }
        self.next_case = None;
        cases::sweep(self.tx, policy, c, now, self.wall)
    }

    /// Every `threshold` and `spike` rule, evaluated once at the batch's latest poll time.
    fn window_alerts(&mut self, results: &[&PollResult]) -> Result<u64, StoreError> {
        match (self.policy, results.iter().map(|r| r.polled_at).max()) {
            (Some(policy), Some(now)) => {
                let held = alerts::Held {
                    counters: self.counters.as_deref(),
                    hits: self.memory.as_deref().map(|m| &m.hits),
                };
                let (earliest, wall) = (self.earliest, self.wall);
                alerts::windows(self.tx, policy, held, earliest, now, wall, &mut self.memo)
            }
            _ => Ok(0),
        }
    }
}

/// A post's event time; a post cannot be newer than the poll that found it (a clock ahead of
/// ours would keep it out of the current window).
fn event_time(post: &Post, polled_at: DateTime<Utc>) -> DateTime<Utc> {
    post.created_at
        .as_deref()
        .and_then(parse_time)
        .map_or(polled_at, |t| t.min(polled_at))
}

/// A page's status in the source's row.
fn page_status(paused: Option<&String>, not_modified: bool) -> &'static str {
    match (paused, not_modified) {
        (Some(_), _) => "paused",
        (None, true) => "not_modified",
        (None, false) => "ok",
    }
}

/// Writes the pages [`Batch::write_source`] kept back into the source's row, which a page of
/// the same transaction wrote: the same values as writing each page in turn.
fn write_page(tx: &Transaction<'_>, source: &str, p: &SourcePage) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE sources SET kind = ?2, etag = ?3, last_modified = ?4, cursor = ?5,
           last_poll_at = ?6, last_status = ?7, last_error = ?8, failures = 0, next_poll_at = ?9,
           items_seen = items_seen + ?10, hits = hits + ?11,
           last_new_at = COALESCE(?12, last_new_at)
         WHERE name = ?1",
    )?
    .execute(params![
        source,
        p.kind,
        p.cursor.etag,
        p.cursor.last_modified,
        p.cursor.position,
        p.polled,
        p.status,
        p.paused,
        p.next,
        p.new_posts as i64,
        p.new_hits as i64,
        p.last_new,
    ])?;
    Ok(())
}

/// Upserts the source's row: the cursor moves only on a successful page. True when it
/// changed the source's down periods (a failure, or a recovery closing one).
fn write_source(
    tx: &rusqlite::Transaction<'_>,
    r: &PollResult,
    polled: &str,
    stats: CommitStats,
) -> Result<bool, StoreError> {
    let next = fmt_time(r.next_poll_at);
    tx.prepare_cached(
        "INSERT INTO sources (name, kind, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (name) DO UPDATE SET kind = excluded.kind",
    )?
    .execute(params![r.source, r.kind, polled])?;
    match &r.outcome {
        PollOutcome::Page {
            cursor,
            not_modified,
            paused,
            ..
        } => {
            let status = page_status(paused.as_ref(), *not_modified);
            // A recovery closes a down period: kept so that the source's usual gap between
            // posts leaves it out.
            let recovered = tx
                .prepare_cached(
                    "INSERT INTO source_downtime (source, start, end)
                 SELECT name, failing_since, ?2 FROM sources
                 WHERE name = ?1 AND failing_since IS NOT NULL",
                )?
                .execute(params![r.source, polled])?;
            tx.prepare_cached(
                "UPDATE sources SET etag = ?2, last_modified = ?3, cursor = ?4, last_poll_at = ?5,
                   last_status = ?6, last_error = ?10, failures = 0, next_poll_at = ?7,
                   items_seen = items_seen + ?8, hits = hits + ?9, failing_since = NULL,
                   last_new_at = CASE WHEN ?8 > 0 THEN ?5 ELSE last_new_at END
                 WHERE name = ?1",
            )?
            .execute(params![
                r.source,
                cursor.etag,
                cursor.last_modified,
                cursor.position,
                polled,
                status,
                next,
                stats.new_posts as i64,
                stats.new_hits as i64,
                paused,
            ])?;
            Ok(recovered > 0)
        }
        PollOutcome::Failed { error } => {
            tx.prepare_cached(
                "UPDATE sources SET last_poll_at = ?2, last_status = 'error', last_error = ?3,
                   failures = ?4, next_poll_at = ?5, failing_since = COALESCE(failing_since, ?2)
                 WHERE name = ?1",
            )?
            .execute(params![r.source, polled, error, r.failures, next])?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ffi::CStr;
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::AlertSpec;
    use crate::matcher::{RuleSet, RuleSpec};
    use crate::store::alerts::RuleAlert;

    /// Every statement alive on the connection: its address, SQL, how often it ran and how
    /// often SQLite prepared it again (for a new binding).
    fn live_statements(store: &Store) -> BTreeMap<usize, (String, i32, i32)> {
        let mut out = BTreeMap::new();
        // SAFETY: the handle is live for the calls (borrowed from `store`), and no statement
        // is prepared or finalised meanwhile; `sqlite3_sql` is NUL-terminated SQL text owned by
        // the statement, copied out at once.
        unsafe {
            let db = store.conn.handle();
            let mut stmt = rusqlite::ffi::sqlite3_next_stmt(db, std::ptr::null_mut());
            while !stmt.is_null() {
                let sql = CStr::from_ptr(rusqlite::ffi::sqlite3_sql(stmt))
                    .to_string_lossy()
                    .into_owned();
                let runs = rusqlite::ffi::sqlite3_stmt_status(
                    stmt,
                    rusqlite::ffi::SQLITE_STMTSTATUS_RUN,
                    0,
                );
                let reprepared = rusqlite::ffi::sqlite3_stmt_status(
                    stmt,
                    rusqlite::ffi::SQLITE_STMTSTATUS_REPREPARE,
                    0,
                );
                out.insert(stmt as usize, (sql, runs, reprepared));
                stmt = rusqlite::ffi::sqlite3_next_stmt(db, stmt);
            }
        }
        out
    }

    /// A post's reply fields are stored whether it hit a rule or not (a thread runs through
    /// posts that hit nothing, SPEC §5.1), its text only when it hit.
    #[test]
    fn thread_fields_are_kept_for_every_post() {
        let mut store = Store::open(Path::new(":memory:")).unwrap();
        let rules = RuleSet::compile(&[RuleSpec::with_query("r", "colis").unwrap()]).unwrap();
        let post = |id: &str, text: &str, reply: Option<&str>| {
            let post = Post {
                id: Some(id.into()),
                created_at: Some("2026-11-20T10:00:00Z".into()),
                in_reply_to: reply.map(String::from),
                thread: Some("https://m.example/users/a/statuses/1".into()),
                ..Post::from_text(text)
            };
            let hits = rules.matches(&post);
            (post, hits)
        };
        let now: DateTime<Utc> = "2026-11-20T10:01:00Z".parse().unwrap();
        store
            .commit(&PollResult::page(
                "m",
                "mastodon",
                now,
                vec![
                    post("1", "mon colis", None),
                    post("2", "bonjour", Some("1")),
                ],
            ))
            .unwrap();
        let mut stmt = store
            .conn
            .prepare("SELECT source_id, text, in_reply_to, thread FROM posts ORDER BY source_id")
            .unwrap();
        type Row = (String, Option<String>, Option<String>, Option<String>);
        let rows: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let thread = Some("https://m.example/users/a/statuses/1".to_string());
        assert_eq!(
            rows,
            [
                ("1".into(), Some("mon colis".into()), None, thread.clone()),
                ("2".into(), None, Some("1".into()), thread),
            ]
        );
    }

    /// A spike rule `s` over `colis` that fires whenever its window holds a hit (no learning,
    /// no cooldown), so every step of a history pays for its down periods and baseline; the
    /// health of source `a` is judged (a `source` alert after a minute of failures), that of
    /// `b` is not.
    fn steps_store() -> Store {
        let mut store = Store::open(Path::new(":memory:")).unwrap();
        let spike = AlertSpec::Spike {
            factor: 1.0,
            min_count: 1,
            p: 1.0,
            baseline: Duration::from_secs(3_600),
            learn: Duration::ZERO,
        };
        store
            .set_alert_policy(AlertPolicy {
                rules: BTreeMap::from([(
                    "s".to_string(),
                    RuleAlert {
                        name: "s".into(),
                        spec: spike,
                        window: Duration::from_secs(300),
                        cooldown: Duration::ZERO,
                        notify: vec![],
                        sources: None,
                    },
                )]),
                admin_notify: vec![],
                source_alert_after: Duration::from_secs(60),
                sources: HashMap::from([("a".to_string(), Duration::from_secs(60))]),
                deliver: false,
            })
            .unwrap();
        store
    }

    /// Two hours of polls, one step a minute: each step a page of `b` (one post, every third
    /// one with `colis`; every seventh a 304 with nothing), and of `a` except while it fails
    /// (minutes 40–49 for both, so their down periods cut the baselines after) and while `b`
    /// fails alone (minutes 80–84).
    fn steps_history() -> Vec<Vec<PollResult>> {
        let rules = RuleSet::compile(&[RuleSpec::with_query("s", "colis").unwrap()]).unwrap();
        let t0: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let poll = |source: &str, n: i64, failing: bool| {
            let at = t0 + chrono::Duration::minutes(n);
            let outcome = if failing {
                PollOutcome::Failed {
                    error: "HTTP 503".into(),
                }
            } else if n % 7 == 6 {
                PollOutcome::Page {
                    posts: vec![],
                    cursor: Cursor::default(),
                    not_modified: true,
                    paused: None,
                }
            } else {
                let text = if n % 3 == 0 { "mon colis" } else { "bonjour" };
                let post = Post {
                    id: Some(format!("{source}{n}")),
                    created_at: Some(fmt_time(at)),
                    ..Post::from_text(text)
                };
                let hits = rules.matches(&post);
                PollOutcome::Page {
                    posts: vec![(post, hits)],
                    cursor: Cursor {
                        position: Some(format!("{n}")),
                        ..Cursor::default()
                    },
                    not_modified: false,
                    paused: None,
                }
            };
            PollResult {
                source: source.into(),
                kind: "rss".into(),
                polled_at: at,
                outcome,
                next_poll_at: at + chrono::Duration::minutes(1),
                failures: u32::from(failing),
            }
        };
        (0..120)
            .map(|n| {
                let down = (40..50).contains(&n);
                vec![
                    poll("a", n, down),
                    poll("b", n, down || (80..85).contains(&n)),
                ]
            })
            .collect()
    }

    /// What a user can read of a store after a history: every column of the sources, the
    /// down periods, the alerts and the hits.
    fn steps_outcome(store: &Store) -> Vec<Vec<String>> {
        let rows = |sql: &str| -> Vec<Vec<String>> {
            let mut stmt = store.conn.prepare(sql).unwrap();
            let cols = stmt.column_count();
            stmt.query_map([], |r| {
                (0..cols)
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect()
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        [
            "SELECT * FROM sources ORDER BY name",
            "SELECT * FROM source_downtime ORDER BY source, start",
            "SELECT rule, kind, fired_at, window_start, count, baseline, ratio, bar, state,
               reason, payload FROM alerts ORDER BY id",
            "SELECT post_id, rule, matched, created_at FROM hits ORDER BY id",
        ]
        .into_iter()
        .flat_map(rows)
        .collect()
    }

    /// How often statements whose SQL contains `part` ran on the store's connection.
    fn runs(store: &Store, part: &str) -> i32 {
        live_statements(store)
            .values()
            .filter(|(sql, ..)| sql.contains(part))
            .map(|(_, runs, _)| runs)
            .sum()
    }

    /// Issue 23 point 2: many steps in one transaction (as `replay` commits) leave the same
    /// sources, down periods, alerts and hits as one commit per step (as the daemon commits),
    /// through failures, recoveries and pages with nothing new.
    #[test]
    fn steps_in_one_transaction_decide_as_one_commit_per_step() {
        let history = steps_history();
        let mut alone = steps_store();
        for step in &history {
            alone.commit_many(&step.iter().collect::<Vec<_>>()).unwrap();
        }
        let mut together = steps_store();
        let steps: Vec<Vec<&PollResult>> = history.iter().map(|s| s.iter().collect()).collect();
        let refs: Vec<&[&PollResult]> = steps.iter().map(Vec::as_slice).collect();
        together.commit_steps(&refs).unwrap();
        let (a, b) = (steps_outcome(&alone), steps_outcome(&together));
        assert!(a.len() > 100, "a history with alerts and hits: {a:?}");
        assert!(
            a.iter()
                .any(|row| row.iter().any(|v| v == "Text(\"source\")")),
            "a source alert: {a:?}"
        );
        assert_eq!(a, b);
    }

    /// Issue 23 point 2: a source whose health nobody judges (a replay's) gets its row written
    /// once per transaction, not once per step; a judged one still after each poll.
    #[test]
    fn steps_write_an_unjudged_source_row_once_per_transaction() {
        let history = steps_history();
        let steps: Vec<Vec<&PollResult>> = history
            .iter()
            .skip(50)
            .take(30)
            .map(|s| s.iter().filter(|r| r.source == "b").collect())
            .collect();
        let refs: Vec<&[&PollResult]> = steps.iter().map(Vec::as_slice).collect();
        let mut store = steps_store();
        store.commit_steps(&refs).unwrap();
        let writes = runs(&store, "UPDATE sources SET");
        assert!(writes <= 2, "{writes} writes of b's row for 30 steps");
        let items: i64 = store
            .conn
            .query_row("SELECT items_seen FROM sources WHERE name = 'b'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(items, 26, "30 pages, four of them 304");
    }

    /// Issue 23 point 2: the window checks of a transaction read the down periods once while
    /// no source fails, and each rule's last alert once, however many steps and rule checks
    /// it holds.
    #[test]
    fn steps_read_down_periods_and_last_alerts_once_per_transaction() {
        let history = steps_history();
        let steps: Vec<Vec<&PollResult>> = history
            .iter()
            .skip(55)
            .take(20)
            .map(|s| s.iter().collect())
            .collect();
        let refs: Vec<&[&PollResult]> = steps.iter().map(Vec::as_slice).collect();
        let mut store = steps_store();
        let fired: u64 = store
            .commit_steps(&refs)
            .unwrap()
            .iter()
            .map(|s| s.new_alerts)
            .sum();
        assert!(fired >= 5, "the spike rule is checked and fires: {fired}");
        let reads = runs(&store, "FROM source_downtime WHERE end >");
        assert_eq!(
            reads, 1,
            "down periods read {reads} times in one transaction"
        );
        let reads = runs(&store, "SELECT MAX(fired_at) FROM alerts");
        assert_eq!(reads, 1, "last alert read {reads} times in one transaction");
    }

    /// Issue 23 point 2: a throw-away database (replay without `--db`) without the indexes
    /// that only queries read keeps the ones the commit reads, and its commits leave the same
    /// sources, down periods, alerts and hits.
    #[test]
    fn a_store_without_query_indexes_commits_the_same() {
        let history = steps_history();
        let steps: Vec<Vec<&PollResult>> = history.iter().map(|s| s.iter().collect()).collect();
        let refs: Vec<&[&PollResult]> = steps.iter().map(Vec::as_slice).collect();
        let mut full = steps_store();
        full.commit_steps(&refs).unwrap();
        let mut lean = steps_store();
        lean.drop_query_indexes().unwrap();
        let indexes: Vec<String> = lean
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('posts', 'hits') ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            indexes,
            ["hits_rule_created_at", "sqlite_autoindex_posts_1"]
        );
        lean.commit_steps(&refs).unwrap();
        assert_eq!(steps_outcome(&full), steps_outcome(&lean));
    }

    /// Issue 23 point 4: once every path of the commit has run, later commits prepare nothing:
    /// each statement stays prepared (same statement, its run count only grows), and SQLite
    /// never prepares one again for a new value bound to it.
    #[test]
    fn commits_prepare_each_statement_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("vigie.db")).unwrap();
        let rule = |name: &str, spec| {
            (
                name.to_string(),
                RuleAlert {
                    name: name.into(),
                    spec,
                    window: Duration::from_secs(600),
                    cooldown: Duration::ZERO,
                    notify: vec!["ops".into()],
                    sources: None,
                },
            )
        };
        let spike = AlertSpec::Spike {
            factor: 1.0,
            min_count: 1,
            p: 1.0,
            baseline: Duration::from_secs(86_400),
            learn: Duration::ZERO,
        };
        store
            .set_alert_policy(AlertPolicy {
                rules: BTreeMap::from([
                    rule(
                        "e",
                        AlertSpec::Each {
                            min_followers: None,
                        },
                    ),
                    rule("s", spike),
                    rule("t", AlertSpec::Threshold { count: 1 }),
                ]),
                admin_notify: vec!["ops".into()],
                source_alert_after: Duration::from_secs(60),
                sources: HashMap::from([("a".to_string(), Duration::from_secs(60))]),
                deliver: true,
            })
            .unwrap();
        let specs = ["e", "s", "t"].map(|n| RuleSpec::with_query(n, "colis").unwrap());
        let rules = RuleSet::compile(&specs).unwrap();
        let t0: DateTime<Utc> = "2026-11-20T00:00:00Z".parse().unwrap();
        let mut n = 0;
        // Each round: a page with a hit (every alert kind fires), then failures long enough
        // for a `source` alert, then the recovery.
        let mut round = |store: &mut Store, check: &mut dyn FnMut(&Store)| {
            for failures in 0..4u32 {
                n += 1;
                let now = t0 + chrono::Duration::minutes(10 * n);
                let outcome = if failures == 0 {
                    let post = Post {
                        id: Some(format!("p{n}")),
                        created_at: Some(fmt_time(now)),
                        ..Post::from_text("mon colis")
                    };
                    let hits = rules.matches(&post);
                    PollOutcome::Page {
                        posts: vec![(post, hits)],
                        cursor: Cursor::default(),
                        not_modified: false,
                        paused: None,
                    }
                } else {
                    PollOutcome::Failed {
                        error: "HTTP 503".into(),
                    }
                };
                let stats = store
                    .commit(&PollResult {
                        source: "a".into(),
                        kind: "rss".into(),
                        polled_at: now,
                        outcome,
                        next_poll_at: now,
                        failures,
                    })
                    .unwrap();
                if failures == 0 {
                    assert!(stats.new_alerts >= 3, "every kind fires: {stats:?}");
                }
                check(store);
            }
        };
        for _ in 0..3 {
            round(&mut store, &mut |_| {});
        }
        let before = live_statements(&store);
        // After every later commit, the same statements are alive: none was dropped from the
        // cache (to be prepared again when its path runs next), none was prepared.
        let same = |store: &Store| {
            let now = live_statements(store);
            let changed = |a: &BTreeMap<usize, (String, i32, i32)>,
                           b: &BTreeMap<usize, (String, i32, i32)>| {
                a.iter()
                    .filter(|(at, (sql, runs, rep))| {
                        b.get(at)
                            .is_none_or(|(s, r, p)| s != sql || runs < r || rep != p)
                    })
                    .map(|(_, (sql, ..))| sql.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                changed(&now, &before),
                Vec::<String>::new(),
                "prepared again"
            );
            let dropped: Vec<&String> = before
                .iter()
                .filter(|(at, (sql, ..))| now.get(at).is_none_or(|(s, ..)| s != sql))
                .map(|(_, (sql, ..))| sql)
                .collect();
            assert_eq!(dropped, Vec::<&String>::new(), "dropped");
        };
        for _ in 0..2 {
            round(&mut store, &mut |s| same(s));
        }
        assert!(
            before.len() > 16,
            "the commit path uses {} statements",
            before.len()
        );
    }
}
