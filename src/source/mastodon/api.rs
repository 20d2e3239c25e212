//! The `mastodon` source's requests: which timelines, from where, how far, how fast.
//!
//! A source follows one stream per configured hashtag (`/api/v1/timelines/tag/:tag`) plus the
//! optional local or federated timeline (`/api/v1/timelines/public`), each forward from its own
//! stored `min_id` (the cursor's position is `{"tag:colis": "113…", "public": "113…"}`, so a
//! hashtag added later starts fresh without moving the others). Mastodon pages by the `Link`
//! header: `rel="prev"` continues towards newer statuses (followed while pages come back full,
//! so a busy tag catches up), `rel="next"` towards older ones (followed on a stream's first poll,
//! so it starts with some history). The brand accounts' positions (`brand`) live in the same
//! map under `account:<acct>`. A link to another origin is never followed, so the token
//! never leaves the instance. The instance's `X-RateLimit-Remaining`/`X-RateLimit-Reset` are
//! respected: at zero the poll stops and asks the scheduler to wait until the reset.
//!
//! Turning statuses into posts is `status`'s; fetching is `source::fetch`'s.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::status::cmp_ids;

/// Statuses asked per request: the API's maximum for timelines.
pub const LIMIT: usize = 40;

/// Requests one stream may make in one poll while catching up (`rel="prev"`): a tag 200
/// statuses behind catches up in one poll, a busier one over the next polls.
pub const MAX_PAGES: usize = 5;

/// Pages a stream reads on its first poll (newest, then `rel="next"`): 120 statuses of history.
pub const FIRST_PAGES: usize = 3;

/// One timeline a source follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    /// A hashtag, without `#`.
    Tag(String),
    /// The instance's local timeline.
    Local,
    /// The federated timeline.
    Public,
}

impl Stream {
    /// The stream's key in the cursor's position.
    pub fn key(&self) -> String {
        match self {
            Stream::Tag(tag) => format!("tag:{}", tag.to_lowercase()),
            Stream::Local => "local".into(),
            Stream::Public => "public".into(),
        }
    }

    /// The URL of the stream's newest page, or of the page just after `min_id`.
    pub fn url(&self, instance: &url::Url, min_id: Option<&str>) -> url::Url {
        let mut url = instance.clone();
        url.set_query(None);
        url.set_fragment(None);
        {
            // An instance URL is http(s), which always has path segments.
            let mut path = url.path_segments_mut().expect("http(s) URL");
            path.pop_if_empty().extend(["api", "v1", "timelines"]);
            match self {
                Stream::Tag(tag) => path.extend(["tag", tag.as_str()]),
                Stream::Local | Stream::Public => path.push("public"),
            };
        }
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &LIMIT.to_string());
            if *self == Stream::Local {
                query.append_pair("local", "true");
            }
            if let Some(id) = min_id {
                query.append_pair("min_id", id);
            }
        }
        url
    }
}

/// The stored `min_id` of each stream, by [`Stream::key`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions(BTreeMap<String, String>);

impl Positions {
    /// Reads a cursor's position; anything unreadable (an older format) starts every stream
    /// afresh rather than failing the source.
    pub fn decode(position: Option<&str>) -> Positions {
        Positions(
            position
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_default(),
        )
    }

    /// The position to store: `None` while no stream has seen a status.
    pub fn encode(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| serde_json::to_string(&self.0).unwrap_or_default())
    }

    /// The stream's `min_id`, if it has one.
    pub fn get(&self, stream: &Stream) -> Option<&str> {
        self.get_key(&stream.key())
    }

    /// Moves the stream's `min_id` to `id` if `id` is newer.
    pub fn advance(&mut self, stream: &Stream, id: &str) {
        self.advance_key(&stream.key(), id)
    }

    /// The position stored under `key` (a stream's, or a brand account's: `brand::key`).
    pub fn get_key(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Moves the position under `key` to `id` if `id` is newer.
    pub fn advance_key(&mut self, key: &str, id: &str) {
        let slot = self.0.entry(key.to_string()).or_default();
        if slot.is_empty() || cmp_ids(id, slot).is_gt() {
            *slot = id.to_string();
        }
    }
}

/// The URL of the `Link` header's `rel` (`next`, `prev`), if it has one on the instance's own
/// origin. Format (RFC 8288, as Mastodon writes it): `<url>; rel="next", <url>; rel="prev"`.
pub fn link(header: &str, rel: &str, instance: &url::Url) -> Option<url::Url> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let params_end = rest[close..].find('<').map_or(rest.len(), |i| close + i);
        // `; rel="next", ` up to the next link's `<`.
        let params = rest[close + 1..params_end].trim().trim_end_matches(',');
        let has_rel = params.split(';').any(|p| {
            let Some((key, value)) = p.split_once('=') else {
                return false;
            };
            let values = value.trim().trim_matches('"');
            key.trim().eq_ignore_ascii_case("rel")
                && values
                    .split_whitespace()
                    .any(|v| v.eq_ignore_ascii_case(rel))
        });
        if has_rel {
            let url = instance.join(target).ok()?;
            return (url.origin() == instance.origin()).then_some(url);
        }
        rest = &rest[params_end..];
    }
    None
}

/// How long to wait before the next request, from the instance's rate-limit headers: until
/// `X-RateLimit-Reset` (an ISO 8601 time) once `X-RateLimit-Remaining` is 0, else nothing.
pub fn rate_limit_wait(
    remaining: Option<&str>,
    reset: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if remaining?.trim().parse::<u64>().ok()? > 0 {
        return None;
    }
    let reset = DateTime::parse_from_rfc3339(reset?.trim()).ok()?.to_utc();
    Some((reset - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> url::Url {
        url::Url::parse("https://mastodon.example").unwrap()
    }

    #[test]
    fn stream_urls() {
        let i = instance();
        let tag = Stream::Tag("réclamation".into());
        assert_eq!(
            tag.url(&i, None).as_str(),
            "https://mastodon.example/api/v1/timelines/tag/r%C3%A9clamation?limit=40"
        );
        assert_eq!(
            Stream::Local.url(&i, Some("113")).as_str(),
            "https://mastodon.example/api/v1/timelines/public?limit=40&local=true&min_id=113"
        );
        // An instance under a path keeps it; a trailing slash adds no empty segment.
        let sub = url::Url::parse("http://127.0.0.1:8080/masto/").unwrap();
        assert_eq!(
            Stream::Public.url(&sub, None).as_str(),
            "http://127.0.0.1:8080/masto/api/v1/timelines/public?limit=40"
        );
        assert_eq!(Stream::Tag("Colis".into()).key(), "tag:colis");
    }

    #[test]
    fn positions_round_trip_and_only_move_forward() {
        let mut p = Positions::decode(None);
        assert_eq!(p.encode(), None);
        let tag = Stream::Tag("colis".into());
        p.advance(&tag, "113512000000000300");
        p.advance(&tag, "99");
        p.advance(&Stream::Public, "5");
        let stored = p.encode().unwrap();
        assert_eq!(stored, r#"{"public":"5","tag:colis":"113512000000000300"}"#);
        let back = Positions::decode(Some(&stored));
        assert_eq!(back.get(&tag), Some("113512000000000300"));
        assert_eq!(back.get(&Stream::Local), None);
        assert_eq!(Positions::decode(Some("garbage")), Positions::default());
    }

    #[test]
    fn link_header_table() {
        let i = instance();
        let h = "<https://mastodon.example/api/v1/timelines/tag/colis?limit=40&max_id=1>; \
                 rel=\"next\", <https://mastodon.example/api/v1/timelines/tag/colis?limit=40&min_id=9>; rel=\"prev\"";
        assert_eq!(
            link(h, "prev", &i).map(String::from).as_deref(),
            Some("https://mastodon.example/api/v1/timelines/tag/colis?limit=40&min_id=9")
        );
        assert_eq!(
            link(h, "next", &i).map(String::from).as_deref(),
            Some("https://mastodon.example/api/v1/timelines/tag/colis?limit=40&max_id=1")
        );
        assert_eq!(link(h, "last", &i), None);
        // Another origin (scheme, host or port) is never followed: the token stays home.
        let away = "<https://evil.example/api/v1/timelines/tag/colis?min_id=9>; rel=\"prev\"";
        assert_eq!(link(away, "prev", &i), None);
        let port = "<https://mastodon.example:8443/x?min_id=9>; rel=\"prev\"";
        assert_eq!(link(port, "prev", &i), None);
        // Relative targets, unquoted and multi-valued rels, junk.
        assert_eq!(
            link("</x?min_id=3>; rel=prev", "prev", &i)
                .map(String::from)
                .as_deref(),
            Some("https://mastodon.example/x?min_id=3")
        );
        assert!(link("</y>; rel=\"prev next\"", "next", &i).is_some());
        assert_eq!(link("garbage", "prev", &i), None);
        assert_eq!(link("<unclosed; rel=\"prev\"", "prev", &i), None);
    }

    #[test]
    fn rate_limit_wait_table() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .to_utc();
        let reset = Some("2026-11-22T10:05:00.000000Z");
        let s = |n| Some(Duration::from_secs(n));
        let table = [
            (Some("0"), reset, s(300)),
            (Some("1"), reset, None),
            (Some("0"), Some("2026-11-22T09:00:00Z"), s(0)),
            (Some("0"), None, None),
            (Some("0"), Some("soon"), None),
            (None, reset, None),
            (Some("x"), reset, None),
        ];
        for (remaining, reset, want) in table {
            assert_eq!(
                rate_limit_wait(remaining, reset, now),
                want,
                "{remaining:?} {reset:?}"
            );
        }
    }
}
