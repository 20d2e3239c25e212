//! The thread of each Mastodon reply: the `uri` of its root, found through the instance.
//!
//! A status that answers nothing is its own thread's root (`status` keys it by its `uri`). A
//! reply names only its parent's local id, so its root comes from the instance's
//! `GET /api/v1/statuses/:id/context`: the first of its `ancestors` (root first) is the root, and
//! its `uri` is the thread key, the same on every server. A bounded in-memory cache (status id →
//! root `uri`) holds every status whose root is known (top-level statuses seen, resolved replies
//! and their ancestors), so a reply whose parent is known costs no request and a busy thread costs
//! one. A poll makes at most [`MAX_LOOKUPS`] lookups; when one fails (or the rate limit runs
//! out) the rest of the poll makes none. A reply whose root is not found keeps its parent
//! (`in_reply_to`) and no `thread`, so the store follows it through the posts it holds: the
//! post is never lost. A failure is logged when it changes, not at every poll.
//!
//! The instance answers for what it holds: it may lack the top of a thread that started on
//! another server (then the first ancestor it has is the key, for every post of that thread it
//! serves), and it gives a logged-out client 40 ancestors at most.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;

use super::api::rate_limit_wait;
use super::poll::MastodonSource;
use crate::post::Post;
use crate::source::fetch::Fetcher;
use crate::source::SourceError;

/// Context lookups one poll may make; the replies beyond keep only their parent.
pub const MAX_LOOKUPS: usize = 40;

/// Statuses whose root the cache keeps; it starts over when full.
const CACHE_SIZE: usize = 10_000;

/// A `Context`: the statuses above and below one status. Only ancestors matter here.
#[derive(Deserialize)]
struct Context {
    ancestors: Vec<Ancestor>,
}

/// The fields vigie reads from an ancestor `Status`.
#[derive(Deserialize)]
struct Ancestor {
    id: String,
    uri: String,
}

/// What a context answer says about a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The root's `uri`: the thread key.
    pub uri: String,
    /// The local ids of the ancestors, root first: statuses of the same thread.
    pub ancestors: Vec<String>,
}

/// Parses a `GET /api/v1/statuses/:id/context` answer: the thread's root, or `None` when the
/// status has no ancestor the instance shows (its parent deleted, private or unknown).
pub fn parse_context(body: &[u8]) -> Result<Option<Root>, SourceError> {
    let context: Context = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed Mastodon context: {e}")))?;
    let Some(first) = context.ancestors.first() else {
        return Ok(None);
    };
    Ok(Some(Root {
        uri: first.uri.clone(),
        ancestors: context.ancestors.into_iter().map(|a| a.id).collect(),
    }))
}

/// Status id → root `uri`, bounded, and the last lookup error (logged when it changes).
#[derive(Debug, Default)]
pub struct Threads {
    roots: Mutex<HashMap<String, String>>,
    last_error: Mutex<Option<String>>,
}

impl Threads {
    /// The root `uri` of the thread of status `id`, if known.
    pub fn get(&self, id: &str) -> Option<String> {
        let roots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        roots.get(id).cloned()
    }

    /// Remembers that the statuses `ids` belong to the thread rooted at `root`.
    pub fn remember<'a>(&self, ids: impl IntoIterator<Item = &'a str>, root: &str) {
        let mut roots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if roots.len() >= CACHE_SIZE && !roots.contains_key(id) {
                roots.clear();
            }
            roots.insert(id.to_string(), root.to_string());
        }
    }

    /// Logs `error` when it differs from the last poll's (and the recovery once).
    fn report(&self, source: &str, error: Option<String>) {
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        if *last == error {
            return;
        }
        match &error {
            Some(e) => tracing::warn!(
                source = %source,
                error = %e,
                "Thread lookup failed; replies keep their parent until it works again."
            ),
            None => tracing::info!(source = %source, "Thread lookups work again."),
        }
        *last = error;
    }
}

impl MastodonSource {
    /// Sets the `thread` of every post of `posts` (oldest first) that can have one: a top-level
    /// status's is already set, a reply's comes from the cache or (when `lookup`) a context
    /// lookup. Returns the wait the instance's rate limit asks for, if a lookup ran it out.
    pub(super) async fn resolve_threads(
        &self,
        fetch: &Fetcher,
        posts: &mut [Post],
        lookup: bool,
    ) -> Option<Duration> {
        let (mut lookups, mut stopped, mut error, mut wait) = (0, !lookup, None, None);
        for post in posts.iter_mut() {
            let Some(id) = post.id.clone() else { continue };
            if let Some(thread) = &post.thread {
                self.threads.remember([id.as_str()], thread);
                continue;
            }
            let Some(parent) = post.in_reply_to.as_deref() else {
                continue;
            };
            if let Some(root) = self.threads.get(parent) {
                self.threads.remember([id.as_str()], &root);
                post.thread = Some(root);
                continue;
            }
            if stopped || lookups >= MAX_LOOKUPS {
                continue;
            }
            lookups += 1;
            match self.context(fetch, &id).await {
                Ok((root, w)) => {
                    if let Some(root) = root {
                        let ids = root.ancestors.iter().map(String::as_str);
                        self.threads.remember(ids.chain([id.as_str()]), &root.uri);
                        post.thread = Some(root.uri);
                    }
                    if w.is_some() {
                        (wait, stopped) = (w, true);
                    }
                }
                Err(e) => {
                    (error, stopped) = (Some(e.to_string()), true);
                }
            }
        }
        // A poll without a lookup says nothing about whether lookups work.
        if lookups > 0 {
            self.threads.report(&self.name, error);
        }
        wait
    }

    /// One context lookup: the root, and the rate limit's wait when it ran out.
    async fn context(
        &self,
        fetch: &Fetcher,
        id: &str,
    ) -> Result<(Option<Root>, Option<Duration>), SourceError> {
        let mut url = self.instance.clone();
        url.set_query(None);
        url.set_fragment(None);
        url.path_segments_mut()
            .expect("http(s) URL")
            .pop_if_empty()
            .extend(["api", "v1", "statuses", id, "context"]);
        let body = self.get(fetch, &url).await?;
        let wait = rate_limit_wait(
            body.header("x-ratelimit-remaining"),
            body.header("x-ratelimit-reset"),
            Utc::now(),
        );
        Ok((parse_context(&body.bytes)?, wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_first_ancestor() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mastodon/context.json"
        );
        let root = parse_context(&std::fs::read(path).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            root.uri,
            "https://social.example/users/lea/statuses/109876543210987654"
        );
        assert_eq!(root.ancestors, ["113512000000000550", "113512000000000600"]);
        // No ancestor shown: no root; not a context: an error.
        let none = br#"{"ancestors": [], "descendants": []}"#;
        assert_eq!(parse_context(none).unwrap(), None);
        assert!(parse_context(b"[]").is_err());
    }

    #[test]
    fn the_cache_is_bounded() {
        let threads = Threads::default();
        threads.remember(["1", "2"], "r");
        assert_eq!(threads.get("2").as_deref(), Some("r"));
        let ids: Vec<String> = (0..CACHE_SIZE).map(|i| format!("x{i}")).collect();
        threads.remember(ids.iter().map(String::as_str), "s");
        let roots = threads.roots.lock().unwrap();
        assert!(roots.len() <= CACHE_SIZE, "{}", roots.len());
    }
}
