//! The `reddit` source's poll: which URL to ask, with which token, and where to resume.
//!
//! Without `client_id` it reads the Atom feeds, no account needed (`/r/a+b/new/.rss`, or
//! `/r/a+b/search.rss?q=…&restrict_sr=on&sort=new` with a `query`), at most 10 requests a
//! minute per host across all reddit sources, as Reddit asks of clients without OAuth. With `client_id` + `client_secret` it logs in app-only
//! (`client_credentials` on `/api/v1/access_token`), keeps the token in memory, fetches a new one
//! before it expires or when the API answers 401, and reads the JSON listings (`/r/a+b/new`,
//! `/r/a+b/search`), whose `x-ratelimit-*` headers become the page's `wait`. One request per
//! poll (two when a token is due): every subreddit goes in one multireddit path.
//!
//! The cursor's `position` is `{"before": "t3_…"}`: the newest fullname seen, sent as
//! `before=` so a poll lists only newer posts (`pace` keeps it, with the feeds' budget and the
//! rate-limit wait). Parsing is `feed`'s and `listing`'s.
//!
//! With brand accounts (`[daemon] brand_accounts`), each poll then reads their comments from
//! their own `before` in the cursor (`{"before": …, "brand": {"Posteo": {"before": "t1_…"}}}`):
//! that is `brand`'s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;

use super::feed;
use super::listing::{self, error_reason, Parsed};
use super::pace::{host_of, rate_limit_wait, take_feed_slot, Position};
use crate::config::secret::Secret;
use crate::source::fetch::{classify_status, redact_url, Body, FetchRequest, Fetched, Fetcher};
use crate::source::{Cursor, Page, Source, SourceError};

mod brand;

/// Reddit's public site: feeds and the token endpoint.
pub const WWW: &str = "https://www.reddit.com";
/// Reddit's OAuth API host.
pub const OAUTH_API: &str = "https://oauth.reddit.com";
/// Items asked per listing (Reddit's maximum).
pub const LIMIT: u32 = 100;

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
    /// The brand's Reddit usernames, whose comments each poll reads too.
    brand: Vec<String>,
    /// The last failure reading the brand's comments, by account, logged when it changes.
    brand_errors: crate::source::brand_errors::BrandErrors,
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
        brand: Vec<String>,
    ) -> RedditSource {
        RedditSource {
            name,
            max_bytes,
            subs: subreddits.join("+"),
            query,
            oauth,
            base_url: base_url.map(|b| b.trim_end_matches('/').to_string()),
            token: Mutex::new(None),
            brand,
            brand_errors: Default::default(),
        }
    }

    /// The URL of one listing: the feed or the API, `new` or `search`, from `before`.
    fn listing_url(&self, before: Option<&str>) -> Result<String, SourceError> {
        let feed = self.oauth.is_none();
        let path = match (&self.query, feed) {
            (None, true) => "new/.rss",
            (None, false) => "new",
            (Some(_), true) => "search.rss",
            (Some(_), false) => "search",
        };
        let search = self.query.as_deref().map_or(Vec::new(), |q| {
            vec![("q", q), ("restrict_sr", "on"), ("sort", "new")]
        });
        self.endpoint(&format!("r/{}/{path}", self.subs), &search, before)
    }

    /// The URL of `path` under `base_url`, or Reddit's feed or API host, with `params`, then the
    /// page size, `raw_json` for the API, and `before`. An unparseable `base_url` (the config
    /// checks it) is an error, never a fall back to Reddit.
    pub(super) fn endpoint(
        &self,
        path: &str,
        params: &[(&str, &str)],
        before: Option<&str>,
    ) -> Result<String, SourceError> {
        let feed = self.oauth.is_none();
        let base = match (&self.base_url, feed) {
            (Some(base), _) => base.as_str(),
            (None, false) => OAUTH_API,
            (None, true) => WWW,
        };
        let mut url = url::Url::parse(&format!("{base}/{path}")).map_err(|e| {
            SourceError::Permanent(format!("invalid base_url {}: {e}", redact_url(base)))
        })?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            q.append_pair("limit", &LIMIT.to_string());
            if !feed {
                q.append_pair("raw_json", "1");
            }
            if let Some(before) = before {
                q.append_pair("before", before);
            }
        }
        Ok(url.to_string())
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
        let url = self.listing_url(before.as_deref())?;
        if let Err(wait) = take_feed_slot(&host_of(&url), Instant::now()) {
            tracing::debug!(source = %self.name, wait_s = wait.as_secs(), "Reddit feed budget spent; poll skipped.");
            return Ok(Page {
                posts: Vec::new(),
                cursor: cursor.clone(),
                wait: Some(wait),
            });
        }
        let mut page = match fetch
            .get(&FetchRequest::get(&url, cursor, self.max_bytes))
            .await?
        {
            Fetched::NotModified => Page {
                posts: Vec::new(),
                cursor: cursor.clone(),
                wait: None,
            },
            Fetched::Body(body) => {
                let parsed = feed::parse(&body.bytes, &self.name)?;
                page(position.clone(), before.is_some(), parsed, &body)
            }
        };
        self.add_brand(fetch, &mut page, &position, None).await;
        Ok(page)
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
        let url = self.listing_url(before.as_deref())?;
        let cached = self.cached_token(Instant::now());
        let fresh = cached.is_none();
        let token = match cached {
            Some(token) => token,
            None => self.new_token(fetch, oauth).await?,
        };
        let mut token = token;
        let mut body = self.get_listing(fetch, &url, &token).await?;
        if body.status == 401 && !fresh {
            // Revoked or expired early: one new token, one more try.
            tracing::info!(source = %self.name, "Reddit refused the access token; fetching a new one.");
            self.forget_token();
            token = self.new_token(fetch, oauth).await?;
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
        let mut page = page(position.clone(), before.is_some(), parsed, &body);
        self.add_brand(fetch, &mut page, &position, Some(&token)).await;
        Ok(page)
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
            vec!["Posteo_Officiel".into()],
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
            assert_eq!(s.listing_url(before).as_deref(), Ok(want));
        }
        assert!(source(None, false, Some("not a url")).listing_url(None).is_err());
        // The brand's comments, from their own `before`.
        assert_eq!(
            source(None, false, None).brand_url("Posteo_Officiel", Some("t1_a")).as_deref(),
            Ok("https://www.reddit.com/user/Posteo_Officiel/comments/.rss?limit=100&before=t1_a")
        );
        assert_eq!(
            source(None, true, None).brand_url("Posteo_Officiel", None).as_deref(),
            Ok("https://oauth.reddit.com/user/Posteo_Officiel/comments?limit=100&raw_json=1")
        );
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
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(
            use_for(Duration::from_secs(86400)),
            Duration::from_secs(86100)
        );
        assert_eq!(use_for(Duration::from_secs(10)), Duration::from_secs(9));
        assert_eq!(use_for(Duration::ZERO), Duration::ZERO);
    }
}
