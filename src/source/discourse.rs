//! The `discourse` source: a Discourse forum's latest posts, or a search (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings, and the poll: which pages to
//! ask for and what cursor to keep. Reading Discourse's answers is `parse`'s (pure, tested on
//! recorded answers); HTTP is `fetch`'s. URL and secret keys are checked by `config::validate`,
//! as for every kind.
//!
//! `mode = "posts"` reads `/posts.json`, the forum's newest public posts (50 a page, newest
//! first; `?before=ID` gives the page below a post id). The cursor holds the highest post id
//! stored. On a busy forum the newest page may not reach it: the poll then reads on with
//! `before` until a page does, at most [`MAX_PAGES`] pages per poll; past that, the cursor keeps
//! the gap still to read (`gap`) and the next poll reads it first, so no post is skipped however
//! far behind the source is. The first poll reads one page (no backfill).
//!
//! `mode = "search"` reads `/search.json?q={query} order:latest`, from the day before the newest
//! post seen (`after:`, Discourse's search filters by date), up to [`MAX_PAGES`] pages.
//!
//! Brand accounts (`[daemon] brand_accounts`, SPEC §5.1): in `posts` mode the brand's posts are
//! among the forum's; in `search` mode `brand` reads them too, from their own place in the
//! cursor (`brand`).
//!
//! With `api_key`, every request carries `Api-Key` and `Api-Username` (private forums, higher
//! limits); `fetch` never logs header values. A 429 is read here: Discourse says how long to wait
//! in `extras.wait_seconds` (and in `Retry-After`); the longer of the two is honoured.

mod brand;
mod parse;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::fetch::{classify_status, parse_retry_after, redact_url, Body, FetchRequest, Fetched, Fetcher};
use super::{Cursor, Env, Kind, Page, Source, SourceError};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};
use crate::post::Post;

pub use brand::usernames;
pub use parse::{latest, refusal, search, user_actions, Parsed, Refusal};

/// Most pages one poll reads (50 posts each): a forum's backlog is read over several polls.
pub const MAX_PAGES: usize = 10;

/// Most characters of a forum's error message quoted in an error.
const QUOTED: usize = 200;

/// `kind = "discourse"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "discourse",
        required: &["url"],
        optional: &["mode", "query", "api_key", "api_username"],
        secrets: &["api_key"],
        read,
    },
    build,
};

/// A `discourse` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscourseSettings {
    /// The forum's base URL.
    pub url: String,
    /// `posts` (the default) or `search`, if given.
    pub mode: Option<String>,
    /// The search query (mode `search` only).
    pub query: Option<String>,
    /// An API key, if given (then `api_username` is too).
    pub api_key: Option<SecretRef>,
    /// The API key's user.
    pub api_username: Option<String>,
}

/// `mode` (default `posts`), a query in mode `search`, API keys together.
fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    let mode = r.one_of("mode", &["posts", "search"]).map(|(m, _)| m);
    let query = r.non_empty("query");
    match (mode.as_deref(), &query) {
        (Some("search"), None) if !r.has("query") => {
            let at = r.at;
            r.error(
                at,
                "source of kind \"discourse\" in mode \"search\" needs \"query\"",
            );
        }
        (Some("posts"), Some((_, span))) => {
            r.error(
                span.start,
                "\"query\" needs mode = \"search\", not \"posts\"",
            );
        }
        (None, Some((_, span))) if !r.has("mode") => {
            r.error(span.start, "\"query\" needs mode = \"search\"");
        }
        _ => {}
    }
    let api_username = r.non_empty("api_username").map(|(u, _)| u);
    values::together(r, "api_username", "api_key");
    Settings::new(DiscourseSettings {
        url: values::text(r, "url"),
        mode,
        query: query.map(|(q, _)| q),
        api_key: secret::reference(r, "api_key", true, dir),
        api_username,
    })
}

fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s: &DiscourseSettings = super::settings(spec)?;
    let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
    if let (Some(key), Some(user)) = (&s.api_key, &s.api_username) {
        let key = super::secret(key, env)?;
        headers.push(("Api-Key".to_string(), key.expose().to_string()));
        headers.push(("Api-Username".to_string(), user.clone()));
    }
    let mode = match (s.mode.as_deref(), &s.query) {
        (Some("search"), Some(q)) => Mode::Search(q.clone()),
        _ => Mode::Posts,
    };
    Ok(Box::new(DiscourseSource {
        name: spec.name.clone(),
        base: s.url.trim_end_matches('/').to_string(),
        mode,
        headers,
        max_bytes: spec.max_bytes,
        brand: usernames(&spec.brand_accounts),
        brand_errors: Default::default(),
    }))
}

/// What a source reads.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// `/posts.json`, every public post.
    Posts,
    /// `/search.json` for this query.
    Search(String),
}

/// A Discourse forum.
#[derive(Debug)]
pub struct DiscourseSource {
    name: String,
    /// The forum's URL, without a trailing slash.
    base: String,
    mode: Mode,
    /// `Accept`, and `Api-Key` / `Api-Username` when given (values never logged).
    headers: Vec<(String, String)>,
    max_bytes: u64,
    /// The brand's usernames on the forum, read in `search` mode.
    brand: Vec<String>,
    /// The last failure reading each account's posts, logged when it changes.
    brand_errors: crate::source::brand_errors::BrandErrors,
}

/// `Cursor.position`: where the source stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Posts mode: every post up to this id is stored (with the `gap` below, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<u64>,
    /// Posts mode: posts between `last_id` and `gap.before` are still to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
    /// Search mode: the newest post time seen (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<String>,
    /// Search mode: each brand account's highest post id stored, by username.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub brand: BTreeMap<String, u64>,
}

/// Posts not read yet on a busy forum: ids above `last_id` and below `before`. Posts from
/// `before` to `top` are stored; once the gap is read, `last_id` becomes `top`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The lowest id read so far.
    pub before: u64,
    /// The highest id read when the gap opened.
    pub top: u64,
}

impl Position {
    fn of(cursor: &Cursor) -> Option<Position> {
        cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
    }

    fn cursor(&self) -> Cursor {
        Cursor {
            etag: None,
            last_modified: None,
            position: serde_json::to_string(self).ok(),
        }
    }
}

#[async_trait]
impl Source for DiscourseSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        match &self.mode {
            Mode::Posts => self.poll_posts(fetch, Position::of(cursor)).await,
            Mode::Search(q) => self.poll_search(fetch, q, Position::of(cursor)).await,
        }
    }
}

impl DiscourseSource {
    /// One GET of `url`: the body of a 2xx, or the classified refusal (with the forum's own
    /// message, and its wait on 429).
    async fn get(&self, fetch: &Fetcher, url: &str) -> Result<Vec<u8>, SourceError> {
        let none = Cursor::default();
        let req = FetchRequest::get(url, &none, self.max_bytes)
            .with_headers(&self.headers)
            .keeping_client_errors()
            .keeping_rate_limited();
        match fetch.get(&req).await? {
            Fetched::NotModified => Ok(Vec::new()),
            Fetched::Body(body) if body.is_success() => Ok(body.bytes),
            Fetched::Body(body) => Err(refused(&body, url)),
        }
    }

    async fn poll_posts(
        &self,
        fetch: &Fetcher,
        pos: Option<Position>,
    ) -> Result<Page, SourceError> {
        let Some(last_id) = pos.as_ref().and_then(|p| p.last_id) else {
            // First poll (or a forum that had no post): the newest page, no backfill.
            let page = latest(&self.get(fetch, &self.posts_url(None)).await?, &self.base, &self.name)?;
            let top = page.posts.iter().map(|(id, _)| *id).max();
            return Ok(page_of(page.posts.into_iter().map(|(_, p)| p).collect(), Position {
                last_id: top,
                ..Position::default()
            }, None));
        };
        let gap = pos.and_then(|p| p.gap);
        let (mut before, mut top) = (gap.as_ref().map(|g| g.before), gap.map(|g| g.top));
        let mut posts = Vec::new();
        for n in 0..MAX_PAGES {
            let body = match self.get(fetch, &self.posts_url(before)).await {
                Ok(body) => body,
                Err(e) => {
                    let wait = stop(e, n)?;
                    return Ok(page_of(posts, gap_position(last_id, before, top), wait));
                }
            };
            let page = latest(&body, &self.base, &self.name)?;
            let ids: Vec<u64> = page.posts.iter().map(|(id, _)| *id).collect();
            top = top.or(ids.iter().copied().max()).or(Some(last_id));
            let reached = ids.is_empty() || ids.iter().any(|id| *id <= last_id);
            posts.extend(page.posts.into_iter().filter(|(id, _)| *id > last_id).map(|(_, p)| p));
            if reached {
                let last = top.unwrap_or(last_id).max(last_id);
                return Ok(page_of(posts, Position { last_id: Some(last), ..Position::default() }, None));
            }
            before = ids.iter().copied().min();
        }
        tracing::warn!(
            source = %self.name,
            pages = MAX_PAGES,
            "Forum is busier than a poll reads; the rest is read at the next polls."
        );
        Ok(page_of(posts, gap_position(last_id, before, top), None))
    }

    async fn poll_search(
        &self,
        fetch: &Fetcher,
        query: &str,
        pos: Option<Position>,
    ) -> Result<Page, SourceError> {
        let (newest, mut brand) = pos.map(|p| (p.newest, p.brand)).unwrap_or_default();
        let since: Option<DateTime<Utc>> = newest
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let mut posts: Vec<Post> = Vec::new();
        let mut wait = None;
        for n in 0..MAX_PAGES {
            let url = self.search_url(query, since, n + 1);
            let body = match self.get(fetch, &url).await {
                Ok(body) => body,
                Err(e) => {
                    wait = stop(e, n)?;
                    break;
                }
            };
            let page = search(&body, &self.base, &self.name)?;
            let reached = page.posts.iter().any(|(_, p)| {
                let t = p.created_at.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
                matches!((t, since), (Some(t), Some(s)) if t <= s)
            });
            let more = page.more && !page.posts.is_empty();
            posts.extend(page.posts.into_iter().map(|(_, p)| p));
            if reached || !more || since.is_none() {
                break;
            }
        }
        let newest = posts
            .iter()
            .filter_map(|p| p.created_at.clone())
            .chain(newest)
            .max();
        posts.reverse();
        self.add_brand(fetch, &mut posts, &mut brand).await;
        Ok(page_of(posts, Position { newest, brand, ..Position::default() }, wait))
    }

    /// `{url}/posts.json`, `?before=ID` below a post.
    fn posts_url(&self, before: Option<u64>) -> String {
        match before {
            Some(b) => format!("{}/posts.json?before={b}", self.base),
            None => format!("{}/posts.json", self.base),
        }
    }

    /// `{url}/search.json?q={query} order:latest[ after:{day before since}]&page=N`.
    fn search_url(&self, query: &str, since: Option<DateTime<Utc>>, page: usize) -> String {
        let mut q = format!("{query} order:latest");
        if let Some(s) = since {
            // The date filter is by day, in the forum's zone: a day earlier covers every zone,
            // and the store drops what is already stored.
            let day = (s - chrono::Duration::days(1)).format("%Y-%m-%d");
            q.push_str(&format!(" after:{day}"));
        }
        let mut url = match url::Url::parse(&format!("{}/search.json", self.base)) {
            Ok(u) => u,
            Err(_) => return format!("{}/search.json", self.base),
        };
        url.query_pairs_mut().append_pair("q", &q);
        if page > 1 {
            url.query_pairs_mut().append_pair("page", &page.to_string());
        }
        url.to_string()
    }
}

/// The page to return: `posts` oldest first.
fn page_of(mut posts: Vec<Post>, pos: Position, wait: Option<Duration>) -> Page {
    posts.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Page {
        posts,
        cursor: pos.cursor(),
        wait,
    }
}

/// The position when a poll stops before reaching `last_id`.
fn gap_position(last_id: u64, before: Option<u64>, top: Option<u64>) -> Position {
    let gap = match (before, top) {
        (Some(before), Some(top)) => Some(Gap { before, top }),
        _ => None,
    };
    Position {
        last_id: Some(last_id),
        gap,
        ..Position::default()
    }
}

/// After page `n` failed with `e`: the first page's failure fails the poll; a later rate limit
/// keeps the pages read (the cursor says where to go on) and gives the wait before the next
/// poll; any other failure fails the poll, and the next one reads the same pages again.
fn stop(e: SourceError, n: usize) -> Result<Option<Duration>, SourceError> {
    match e {
        SourceError::RateLimited { retry_after } if n > 0 => Ok(retry_after),
        e => Err(e),
    }
}

/// A refusal as a source error: 429 waits the longer of `Retry-After` and `wait_seconds`;
/// other statuses are classified as `fetch` does, with the forum's message quoted.
fn refused(body: &Body, url: &str) -> SourceError {
    let said = refusal(&body.bytes);
    if body.status == 429 {
        let header = body
            .header("retry-after")
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let wait = said.wait_seconds.map(Duration::from_secs);
        return SourceError::RateLimited {
            retry_after: header.max(wait),
        };
    }
    let quoted = said
        .message
        .map(|m| format!(": {}", m.chars().take(QUOTED).collect::<String>()))
        .unwrap_or_default();
    let shown = redact_url(url);
    match classify_status(body.status, None) {
        Some(SourceError::Transient(m)) => {
            SourceError::Transient(format!("{m} from {shown}{quoted}"))
        }
        Some(SourceError::Permanent(m)) => {
            SourceError::Permanent(format!("{m} from {shown}{quoted}"))
        }
        Some(e) => e,
        None => SourceError::Permanent(format!("HTTP {} from {shown}", body.status)),
    }
}
