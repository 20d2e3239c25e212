//! Bluesky (atproto) sessions from an app password, and XRPC error bodies.
//!
//! `com.atproto.server.createSession` trades the account's identifier and app password for an
//! access token (short-lived, sent as `Authorization: Bearer`) and a refresh token;
//! `com.atproto.server.refreshSession` trades the refresh token for a new pair. The search
//! source keeps the pair in memory (never in the database, never in a log or an error: both are
//! [`Secret`]s) and asks here for a new one when the service answers `ExpiredToken` /
//! `InvalidToken`: a refresh first, a whole new session when the refresh token is refused too.
//! A refused login is a permanent source error that names the service's reason.

use std::time::Duration;

use serde::Deserialize;

use crate::config::secret::Secret;
use crate::source::fetch::{status_error, Body, FetchRequest, Fetched, Fetcher};
use crate::source::{Cursor, SourceError};

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct Session {
    /// Sent as `Authorization: Bearer` on every call.
    pub access: Secret,
    /// Sent (as bearer) to `refreshSession` once `access` has expired.
    pub refresh: Secret,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tokens {
    access_jwt: String,
    refresh_jwt: String,
}

/// An XRPC error body, `{"error": "ExpiredToken", "message": "Token has expired"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct XrpcError {
    /// The error's name (`ExpiredToken`, `AuthenticationRequired`, `RateLimitExceeded`…).
    #[serde(default)]
    pub error: String,
    /// What the service says about it, for people.
    #[serde(default)]
    pub message: String,
}

impl XrpcError {
    /// The error in a body, or an empty one when the body is not an XRPC error.
    pub fn parse(body: &[u8]) -> XrpcError {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Whether it says the access token is no good any more.
    pub fn is_token_error(&self) -> bool {
        matches!(self.error.as_str(), "ExpiredToken" | "InvalidToken")
    }

    /// `ExpiredToken (Token has expired)`, or `HTTP 400` when the body said nothing.
    pub fn describe(&self, status: u16) -> String {
        match (self.error.is_empty(), self.message.is_empty()) {
            (true, _) => format!("HTTP {status}"),
            (false, true) => format!("HTTP {status} {}", self.error),
            (false, false) => format!("HTTP {status} {} ({})", self.error, self.message),
        }
    }
}

/// Parses a `createSession` / `refreshSession` answer.
pub fn parse_session(body: &[u8]) -> Result<Session, SourceError> {
    let tokens: Tokens = serde_json::from_slice(body).map_err(|e| {
        SourceError::Permanent(format!("malformed session answer: {}", e.classify_name()))
    })?;
    Ok(Session {
        access: Secret::new(tokens.access_jwt),
        refresh: Secret::new(tokens.refresh_jwt),
    })
}

/// Names a serde error's class without its text, which may quote a token.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped tokens",
            serde_json::error::Category::Eof => "cut short",
        }
    }
}

/// Logs in with the app password.
pub async fn create(
    fetch: &Fetcher,
    service: &str,
    identifier: &str,
    password: &Secret,
    max_bytes: u64,
) -> Result<Session, SourceError> {
    let url = format!("{service}/xrpc/com.atproto.server.createSession");
    let body = serde_json::json!({ "identifier": identifier, "password": password.expose() });
    let (status, bytes) = call(fetch, &url, None, Some(body.to_string()), max_bytes).await?;
    if status >= 400 {
        let why = XrpcError::parse(&bytes).describe(status);
        return Err(status_error(
            status,
            format!("Bluesky login as \"{identifier}\" refused: {why}"),
        ));
    }
    parse_session(&bytes)
}

/// Renews `session` with its refresh token; `Ok(None)` when the service refuses it (expired or
/// revoked: a new session is needed).
pub async fn refresh(
    fetch: &Fetcher,
    service: &str,
    session: &Session,
    max_bytes: u64,
) -> Result<Option<Session>, SourceError> {
    let url = format!("{service}/xrpc/com.atproto.server.refreshSession");
    let (status, bytes) = call(fetch, &url, Some(&session.refresh), None, max_bytes).await?;
    match status {
        400 | 401 => Ok(None),
        s if s >= 400 => Err(status_error(
            s,
            format!(
                "Bluesky session refresh failed: {}",
                XrpcError::parse(&bytes).describe(s)
            ),
        )),
        _ => parse_session(&bytes).map(Some),
    }
}

/// One XRPC call: a POST when `json` is given, else a GET; 4xx answers come back with their
/// body. `bearer` is sent as `Authorization`.
pub async fn call(
    fetch: &Fetcher,
    url: &str,
    bearer: Option<&Secret>,
    json: Option<String>,
    max_bytes: u64,
) -> Result<(u16, Vec<u8>), SourceError> {
    call_body(fetch, url, bearer, json, max_bytes)
        .await
        .map(|b| (b.status, b.bytes))
}

/// [`call`], with the whole answer (its headers: rate limits).
pub async fn call_body(
    fetch: &Fetcher,
    url: &str,
    bearer: Option<&Secret>,
    json: Option<String>,
    max_bytes: u64,
) -> Result<Body, SourceError> {
    let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
    if let Some(token) = bearer {
        headers.push((
            "Authorization".to_string(),
            format!("Bearer {}", token.expose()),
        ));
    }
    let cursor = Cursor::default();
    let mut req = FetchRequest::get(url, &cursor, max_bytes)
        .with_headers(&headers)
        .keeping_client_errors();
    if let Some(json) = &json {
        req = req.with_body("application/json", json.as_bytes());
    }
    match fetch.get(&req).await? {
        Fetched::Body(body) => Ok(body),
        Fetched::NotModified => Ok(Body {
            status: 304,
            ..Body::default()
        }),
    }
}

/// How long to wait before the next call when the answer says none are left in this window
/// (`ratelimit-remaining: 0`, `ratelimit-reset` in Unix seconds), `now` in Unix seconds.
pub fn rate_limit_wait(body: &Body, now: i64) -> Option<Duration> {
    let remaining: u64 = body.header("ratelimit-remaining")?.trim().parse().ok()?;
    let reset: i64 = body.header("ratelimit-reset")?.trim().parse().ok()?;
    (remaining == 0).then(|| Duration::from_secs(reset.saturating_sub(now).max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bluesky/");
        std::fs::read(format!("{dir}{name}")).unwrap()
    }

    #[test]
    fn sessions_and_errors_from_the_fixtures() {
        let s = parse_session(&fixture("createSession.json")).unwrap();
        assert_eq!(s.access.expose(), "ACCESS-JWT-ONE");
        assert_eq!(s.refresh.expose(), "REFRESH-JWT-ONE");
        assert_eq!(format!("{s:?}").matches("<secret>").count(), 2);
        let s = parse_session(&fixture("refreshSession.json")).unwrap();
        assert_eq!(s.access.expose(), "ACCESS-JWT-TWO");
        let e = XrpcError::parse(&fixture("error-ExpiredToken.json"));
        assert!(e.is_token_error());
        assert_eq!(e.describe(400), "HTTP 400 ExpiredToken (Token has expired)");
        let e = XrpcError::parse(&fixture("error-AuthenticationRequired.json"));
        assert!(!e.is_token_error());
        assert_eq!(XrpcError::parse(b"<html>").describe(502), "HTTP 502");
        let mut body = Body {
            status: 200,
            headers: vec![
                ("ratelimit-remaining".into(), "0".into()),
                ("ratelimit-reset".into(), "1000".into()),
            ],
            ..Body::default()
        };
        assert_eq!(rate_limit_wait(&body, 970), Some(Duration::from_secs(30)));
        body.headers[0].1 = "12".into();
        assert_eq!(rate_limit_wait(&body, 970), None);
        let broken = parse_session(b"{\"accessJwt\":\"SECRET-TOKEN\"}").unwrap_err();
        assert!(!broken.to_string().contains("SECRET"), "{broken}");
    }
}
