//! The `facebook` source's polling: a Page's feed and the comments of its posts (Graph API).
//!
//! A brand hears complaints on its own Facebook page mostly in the comments, so one poll reads
//! the feed's latest [`FEED_LIMIT`] posts (`/{page-id}/feed`) and, for each, its comments
//! newer than the cursor (`/{post-id}/comments?filter=stream&since=…`), paging by
//! `cursors.after`. Posts and comments are both posts (their own id, permalink, author); the
//! store's unique key drops those seen before. The cursor's position holds `since`, the newest
//! comment time seen, which moves with the stored comments only.
//!
//! Threads (SPEC §5.1): a complaint is usually a comment on one of the page's posts, and the
//! page answers under it, so the thread of a comment is its top-level comment
//! (`facebook:{comment id}`), and a page post is a thread of its own. `filter=stream` lists the
//! replies with the top-level comments, each reply with its `parent` (the comment it answers);
//! a top-level comment answers the page post (`thread`). The page's own replies
//! are among them, so the brand's answers need no other request: their `author` is the page's
//! numeric id (`from.id`, as for every author here), which is what `brand_accounts` names.
//!
//! The page access token travels in the `Authorization` header, never in a URL. Graph API errors
//! come back as JSON bodies with a code ([`graph_error`]): code 190 (token expired, revoked or
//! invalid) is a permanent error that says to make a new token; the page and app request
//! limits are rate limits. `parse_*` are pure; HTTP is `fetch`'s.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::config::secret::Secret;
use crate::post::Post;
use crate::source::fetch::{classify_status, redact_url, Body, FetchRequest, Fetched, Fetcher};
use super::thread::thread_comments;
use crate::source::{Cursor, Page, Source, SourceError};

/// Posts of the feed whose comments each poll reads: the ones people still comment on.
pub const FEED_LIMIT: usize = 10;

/// Pages of comments read per post and poll (100 comments each).
pub const MAX_COMMENT_PAGES: usize = 5;

const FEED_FIELDS: &str = "id,message,created_time,from,permalink_url,shares,\
    reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)";
const COMMENT_FIELDS: &str =
    "id,message,created_time,from,permalink_url,like_count,comment_count,parent{id}";

/// A Facebook page, read with a page access token.
#[derive(Debug)]
pub struct FacebookSource {
    /// The configured source name.
    pub name: String,
    /// The Graph API root with its version (`https://graph.facebook.com/v21.0`).
    pub base_url: String,
    /// The page's id or name.
    pub page_id: String,
    /// The page access token.
    pub access_token: Secret,
    /// Body cap per response.
    pub max_bytes: u64,
}

/// Where the source stands, stored as JSON in the cursor's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The newest comment time seen (Unix seconds): comments are asked for from there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    message: Option<String>,
    created_time: Option<String>,
    from: Option<From>,
    permalink_url: Option<String>,
    shares: Option<Count>,
    reactions: Option<Summary>,
    comments: Option<Summary>,
    like_count: Option<u64>,
    comment_count: Option<u64>,
    /// A reply's parent comment (top-level comments have none).
    parent: Option<Parent>,
}

#[derive(Deserialize)]
struct Parent {
    id: String,
}

#[derive(Deserialize)]
struct From {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    count: Option<u64>,
}

#[derive(Deserialize)]
struct Summary {
    summary: Option<Total>,
}

#[derive(Deserialize)]
struct Total {
    total_count: Option<u64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
}

/// One list of posts or comments, parsed: its posts in the order given, and the `after`
/// cursor when there is a next page.
pub fn parse(body: &[u8], source: &str) -> Result<(Vec<Post>, Option<String>), SourceError> {
    let list: List<Item> = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed Graph API response: {e}")))?;
    let after = list
        .paging
        .filter(|p| p.next.is_some())
        .and_then(|p| p.cursors?.after);
    let posts = list.data.into_iter().map(|i| post(i, source)).collect();
    Ok((posts, after))
}

fn post(i: Item, source: &str) -> Post {
    let count = |s: &Option<Summary>| s.as_ref().and_then(|s| s.summary.as_ref()?.total_count);
    let parts = [
        count(&i.reactions),
        count(&i.comments),
        i.shares.as_ref().and_then(|s| s.count),
        i.like_count,
        i.comment_count,
    ];
    let engagement = parts
        .iter()
        .any(Option::is_some)
        .then(|| parts.iter().flatten().sum());
    Post {
        id: Some(i.id),
        source: Some(source.to_string()),
        text: i.message.unwrap_or_default(),
        author: i.from.as_ref().and_then(|f| f.id.clone()),
        author_name: i.from.and_then(|f| f.name),
        url: i.permalink_url,
        created_at: i
            .created_time
            .as_deref()
            .and_then(graph_time)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        lang: None,
        followers: None,
        engagement,
        in_reply_to: i.parent.map(|p| p.id),
        thread: None,
    }
}

/// A Graph API time: `2026-12-06T08:00:00+0000` (or RFC 3339).
pub fn graph_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The error a Graph API error response stands for. Code 190 (and 102) is the token: permanent,
/// with what to do; the request limits (4, 17, 32, 613, 80001) are rate limits; anything else is
/// classified by its HTTP status. `token` is cut out of Facebook's message, which may quote it.
pub fn graph_error(status: u16, body: &[u8], token: &str) -> SourceError {
    let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) else {
        return classify_status(status, None)
            .unwrap_or_else(|| SourceError::Permanent(format!("HTTP {status}")));
    };
    let mut message = error.message.unwrap_or_default();
    if !token.is_empty() {
        message = message.replace(token, "<secret>");
    }
    let message: String = message.chars().take(300).collect();
    let code = error.code.unwrap_or_default();
    match code {
        102 | 190 => {
            let why = match error.error_subcode {
                Some(463) => "expired",
                Some(460) => "invalidated by a password change",
                Some(458) => "the app was removed",
                Some(467) | None => "invalid or revoked",
                Some(_) => "refused",
            };
            SourceError::Permanent(format!(
                "the page access token is {why} (Graph API code {code}): create a new page access \
                 token and update access_token ({message})"
            ))
        }
        4 | 17 | 32 | 613 | 80001 => SourceError::RateLimited { retry_after: None },
        _ => {
            let what = format!("Graph API error {code}: {message}");
            match classify_status(status, None) {
                Some(SourceError::Transient(_)) => SourceError::Transient(what),
                _ => SourceError::Permanent(what),
            }
        }
    }
}

/// The wait the Business Use Case rate-limit header asks for: the longest
/// `estimated_time_to_regain_access` (minutes) in `x-business-use-case-usage`, if any.
pub fn usage_wait(header: Option<&str>) -> Option<Duration> {
    let usage: serde_json::Value = serde_json::from_str(header?).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(|v| v.as_array())
        .flatten()
        .filter_map(|u| u.get("estimated_time_to_regain_access")?.as_u64())
        .max()
        .filter(|m| *m > 0)?;
    Some(Duration::from_secs(minutes * 60))
}

impl FacebookSource {
    /// GETs `path` under the API root with `query`, as a successful body or the Graph error.
    async fn get(
        &self,
        fetch: &Fetcher,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Body, SourceError> {
        let root = self.base_url.trim_end_matches('/');
        let mut url = url::Url::parse(&format!("{root}/{path}"))
            .map_err(|e| SourceError::Permanent(format!("invalid base_url: {e}")))?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (k, v)));
        let headers = [(
            "Authorization".to_string(),
            format!("Bearer {}", self.access_token.expose()),
        )];
        let none = Cursor::default();
        let req = FetchRequest::get(url.as_str(), &none, self.max_bytes)
            .with_headers(&headers)
            .keeping_client_errors();
        match fetch.get(&req).await? {
            Fetched::Body(body) if body.is_success() => Ok(body),
            // Where, as `fetch` says it for its own errors (the token is in no URL).
            Fetched::Body(body) => Err(
                match graph_error(body.status, &body.bytes, self.access_token.expose()) {
                    SourceError::Transient(m) => {
                        SourceError::Transient(format!("{m} from {}", redact_url(url.as_str())))
                    }
                    SourceError::Permanent(m) if !m.starts_with("the page access token") => {
                        SourceError::Permanent(format!("{m} from {}", redact_url(url.as_str())))
                    }
                    e => e,
                },
            ),
            Fetched::NotModified => Err(SourceError::Transient(
                "HTTP 304 to a request without validators".into(),
            )),
        }
    }
}

#[async_trait]
impl Source for FacebookSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let mut pos: Position = cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let feed_query = [
            ("fields", FEED_FIELDS.to_string()),
            ("limit", FEED_LIMIT.to_string()),
        ];
        let path = format!("{}/feed", self.page_id);
        let body = self.get(fetch, &path, &feed_query).await?;
        let mut wait = usage_wait(body.header("x-business-use-case-usage"));
        let (feed, _) = parse(&body.bytes, &self.name)?;
        let mut comments = Vec::new();
        for post in &feed {
            let Some(id) = &post.id else { continue };
            let mut post_comments = Vec::new();
            let mut after = None;
            for _ in 0..MAX_COMMENT_PAGES {
                let mut query = vec![
                    ("fields", COMMENT_FIELDS.to_string()),
                    ("filter", "stream".to_string()),
                    ("limit", "100".to_string()),
                ];
                if let Some(since) = pos.since {
                    query.push(("since", since.to_string()));
                }
                if let Some(a) = after.take() {
                    query.push(("after", a));
                }
                let body = self.get(fetch, &format!("{id}/comments"), &query).await?;
                wait = wait.max(usage_wait(body.header("x-business-use-case-usage")));
                let (page, next) = parse(&body.bytes, &self.name)?;
                post_comments.extend(page);
                if next.is_none() {
                    break;
                }
                after = next;
            }
            thread_comments(id, &mut post_comments);
            comments.extend(post_comments);
        }
        let newest = comments
            .iter()
            .filter_map(|c| graph_time(c.created_at.as_deref()?))
            .map(|t| t.timestamp())
            .max();
        pos.since = pos.since.max(newest);
        let mut posts = feed;
        for p in &mut posts {
            // A page post is a thread of its own.
            p.thread = p.id.as_ref().map(|id| format!("facebook:{id}"));
        }
        posts.extend(comments);
        posts.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(Page {
            posts,
            cursor: Cursor {
                position: serde_json::to_string(&pos).ok(),
                ..Cursor::default()
            },
            wait,
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A recorded Graph API response of `tests/fixtures/facebook`.
    pub(in crate::source::facebook) fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/facebook/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect("fixture")
    }

    #[test]
    fn the_feed_gives_posts_with_their_engagement() {
        let (posts, after) = parse(&fixture("feed.json"), "fb").unwrap();
        assert_eq!(after, None, "the feed is read one page at a time");
        let p = &posts[0];
        assert_eq!(p.id.as_deref(), Some("104501234567890_987654321098765"));
        assert_eq!(p.author.as_deref(), Some("104501234567890"));
        assert_eq!(p.author_name.as_deref(), Some("Posteo"));
        assert_eq!(p.created_at.as_deref(), Some("2026-12-06T08:00:00Z"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://www.facebook.com/posteo.fr/posts/pfbid02Xk7nR3yTq9mWcL8vBz5u")
        );
        assert_eq!(p.engagement, Some(41 + 2 + 3));
        assert_eq!(posts[1].engagement, Some(7));
    }

    #[test]
    fn comments_are_posts_and_page_by_after() {
        let (posts, after) = parse(&fixture("comments-first.json"), "fb").unwrap();
        assert_eq!(after.as_deref(), Some("QVFIUmxZAWpCMEk4UX"));
        let c = &posts[0];
        assert_eq!(c.id.as_deref(), Some("987654321098765_1122334455667788"));
        assert!(
            c.text.starts_with("Toujours pas reçu mon colis"),
            "{}",
            c.text
        );
        assert_eq!(c.author_name.as_deref(), Some("Marie Dupont"));
        assert_eq!(c.engagement, Some(6));
        assert!(c
            .url
            .as_deref()
            .unwrap()
            .ends_with("comment_id=1122334455667788"));
        let (_, after) = parse(&fixture("comments-after.json"), "fb").unwrap();
        assert_eq!(after, None, "no next: the last page");
        assert!(parse(&fixture("comments-empty.json"), "fb")
            .unwrap()
            .0
            .is_empty());
        assert!(matches!(
            parse(b"<html>", "fb"),
            Err(SourceError::Permanent(m)) if m.starts_with("malformed Graph API response")
        ));
    }

    #[test]
    fn graph_errors_are_classified() {
        let e = graph_error(400, &fixture("token-expired.json"), "EAAtoken");
        let SourceError::Permanent(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with("the page access token is expired (Graph API code 190): create a new page access token"),
            "{m}"
        );
        let quoted = br#"{"error": {"message": "Malformed access token EAAtoken", "code": 190}}"#;
        let e = graph_error(400, quoted, "EAAtoken").to_string();
        assert!(!e.contains("EAAtoken") && e.contains("<secret>"), "{e}");
        assert_eq!(
            graph_error(400, &fixture("rate-limited.json"), "EAAtoken"),
            SourceError::RateLimited { retry_after: None }
        );
        let other = br#"{"error": {"message": "Unsupported get request.", "code": 100}}"#;
        assert_eq!(
            graph_error(400, other, "EAAtoken"),
            SourceError::Permanent("Graph API error 100: Unsupported get request.".into())
        );
        assert!(matches!(
            graph_error(404, b"nope", "EAAtoken"),
            SourceError::Permanent(_)
        ));
    }

    #[test]
    fn usage_headers_ask_for_a_wait_when_access_is_cut() {
        let h = r#"{"104501234567890": [{"type": "pages", "call_count": 100, "total_cputime": 20,
            "total_time": 30, "estimated_time_to_regain_access": 19}]}"#;
        assert_eq!(usage_wait(Some(h)), Some(Duration::from_secs(19 * 60)));
        let fine =
            r#"{"1": [{"type": "pages", "call_count": 10, "estimated_time_to_regain_access": 0}]}"#;
        assert_eq!(usage_wait(Some(fine)), None);
        assert_eq!(usage_wait(None), None);
        assert_eq!(usage_wait(Some("{")), None);
    }

    #[test]
    fn graph_times() {
        let t = graph_time("2026-12-06T08:00:00+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-06T08:00:00+00:00");
        assert_eq!(graph_time("2026-12-06T10:00:00+0200"), Some(t));
        assert!(graph_time("yesterday").is_none());
    }
}
