//! Sources: one configured place to poll, behind one trait.
//!
//! A source turns one poll into a [`Page`]: the posts it found and the cursor to resume from. It
//! never sleeps, retries or writes: the scheduler (`daemon::scheduler`) decides when to poll and
//! what to do with a [`SourceError`], and the store writes the page and its cursor in one
//! transaction. Network sources get their bytes through [`fetch::Fetcher`], the only HTTP client
//! for sources, and keep a pure `parse(body) -> posts` that tests call on fixture files.

/// The `facebook` kind's polling (its registry entry comes with issue 24's one file per kind).
#[path = "facebook/api.rs"]
pub mod facebook_api;
pub mod fetch;
pub mod jsonl;
pub mod rss;
pub mod text;
/// The `x` kind's polling (its registry entry comes with issue 24's one file per kind).
#[path = "x/api.rs"]
pub mod x_api;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::secret::SecretRef;
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

    /// Whether the source holds back at `now` although its polls succeed, read from the cursor
    /// it just returned (`x` at its daily spend cap). The scheduler polls it again at `until`
    /// at the earliest, and `vigie sources` shows the reason. A method with a default rather
    /// than a field of [`Page`]: only a kind that can pause has anything to say.
    fn paused(&self, _cursor: &Cursor, _now: DateTime<Utc>) -> Option<Pause> {
        None
    }
}

/// Why and until when a healthy source makes no request (see [`Source::paused`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// Why, for people (`daily cap reached (5000 posts read)`).
    pub reason: String,
    /// The earliest time to poll again.
    pub until: DateTime<Utc>,
}

/// Builds the source a spec describes: the one registry of source kinds (one arm per kind).
/// Secrets are read here, from the process environment.
pub fn build(spec: &SourceSpec) -> Result<Box<dyn Source>, String> {
    let secret = |r: &SecretRef, key: &str| {
        r.resolve(&|k| std::env::var(k).ok())
            .map_err(|e| format!("secret \"{key}\": {e}"))
    };
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
        SourceKind::X {
            query,
            bearer_token,
            max_results,
            max_posts_per_day,
            base_url,
        } => Ok(Box::new(x_api::XSource {
            name: spec.name.clone(),
            base_url: base_url.clone(),
            query: query.clone(),
            bearer_token: secret(bearer_token, "bearer_token")?,
            max_results: *max_results,
            max_posts_per_day: *max_posts_per_day,
            max_bytes: spec.max_bytes,
        })),
        SourceKind::Facebook {
            page_id,
            access_token,
            base_url,
        } => Ok(Box::new(facebook_api::FacebookSource {
            name: spec.name.clone(),
            base_url: base_url.clone(),
            page_id: page_id.clone(),
            access_token: secret(access_token, "access_token")?,
            max_bytes: spec.max_bytes,
        })),
        SourceKind::Planned(kind) => Err(format!(
            "source kind \"{kind}\" is accepted by the config but cannot be polled by this version yet"
        )),
    }
}
