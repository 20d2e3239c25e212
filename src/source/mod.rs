//! Sources: one configured place to poll, behind one trait.
//!
//! A source turns one poll into a [`Page`]: the posts it found and the cursor to resume from. It
//! never sleeps, retries or writes: the scheduler (`daemon::scheduler`) decides when to poll and
//! what to do with a [`SourceError`], and the store writes the page and its cursor in one
//! transaction. Network sources get their bytes through [`fetch::Fetcher`], the only HTTP client
//! for sources, and keep a pure `parse(body) -> posts` that tests call on fixture files.

/// `bluesky`: post search and the Jetstream firehose (declared here until the kind registry
/// gives the kind its own file).
pub mod bluesky {
    pub mod event;
    pub mod jetstream;
    pub mod profiles;
    pub mod record;
    pub mod search;
    pub mod session;
}
pub mod fetch;
pub mod jsonl;
pub mod rss;
pub mod text;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::config::{SourceKind, SourceSpec};
use crate::post::Post;
use fetch::Fetcher;

/// Where to resume: HTTP validators for conditional GET, and a source-specific position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The last `ETag`, sent back as `If-None-Match`.
    pub etag: Option<String>,
    /// The last `Last-Modified`, sent back as `If-Modified-Since`.
    pub last_modified: Option<String>,
    /// Source-specific position (`jsonl`: file identity, offset and fingerprint as JSON; APIs: a
    /// `since_id`).
    pub position: Option<String>,
}

/// The result of one poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Posts found, oldest first when the source knows the order. Already-stored posts may be
    /// included: the store's unique key drops them.
    pub posts: Vec<Post>,
    /// The cursor to store with these posts.
    pub cursor: Cursor,
    /// The least time before the next request that the platform asked for on this successful
    /// response (rate-limit headers: none left until the window resets). The scheduler polls no
    /// sooner; a refusal (429) is a [`SourceError::RateLimited`] instead.
    pub wait: Option<Duration>,
}

/// Why a poll failed, classified once for the scheduler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The server asked us to slow down (429, or 503 with `Retry-After`).
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// How long the server asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Worth retrying with backoff: network errors, timeouts, 5xx, a body cut short.
    #[error("{0}")]
    Transient(String),
    /// Retrying as is will not help until someone fixes something (404, 401, malformed feed,
    /// body over the cap); still retried, at the longest backoff, since sites do get fixed.
    #[error("{0}")]
    Permanent(String),
}

/// One configured place to poll. One call = one poll: it never sleeps, retries or writes.
///
/// `async_trait` rather than a native `async fn`: the scheduler holds sources as
/// `Box<dyn Source>`, and native async trait methods are not dyn-compatible.
#[async_trait]
pub trait Source: Send + Sync {
    /// Polls once from `cursor`.
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError>;

    /// Fills in, after matching, what the platform gives only on request for the posts that
    /// hit a rule (Bluesky profiles: handle, display name, followers), so that lookups cost
    /// one request per batch of hits rather than one per post read. Never fails: a post the
    /// source cannot complete is kept as it is. Most sources have nothing to add.
    async fn enrich(&self, _fetch: &Fetcher, _posts: &mut [&mut Post]) {}
}

/// Builds the source a spec describes: the one registry of source kinds (one arm per kind).
pub fn build(spec: &SourceSpec) -> Result<Box<dyn Source>, String> {
    match &spec.kind {
        SourceKind::Jsonl { path, shift_to_now } => {
            let source = jsonl::JsonlSource::new(spec.name.clone(), path.clone(), spec.max_bytes);
            Ok(Box::new(if *shift_to_now {
                source.shifted_to_now()
            } else {
                source
            }))
        }
        SourceKind::Rss { url } => Ok(Box::new(rss::RssSource::new(
            spec.name.clone(),
            url.clone(),
            spec.max_bytes,
        ))),
        SourceKind::BlueskyJetstream {
            endpoint,
            langs,
            service,
        } => Ok(Box::new(bluesky::jetstream::JetstreamSource::new(
            spec.name.clone(),
            endpoint.clone(),
            langs.clone(),
            service.clone(),
            spec.max_bytes,
        ))),
        SourceKind::BlueskySearch {
            service,
            query,
            lang,
            login,
        } => {
            let login = match login {
                Some((id, password)) => Some((
                    id.clone(),
                    password
                        .resolve(&|k| std::env::var(k).ok())
                        .map_err(|e| format!("\"app_password\": {e}"))?,
                )),
                None => None,
            };
            Ok(Box::new(bluesky::search::SearchSource::new(
                spec.name.clone(),
                service.clone(),
                query.clone(),
                lang.clone(),
                login,
                spec.max_bytes,
            )))
        }
        SourceKind::Planned(kind) => Err(format!(
            "source kind \"{kind}\" is accepted by the config but cannot be polled by this version yet"
        )),
    }
}
