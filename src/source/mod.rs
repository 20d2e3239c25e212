//! Sources: one configured place to poll, behind one trait.
//!
//! A source turns one poll into a [`Page`]: the posts it found and the cursor to resume from. It
//! never sleeps, retries or writes: the scheduler (`daemon::scheduler`) decides when to poll and
//! what to do with a [`SourceError`], and the store writes the page and its cursor in one
//! transaction. Network sources get their bytes through [`fetch::Fetcher`], the only HTTP client
//! for sources, and keep a pure `parse(body) -> posts` that tests call on fixture files.
//!
//! Each kind is one file (`rss.rs`, `mastodon.rs`…) that owns its keys and their checks, its
//! settings struct, its `build`, and its `poll`/`parse`; `kinds!` below is the one list of
//! them. Adding a kind is one new file with a `pub const KIND: Kind` and one word in that list.

pub mod brand_errors;
pub mod fetch;
pub mod french_time;
pub mod robots;
pub mod text;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::secret::Secret;
use crate::config::{KindDef, SecretRef, SourceSpec};
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

    /// `vigie preview`'s poll: [`Source::poll`], plus, for a kind whose mapping of the
    /// platform's items to posts is configured (`json`), the first item as received, so a user
    /// can fix the mapping (even when it fails). The default has no such item.
    async fn preview(&self, fetch: &Fetcher, cursor: &Cursor) -> Preview {
        Preview {
            page: self.poll(fetch, cursor).await,
            first: None,
        }
    }

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

/// What `vigie preview` gets from one poll.
#[derive(Debug)]
pub struct Preview {
    /// The poll's page, or why it failed.
    pub page: Result<Page, SourceError>,
    /// The first item as the platform sent it, for kinds that map items by configuration.
    pub first: Option<FirstItem>,
}

/// The first item of a response beside the post it became.
#[derive(Debug)]
pub struct FirstItem {
    /// The item as received, pretty-printed.
    pub raw: String,
    /// The post it became, or why the mapping failed on it.
    pub post: Result<Post, String>,
}

/// One source kind: what the config knows of it, and how to build it.
pub struct Kind {
    /// Its keys, their checks and its settings (`config::kind`).
    pub def: KindDef,
    /// Builds the source from a spec of this kind (its settings downcast with [`settings`]).
    pub build: BuildFn,
}

/// Declares each kind's module and lists their [`Kind`]s, in one place: a kind missing here does
/// not exist (the config refuses it with the list of kinds).
macro_rules! kinds {
    ($($kind:ident),* $(,)?) => {
        $(pub mod $kind;)*

        /// Every source kind, in the order `vigie check` lists them.
        pub const KINDS: &[&Kind] = &[$(&$kind::KIND),*];

        /// What the config knows of every source kind.
        pub const DEFS: &[&KindDef] = &[$(&$kind::KIND.def),*];
    };
}

kinds! {
    rss,
    jsonl,
    mastodon,
    bluesky,
    reddit,
    hackernews,
    discourse,
    x,
    facebook,
    json,
    html,
}

/// A kind's `build`: the source from a spec of that kind, its secrets read from `env`.
pub type BuildFn = fn(&SourceSpec, Env<'_>) -> Result<Box<dyn Source>, String>;

/// How a source reads the environment when it is built (its `${VAR}` secrets): the process's in
/// the daemon, a test's own in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads the secret `r` of the source `spec` (the error names the reference, never the value).
pub fn secret(r: &SecretRef, env: Env<'_>) -> Result<Secret, String> {
    r.resolve(env).map_err(|e| e.to_string())
}

/// The settings of `spec` as its kind's struct; a mismatch is an internal error (a spec built by
/// hand with another kind's settings), reported, never a panic.
pub fn settings<T: 'static>(spec: &SourceSpec) -> Result<&T, String> {
    spec.settings.get::<T>().ok_or_else(|| {
        format!(
            "internal error: the settings of kind \"{}\" are not {}",
            spec.kind,
            std::any::type_name::<T>()
        )
    })
}

/// The error of a kind that the config accepts but this version cannot poll yet.
pub fn planned(spec: &SourceSpec) -> Result<Box<dyn Source>, String> {
    Err(format!(
        "source kind \"{}\" is accepted by the config but cannot be polled by this version yet",
        spec.kind
    ))
}

/// Builds the source a spec describes, through its kind in [`KINDS`].
pub fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let kind = KINDS
        .iter()
        .find(|k| k.def.name == spec.kind)
        .ok_or_else(|| format!("internal error: no source kind \"{}\"", spec.kind))?;
    (kind.build)(spec, env)
}

/// Where each field of a post comes from in a `json` item or an `html` element (a JSON Pointer
/// or template, a CSS selector…); `text` is required by the config, the others optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostFields<T> {
    /// The post's id.
    pub id: Option<T>,
    /// Its text.
    pub text: Option<T>,
    /// Its author.
    pub author: Option<T>,
    /// When it was written.
    pub created_at: Option<T>,
    /// Its link.
    pub url: Option<T>,
}

impl<T> Default for PostFields<T> {
    fn default() -> Self {
        PostFields {
            id: None,
            text: None,
            author: None,
            created_at: None,
            url: None,
        }
    }
}

impl<T> PostFields<T> {
    /// Sets the field named `field` (one of `config::values::POST_FIELDS`).
    pub fn set(&mut self, field: &str, value: T) {
        let slot = match field {
            "id" => &mut self.id,
            "text" => &mut self.text,
            "author" => &mut self.author,
            "created_at" => &mut self.created_at,
            "url" => &mut self.url,
            _ => return,
        };
        *slot = Some(value);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Settings;

    fn spec(kind: &'static str, settings: Settings) -> SourceSpec {
        SourceSpec {
            name: "s".into(),
            every: Duration::from_secs(60),
            max_bytes: 1024,
            kind,
            settings,
            at: 0,
            brand_accounts: Vec::new(),
        }
    }

    /// A spec built by hand with another kind's settings, or with a kind the list lacks, is an
    /// error from `build`, never a panic.
    #[test]
    fn a_spec_that_does_not_fit_its_kind_is_an_internal_error() {
        let jsonl = jsonl::JsonlSettings {
            path: "p.jsonl".into(),
            shift_to_now: false,
        };
        let err = build(&spec("rss", Settings::new(jsonl.clone())), &|_| None)
            .err()
            .unwrap();
        assert!(
            err.starts_with("internal error: the settings of kind \"rss\""),
            "{err}"
        );
        let err = build(&spec("gopher", Settings::new(jsonl.clone())), &|_| None)
            .err()
            .unwrap();
        assert_eq!(err, "internal error: no source kind \"gopher\"");
        assert!(build(&spec("jsonl", Settings::new(jsonl)), &|_| None).is_ok());
    }

    /// The list names each kind once, under the name its file gives it.
    #[test]
    fn each_kind_is_listed_once() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.def.name).collect();
        assert_eq!(names, DEFS.iter().map(|d| d.name).collect::<Vec<_>>());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
    }
}
