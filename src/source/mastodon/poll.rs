//! [`MastodonSource`]: one poll of an instance's timelines, through `source::fetch`.
//!
//! A poll walks every stream (`api`) from its own `min_id`, parses each page (`status`), and
//! returns the new posts with the cursor that holds every stream's newest id: the store writes
//! both in one transaction, so a crash re-reads at most one poll. It never sleeps or retries; a
//! failed request fails the whole poll (the cursor stays, the next poll reads the same pages).
//! A refusal's JSON body (`{"error": "The access token is invalid"}`) is quoted in the error,
//! since it says what to fix. The brand accounts' statuses (`brand`) join the timelines' posts,
//! then every post's thread is resolved (`thread`); neither can fail the poll.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;

use super::api::{self, link, rate_limit_wait, Positions, Stream};
use super::brand::Brand;
use super::status::{self, cmp_ids};
use super::thread::Threads;
use crate::config::secret::Secret;
use crate::post::Post;
use crate::source::fetch::{
    parse_retry_after, redact_url, status_error, Body, FetchRequest, Fetched, Fetcher,
};
use crate::source::{Cursor, Page, Source, SourceError};

/// Most characters of a platform's error message quoted in an error.
const QUOTED: usize = 200;

/// An instance's hashtags and timeline.
#[derive(Debug)]
pub struct MastodonSource {
    /// The configured source name.
    pub(super) name: String,
    /// The instance's base URL.
    pub(super) instance: url::Url,
    /// The instance's host, which qualifies local handles.
    pub(super) host: String,
    /// What to follow, in order.
    streams: Vec<Stream>,
    /// `Accept`, and `Authorization: Bearer …` with a token (never logged: `fetch` names
    /// headers, never their values).
    headers: Vec<(String, String)>,
    /// Body cap per request.
    max_bytes: u64,
    /// Whether the last poll skipped statuses that did not read: warned when this changes.
    skipping: AtomicBool,
    /// The brand accounts whose statuses are read too.
    pub(super) brand: Brand,
    /// The roots of the threads seen.
    pub(super) threads: Threads,
}

impl MastodonSource {
    /// The source for `instance`'s `hashtags` (with or without `#`) and optional `timeline`
    /// (`local` or `public`), read with `token` if given. Fails on an instance that is not an
    /// http(s) URL (the config's checks make that unreachable).
    pub fn new(
        name: String,
        instance: &str,
        hashtags: &[String],
        timeline: Option<&str>,
        token: Option<&Secret>,
        max_bytes: u64,
    ) -> Result<MastodonSource, String> {
        let instance = url::Url::parse(instance)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                format!(
                    "\"instance\" is not an http(s) URL: {}",
                    redact_url(instance)
                )
            })?;
        let mut streams: Vec<Stream> = hashtags
            .iter()
            .map(|t| Stream::Tag(t.trim_start_matches('#').to_string()))
            .collect();
        match timeline {
            Some("local") => streams.push(Stream::Local),
            Some("public") => streams.push(Stream::Public),
            _ => {}
        }
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if let Some(token) = token {
            headers.push((
                "Authorization".to_string(),
                format!("Bearer {}", token.expose()),
            ));
        }
        Ok(MastodonSource {
            name,
            host: instance.host_str().unwrap_or_default().to_string(),
            instance,
            streams,
            headers,
            max_bytes,
            skipping: AtomicBool::new(false),
            brand: Brand::default(),
            threads: Threads::default(),
        })
    }

    /// The source, also reading the statuses of the brand accounts `handles` (`brand`).
    pub fn with_brand_accounts(self, handles: &[String]) -> MastodonSource {
        MastodonSource {
            brand: Brand::new(handles, &self.host),
            ..self
        }
    }

    /// One request; a refusal becomes an error quoting the instance's message.
    pub(super) async fn get(&self, fetch: &Fetcher, url: &url::Url) -> Result<Body, SourceError> {
        // Timelines move with `min_id`, not with validators: no conditional GET.
        let none = Cursor::default();
        let req = FetchRequest::get(url.as_str(), &none, self.max_bytes)
            .with_headers(&self.headers)
            .keeping_client_errors()
            .keeping_rate_limited();
        match fetch.get(&req).await? {
            Fetched::Body(body) if body.is_success() => Ok(body),
            // Mastodon says when its window resets in `X-RateLimit-Reset`, rarely in
            // `Retry-After`: wait for whichever it gives, not for a short backoff.
            Fetched::Body(body) if body.status == 429 => Err(SourceError::RateLimited {
                retry_after: body
                    .header("retry-after")
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
                    .or_else(|| {
                        rate_limit_wait(Some("0"), body.header("x-ratelimit-reset"), Utc::now())
                    }),
            }),
            Fetched::Body(body) => Err(refusal(&body, url.as_str(), self.has_token())),
            Fetched::NotModified => Err(SourceError::Transient(format!(
                "unexpected 304 Not Modified from {}",
                redact_url(url.as_str())
            ))),
        }
    }

    fn has_token(&self) -> bool {
        self.headers.len() > 1
    }
}

#[async_trait]
impl Source for MastodonSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let mut positions = Positions::decode(cursor.position.as_deref());
        let mut posts: Vec<Post> = Vec::new();
        let (mut wait, mut skipped) = (None, 0);
        'streams: for stream in &self.streams {
            let since = positions.get(stream).map(str::to_string);
            let mut url = stream.url(&self.instance, since.as_deref());
            for pages in 1.. {
                let body = self.get(fetch, &url).await?;
                let page = status::parse(&body.bytes, &self.name, &self.host)?;
                posts.extend(page.posts);
                skipped += page.skipped;
                if let Some(newest) = &page.newest {
                    positions.advance(stream, newest);
                }
                wait = rate_limit_wait(
                    body.header("x-ratelimit-remaining"),
                    body.header("x-ratelimit-reset"),
                    Utc::now(),
                );
                if wait.is_some() {
                    // No request left until the reset: the other streams wait for the next poll.
                    break 'streams;
                }
                // Catching up: newer pages while they come back full; first poll: some history.
                let next = match since {
                    Some(_) if page.listed >= api::LIMIT && pages < api::MAX_PAGES => "prev",
                    None if page.listed > 0 && pages < api::FIRST_PAGES => "next",
                    _ => break,
                };
                match body
                    .header("link")
                    .and_then(|h| link(h, next, &self.instance))
                {
                    Some(target) => url = target,
                    None => break,
                }
            }
        }
        if (skipped > 0) != self.skipping.swap(skipped > 0, Ordering::Relaxed) && skipped > 0 {
            tracing::warn!(
                source = %self.name,
                skipped,
                "Skipped statuses that do not read as Mastodon statuses."
            );
        }
        if wait.is_none() {
            wait = self.brand_statuses(fetch, &mut positions, &mut posts).await;
        }
        // The same status under two hashtags (or a brand's) is one post; oldest first.
        let mut seen = HashSet::new();
        posts.retain(|p| seen.insert(p.id.clone()));
        posts.sort_by(|a, b| cmp_ids(a.id.as_deref().unwrap_or(""), b.id.as_deref().unwrap_or("")));
        // Parents before their replies, so a thread seen in this poll costs no lookup.
        // With no request left, only what the cache knows.
        let lookups = wait.is_none();
        let more = self.resolve_threads(fetch, &mut posts, lookups).await;
        wait = wait.or(more);
        Ok(Page {
            posts,
            cursor: Cursor {
                position: positions.encode().or_else(|| cursor.position.clone()),
                ..Cursor::default()
            },
            wait,
        })
    }
}

/// A Mastodon error body.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// The error for a kept 4xx: the status's class, the redacted URL, the instance's own message
/// and, for the usual causes, what to do.
fn refusal(body: &Body, url: &str, has_token: bool) -> SourceError {
    let status = body.status;
    let says = serde_json::from_slice::<ErrorBody>(&body.bytes)
        .ok()
        .map(|e| {
            let quoted: String = e.error.chars().take(QUOTED).collect();
            format!(": the instance says \"{quoted}\"")
        })
        .unwrap_or_default();
    let hint = match status {
        401 | 403 if has_token => " (check the source's token)",
        401 | 403 | 422 if !has_token => {
            " (this instance shows it to logged-in users only: give the source a token)"
        }
        _ => "",
    };
    let message = format!("HTTP {status} from {}{says}{hint}", redact_url(url));
    status_error(status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_the_instance_and_say_what_to_do() {
        let body = |status, bytes: &[u8]| Body {
            status,
            bytes: bytes.to_vec(),
            ..Body::default()
        };
        let url = "https://m.example/api/v1/timelines/tag/colis?limit=40";
        let e = refusal(
            &body(401, br#"{"error":"The access token is invalid"}"#),
            url,
            true,
        );
        assert_eq!(
            e,
            SourceError::Permanent(
                "HTTP 401 from https://m.example/api/v1/timelines/tag/colis?limit=<redacted>: \
                 the instance says \"The access token is invalid\" (check the source's token)"
                    .into()
            )
        );
        let e = refusal(&body(422, b"not json"), url, false);
        assert!(
            matches!(&e, SourceError::Permanent(m) if m.ends_with("give the source a token)")),
            "{e:?}"
        );
        let e = refusal(&body(408, b""), url, false);
        assert!(matches!(e, SourceError::Transient(_)), "{e:?}");
    }
}
