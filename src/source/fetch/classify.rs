//! HTTP error classification, in one place: which statuses and transport errors are worth
//! retrying.
//!
//! It lives beside the fetcher, the lowest layer that speaks HTTP, so that both of its users
//! look down at it: the fetcher (sources) and `notify::http` (webhooks and chats). *When* to
//! retry is `daemon::retry`'s and the scheduler's or dispatcher's business, not this module's.
//!
//! Messages produced here name the cause only (`HTTP 503`, `connection refused`); the caller,
//! which knows the (redacted) URL, adds where it happened. Unlike alertmanager, 429 is retried:
//! a rate limit is a request to come back later, not a refusal.

use std::error::Error as _;
use std::time::Duration;

use crate::source::SourceError;

/// Classifies an HTTP status: `None` for success (2xx) and `304 Not Modified`.
///
/// 429, and 503 when the server says when to come back, are [`SourceError::RateLimited`];
/// other 5xx and 408 are [`SourceError::Transient`]; other 4xx, and any other status a client
/// that follows redirects should not see, are [`SourceError::Permanent`].
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> Option<SourceError> {
    match status {
        200..=299 | 304 => None,
        429 => Some(SourceError::RateLimited { retry_after }),
        503 if retry_after.is_some() => Some(SourceError::RateLimited { retry_after }),
        408 | 500..=599 => Some(SourceError::Transient(format!("HTTP {status}"))),
        400..=499 => Some(SourceError::Permanent(format!("HTTP {status}"))),
        _ => Some(SourceError::Permanent(format!("unexpected HTTP {status}"))),
    }
}

/// The error an HTTP `status` stands for, told with the caller's `message` (a platform's own
/// words about a refusal it answered): a rate limit stays one, a transient status gives a
/// transient error, anything else a permanent one.
pub fn status_error(status: u16, message: String) -> SourceError {
    match classify_status(status, None) {
        Some(SourceError::Transient(_)) => SourceError::Transient(message),
        Some(limited @ SourceError::RateLimited { .. }) => limited,
        _ => SourceError::Permanent(message),
    }
}

/// Classifies a transport error from reqwest: timeouts, connection and body errors are
/// [`SourceError::Transient`]; too many redirects and unbuildable requests (a bad URL) are
/// [`SourceError::Permanent`].
///
/// The message is built from the error's causes, never from its own `Display`, which embeds the
/// request URL and so possibly a token in its query string.
pub fn classify_reqwest(e: &reqwest::Error) -> SourceError {
    let refused = causes(e).any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    });
    if e.is_timeout() {
        SourceError::Transient(
            if e.is_connect() {
                "connect timed out"
            } else {
                "timed out"
            }
            .into(),
        )
    } else if refused {
        SourceError::Transient("connection refused".into())
    } else if e.is_redirect() {
        SourceError::Permanent("too many redirects".into())
    } else if e.is_builder() {
        SourceError::Permanent(format!("invalid request: {}", root_cause(e)))
    } else if e.is_connect() {
        SourceError::Transient(format!("could not connect: {}", root_cause(e)))
    } else if e.is_body() || e.is_decode() {
        SourceError::Transient(format!("response body cut short: {}", root_cause(e)))
    } else {
        SourceError::Transient(format!("request failed: {}", root_cause(e)))
    }
}

/// The chain of causes below `e` (not `e` itself, whose `Display` holds the URL).
fn causes(e: &reqwest::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |&c| c.source())
}

/// The innermost cause, lowercased at its first letter to fit in a lowercase message.
fn root_cause(e: &reqwest::Error) -> String {
    let text = causes(e)
        .last()
        .map_or_else(|| "unknown error".into(), |c| c.to_string());
    let mut chars = text.chars();
    chars.next().map_or(text.clone(), |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn classify_status_table() {
        let ra = Some(S(7));
        let rate = |retry_after| Some(SourceError::RateLimited { retry_after });
        let transient = |m: &str| Some(SourceError::Transient(m.into()));
        let permanent = |m: &str| Some(SourceError::Permanent(m.into()));
        let table = [
            (200, None, None),
            (204, None, None),
            (304, None, None),
            (429, ra, rate(ra)),
            (429, None, rate(None)),
            (503, ra, rate(ra)),
            (503, None, transient("HTTP 503")),
            (500, ra, transient("HTTP 500")),
            (502, None, transient("HTTP 502")),
            (408, None, transient("HTTP 408")),
            (400, None, permanent("HTTP 400")),
            (401, None, permanent("HTTP 401")),
            (404, None, permanent("HTTP 404")),
            (410, None, permanent("HTTP 410")),
            (302, None, permanent("unexpected HTTP 302")),
            (101, None, permanent("unexpected HTTP 101")),
        ];
        for (status, retry_after, want) in table {
            assert_eq!(
                classify_status(status, retry_after),
                want,
                "status={status}"
            );
        }
    }
}
