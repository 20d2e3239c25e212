//! [`HackernewsSource`]: one poll of Algolia's HN search, through `source::fetch`.
//!
//! A poll asks for the items newer than the stored `created_at_i` (`api`), page after page while
//! catching up, parses each page (`search`), and returns the posts with the newest item's time
//! as the cursor: the store writes both in one transaction. It never sleeps or retries; a failed
//! request fails the whole poll and the cursor stays. Algolia's error body
//! (`{"message": "…", "status": 400}`) is quoted in the error, since it says what is wrong.
//!
//! With brand accounts (`[daemon] brand_accounts`), each poll then reads their newest items
//! (`api::brand_url`: the `author_{name}` tags, no query) from their own position in the cursor,
//! so the brand's replies are stored beside the complaints. That request is an extra: when it
//! fails, the poll keeps the search's posts, the brand's position stays, and the failure is
//! logged when it changes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use crate::source::brand_errors::BrandErrors;

use async_trait::async_trait;
use serde::Deserialize;

use super::api::{brand_url, search_url, Position, DEFAULT_BASE_URL, MAX_PAGES};
use super::search;
use crate::post::Post;
use crate::source::fetch::{redact_url, status_error, Body, FetchRequest, Fetched, Fetcher};
use crate::source::{Cursor, Page, Source, SourceError};

/// Most characters of Algolia's error message quoted in an error.
const QUOTED: usize = 200;

/// A Hacker News search.
#[derive(Debug)]
pub struct HackernewsSource {
    /// The configured source name.
    name: String,
    /// Algolia's HN API (or a test server).
    base: url::Url,
    /// The full-text query.
    query: String,
    /// Item types (`story`, `comment`…), ORed.
    tags: Vec<String>,
    /// Body cap per request.
    max_bytes: u64,
    /// The brand's HN usernames, whose items each poll reads too.
    brand: Vec<String>,
    /// The last failure reading the brand's items, logged when it changes.
    brand_errors: BrandErrors,
    /// Whether the last poll left items unread (more than [`MAX_PAGES`] pages): warned once.
    behind: AtomicBool,
    /// Whether the last poll skipped hits that did not read: warned when this changes.
    skipping: AtomicBool,
}

impl HackernewsSource {
    /// The source searching `query` among `tags` (default stories and comments) at `base_url`
    /// (default Algolia's).
    pub fn new(
        name: String,
        query: String,
        tags: Vec<String>,
        base_url: Option<&str>,
        max_bytes: u64,
        brand: Vec<String>,
    ) -> Result<HackernewsSource, String> {
        let given = base_url.unwrap_or(DEFAULT_BASE_URL);
        let base = url::Url::parse(given)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| format!("\"base_url\" is not an http(s) URL: {}", redact_url(given)))?;
        Ok(HackernewsSource {
            name,
            base,
            query,
            tags,
            max_bytes,
            brand,
            brand_errors: BrandErrors::default(),
            behind: AtomicBool::new(false),
            skipping: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl Source for HackernewsSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let since = Position::decode(cursor.position.as_deref());
        let mut posts: Vec<Post> = Vec::new();
        let mut newest = since.map(|p| p.created_at_i);
        let (mut more, mut skipped) = (false, 0);
        let pages = if since.is_some() { MAX_PAGES } else { 1 };
        for page in 0..pages {
            let url = search_url(&self.base, &self.query, &self.tags, since, page);
            let body = self.get(fetch, &url).await?;
            let results = search::parse(&body.bytes, &self.name)?;
            posts.extend(results.posts);
            skipped += results.skipped;
            newest = newest.max(results.newest);
            more = results.more;
            if !more {
                break;
            }
        }
        let behind = more && since.is_some();
        if behind != self.behind.swap(behind, Ordering::Relaxed) && behind {
            tracing::warn!(
                source = %self.name,
                pages = MAX_PAGES,
                "More new items than a poll reads; the oldest were skipped."
            );
        }
        if (skipped > 0) != self.skipping.swap(skipped > 0, Ordering::Relaxed) && skipped > 0 {
            tracing::warn!(
                source = %self.name,
                skipped,
                "Skipped hits that do not read as Hacker News items."
            );
        }
        // A page shifted by new items lists some twice; oldest first across pages.
        let mut brand = since.and_then(|p| p.brand);
        if !self.brand.is_empty() {
            let read = self.brand_items(fetch, brand).await;
            if let Some(results) = self.brand_outcome(read) {
                brand = brand.max(results.newest);
                posts.extend(results.posts);
            }
        }
        let mut seen = HashSet::new();
        posts.retain(|p| seen.insert(p.id.clone()));
        posts.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(Page {
            posts,
            cursor: Cursor {
                position: newest
                    .map(|created_at_i| {
                        Position {
                            created_at_i,
                            brand,
                        }
                        .encode()
                    })
                    .or_else(|| cursor.position.clone()),
                ..Cursor::default()
            },
            wait: None,
        })
    }
}

impl HackernewsSource {
    /// One search request: its body, or the refusal with Algolia's message.
    async fn get(&self, fetch: &Fetcher, url: &url::Url) -> Result<Body, SourceError> {
        let headers = [("Accept".to_string(), "application/json".to_string())];
        let none = Cursor::default();
        let req = FetchRequest::get(url.as_str(), &none, self.max_bytes)
            .with_headers(&headers)
            .keeping_client_errors();
        match fetch.get(&req).await? {
            Fetched::Body(body) if body.is_success() => Ok(body),
            Fetched::Body(body) => Err(refusal(&body, url.as_str())),
            Fetched::NotModified => Err(SourceError::Transient(format!(
                "unexpected 304 Not Modified from {}",
                redact_url(url.as_str())
            ))),
        }
    }

    /// The brand's items newer than `since` (one page: a brand does not post a hundred items
    /// between two polls).
    async fn brand_items(
        &self,
        fetch: &Fetcher,
        since: Option<i64>,
    ) -> Result<search::Results, SourceError> {
        let url = brand_url(&self.base, &self.brand, since);
        let body = self.get(fetch, &url).await?;
        search::parse(&body.bytes, &self.name)
    }

    /// The brand's items if they were read; a failure is logged when it changes (and its end
    /// once), never the poll's failure.
    fn brand_outcome(
        &self,
        read: Result<search::Results, SourceError>,
    ) -> Option<search::Results> {
        // One request reads every account: its failure is theirs together.
        self.brand_errors
            .outcome(&self.name, &self.brand.join(","), read)
    }
}

/// An Algolia error body.
#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// The error for a kept 4xx: the status's class, the redacted URL and Algolia's message.
fn refusal(body: &Body, url: &str) -> SourceError {
    let says = serde_json::from_slice::<ErrorBody>(&body.bytes)
        .ok()
        .map(|e| {
            let quoted: String = e.message.chars().take(QUOTED).collect();
            format!(": Algolia says \"{quoted}\"")
        })
        .unwrap_or_default();
    let message = format!("HTTP {} from {}{says}", body.status, redact_url(url));
    status_error(body.status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_algolia() {
        let body = Body {
            status: 400,
            bytes: std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/hackernews/error-400.json"
            ))
            .unwrap(),
            ..Body::default()
        };
        assert_eq!(
            refusal(&body, "https://hn.example/api/v1/search_by_date?query=q"),
            SourceError::Permanent(
                "HTTP 400 from https://hn.example/api/v1/search_by_date?query=<redacted>: \
                 Algolia says \"Invalid value for \"numericFilters\" parameter\""
                    .into()
            )
        );
    }
}
