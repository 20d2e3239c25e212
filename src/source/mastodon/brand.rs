//! The brand's own statuses (`[daemon] brand_accounts`, SPEC §5.1), replies included, so that its
//! answers to complaints are seen wherever they are posted.
//!
//! Each handle is an account as the instance names it (`acct`: `lisalaposte` for one of its
//! own, `lisalaposte@mastodon.social` for a remote one; `@lisalaposte@<this instance>` is local).
//! `GET /api/v1/accounts/lookup?acct=…` gives its local id (kept in memory for the source's
//! life), then `GET /api/v1/accounts/:id/statuses?limit=40&since_id=…` its newest statuses after
//! the last one seen, kept in the cursor's position under `account:<acct>` beside the streams'
//! (older cursors, without that key, read as they did). When a page after `since_id` comes back
//! full, older pages (`Link` `rel="next"`) are read until they reach `since_id`, at most
//! `api::MAX_PAGES`. The instance serves a remote account's statuses that reached it (someone on
//! it follows the brand). A failure here (an unknown handle, an error) never stops the poll's
//! timelines: that account is skipped until the next poll, and the error is logged when it
//! changes. Parsing statuses is `status`'s, their threads `thread`'s.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;

use super::api::{link, rate_limit_wait, Positions, LIMIT, MAX_PAGES};
use super::poll::MastodonSource;
use super::status::{self, cmp_ids};
use crate::post::Post;
use crate::source::brand_errors::BrandErrors;
use crate::source::fetch::Fetcher;
use crate::source::SourceError;

/// The brand accounts one source follows, their ids once looked up, and the last error.
#[derive(Debug, Default)]
pub struct Brand {
    /// `acct`s as the instance writes them.
    accts: Vec<String>,
    /// `acct` → local account id.
    ids: Mutex<HashMap<String, String>>,
    /// Each account's last error, logged when it changes.
    errors: BrandErrors,
}

/// The `acct` the instance at `host` knows `handle` by: without `@`, without its own host.
pub fn acct(handle: &str, host: &str) -> String {
    let h = handle.trim().trim_start_matches('@');
    match h.split_once('@') {
        Some((user, server)) if server.eq_ignore_ascii_case(host) => user.to_string(),
        _ => h.to_string(),
    }
}

/// The cursor position's key for `acct`'s statuses.
pub fn key(acct: &str) -> String {
    format!("account:{}", acct.to_lowercase())
}

/// An `Account`: its local id is what vigie needs.
#[derive(Deserialize)]
struct Account {
    id: String,
}

/// Parses an `accounts/lookup` answer into the account's local id.
pub fn parse_account(body: &[u8]) -> Result<String, SourceError> {
    serde_json::from_slice::<Account>(body)
        .map(|a| a.id)
        .map_err(|e| SourceError::Permanent(format!("malformed Mastodon account: {e}")))
}

impl Brand {
    /// The accounts named by `handles` on the instance at `host`.
    pub fn new(handles: &[String], host: &str) -> Brand {
        let mut seen = std::collections::HashSet::new();
        let mut accts: Vec<String> = handles.iter().map(|h| acct(h, host)).collect();
        // A local name has no dot: `laposte.bsky.social` is another platform's handle, so one
        // `brand_accounts` list can name the brand on every platform.
        accts.retain(|a| {
            !a.is_empty() && (a.contains('@') || !a.contains('.')) && seen.insert(a.to_lowercase())
        });
        Brand {
            accts,
            ..Brand::default()
        }
    }
}

/// The URL `instance/api/v1/{segments}` with `query`.
fn api_url(instance: &url::Url, segments: &[&str], query: &[(&str, &str)]) -> url::Url {
    let mut url = instance.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .expect("http(s) URL")
        .pop_if_empty()
        .extend(["api", "v1"])
        .extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    url
}

impl MastodonSource {
    /// Reads every brand account's new statuses into `posts`, moving their positions. Returns
    /// the wait the instance's rate limit asks for, if it ran out.
    pub(super) async fn brand_statuses(
        &self,
        fetch: &Fetcher,
        positions: &mut Positions,
        posts: &mut Vec<Post>,
    ) -> Option<Duration> {
        let mut wait = None;
        for acct in &self.brand.accts {
            let read = self.account_statuses(fetch, acct, positions, posts).await;
            if self.brand.errors.with_wait(&self.name, acct, read, &mut wait) {
                break;
            }
        }
        wait
    }

    /// One account's new statuses; `Ok(Some(wait))` when the rate limit ran out.
    async fn account_statuses(
        &self,
        fetch: &Fetcher,
        acct: &str,
        positions: &mut Positions,
        posts: &mut Vec<Post>,
    ) -> Result<Option<Duration>, SourceError> {
        let id = self.account_id(fetch, acct).await?;
        let key = key(acct);
        let since = positions.get_key(&key).map(str::to_string);
        let limit = LIMIT.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(since) = &since {
            query.push(("since_id", since));
        }
        let mut url = api_url(&self.instance, &["accounts", &id, "statuses"], &query);
        for pages in 1.. {
            let body = self.get(fetch, &url).await?;
            let page = status::parse(&body.bytes, &self.name, &self.host)?;
            let newer = |p: &Post| {
                let id = p.id.as_deref().unwrap_or_default();
                since.as_deref().is_none_or(|s| cmp_ids(id, s).is_gt())
            };
            posts.extend(page.posts.into_iter().filter(newer));
            if let Some(newest) = &page.newest {
                positions.advance_key(&key, newest);
            }
            let wait = rate_limit_wait(
                body.header("x-ratelimit-remaining"),
                body.header("x-ratelimit-reset"),
                Utc::now(),
            );
            if wait.is_some() {
                return Ok(wait);
            }
            // A full page after `since_id` is the newest 40: older pages fill the gap.
            let gap = match (&since, &page.oldest) {
                (Some(since), Some(oldest)) => cmp_ids(oldest, since).is_gt(),
                _ => false,
            };
            if !(gap && page.listed >= LIMIT && pages < MAX_PAGES) {
                break;
            }
            match body
                .header("link")
                .and_then(|h| link(h, "next", &self.instance))
            {
                Some(next) => url = next,
                None => break,
            }
        }
        Ok(None)
    }

    /// The account's local id, looked up once.
    async fn account_id(&self, fetch: &Fetcher, acct: &str) -> Result<String, SourceError> {
        if let Some(id) = self.brand.ids.lock().unwrap_or_else(|p| p.into_inner()).get(acct) {
            return Ok(id.clone());
        }
        let url = api_url(&self.instance, &["accounts", "lookup"], &[("acct", acct)]);
        let id = parse_account(&self.get(fetch, &url).await?.bytes)?;
        let mut ids = self.brand.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.insert(acct.to_string(), id.clone());
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_become_the_instances_accts() {
        let table = [
            ("@lisalaposte", "lisalaposte"),
            ("lisalaposte@mastodon.social", "lisalaposte@mastodon.social"),
            ("@lisalaposte@mastodon.social", "lisalaposte@mastodon.social"),
            // The instance's own accounts are local.
            ("@lisalaposte@Piaille.example", "lisalaposte"),
        ];
        for (handle, want) in table {
            assert_eq!(acct(handle, "piaille.example"), want, "{handle}");
        }
        assert_eq!(key("LisaLaPoste@mastodon.social"), "account:lisalaposte@mastodon.social");
        let handles = ["@a", "a@h", "@", "a.bsky.social", "b@other.example"].map(String::from);
        let brand = Brand::new(&handles, "h");
        assert_eq!(brand.accts, ["a", "b@other.example"]);
    }

    #[test]
    fn urls_and_accounts() {
        let i = url::Url::parse("http://127.0.0.1:8080/masto/").unwrap();
        assert_eq!(
            api_url(&i, &["accounts", "lookup"], &[("acct", "lisa@mastodon.social")]).as_str(),
            "http://127.0.0.1:8080/masto/api/v1/accounts/lookup?acct=lisa%40mastodon.social"
        );
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mastodon/account-lookup.json"
        );
        assert_eq!(
            parse_account(&std::fs::read(path).unwrap()).unwrap(),
            "109350000000000042"
        );
        assert!(parse_account(br#"{"error":"Record not found"}"#).is_err());
    }
}
