//! The only HTTP client for sources: a good citizen on other people's servers.
//!
//! [`Fetcher`] owns one reqwest client (rustls, gzip/brotli/deflate, bounded redirects) and
//! does one request per call (a GET, or a POST for the APIs that log in that way): it sends the configured `User-Agent` and the conditional-GET
//! validators from the [`Cursor`], waits its turn under a per-host concurrency limit, enforces a
//! total timeout, and streams the body under a byte cap (reqwest has none), so a hostile or
//! broken server can neither hang a poll nor fill the memory. `304 Not Modified` is a success
//! with nothing new ([`Fetched::NotModified`]).
//!
//! Which failures are worth retrying is decided once, in [`classify`], beside this client (the
//! notifiers' HTTP uses it too). It leaves to others: *when* to retry (the scheduler: this
//! module never sleeps or retries), parsing the body (each source's `parse`), and storing the
//! new validators (the store, with the page).
//! URLs reach errors and logs only through [`redact_url`], since query strings and userinfo often
//! carry tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::sync::Semaphore;

use super::{Cursor, SourceError};

pub mod classify;

use classify::classify_reqwest;
pub use classify::{classify_status, status_error};

/// How the [`Fetcher`] behaves; the same for every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Sent as `User-Agent` on every request (`[daemon] user_agent`): say who you are and how to
    /// reach you, as site operators ask of crawlers.
    pub user_agent: String,
    /// How long to wait for the TCP + TLS connection.
    pub connect_timeout: Duration,
    /// How long one GET may take in total, from sending the request to the last body byte.
    /// Waiting for a per-host slot does not count.
    pub timeout: Duration,
    /// How long the server may stay silent: waiting for the response headers, and between two
    /// pieces of the body. A stalled server ends the fetch (a transient "stalled" error) after
    /// this, not after the whole `timeout`, so it holds one of its host's `per_host` slots
    /// briefly. Default 15 s: slow feeds that trickle bytes still finish, within `timeout`.
    pub read_timeout: Duration,
    /// Redirects followed before giving up (a permanent error).
    pub max_redirects: usize,
    /// Requests in flight at once to one host (`host:port`), across all sources.
    pub per_host: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            user_agent: concat!("vigie/", env!("CARGO_PKG_VERSION")).to_string(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            read_timeout: Duration::from_secs(15),
            max_redirects: 5,
            per_host: 2,
        }
    }
}

/// One request to make: a GET unless it has a [`RequestBody`].
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    /// The URL, possibly with a token in its query or userinfo (never logged as is).
    pub url: &'a str,
    /// Its `etag` and `last_modified` become `If-None-Match` and `If-Modified-Since`.
    pub cursor: &'a Cursor,
    /// Bodies longer than this (after decompression) are aborted with a permanent error.
    pub max_bytes: u64,
    /// Extra request headers (`Accept`, `Authorization`…); values are never logged.
    pub headers: &'a [(String, String)],
    /// `Some`: a POST with this body (a login, a token request). Its bytes are never logged.
    pub body: Option<RequestBody<'a>>,
    /// Whether a 4xx other than 429 comes back as a [`Fetched::Body`] with its status (for APIs
    /// whose error body says what to do: an expired token to refresh, a revoked one to report)
    /// rather than as an error. The source then classifies it, with [`classify_status`] for
    /// the cases it does not handle.
    pub keep_client_errors: bool,
    /// Whether a 429 comes back as a [`Fetched::Body`] with its status, for platforms that say
    /// in the body how long to wait (Discourse's `extras.wait_seconds`). The source then returns
    /// [`SourceError::RateLimited`] itself.
    pub keep_rate_limited: bool,
}

/// The body of a POST.
#[derive(Debug, Clone, Copy)]
pub struct RequestBody<'a> {
    /// Its `Content-Type` (`application/json`, `application/x-www-form-urlencoded`).
    pub content_type: &'a str,
    /// The bytes sent.
    pub bytes: &'a [u8],
}

impl<'a> FetchRequest<'a> {
    /// A GET of `url`, conditional on `cursor`'s validators, its body capped at `max_bytes`.
    pub fn get(url: &'a str, cursor: &'a Cursor, max_bytes: u64) -> FetchRequest<'a> {
        FetchRequest {
            url,
            cursor,
            max_bytes,
            headers: &[],
            body: None,
            keep_client_errors: false,
            keep_rate_limited: false,
        }
    }

    /// With these extra request headers.
    pub fn with_headers(self, headers: &'a [(String, String)]) -> FetchRequest<'a> {
        FetchRequest { headers, ..self }
    }

    /// A 429 returned as a body (see [`FetchRequest::keep_rate_limited`]).
    pub fn keeping_rate_limited(self) -> FetchRequest<'a> {
        FetchRequest {
            keep_rate_limited: true,
            ..self
        }
    }

    /// A POST of `bytes` as `content_type` instead of a GET.
    pub fn with_body(self, content_type: &'a str, bytes: &'a [u8]) -> FetchRequest<'a> {
        FetchRequest {
            body: Some(RequestBody {
                content_type,
                bytes,
            }),
            ..self
        }
    }

    /// 4xx statuses other than 429 returned as a body (see [`FetchRequest::keep_client_errors`]).
    pub fn keeping_client_errors(self) -> FetchRequest<'a> {
        FetchRequest {
            keep_client_errors: true,
            ..self
        }
    }
}

/// What a successful GET returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `304 Not Modified`: nothing new since the cursor's validators; keep the cursor.
    NotModified,
    /// A 2xx response and its whole (decompressed) body.
    Body(Body),
}

/// A response body (2xx, or a kept 4xx) and the headers a source needs from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Body {
    /// The HTTP status: 2xx, or a 4xx when the request kept client errors.
    pub status: u16,
    /// Every response header, names lowercased, in arrival order (`link`,
    /// `x-ratelimit-remaining`…): read them with [`Body::header`].
    pub headers: Vec<(String, String)>,
    /// The decompressed body, at most `max_bytes` long.
    pub bytes: Vec<u8>,
    /// The `ETag` header, to store in the next cursor.
    pub etag: Option<String>,
    /// The `Last-Modified` header, to store in the next cursor.
    pub last_modified: Option<String>,
    /// The `Content-Type` header, for sources that accept several formats.
    pub content_type: Option<String>,
}

impl Body {
    /// The first value of header `name` (any case), if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The HTTP client for sources: cheap to clone (clones share the client, its connection pool and
/// the per-host limits), `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    user_agent: String,
    timeout: Duration,
    read_timeout: Duration,
    per_host: usize,
    /// One semaphore per `host:port`, created on first use. It lives here rather than in the
    /// scheduler so that every caller (daemon, `vigie preview`) is bounded the same way.
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fetcher {
    /// Builds the client. Fails only if the TLS backend cannot be initialised.
    pub fn new(opts: FetchOptions) -> Result<Fetcher, SourceError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(opts.max_redirects))
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| {
                SourceError::Permanent(format!(
                    "could not build the HTTP client: {}",
                    e.without_url()
                ))
            })?;
        Ok(Fetcher {
            inner: Arc::new(Inner {
                client,
                user_agent: opts.user_agent,
                timeout: opts.timeout,
                read_timeout: opts.read_timeout,
                per_host: opts.per_host.max(1),
                hosts: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The `User-Agent` it sends, for the clients that are not HTTP requests (WebSockets).
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }

    /// How long a server may stay silent (see [`FetchOptions::read_timeout`]); streams use it
    /// to tell a silent connection from a quiet one.
    pub fn read_timeout(&self) -> Duration {
        self.inner.read_timeout
    }

    /// Sends the request (GET `url` with conditional headers from `cursor`, or its POST); the
    /// body is capped at `max_bytes` while streaming (decompressed bytes count).
    ///
    /// Errors are classified by [`classify`] and their messages name the redacted URL.
    pub async fn get(&self, req: &FetchRequest<'_>) -> Result<Fetched, SourceError> {
        let shown = redact_url(req.url);
        let url = url::Url::parse(req.url)
            .map_err(|e| SourceError::Permanent(format!("invalid URL {shown}: {e}")))?;
        let headers = request_headers(req)?;
        let slot = self.host_slot(&url);
        // The permit is held until the body is read, so a slow body counts against the host.
        // A source makes one GET per poll and is never polled twice at once, so it holds at
        // most one slot; the queue is first come, first served (tokio's semaphore is fair), and
        // `read_timeout` bounds how long a silent server keeps a slot, so stalled feeds cannot
        // starve the other feeds of their host.
        let _permit = slot
            .acquire()
            .await
            .expect("per-host semaphores are never closed");
        let timeout = self.inner.timeout;
        let exchange = self.exchange(url, headers, req);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(fetched)) => Ok(fetched),
            Ok(Err(failure)) => Err(failure.into_error(&shown)),
            Err(_) => Err(SourceError::Transient(format!(
                "timed out after {} fetching {shown}",
                seconds(timeout)
            ))),
        }
    }

    /// The request and the capped body read, without the timeout.
    async fn exchange(
        &self,
        url: url::Url,
        headers: HeaderMap,
        req: &FetchRequest<'_>,
    ) -> Result<Fetched, Failure> {
        let max_bytes = req.max_bytes;
        let read_timeout = self.inner.read_timeout;
        let request = match req.body {
            None => self.inner.client.get(url),
            Some(body) => self
                .inner
                .client
                .post(url)
                .header(header::CONTENT_TYPE, body.content_type)
                .body(body.bytes.to_vec()),
        };
        let request = request.headers(headers).send();
        let mut response = tokio::time::timeout(read_timeout, request)
            .await
            .map_err(|_| Failure::Stalled("no response", read_timeout))?
            .map_err(|e| Failure::Transport(e.without_url()))?;
        let status = response.status().as_u16();
        let header = |name| {
            let value = response.headers().get(name)?;
            value.to_str().ok().map(str::to_owned)
        };
        let retry_after =
            header(header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let kept = (req.keep_client_errors && (400..500).contains(&status) && status != 429)
            || (req.keep_rate_limited && status == 429);
        if let Some(e) = classify_status(status, retry_after).filter(|_| !kept) {
            return Err(Failure::Status(e));
        }
        if status == 304 {
            return Ok(Fetched::NotModified);
        }
        let (etag, last_modified, content_type) = (
            header(header::ETAG),
            header(header::LAST_MODIFIED),
            header(header::CONTENT_TYPE),
        );
        let all_headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        // A declared length over the cap fails before reading anything. reqwest hides the
        // length of compressed bodies, so the streamed count below is what really bounds memory.
        if response.content_length().is_some_and(|n| n > max_bytes) {
            return Err(Failure::TooLarge(max_bytes));
        }
        // Sized once from the declared length: growing by doubling would briefly hold two copies.
        let declared = response.content_length().unwrap_or(0).min(max_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = tokio::time::timeout(read_timeout, response.chunk())
            .await
            .map_err(|_| Failure::Stalled("no data", read_timeout))?
            .map_err(|e| Failure::Transport(e.without_url()))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                // Dropping the response closes the connection: the rest is never downloaded.
                return Err(Failure::TooLarge(max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(Body {
            status,
            headers: all_headers,
            bytes,
            etag,
            last_modified,
            content_type,
        }))
    }

    /// The semaphore of the URL's `host:port`.
    fn host_slot(&self, url: &url::Url) -> Arc<Semaphore> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let mut hosts = self.inner.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let slot = hosts
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.per_host)));
        Arc::clone(slot)
    }
}

/// Why [`Fetcher::exchange`] failed, before the URL is attached to the message.
enum Failure {
    /// An HTTP status, already classified.
    Status(SourceError),
    /// A transport error, stripped of its URL.
    Transport(reqwest::Error),
    /// The body passed `max_bytes`.
    TooLarge(u64),
    /// The server sent nothing (what, for how long) within the read timeout.
    Stalled(&'static str, Duration),
}

impl Failure {
    /// The classified error, its message naming the redacted URL `shown`.
    fn into_error(self, shown: &str) -> SourceError {
        let err = match self {
            Failure::Status(e) => return with_message(e, |m| format!("{m} from {shown}")),
            Failure::Transport(e) => classify_reqwest(&e),
            // Permanent: the same URL will send the same oversized body until someone raises
            // the source's `max_bytes` or the site changes.
            Failure::TooLarge(max) => {
                SourceError::Permanent(format!("response body exceeds {max} bytes (max_bytes)"))
            }
            Failure::Stalled(what, d) => {
                SourceError::Transient(format!("stalled: {what} for {}", seconds(d)))
            }
        };
        with_message(err, |m| format!("{m} fetching {shown}"))
    }
}

/// Rewrites the message of a `Transient` or `Permanent` error.
fn with_message(e: SourceError, f: impl FnOnce(&str) -> String) -> SourceError {
    match e {
        SourceError::Transient(m) => SourceError::Transient(f(&m)),
        SourceError::Permanent(m) => SourceError::Permanent(f(&m)),
        rate_limited @ SourceError::RateLimited { .. } => rate_limited,
    }
}

/// The source's extra headers plus the conditional-GET validators from its cursor.
fn request_headers(req: &FetchRequest<'_>) -> Result<HeaderMap, SourceError> {
    let mut map = HeaderMap::new();
    for (name, value) in req.headers {
        // The value may be a credential: name the header, never show the value.
        let invalid = || SourceError::Permanent(format!("invalid request header {name:?}"));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
        map.append(name, value);
    }
    let validators = [
        (header::IF_NONE_MATCH, &req.cursor.etag),
        (header::IF_MODIFIED_SINCE, &req.cursor.last_modified),
    ];
    for (name, value) in validators {
        // A validator that is not a valid header value was not sent by a server: skip it.
        if let Some(value) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            map.insert(name, value);
        }
    }
    Ok(map)
}

/// `60s`, or `1.5s` for sub-second precision.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// `url` without its secrets, for errors and logs: drops the userinfo and the fragment and
/// replaces every query value with `<redacted>` (`https://x/a?token=<redacted>`). Keys stay, so
/// the message still says which parameter was sent. An unparseable URL is shown as
/// `<invalid url>`, since it cannot be redacted reliably.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<invalid url>".into();
    };
    // Both fail only for URLs that cannot have userinfo (`mailto:`), which then have none.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_fragment(None);
    let query = parsed.query().map(|q| {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}=<redacted>"),
                None => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    parsed.set_query(None);
    match query {
        Some(q) => format!("{parsed}?{q}"),
        None => parsed.to_string(),
    }
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP-date, which counts from `now`
/// (a date in the past means "now": zero). `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_table() {
        let table = [
            ("https://x/a?token=SECRET", "https://x/a?token=<redacted>"),
            ("https://u:SECRET@x/a", "https://x/a"),
            ("https://SECRET@x/a", "https://x/a"),
            ("https://x/a#SECRET", "https://x/a"),
            (
                "https://x/a?a=1&flag&b=&c=SECRET",
                "https://x/a?a=<redacted>&flag&b=<redacted>&c=<redacted>",
            ),
            ("https://x:8443/feed.rss", "https://x:8443/feed.rss"),
            ("https://x/a?", "https://x/a?"),
            (
                "http://u:p@127.0.0.1:9/p?k=v#f",
                "http://127.0.0.1:9/p?k=<redacted>",
            ),
            ("not a url SECRET", "<invalid url>"),
            ("", "<invalid url>"),
        ];
        for (input, want) in table {
            assert_eq!(redact_url(input), want, "input={input}");
        }
    }

    #[test]
    fn parse_retry_after_table() {
        let now = httpdate::parse_http_date("Sun, 22 Nov 2026 10:00:00 GMT").unwrap();
        let s = |n| Some(Duration::from_secs(n));
        let table = [
            ("7", s(7)),
            (" 120 ", s(120)),
            ("0", s(0)),
            ("99999999999999999999999", s(u64::MAX)),
            ("Sun, 22 Nov 2026 10:00:30 GMT", s(30)),
            ("Sun, 22 Nov 2026 09:00:00 GMT", s(0)), // in the past
            ("Sunday, 22-Nov-26 10:01:00 GMT", s(60)), // RFC 850, still accepted
            ("-5", None),
            ("1.5", None),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in table {
            assert_eq!(parse_retry_after(value, now), want, "value={value:?}");
        }
    }

    #[test]
    fn seconds_table() {
        assert_eq!(seconds(Duration::from_secs(60)), "60s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
    }
}
