//! One poll of one source, from fetch to commit, as a task of the control loop.
//!
//! [`PollTask::run`] waits for a poll slot, polls the source, drops the posts already stored
//! (asked on a read-only connection: an unchanged feed is not matched again), matches the rest,
//! hands the result to the writer and tells the control loop where the source stands
//! ([`Report`]). A panic anywhere in the poll or the matching is caught here and becomes a
//! failed poll, so a hostile input cannot silently stop a source. When to poll again is
//! `scheduler`'s decision; storing is `writer`'s.
//!
//! It also says what it did: one info line per poll that stored something (`forum: 12 new
//! posts, 3 hits; next poll 11:02:15`), a debug line for an empty one, and counts it in the
//! [`Tally`] behind the hourly summary. Failures and recoveries are
//! logged by the control loop, which knows the previous error.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio::sync::{oneshot, Semaphore};

use super::metrics::Metrics;
use super::tally::Tally;
use super::writer::WriteJob;
use super::{retry, scheduler};
use crate::matcher::{Hits, RuleSet};
use crate::post::Post;
use crate::source::fetch::Fetcher;
use crate::source::{Cursor, Pause, Source, SourceError};
use crate::store::{fmt_time, PollOutcome, PollResult, Store};

/// What a poll task tells the control loop.
pub(super) struct Report {
    /// The cursor to use next: the new one when the commit succeeded, else the old one.
    pub cursor: Cursor,
    /// Failures in a row, this poll included.
    pub failures: u32,
    /// When to poll it again.
    pub next_at: DateTime<Utc>,
    /// The poll's error, if it failed.
    pub error: Option<String>,
}

/// The report for a poll task that ended without one: the cursor stays, the failure counts and
/// the source is retried with backoff like any other failed poll.
pub(super) fn lost_task(
    cursor: &Cursor,
    failures: u32,
    every: Duration,
    e: &tokio::task::JoinError,
) -> Report {
    let reason = if e.is_panic() {
        "the poll task panicked"
    } else {
        "the poll task was cancelled"
    };
    let failures = failures.saturating_add(1);
    let err = SourceError::Transient(reason.into());
    let delay = scheduler::next_poll(Err(&err), every, failures, retry::rand01());
    Report {
        cursor: cursor.clone(),
        failures,
        next_at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
        error: Some(reason.into()),
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// One poll of one source, from fetch to commit.
pub(super) struct PollTask {
    /// Its configured name and kind, and its poll interval.
    pub name: String,
    pub kind: &'static str,
    pub every: Duration,
    pub source: Arc<dyn Source>,
    pub rules: Arc<RuleSet>,
    /// The brand's handles on this source (`[daemon] brand_accounts`): their posts are stored
    /// as the brand's replies, never matched as complaints (SPEC §5.1).
    pub brand: Vec<String>,
    pub fetcher: Arc<Fetcher>,
    /// Where the source stands before this poll.
    pub cursor: Cursor,
    pub failures: u32,
    pub writer: tokio::sync::mpsc::Sender<WriteJob>,
    /// The daemon-wide bound on polls running at once (`max_concurrent_polls`).
    pub limit: Arc<Semaphore>,
    /// A read-only connection shared by poll tasks (the writer keeps the only read-write one).
    pub stored: Arc<std::sync::Mutex<Store>>,
    /// The counts behind the hourly summary.
    pub tally: Arc<Tally>,
    /// Polls, posts, hits and durations are counted here for `/metrics`.
    pub metrics: Arc<Metrics>,
}

impl PollTask {
    /// Polls the source and matches its posts against the rules.
    async fn poll_and_match(
        &self,
    ) -> Result<(Vec<(Post, Hits)>, Cursor, Option<Duration>, Option<Pause>), SourceError> {
        let page = self.source.poll(&self.fetcher, &self.cursor).await?;
        let pause = self.source.paused(&page.cursor, Utc::now());
        let listed = page.posts.len();
        let unstored = self.unstored(page.posts).await;
        tracing::debug!(source = %self.name, listed, new = unstored.len(), "Polled.");
        let mut posts = Vec::with_capacity(unstored.len());
        for mut post in unstored {
            post.source = Some(self.name.clone());
            let started = std::time::Instant::now();
            let hits = if self.is_brand(&post) {
                Hits::default()
            } else {
                self.rules.matches(&post)
            };
            self.metrics.matched(started.elapsed());
            posts.push((post, hits));
        }
        self.enrich_hits(&mut posts).await;
        Ok((posts, page.cursor, page.wait, pause))
    }

    /// Whether `post` is by one of the brand's accounts on this source.
    fn is_brand(&self, post: &Post) -> bool {
        post.author.as_deref().is_some_and(|a| {
            self.brand
                .iter()
                .any(|h| crate::config::brand::same_handle(h, a))
        })
    }

    /// Lets the source complete the posts that hit a rule (`Source::enrich`: profiles), then
    /// matches them again, since rules may read what was filled in (`exclude_authors`).
    async fn enrich_hits(&self, posts: &mut [(Post, Hits)]) {
        let mut hit: Vec<&mut Post> = posts
            .iter_mut()
            .filter(|(_, hits)| !hits.is_empty())
            .map(|(post, _)| post)
            .collect();
        if hit.is_empty() {
            return;
        }
        self.source.enrich(&self.fetcher, &mut hit).await;
        for (post, hits) in posts.iter_mut().filter(|(_, hits)| !hits.is_empty()) {
            *hits = self.rules.matches(post);
        }
    }

    /// `posts` without those already stored: a feed re-downloaded without validators lists
    /// the same items again, and matching them again would only cost time. On a read error
    /// every post is kept: the writer's unique key drops the stored ones anyway.
    async fn unstored(&self, posts: Vec<Post>) -> Vec<Post> {
        if posts.is_empty() {
            return posts;
        }
        let keys: Vec<String> = posts.iter().map(crate::store::write::dedup_key).collect();
        let (stored, name) = (self.stored.clone(), self.name.clone());
        let lookup = tokio::task::spawn_blocking(move || {
            let store = stored.lock().unwrap_or_else(|p| p.into_inner());
            store.stored(&name, &keys).map_err(|e| e.to_string())
        });
        match lookup.await.unwrap_or_else(|e| Err(e.to_string())) {
            Ok(flags) => posts
                .into_iter()
                .zip(flags)
                .filter_map(|(post, stored)| (!stored).then_some(post))
                .collect(),
            Err(e) => {
                tracing::debug!(source = %self.name, error = %e, "Cannot tell stored posts apart; matching them all.");
                posts
            }
        }
    }

    pub async fn run(self) -> Report {
        let _permit = self.limit.clone().acquire_owned().await;
        let polled_at = Utc::now();
        let started = std::time::Instant::now();
        // A panic in a source or in the matcher is a failed poll like any other: stored as the
        // source's error (`vigie sources`, source-health alerts), retried with backoff. Without
        // this guard the task dies, and with it the source's place in the timetable.
        let polled = AssertUnwindSafe(self.poll_and_match())
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(SourceError::Transient(format!(
                    "the poll panicked: {}",
                    panic_message(&*panic)
                )))
            });
        let mut rule_hits: Vec<(String, u64)> = Vec::new();
        let (outcome, failures, delay, error, new_cursor) = match polled {
            Ok((posts, cursor, wait, pause)) => {
                for (_, hits) in &posts {
                    for hit in hits.iter() {
                        match rule_hits.iter_mut().find(|(r, _)| r == hit.rule) {
                            Some((_, n)) => *n += 1,
                            None => rule_hits.push((hit.rule.to_string(), 1)),
                        }
                    }
                }
                self.metrics.poll(&self.name, started.elapsed(), None);
                let delay = scheduler::next_poll(Ok(wait), self.every, 0, retry::rand01());
                let delay = scheduler::after_pause(delay, pause.as_ref(), Utc::now());
                if let Some(p) = &pause {
                    let until = fmt_time(p.until);
                    tracing::info!(source = %self.name, reason = %p.reason, until = %until, "Source paused.");
                }
                let outcome = PollOutcome::Page {
                    posts,
                    cursor: cursor.clone(),
                    not_modified: false,
                    paused: pause
                        .map(|p| format!("{}, resumes at {}", p.reason, fmt_time(p.until))),
                };
                (outcome, 0, delay, None, cursor)
            }
            Err(e) => {
                self.metrics.poll(&self.name, started.elapsed(), Some(&e));
                let failures = self.failures.saturating_add(1);
                let delay = scheduler::next_poll(Err(&e), self.every, failures, retry::rand01());
                let error = e.to_string();
                let outcome = PollOutcome::Failed {
                    error: error.clone(),
                };
                (outcome, failures, delay, Some(error), self.cursor.clone())
            }
        };
        let next_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let result = PollResult {
            source: self.name.clone(),
            kind: self.kind.to_string(),
            polled_at,
            outcome,
            next_poll_at: next_at,
            failures,
        };
        let (done, answer) = oneshot::channel();
        let committed = match self.writer.send(WriteJob { result, done }).await {
            Ok(()) => answer
                .await
                .unwrap_or_else(|_| Err("the writer stopped".into())),
            Err(_) => Err("the writer stopped".into()),
        };
        let now = Utc::now();
        let stats = committed.as_ref().ok().filter(|_| error.is_none());
        if let Some(st) = stats {
            let next = next_at.format("%H:%M:%S");
            if st.new_posts > 0 {
                tracing::info!(
                    source = %self.name,
                    new_posts = st.new_posts,
                    hits = st.new_hits,
                    next_poll = %next,
                    "{}: {} new post{}, {} hit{}; next poll {next}.",
                    self.name,
                    st.new_posts,
                    plural(st.new_posts),
                    st.new_hits,
                    plural(st.new_hits),
                );
            } else {
                tracing::debug!(source = %self.name, next_poll = %next, "{}: nothing new; next poll {next}.", self.name);
            }
        }
        self.tally.record(stats, now);
        match committed {
            Ok(stats) => {
                // Hits counted on the posts not stored before the poll (see `unstored`).
                self.metrics.stored(&self.name, stats.new_posts, &rule_hits);
                Report {
                    cursor: new_cursor,
                    failures,
                    next_at,
                    error,
                }
            }
            // Not stored: keep the old cursor and try again soon.
            Err(e) => {
                self.metrics.commit_failed(&self.name);
                let failures = self.failures.saturating_add(1);
                let err = SourceError::Transient(e.clone());
                let delay = scheduler::next_poll(Err(&err), self.every, failures, retry::rand01());
                Report {
                    cursor: self.cursor,
                    failures,
                    next_at: Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default(),
                    error: Some(format!("cannot store the poll: {e}")),
                }
            }
        }
    }
}

pub(super) fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::source::fetch::FetchOptions;
    use crate::source::Page;

    /// A source whose poll panics, as a parser or a dependency might on hostile input.
    struct Panics;

    #[async_trait]
    impl Source for Panics {
        async fn poll(&self, _: &Fetcher, _: &Cursor) -> Result<Page, SourceError> {
            panic!("index out of bounds in a feed parser")
        }
    }

    #[tokio::test]
    async fn a_panicking_poll_is_stored_as_a_source_error_and_retried() {
        let (writer, mut jobs) = tokio::sync::mpsc::channel::<WriteJob>(1);
        let cursor = Cursor {
            position: Some("42".into()),
            ..Cursor::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("vigie.db");
        Store::open(&db).unwrap();
        let stored = Arc::new(std::sync::Mutex::new(Store::open_read_only(&db).unwrap()));
        let task = PollTask {
            name: "forum".into(),
            kind: "rss",
            every: Duration::from_secs(60),
            source: Arc::new(Panics),
            rules: Arc::new(RuleSet::compile(&[]).unwrap()),
            brand: Vec::new(),
            fetcher: Arc::new(Fetcher::new(FetchOptions::default()).unwrap()),
            cursor: cursor.clone(),
            failures: 2,
            writer,
            limit: Arc::new(Semaphore::new(1)),
            stored,
            tally: Arc::new(Tally::new(Utc::now())),
            metrics: Arc::default(),
        };
        let started = Utc::now();
        let report = tokio::spawn(task.run());
        let job = jobs
            .recv()
            .await
            .expect("the failure is sent to the writer");
        let PollOutcome::Failed { error } = &job.result.outcome else {
            panic!("expected a failed poll, got {:?}", job.result.outcome);
        };
        assert!(
            error.contains("the poll panicked: index out of bounds in a feed parser"),
            "{error}"
        );
        assert_eq!(job.result.failures, 3);
        job.done.send(Ok(Default::default())).unwrap();
        let report = report.await.expect("the task itself does not panic");
        assert_eq!(report.failures, 3);
        assert_eq!(report.cursor, cursor, "the cursor does not move");
        assert!(report.error.is_some_and(|e| e.contains("panicked")));
        assert!(report.next_at >= started + chrono::Duration::seconds(60));
    }

    #[tokio::test]
    async fn a_lost_task_is_rescheduled_with_backoff() {
        let e = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let before = Utc::now();
        let r = lost_task(&Cursor::default(), 0, Duration::from_secs(10), &e);
        assert_eq!(r.failures, 1);
        assert_eq!(r.error.as_deref(), Some("the poll task panicked"));
        assert!(r.next_at >= before + chrono::Duration::seconds(10));
    }
}
