//! The brand's comments for the `reddit` source (SPEC §5.1): each brand account's newest
//! comments (`/user/{name}/comments`, the feed or the API as the listing), read after the
//! listing from the account's own `before` in the cursor (`Position::brand`).
//!
//! These requests are extras: a failure keeps the listing's posts and the account's position
//! and is logged when it changes, never failing the poll; a feed request the per-host budget
//! has no room for waits for a later poll. Parsing is `feed`'s and `listing`'s.

use std::time::Instant;

use super::super::feed;
use super::super::listing::{self, Parsed};
use super::super::pace::{host_of, take_feed_slot, Position};
use super::{client_error, RedditSource};
use crate::config::secret::Secret;
use crate::source::fetch::{FetchRequest, Fetched, Fetcher};
use crate::source::{Cursor, Page, SourceError};

impl RedditSource {
    /// The URL of a brand account's comments: the feed or the API, from `before`.
    pub(super) fn brand_url(&self, name: &str, before: Option<&str>) -> Result<String, SourceError> {
        let path = if self.oauth.is_none() {
            "comments/.rss"
        } else {
            "comments"
        };
        self.endpoint(&format!("user/{name}/{path}"), &[], before)
    }

    /// Adds the brand accounts' new comments to `page` (read after the listing), and their
    /// positions to its cursor; `prior` is the position the poll started from.
    pub(super) async fn add_brand(
        &self,
        fetch: &Fetcher,
        page: &mut Page,
        prior: &Position,
        token: Option<&Secret>,
    ) {
        if self.brand.is_empty() {
            return;
        }
        let mut next = Position::read(&page.cursor);
        for name in &self.brand {
            let was = prior.brand.get(name).cloned().unwrap_or_default();
            let before = was.anchor().map(str::to_owned);
            let read = self.brand_comments(fetch, name, before.as_deref(), token).await;
            let Some(read) = self.brand_outcome(name, read) else {
                continue;
            };
            // `None`: the feed budget had no room; the account waits for a later poll.
            if let Some(parsed) = read {
                next.brand
                    .insert(name.clone(), was.after(before.is_some(), parsed.newest));
                page.posts.extend(parsed.posts);
            }
        }
        page.cursor.position = Some(next.write());
    }

    /// One account's comments from `before`: `Ok(None)` when the feed budget has no room.
    async fn brand_comments(
        &self,
        fetch: &Fetcher,
        name: &str,
        before: Option<&str>,
        token: Option<&Secret>,
    ) -> Result<Option<Parsed>, SourceError> {
        let url = self.brand_url(name, before)?;
        let Some(token) = token else {
            if take_feed_slot(&host_of(&url), Instant::now()).is_err() {
                return Ok(None);
            }
            let none = Cursor::default();
            return match fetch
                .get(&FetchRequest::get(&url, &none, self.max_bytes))
                .await?
            {
                Fetched::Body(body) => feed::parse(&body.bytes, &self.name).map(Some),
                Fetched::NotModified => Ok(None),
            };
        };
        let body = self.get_listing(fetch, &url, token).await?;
        if !body.is_success() {
            return Err(client_error(&body, &url));
        }
        listing::parse_comments(&body.bytes, &self.name).map(Some)
    }

    /// An account's comments if they were read; a failure is logged when it changes (and its
    /// end once), never the poll's failure.
    fn brand_outcome<T>(&self, name: &str, read: Result<T, SourceError>) -> Option<T> {
        self.brand_errors.outcome(&self.name, name, read)
    }
}
