//! The `reddit` source's poll: which URL to ask, with which token, and where to resume.
//!
//! Without `client_id` it reads the Atom feeds, no account needed (`/r/a+b/new/.rss`, or
//! `/r/a+b/search.rss?q=…&restrict_sr=on&sort=new` with a `query`), at most
//! [`FEED_REQUESTS_PER_MINUTE`] requests a minute per host across all reddit sources, as Reddit
//! asks of clients without OAuth. With `client_id` + `client_secret` it logs in app-only
//! (`client_credentials` on `/api/v1/access_token`), keeps the token in memory, fetches a new one
//! before it expires or when the API answers 401, and reads the JSON listings (`/r/a+b/new`,
//! `/r/a+b/search`), whose `x-ratelimit-*` headers become the page's `wait`. One request per
//! poll (two when a token is due): every subreddit goes in one multireddit path.
//!
//! The cursor's `position` is `{"before": "t3_…"}`: the newest fullname seen, sent as
//! `before=` so a poll lists only newer posts. Reddit answers an empty listing when that post is
//! deleted, so after [`RECHECK`] empty polls in a row one poll goes without it (the store's
//! unique key drops what was already seen). Parsing is `feed`'s and `listing`'s.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::listing::{self, Parsed};
use super::{feed, listing::error_reason};
use crate::config::secret::Secret;
use crate::source::fetch::{classify_status, redact_url, Body, FetchRequest, Fetched, Fetcher};
use crate::source::{Cursor, Page, Source, SourceError};

/// Reddit's public site: feeds and the token endpoint.
pub const WWW: &str = "https://www.reddit.com";
/// Reddit's OAuth API host.
pub const OAUTH_API: &str = "https://oauth.reddit.com";
/// Items asked per listing (Reddit's maximum).
pub const LIMIT: u32 = 100;
/// Feed requests allowed per minute and per host without OAuth.
pub const FEED_REQUESTS_PER_MINUTE: usize = 10;
/// Empty polls in a row after which one poll goes without `before`.
pub const RECHECK: u32 = 10;

/// App-only OAuth credentials.
pub struct OAuth {
    /// The app's client id (not a secret by itself).
    pub client_id: String,
    /// The app's secret.
    pub client_secret: Secret,
}

/// A token and until when it is used.
struct Token {
    secret: Secret,
    use_until: Instant,
}

/// One configured `reddit` source.
pub struct RedditSource {
    name: String,
    max_bytes: u64,
    /// `a+b`: the multireddit of the configured subreddits.
    subs: String,
    query: Option<String>,
    oauth: Option<OAuth>,
    /// `base_url` from the config: both the token endpoint and the API (tests, proxies).
    base_url: Option<String>,
    token: Mutex<Option<Token>>,
}

impl RedditSource {
    /// A source over `subreddits` (names without `r/`), searching `query` in them if given.
    pub fn new(
        name: String,
        max_bytes: u64,
        subreddits: &[String],
        query: Option<String>,
        oauth: Option<OAuth>,
        base_url: Option<String>,
    ) -> RedditSource {
        RedditSource {
            name,
            max_bytes,
            subs: subreddits.join("+"),
            query,
            oauth,
            base_url: base_url.map(|b| b.trim_end_matches('/').to_string()),
            token: Mutex::new(None),
        }
    }

    /// The URL of one listing: the feed or the API, `new` or `search`, from `before`.
    fn listing_url(&self, before: Option<&str>) -> String {
        let base = match (&self.base_url, &self.oauth) {
            (Some(base), _) => base.as_str(),
            (None, Some(_)) => OAUTH_API,
            (None, None) => WWW,
        };
        let feed = self.oauth.is_none();
        let path = match (&self.query, feed) {
            (None, true) => "new/.rss",
            (None, false) => "new",
            (Some(_), true) => "search.rss",
            (Some(_), false) => "search",
        };
        let mut url = url::Url::parse(&format!("{base}/r/{}/{path}", self.subs))
            .unwrap_or_else(|_| url::Url::parse(WWW).expect("a valid URL"));
        {
            let mut q = url.query_pairs_mut();
            if let Some(query) = &self.query {
                q.append_pair("q", query)
                    .append_pair("restrict_sr", "on")
                    .append_pair("sort", "new");
            }
            q.append_pair("limit", &LIMIT.to_string());
            if !feed {
                q.append_pair("raw_json", "1");
            }
            if let Some(before) = before {
                q.append_pair("before", before);
            }
        }
        url.to_string()
    }

    fn token_url(&self) -> String {
        format!(
            "{}/api/v1/access_token",
            self.base_url.as_deref().unwrap_or(WWW)
        )
    }

    /// The feed poll: the per-host budget, conditional GET, the Atom parser.
    async fn poll_feed(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let position = Position::read(cursor);
        let before = position.anchor().map(str::to_owned);
        let url = self.listing_url(before.as_deref());
        if let Err(wait) = take_feed_slot(&host_of(&url), Instant::now()) {
            tracing::debug!(source = %self.name, wait_s = wait.as_secs(), "Reddit feed budget spent; poll skipped.");
            return Ok(Page {
                posts: Vec::new(),
                cursor: cursor.clone(),
                wait: Some(wait),
            });
        }
        match fetch
            .get(&FetchRequest::get(&url, cursor, self.max_bytes))
            .await?
        {
            Fetched::NotModified => Ok(Page {
                posts: Vec::new(),
                cursor: cursor.clone(),
                wait: None,
            }),
            Fetched::Body(body) => {
                let parsed = feed::parse(&body.bytes, &self.name)?;
                Ok(page(position, before.is_some(), parsed, &body))
            }
        }
    }

    /// The OAuth poll: a token (cached, or fetched), the listing, one new token on a 401.
    async fn poll_api(
        &self,
        fetch: &Fetcher,
        cursor: &Cursor,
        oauth: &OAuth,
    ) -> Result<Page, SourceError> {
        let position = Position::read(cursor);
        let before = position.anchor().map(str::to_owned);
        let url = self.listing_url(before.as_deref());
        let cached = self.cached_token(Instant::now());
        let fresh = cached.is_none();
        let token = match cached {
            Some(token) => token,
            None => self.new_token(fetch, oauth).await?,
        };
        let mut body = self.get_listing(fetch, &url, &token).await?;
        if body.status == 401 && !fresh {
            // Revoked or expired early: one new token, one more try.
            tracing::info!(source = %self.name, "Reddit refused the access token; fetching a new one.");
            self.forget_token();
            let token = self.new_token(fetch, oauth).await?;
            body = self.get_listing(fetch, &url, &token).await?;
        }
        if body.status == 401 {
            self.forget_token();
            return Err(SourceError::Permanent(format!(
                "reddit refused a new access token (HTTP 401 from {})",
                redact_url(&url)
            )));
        }
        if !body.is_success() {
            return Err(client_error(&body, &url));
        }
        let parsed = listing::parse(&body.bytes, &self.name)?;
        Ok(page(position, before.is_some(), parsed, &body))
    }

    async fn get_listing(
        &self,
        fetch: &Fetcher,
        url: &str,
        token: &Secret,
    ) -> Result<Body, SourceError> {
        let headers = [(
            "Authorization".to_string(),
            format!("bearer {}", token.expose()),
        )];
        // No validators: the API does not send them, and `before` already says where to resume.
        let none = Cursor::default();
        let req = FetchRequest::get(url, &none, self.max_bytes)
            .with_headers(&headers)
            .keeping_client_errors();
        match fetch.get(&req).await? {
            Fetched::Body(body) => Ok(body),
            Fetched::NotModified => Err(SourceError::Transient(format!(
                "unexpected 304 from {}",
                redact_url(url)
            ))),
        }
    }

    /// The cached token, if it is still to be used at `now`.
    fn cached_token(&self, now: Instant) -> Option<Secret> {
        let token = self.token.lock().unwrap_or_else(|p| p.into_inner());
        token
            .as_ref()
            .filter(|t| now < t.use_until)
            .map(|t| t.secret.clone())
    }

    fn forget_token(&self) {
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Asks `/api/v1/access_token` for an app-only token and caches it.
    async fn new_token(&self, fetch: &Fetcher, oauth: &OAuth) -> Result<Secret, SourceError> {
        let url = self.token_url();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            oauth.client_id,
            oauth.client_secret.expose()
        ));
        let headers = [("Authorization".to_string(), format!("Basic {basic}"))];
        let none = Cursor::default();
        let req = FetchRequest::get(&url, &none, self.max_bytes)
            .with_headers(&headers)
            .with_body(
                "application/x-www-form-urlencoded",
                b"grant_type=client_credentials",
            )
            .keeping_client_errors();
        let asked = Instant::now();
        let body = match fetch.get(&req).await? {
            Fetched::Body(body) => body,
            Fetched::NotModified => {
                return Err(SourceError::Transient(format!(
                    "unexpected 304 from {}",
                    redact_url(&url)
                )))
            }
        };
        if matches!(body.status, 401 | 403) {
            return Err(SourceError::Permanent(format!(
                "reddit refused the app's client_id/client_secret (HTTP {} from {})",
                body.status,
                redact_url(&url)
            )));
        }
        if !body.is_success() {
            return Err(client_error(&body, &url));
        }
        let token = listing::parse_token(&body.bytes)?;
        let secret = token.access_token.clone();
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(Token {
            secret: token.access_token,
            use_until: asked + use_for(token.expires_in),
        });
        Ok(secret)
    }
}

#[async_trait]
impl Source for RedditSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        match &self.oauth {
            Some(oauth) => self.poll_api(fetch, cursor, oauth).await,
            None => self.poll_feed(fetch, cursor).await,
        }
    }
}

/// How long a token is used: its lifetime less a tenth of it (at most 5 minutes), so a new one
/// is fetched before Reddit stops taking it.
pub fn use_for(expires_in: Duration) -> Duration {
    expires_in.saturating_sub((expires_in / 10).min(Duration::from_secs(300)))
}

/// The page of one successful listing: its posts, the cursor after it, the rate-limit wait.
fn page(position: Position, sent_before: bool, parsed: Parsed, body: &Body) -> Page {
    let next = position.after(sent_before, parsed.newest);
    Page {
        posts: parsed.posts,
        cursor: Cursor {
            etag: body.etag.clone(),
            last_modified: body.last_modified.clone(),
            position: Some(next.write()),
        },
        wait: rate_limit_wait(body),
    }
}

/// A kept 4xx as the source error it is, with Reddit's reason (`Forbidden, private`).
fn client_error(body: &Body, url: &str) -> SourceError {
    let err = classify_status(body.status, None)
        .unwrap_or_else(|| SourceError::Permanent(format!("HTTP {}", body.status)));
    let reason = error_reason(&body.bytes)
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    let message = |m: &str| format!("{m} from {}{reason}", redact_url(url));
    match err {
        SourceError::Transient(m) => SourceError::Transient(message(&m)),
        SourceError::Permanent(m) => SourceError::Permanent(message(&m)),
        limited => limited,
    }
}

/// Reddit's `x-ratelimit-remaining` / `x-ratelimit-reset` (seconds to the window's end): no
/// request left means waiting for the reset.
pub fn rate_limit_wait(body: &Body) -> Option<Duration> {
    let remaining: f64 = body.header("x-ratelimit-remaining")?.trim().parse().ok()?;
    let reset: f64 = body.header("x-ratelimit-reset")?.trim().parse().ok()?;
    (remaining < 1.0 && reset.is_finite() && reset > 0.0).then(|| Duration::from_secs_f64(reset))
}

/// `host:port` of a URL, the key of the feed budget.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| {
            format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or_default()
            )
        })
        .unwrap_or_default()
}

/// Feed requests made per host in the last minute, shared by every reddit source (and across
/// reloads, which rebuild the sources but not the host's patience).
fn feed_budget() -> &'static Mutex<HashMap<String, VecDeque<Instant>>> {
    static BUDGET: OnceLock<Mutex<HashMap<String, VecDeque<Instant>>>> = OnceLock::new();
    BUDGET.get_or_init(Default::default)
}

/// Takes one feed request for `host` at `now`, or says how long until one is free.
fn take_feed_slot(host: &str, now: Instant) -> Result<(), Duration> {
    let mut budget = feed_budget().lock().unwrap_or_else(|p| p.into_inner());
    take_slot(budget.entry(host.to_string()).or_default(), now)
}

/// The sliding window behind [`take_feed_slot`]: at most [`FEED_REQUESTS_PER_MINUTE`] times in
/// any minute.
fn take_slot(times: &mut VecDeque<Instant>, now: Instant) -> Result<(), Duration> {
    const MINUTE: Duration = Duration::from_secs(60);
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= MINUTE)
    {
        times.pop_front();
    }
    if times.len() >= FEED_REQUESTS_PER_MINUTE {
        let oldest = *times.front().expect("a full window has a first entry");
        return Err(MINUTE - now.duration_since(oldest));
    }
    times.push_back(now);
    Ok(())
}

/// Where to resume, stored as the cursor's `position`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The newest fullname seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Polls in a row that sent `before` and listed nothing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub quiet: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Position {
    /// The cursor's position; a missing or foreign one (another kind's) starts afresh.
    pub fn read(cursor: &Cursor) -> Position {
        cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default()
    }

    /// As stored.
    pub fn write(&self) -> String {
        serde_json::to_string(self).expect("a position serialises")
    }

    /// The `before` to send: the newest fullname, except on every [`RECHECK`]th quiet poll.
    pub fn anchor(&self) -> Option<&str> {
        self.before.as_deref().filter(|_| self.quiet < RECHECK)
    }

    /// The position after a listing whose newest fullname is `newest`.
    pub fn after(self, sent_before: bool, newest: Option<String>) -> Position {
        match newest {
            Some(newest) => Position {
                before: Some(newest),
                quiet: 0,
            },
            None if sent_before => Position {
                quiet: self.quiet + 1,
                ..self
            },
            None => Position { quiet: 0, ..self },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(query: Option<&str>, oauth: bool, base: Option<&str>) -> RedditSource {
        RedditSource::new(
            "r".into(),
            1 << 20,
            &["france".into(), "AskFrance".into()],
            query.map(String::from),
            oauth.then(|| OAuth {
                client_id: "id".into(),
                client_secret: Secret::new("s"),
            }),
            base.map(String::from),
        )
    }

    #[test]
    fn urls_per_mode() {
        let table = [
            (
                source(None, false, None),
                None,
                "https://www.reddit.com/r/france+AskFrance/new/.rss?limit=100",
            ),
            (
                source(Some("colis perdu"), false, None),
                Some("t3_a"),
                "https://www.reddit.com/r/france+AskFrance/search.rss?q=colis+perdu&restrict_sr=on&sort=new&limit=100&before=t3_a",
            ),
            (
                source(None, true, None),
                Some("t3_a"),
                "https://oauth.reddit.com/r/france+AskFrance/new?limit=100&raw_json=1&before=t3_a",
            ),
            (
                source(Some("colis"), true, Some("http://127.0.0.1:9/")),
                None,
                "http://127.0.0.1:9/r/france+AskFrance/search?q=colis&restrict_sr=on&sort=new&limit=100&raw_json=1",
            ),
        ];
        for (s, before, want) in table {
            assert_eq!(s.listing_url(before), want);
        }
        assert_eq!(
            source(None, true, None).token_url(),
            "https://www.reddit.com/api/v1/access_token"
        );
        assert_eq!(
            source(None, true, Some("http://127.0.0.1:9")).token_url(),
            "http://127.0.0.1:9/api/v1/access_token"
        );
    }

    #[test]
    fn position_moves_with_the_newest_and_rechecks_after_quiet_polls() {
        let start = Position::default();
        assert_eq!(start.anchor(), None);
        let p = start.after(false, Some("t3_b".into()));
        assert_eq!((p.anchor(), p.quiet), (Some("t3_b"), 0));
        assert_eq!(
            Position::read(&Cursor {
                position: Some(p.write()),
                ..Cursor::default()
            }),
            p
        );
        assert_eq!(p.write(), r#"{"before":"t3_b"}"#);
        let mut q = p.clone();
        for _ in 0..RECHECK {
            assert_eq!(q.anchor(), Some("t3_b"));
            q = q.after(true, None);
        }
        assert_eq!(q.anchor(), None, "one poll without before");
        let r = q.clone().after(false, None);
        assert_eq!(
            (r.anchor(), r.quiet),
            (Some("t3_b"), 0),
            "an empty subreddit"
        );
        let r = q.after(false, Some("t3_c".into()));
        assert_eq!(r.anchor(), Some("t3_c"));
        let foreign = Cursor {
            position: Some("{\"offset\": 3}x".into()),
            ..Cursor::default()
        };
        assert_eq!(Position::read(&foreign), Position::default());
    }

    #[test]
    fn feed_budget_allows_ten_a_minute() {
        let mut times = VecDeque::new();
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(take_slot(&mut times, t0 + Duration::from_secs(i)), Ok(()));
        }
        assert_eq!(
            take_slot(&mut times, t0 + Duration::from_secs(15)),
            Err(Duration::from_secs(45))
        );
        assert_eq!(take_slot(&mut times, t0 + Duration::from_secs(60)), Ok(()));
        assert!(take_slot(&mut times, t0 + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(
            use_for(Duration::from_secs(86400)),
            Duration::from_secs(86100)
        );
        assert_eq!(use_for(Duration::from_secs(10)), Duration::from_secs(9));
        assert_eq!(use_for(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn rate_limit_headers() {
        let body = |remaining: &str, reset: &str| Body {
            status: 200,
            headers: vec![
                ("x-ratelimit-used".into(), "100".into()),
                ("x-ratelimit-remaining".into(), remaining.into()),
                ("x-ratelimit-reset".into(), reset.into()),
            ],
            ..Body::default()
        };
        assert_eq!(
            rate_limit_wait(&body("0.0", "42")),
            Some(Duration::from_secs(42))
        );
        assert_eq!(rate_limit_wait(&body("57.0", "42")), None);
        assert_eq!(rate_limit_wait(&body("x", "42")), None);
        assert_eq!(rate_limit_wait(&Body::default()), None);
    }
}
