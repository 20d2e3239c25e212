//! The brand's own Bluesky posts for the search mode (`[daemon] brand_accounts`, SPEC §5.1):
//! `app.bsky.feed.getAuthorFeed` with `filter=posts_with_replies`, so its replies are seen.
//!
//! An author feed is newest first and pages backwards (`cursor`); it has no `since`. So each
//! account's position is the newest `sortAt` read from it (kept in the search's cursor under
//! `authors`), a poll keeps the posts at or after it (the store drops the one read again) and
//! reads older pages while a whole page is newer than it, at most [`MAX_PAGES`]; a first poll
//! reads one page. Reposts (`reason` set: another account's post) are not the brand's posts.
//! The calls go through the search's session when it logs in. A failure here never stops the
//! search: the account is read again at the next poll, and the error is logged when it changes.
//! Handles are given as written (`@laposte.bsky.social`: `@` dropped); a DID works too; the
//! handles of other platforms in the same list are skipped ([`bluesky_handles`]).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;

use super::search::{view_post, PostView, SearchSource, MAX_PAGES};
use super::session;
use crate::post::Post;
use crate::source::fetch::Fetcher;
use crate::source::brand_errors::BrandErrors;
use crate::source::SourceError;

/// Posts asked per request: the lexicon's maximum.
const LIMIT: &str = "100";

/// Each account's newest `sortAt` read, by handle as configured (without `@`).
pub type Seen = BTreeMap<String, String>;

/// The brand accounts of one search source and the last error.
#[derive(Debug, Default)]
pub struct Authors {
    /// Handles (or DIDs) without `@`.
    actors: Vec<String>,
    /// Each account's last error, logged when it changes.
    errors: BrandErrors,
}

impl Authors {
    /// The accounts `handles`, as written in `brand_accounts`.
    pub fn new(handles: &[String]) -> Authors {
        Authors {
            actors: bluesky_handles(handles),
            ..Authors::default()
        }
    }
}

/// The handles of `handles` that can be Bluesky accounts, without `@`, lowercase, each once: a
/// domain name or a DID. A Mastodon handle (`lisalaposte@mastodon.social`) or a bare name
/// (`@LaPoste_Aide`) is another platform's, so one `brand_accounts` list can name them all.
pub fn bluesky_handles(handles: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    handles
        .iter()
        .map(|h| h.trim().trim_start_matches('@').to_lowercase())
        .filter(|h| h.starts_with("did:") || (h.contains('.') && !h.contains('@')))
        .filter(|h| seen.insert(h.clone()))
        .collect()
}

/// One `getAuthorFeed` page: its posts (newest first) with their `sortAt`, and the next cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The account's own posts and replies, with their `sortAt`.
    pub posts: Vec<(Post, String)>,
    /// How many items the page listed, reposts included.
    pub listed: usize,
    /// Where older items start, if there are more.
    pub cursor: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    cursor: Option<String>,
    feed: Vec<Item>,
}

/// `app.bsky.feed.defs#feedViewPost`.
#[derive(Deserialize)]
struct Item {
    post: PostView,
    /// `reasonRepost` or `reasonPin`: only whether it is set matters.
    #[serde(default)]
    reason: Option<serde::de::IgnoredAny>,
}

/// Parses a `getAuthorFeed` answer.
pub fn parse_feed(body: &[u8]) -> Result<Feed, SourceError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed getAuthorFeed answer: {e}")))?;
    let listed = answer.feed.len();
    let posts = answer
        .feed
        .into_iter()
        .filter(|i| i.reason.is_none())
        .map(|i| view_post(i.post))
        .collect();
    Ok(Feed {
        posts,
        listed,
        cursor: answer.cursor.filter(|c| !c.is_empty()),
    })
}

impl SearchSource {
    /// The URL of one page of `actor`'s feed.
    fn feed_url(&self, actor: &str, page: Option<&str>) -> String {
        let base = format!("{}/xrpc/app.bsky.feed.getAuthorFeed", self.service);
        let mut url = url::Url::parse(&base).expect("checked by the config");
        url.query_pairs_mut()
            .append_pair("actor", actor)
            .append_pair("filter", "posts_with_replies")
            .append_pair("limit", LIMIT);
        if let Some(page) = page {
            url.query_pairs_mut().append_pair("cursor", page);
        }
        url.into()
    }

    /// Reads every brand account's new posts into `posts` (oldest first), moving `seen`.
    /// Returns the wait the service's rate limit asks for, if it ran out.
    pub(super) async fn brand_posts(
        &self,
        fetch: &Fetcher,
        seen: &mut Seen,
        posts: &mut Vec<Post>,
    ) -> Option<Duration> {
        let mut wait = None;
        for actor in &self.authors.actors {
            let read = self.author_posts(fetch, actor, seen, posts).await;
            if self.authors.errors.with_wait(&self.name, actor, read, &mut wait) {
                break;
            }
        }
        wait
    }

    /// One account's posts at or after its position; `Ok(Some(wait))` when the rate limit ran
    /// out.
    async fn author_posts(
        &self,
        fetch: &Fetcher,
        actor: &str,
        seen: &mut Seen,
        posts: &mut Vec<Post>,
    ) -> Result<Option<Duration>, SourceError> {
        let since = seen.get(actor).cloned();
        let (mut found, mut page, mut wait) = (Vec::new(), None::<String>, None);
        for _ in 0..MAX_PAGES {
            let url = self.feed_url(actor, page.as_deref());
            let body = self.get(fetch, &url, "getAuthorFeed").await?;
            let feed = parse_feed(&body.bytes)?;
            wait = session::rate_limit_wait(&body, Utc::now().timestamp());
            let (before, listed) = (found.len(), feed.posts.len());
            found.extend(
                feed.posts
                    .into_iter()
                    .filter(|(_, at)| since.as_ref().is_none_or(|s| at >= s)),
            );
            // Older pages only while this one's posts were all newer than the position.
            let all_newer = since.is_some() && listed > 0 && found.len() - before == listed;
            match feed.cursor {
                Some(next) if all_newer && wait.is_none() && Some(&next) != page.as_ref() => {
                    page = Some(next)
                }
                _ => break,
            }
        }
        if let Some(newest) = found.iter().map(|(_, at)| at).max() {
            if since.as_ref().is_none_or(|s| newest > s) {
                seen.insert(actor.to_string(), newest.clone());
            }
        }
        posts.extend(found.into_iter().rev().map(|(p, _)| p));
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_author_feed_is_the_brands_posts_and_replies_without_reposts() {
        let body = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bluesky/getAuthorFeed.json"
        ))
        .unwrap();
        let feed = parse_feed(&body).unwrap();
        assert_eq!(feed.listed, 3);
        assert_eq!(feed.cursor.as_deref(), Some("2026-07-04T15:20:11.552Z"));
        let posts: Vec<_> = feed
            .posts
            .iter()
            .map(|(p, at)| {
                (
                    p.author.as_deref().unwrap(),
                    p.in_reply_to.as_deref(),
                    p.thread.as_deref(),
                    at.as_str(),
                )
            })
            .collect();
        assert_eq!(
            posts,
            [
                (
                    "@laposte.bsky.social",
                    Some("at://did:plc:wq4aajammjtxdomz3e23667t/app.bsky.feed.post/3mptcz7bq3k2w"),
                    Some("at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptcq1a2bc2a"),
                    "2026-07-04T15:31:07.204Z"
                ),
                (
                    "@laposte.bsky.social",
                    Some("at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a"),
                    Some("at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a"),
                    "2026-07-04T15:20:11.552Z"
                ),
            ]
        );
        assert!(parse_feed(b"{\"feed\": 3}").is_err());
        let brand = Authors::new(&[
            "@LaPoste.bsky.social".into(),
            "@".into(),
            "laposte.bsky.social".into(),
            // Other platforms' handles.
            "lisalaposte@mastodon.social".into(),
            "@LaPoste_Aide".into(),
            "did:plc:7hsmk2xqv4c6ja3lnpz5teub".into(),
        ]);
        assert_eq!(
            brand.actors,
            ["laposte.bsky.social", "did:plc:7hsmk2xqv4c6ja3lnpz5teub"]
        );
    }
}
