//! The `bluesky` source in mode `search`: `app.bsky.feed.searchPosts`, newest first.
//!
//! One poll asks for `sort=latest`, the configured `lang`, and `since` the stored position
//! (the newest post's `sortAt` seen so far, kept as `{"since":"…"}`), and follows the answer's
//! `cursor` for at most [`MAX_PAGES`] pages. `since` is inclusive, so the newest stored post
//! comes back and the store's unique key drops it. With an `identifier` and an app password the
//! calls carry a session's access token (`session`): an `ExpiredToken` answer renews it (a
//! refresh, or a new login when the refresh is refused) and the call is made once more. Parsing
//! is pure ([`parse`]); profiles of the posts that hit a rule (followers) are `profiles`'. The
//! brand accounts' own posts (`author`) are read in the same poll, with the same session, and
//! their positions kept in the same cursor (`{"since":"…","authors":{"handle":"…"}}`; a cursor
//! without `authors` reads as before).

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::author::{self, Authors};
use super::profiles::Profiles;
use super::record::{rfc3339, PostRecord};
use super::session::{self, Session, XrpcError};
use crate::config::secret::Secret;
use crate::post::Post;
use crate::source::fetch::{status_error, Body, Fetcher};
use crate::source::{Cursor, Page, Source, SourceError};

/// Pages one poll follows (100 posts each); more new posts than this between two polls means
/// the source should poll more often.
pub const MAX_PAGES: usize = 5;

/// A search for one query.
pub struct SearchSource {
    pub(super) name: String,
    /// The PDS or AppView base URL (`https://bsky.social`).
    pub(super) service: String,
    query: String,
    lang: Option<String>,
    /// `identifier` and app password, when the source logs in.
    login: Option<(String, Secret)>,
    max_bytes: u64,
    session: tokio::sync::Mutex<Option<Session>>,
    profiles: Profiles,
    /// The brand accounts whose posts are read too.
    pub(super) authors: Authors,
}

impl SearchSource {
    /// The search for `query` at `service` (which also serves profiles), logged in when
    /// `login` is given.
    pub fn new(
        name: String,
        service: String,
        query: String,
        lang: Option<String>,
        login: Option<(String, Secret)>,
        max_bytes: u64,
    ) -> SearchSource {
        let service = service.trim_end_matches('/').to_string();
        SearchSource {
            name,
            service: service.clone(),
            query,
            lang,
            login,
            max_bytes,
            session: tokio::sync::Mutex::new(None),
            profiles: Profiles::new(service, max_bytes),
            authors: Authors::default(),
        }
    }

    /// The search, also reading the posts of the brand accounts `handles` (`author`).
    pub fn with_brand_accounts(self, handles: &[String]) -> SearchSource {
        SearchSource {
            authors: Authors::new(handles),
            ..self
        }
    }

    /// The URL of one page.
    fn page_url(&self, since: Option<&str>, page: Option<&str>) -> String {
        let base = format!("{}/xrpc/app.bsky.feed.searchPosts", self.service);
        let mut url = url::Url::parse(&base).expect("checked by the config");
        let mut q = url.query_pairs_mut();
        q.append_pair("q", &self.query)
            .append_pair("sort", "latest")
            .append_pair("limit", "100");
        for (key, value) in [
            ("lang", self.lang.as_deref()),
            ("since", since),
            ("cursor", page),
        ] {
            if let Some(value) = value {
                q.append_pair(key, value);
            }
        }
        drop(q);
        url.into()
    }

    /// GETs `url` (the XRPC `method`, named in errors) with the session's token, renewing the
    /// session once if the service says the token has expired.
    pub(super) async fn get(
        &self,
        fetch: &Fetcher,
        url: &str,
        method: &str,
    ) -> Result<Body, SourceError> {
        let mut session = self.session.lock().await;
        let mut renewed = false;
        loop {
            let token = match (&self.login, session.as_ref()) {
                (None, _) => None,
                (Some(_), Some(s)) => Some(s.access.clone()),
                (Some((id, password)), None) => {
                    let new =
                        session::create(fetch, &self.service, id, password, self.max_bytes).await?;
                    renewed = true;
                    Some(session.insert(new).access.clone())
                }
            };
            let body = session::call_body(fetch, url, token.as_ref(), None, self.max_bytes).await?;
            let status = body.status;
            if status < 400 {
                return Ok(body);
            }
            let error = XrpcError::parse(&body.bytes);
            if self.login.is_none() || !error.is_token_error() || renewed {
                return Err(status_error(
                    status,
                    format!("{method}: {}", error.describe(status)),
                ));
            }
            let old = session.take().expect("a token was sent");
            if let Some(new) = session::refresh(fetch, &self.service, &old, self.max_bytes).await? {
                tracing::debug!(source = %self.name, "Bluesky session refreshed.");
                *session = Some(new);
            } else {
                tracing::info!(source = %self.name, "Bluesky refresh token refused; logging in again.");
            }
            renewed = true;
        }
    }
}

#[async_trait]
impl Source for SearchSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let mut position = Position::decode(cursor);
        let since = position.since.clone();
        let (mut posts, mut newest, mut page) = (Vec::new(), since.clone(), None::<String>);
        let mut wait = None;
        for _ in 0..MAX_PAGES {
            let url = self.page_url(since.as_deref(), page.as_deref());
            let body = self.get(fetch, &url, "searchPosts").await?;
            let found = parse(&body.bytes)?;
            wait = session::rate_limit_wait(&body, Utc::now().timestamp());
            let empty = found.posts.is_empty();
            for (post, sort_at) in found.posts {
                if newest.as_ref().is_none_or(|n| sort_at > *n) {
                    newest = Some(sort_at);
                }
                posts.push(post);
            }
            match found.cursor {
                Some(next) if !empty && wait.is_none() && Some(&next) != page.as_ref() => {
                    page = Some(next)
                }
                _ => break,
            }
        }
        posts.reverse();
        position.since = newest;
        if wait.is_none() {
            let mut theirs = Vec::new();
            wait = self
                .brand_posts(fetch, &mut position.authors, &mut theirs)
                .await;
            // Oldest first after the search's; the store drops a post found by both.
            posts.extend(theirs);
        }
        Ok(Page {
            posts,
            cursor: Cursor {
                position: position.encode(),
                ..Cursor::default()
            },
            wait,
        })
    }

    async fn enrich(&self, fetch: &Fetcher, posts: &mut [&mut Post]) {
        let token = self.session.lock().await.as_ref().map(|s| s.access.clone());
        self.profiles
            .enrich(&self.name, fetch, token.as_ref(), posts)
            .await;
    }
}

/// The stored cursor's position: the search's `since` and each brand account's newest `sortAt`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<String>,
    #[serde(default, skip_serializing_if = "author::Seen::is_empty")]
    authors: author::Seen,
}

impl Position {
    /// Reads the stored cursor; an unreadable one starts afresh.
    fn decode(cursor: &Cursor) -> Position {
        cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default()
    }

    /// The position to store: `None` while nothing was seen.
    fn encode(&self) -> Option<String> {
        (*self != Position::default()).then(|| serde_json::to_string(self).unwrap_or_default())
    }
}

/// One page of search results: the posts, newest first, each with its `sortAt` (the earlier
/// of its creation and indexing times, which `since` filters on), and the next page's cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Posts and their `sortAt` (RFC 3339, milliseconds, UTC).
    pub posts: Vec<(Post, String)>,
    /// Where the next page starts, if there is one.
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    cursor: Option<String>,
    posts: Vec<PostView>,
}

/// `app.bsky.feed.defs#postView`: the fields vigie reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PostView {
    uri: String,
    author: Author,
    record: PostRecord,
    #[serde(default)]
    reply_count: Option<u64>,
    #[serde(default)]
    repost_count: Option<u64>,
    #[serde(default)]
    like_count: Option<u64>,
    indexed_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Author {
    handle: String,
    #[serde(default)]
    display_name: Option<String>,
}

/// Parses a `searchPosts` answer.
pub fn parse(body: &[u8]) -> Result<Found, SourceError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed searchPosts answer: {e}")))?;
    let posts = answer.posts.into_iter().map(view_post).collect();
    Ok(Found {
        posts,
        cursor: answer.cursor.filter(|c| !c.is_empty()),
    })
}

/// A `postView` as a post, with its `sortAt`.
pub(super) fn view_post(view: PostView) -> (Post, String) {
    let sort_at = sort_at(view.record.created_at.as_deref(), &view.indexed_at);
    let handle = view.author.handle;
    let mut post = view
        .record
        .into_post(&view.uri, &handle, format!("@{handle}"));
    post.author_name = view.author.display_name.filter(|n| !n.trim().is_empty());
    let counts = [view.like_count, view.repost_count, view.reply_count];
    if counts.iter().any(Option::is_some) {
        post.engagement = Some(counts.iter().flatten().sum());
    }
    (post, sort_at)
}

/// The earlier of `created` and `indexed` as the API sorts and filters (`since`) on it.
fn sort_at(created: Option<&str>, indexed: &str) -> String {
    let parse = |t: &str| {
        DateTime::parse_from_rfc3339(t)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let times = [created.and_then(parse), parse(indexed)];
    match times.iter().flatten().min() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => rfc3339(indexed).unwrap_or_else(|| indexed.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bluesky/");
        std::fs::read(format!("{dir}{name}")).unwrap()
    }

    #[test]
    fn parses_a_page_with_every_field() {
        let found = parse(&fixture("searchPosts-1.json")).unwrap();
        assert_eq!(found.cursor.as_deref(), Some("2"));
        assert_eq!(found.posts.len(), 2);
        let (post, sort_at) = &found.posts[0];
        assert_eq!(
            post.id.as_deref(),
            Some("at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a")
        );
        assert_eq!(
            post.url.as_deref(),
            Some("https://bsky.app/profile/camille-durand.bsky.social/post/3mptd4kq2ls2a")
        );
        assert_eq!(post.author.as_deref(), Some("@camille-durand.bsky.social"));
        assert_eq!(post.author_name.as_deref(), Some("Camille Durand"));
        assert_eq!(post.created_at.as_deref(), Some("2026-07-04T15:02:41Z"));
        assert_eq!(post.lang.as_deref(), Some("fr"));
        assert_eq!(post.engagement, Some(8));
        assert!(post.text.starts_with("Troisième jour"));
        assert_eq!(sort_at, "2026-07-04T15:02:41.118Z");
        // An empty display name is no name.
        assert_eq!(found.posts[1].0.author_name, None);
        // A post that answers nothing is its own thread; a reply names its parent and root.
        assert_eq!((post.in_reply_to.as_deref(), post.thread.as_deref()), (None, post.id.as_deref()));
        let root = "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptcq1a2bc2a";
        let reply = &found.posts[1].0;
        assert_eq!(
            (reply.in_reply_to.as_deref(), reply.thread.as_deref()),
            (Some(root), Some(root))
        );
        let last = parse(&fixture("searchPosts-2.json")).unwrap();
        assert_eq!(last.cursor, None);
    }

    #[test]
    fn malformed_answers_are_permanent_errors() {
        for body in [&b"{\"posts\": [{\"uri\": 3}]}"[..], b"<html>", b""] {
            assert!(matches!(parse(body), Err(SourceError::Permanent(_))));
        }
    }

    #[test]
    fn sort_at_is_the_earlier_time() {
        assert_eq!(
            sort_at(Some("2026-07-04T15:02:41.118Z"), "2026-07-04T15:02:41.905Z"),
            "2026-07-04T15:02:41.118Z"
        );
        // A post dated in the future sorts at its indexing time.
        assert_eq!(
            sort_at(Some("2030-01-01T00:00:00Z"), "2026-07-04T15:02:41.905Z"),
            "2026-07-04T15:02:41.905Z"
        );
        assert_eq!(
            sort_at(None, "2026-07-04T15:02:41.905Z"),
            "2026-07-04T15:02:41.905Z"
        );
    }
}
