//! The brand's posts for a `discourse` source in `search` mode (SPEC §5.1): the brand's replies
//! would not match the query, so each poll also reads each account's topics and replies
//! (`/user_actions.json?username={name}&filter=4,5`, parsed by `parse::user_actions`) and keeps
//! those above the account's highest post id in the cursor (`Position::brand`).
//!
//! These requests are extras: a failure keeps the search's posts and the account's id, and is
//! logged when it changes, never failing the poll. In `posts` mode the brand's posts are among
//! the forum's and nothing here runs.

use std::collections::BTreeMap;

use super::{user_actions, DiscourseSource};
use crate::post::Post;
use crate::source::fetch::Fetcher;
use crate::source::SourceError;

/// The Discourse usernames among `brand_accounts` (`@posteo_support` is `posteo_support`;
/// `name@server`, a Mastodon account, is none).
pub fn usernames(brand_accounts: &[String]) -> Vec<String> {
    brand_accounts
        .iter()
        .map(|h| h.trim().trim_start_matches('@'))
        .filter(|n| {
            (1..=60).contains(&n.len())
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        })
        .map(str::to_string)
        .collect()
}

impl DiscourseSource {
    /// Adds each brand account's posts above its id in `brand` to `posts`, and moves the ids.
    pub(super) async fn add_brand(
        &self,
        fetch: &Fetcher,
        posts: &mut Vec<Post>,
        brand: &mut BTreeMap<String, u64>,
    ) {
        for name in &self.brand {
            let last = brand.get(name).copied();
            let read = self.brand_posts(fetch, name).await;
            let Some(read) = self.brand_outcome(name, read) else {
                continue;
            };
            let top = read.iter().map(|(id, _)| *id).max();
            posts.extend(
                read.into_iter()
                    .filter(|(id, _)| last.is_none_or(|l| *id > l))
                    .map(|(_, p)| p),
            );
            if let Some(top) = top.max(last) {
                brand.insert(name.clone(), top);
            }
        }
    }

    /// One brand account's newest topics and replies.
    async fn brand_posts(&self, fetch: &Fetcher, name: &str) -> Result<Vec<(u64, Post)>, SourceError> {
        let mut url = url::Url::parse(&format!("{}/user_actions.json", self.base))
            .map_err(|e| SourceError::Permanent(format!("invalid url: {e}")))?;
        url.query_pairs_mut()
            .append_pair("username", name)
            .append_pair("filter", "4,5");
        let body = self.get(fetch, url.as_str()).await?;
        user_actions(&body, &self.base, &self.name)
    }

    /// An account's posts if they were read; a failure is logged when it changes (and its end
    /// once), never the poll's failure.
    fn brand_outcome<T>(&self, name: &str, read: Result<T, SourceError>) -> Option<T> {
        self.brand_errors.outcome(&self.name, name, read)
    }
}
