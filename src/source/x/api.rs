//! The `x` source's polling: X API v2 recent search, under a daily spend cap.
//!
//! X bills every post a search returns, so the source counts the posts it has read per UTC day
//! and stops at `max_posts_per_day`. The count lives in the cursor's position ([`Position`]),
//! which the store writes in the same transaction as the posts it paid for: a crash or a restart
//! can neither forget the spend nor count posts that were never stored. At the cap the source
//! makes no request and says so ([`XSource::paused`]: "daily cap reached, resumes at …"), and
//! the next UTC day it goes on from its cursor.
//!
//! One poll asks for the posts newer than `since_id` (the newest id of the last finished
//! scan), newest first, and follows `next_token` for at most [`MAX_PAGES`] pages; a scan that
//! is not finished keeps its `next_token` in the cursor and goes on at the next poll, and only a
//! finished scan moves `since_id`, so no post between two polls is skipped. The very first scan
//! reads one page, the newest: the week of history behind it would be billed post by post.
//! `parse` is pure; HTTP, limits and redaction are `fetch`'s, and the bearer token travels only
//! in the `Authorization` header. The budget and the resume point are `position`'s.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Deserialize;

use crate::config::secret::Secret;
use crate::post::Post;
use crate::source::fetch::{FetchRequest, Fetched, Fetcher};
use super::position::{resumes_at, Position};
use crate::source::{Cursor, Page, Pause, Source, SourceError};

/// Most search pages one poll reads (X allows 450 requests per 15 minutes per app).
pub const MAX_PAGES: usize = 5;

/// The fewest posts X returns per page (`max_results` is 10 to 100): with fewer left under the
/// cap, the source stops rather than read past it.
pub const MIN_RESULTS: u64 = 10;

/// The fields asked for: what SPEC §7 needs, and no more (X bills posts, not fields).
/// `conversation_id` (the thread's root), `referenced_tweets` (the post answered) and
/// `in_reply_to_user_id` are the thread fields (SPEC §5.1).
const TWEET_FIELDS: &str =
    "author_id,created_at,lang,public_metrics,conversation_id,referenced_tweets,in_reply_to_user_id";
const USER_FIELDS: &str = "name,username,public_metrics";

/// An X recent search, with its credentials and its cap.
#[derive(Debug)]
pub struct XSource {
    /// The configured source name.
    pub name: String,
    /// The API's root (`https://api.x.com`; a loopback server in tests).
    pub base_url: String,
    /// The search query, in X's query language.
    pub query: String,
    /// The app's bearer token.
    pub bearer_token: Secret,
    /// Posts per page, 10 to 100.
    pub max_results: u64,
    /// Posts read per UTC day, at most.
    pub max_posts_per_day: u64,
    /// Body cap per response.
    pub max_bytes: u64,
}

/// How long to wait before the next request, from X's rate-limit headers: until
/// `x-rate-limit-reset` (epoch seconds) when `x-rate-limit-remaining` is 0, else none.
pub fn rate_wait(
    remaining: Option<&str>,
    reset: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if remaining?.trim().parse::<u64>().ok()? > 0 {
        return None;
    }
    let reset = DateTime::from_timestamp(reset?.trim().parse().ok()?, 0)?;
    Some((reset - now).to_std().unwrap_or_default())
}

/// One search page, parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    /// Its posts, oldest first.
    pub posts: Vec<Post>,
    /// `meta.newest_id`.
    pub newest_id: Option<String>,
    /// `meta.next_token`: there are older posts to page through.
    pub next_token: Option<String>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    data: Vec<Tweet>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Meta,
}

#[derive(Deserialize)]
struct Tweet {
    id: String,
    text: String,
    author_id: Option<String>,
    created_at: Option<String>,
    lang: Option<String>,
    public_metrics: Option<TweetMetrics>,
    /// The root of the post's thread (its own id for a post that answers none).
    conversation_id: Option<String>,
    /// The posts this one replies to, quotes or reposts.
    #[serde(default)]
    referenced_tweets: Vec<Referenced>,
}

/// One of `referenced_tweets`: `replied_to`, `quoted` or `retweeted`, and the post's id.
#[derive(Deserialize)]
struct Referenced {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TweetMetrics {
    like_count: u64,
    retweet_count: u64,
    reply_count: u64,
    quote_count: u64,
}

#[derive(Deserialize, Default)]
struct Includes {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    name: Option<String>,
    username: Option<String>,
    public_metrics: Option<UserMetrics>,
}

#[derive(Deserialize)]
struct UserMetrics {
    followers_count: Option<u64>,
}

#[derive(Deserialize, Default)]
struct Meta {
    newest_id: Option<String>,
    next_token: Option<String>,
}

/// Parses a recent-search response into posts, oldest first.
pub fn parse(body: &[u8], source: &str) -> Result<SearchPage, SourceError> {
    let r: Response = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed X search response: {e}")))?;
    let user = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| r.includes.users.iter().find(|u| &u.id == id))
    };
    let mut posts: Vec<Post> = r
        .data
        .iter()
        .map(|t| {
            let u = user(&t.author_id);
            let username = u.and_then(|u| u.username.clone());
            let url = match &username {
                Some(name) => format!("https://x.com/{name}/status/{}", t.id),
                None => format!("https://x.com/i/web/status/{}", t.id),
            };
            Post {
                id: Some(t.id.clone()),
                source: Some(source.to_string()),
                // X escapes `&`, `<` and `>` in post text; there is no other markup.
                text: html_escape::decode_html_entities(&t.text).into_owned(),
                author: username.map(|n| format!("@{n}")),
                author_name: u.and_then(|u| u.name.clone()),
                url: Some(url),
                created_at: t.created_at.as_deref().and_then(rfc3339),
                // `und`: X could not tell.
                lang: t.lang.clone().filter(|l| l != "und"),
                followers: u.and_then(|u| u.public_metrics.as_ref()?.followers_count),
                engagement: t
                    .public_metrics
                    .as_ref()
                    .map(|m| m.like_count + m.retweet_count + m.reply_count + m.quote_count),
                // The post answered (a quote or a repost answers nothing).
                in_reply_to: t
                    .referenced_tweets
                    .iter()
                    .find(|r| r.kind == "replied_to")
                    .map(|r| r.id.clone()),
                thread: Some(format!(
                    "x:{}",
                    t.conversation_id.as_deref().unwrap_or(&t.id)
                )),
            }
        })
        .collect();
    // X lists the newest first.
    posts.reverse();
    Ok(SearchPage {
        posts,
        newest_id: r.meta.newest_id,
        next_token: r.meta.next_token,
    })
}

/// `2026-12-06T09:14:05.000Z` as RFC 3339 to the second.
fn rfc3339(s: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    Some(
        t.with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

impl XSource {
    /// The search URL for one page.
    fn url(&self, pos: &Position, max_results: u64) -> Result<String, SourceError> {
        let root = self.base_url.trim_end_matches('/');
        let mut url = url::Url::parse(&format!("{root}/2/tweets/search/recent"))
            .map_err(|e| SourceError::Permanent(format!("invalid base_url: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("query", &self.query)
                .append_pair("max_results", &max_results.to_string())
                .append_pair("tweet.fields", TWEET_FIELDS)
                .append_pair("expansions", "author_id")
                .append_pair("user.fields", USER_FIELDS);
            if let Some(id) = &pos.since_id {
                q.append_pair("since_id", id);
            }
            if let Some(token) = &pos.next_token {
                q.append_pair("next_token", token);
            }
        }
        Ok(url.into())
    }

    /// Reads one page from `pos` and moves `pos` past it.
    async fn page(
        &self,
        fetch: &Fetcher,
        pos: &mut Position,
        today: NaiveDate,
        n: u64,
        wait: &mut Option<Duration>,
    ) -> Result<Vec<Post>, SourceError> {
        let url = self.url(pos, n)?;
        let headers = [(
            "Authorization".to_string(),
            format!("Bearer {}", self.bearer_token.expose()),
        )];
        let none = Cursor::default();
        let req = FetchRequest::get(&url, &none, self.max_bytes).with_headers(&headers);
        let body = match fetch.get(&req).await? {
            Fetched::Body(body) => body,
            // No validators were sent: a 304 would be a broken server. Nothing was read.
            Fetched::NotModified => return Ok(Vec::new()),
        };
        let (remaining, reset) = (
            body.header("x-rate-limit-remaining"),
            body.header("x-rate-limit-reset"),
        );
        *wait = rate_wait(remaining, reset, Utc::now());
        let page = parse(&body.bytes, &self.name)?;
        pos.count(today, page.posts.len() as u64);
        // The first scan reads the newest page only: the week of history behind it would be
        // billed post by post.
        let first = pos.since_id.is_none() && pos.next_token.is_none();
        if pos.scan_newest.is_none() {
            pos.scan_newest = page.newest_id;
        }
        match page.next_token.filter(|_| !first) {
            Some(token) => pos.next_token = Some(token),
            None => {
                pos.next_token = None;
                if let Some(newest) = pos.scan_newest.take() {
                    pos.since_id = Some(newest);
                }
            }
        }
        Ok(page.posts)
    }
}

#[async_trait]
impl Source for XSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let today = Utc::now().date_naive();
        let mut pos = Position::from_cursor(cursor);
        let (mut posts, mut wait) = (Vec::new(), None);
        for i in 0..MAX_PAGES {
            let left = pos.left(today, self.max_posts_per_day);
            // Out of budget, or out of requests until the rate-limit window resets.
            if left < MIN_RESULTS || wait.is_some() {
                break;
            }
            let n = left.min(self.max_results);
            match self.page(fetch, &mut pos, today, n, &mut wait).await {
                Ok(page) => posts.extend(page),
                Err(e) if i == 0 => return Err(e),
                // The pages already read are paid for: store them with the cursor that counts
                // them; the next poll asks for this page again.
                Err(e) => {
                    tracing::warn!(source = %self.name, error = %e, "Search paging stopped early; going on at the next poll.");
                    break;
                }
            }
            if pos.next_token.is_none() {
                break;
            }
        }
        posts.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(Page {
            posts,
            cursor: pos.to_cursor(),
            wait,
        })
    }

    fn paused(&self, cursor: &Cursor, now: DateTime<Utc>) -> Option<Pause> {
        let pos = Position::from_cursor(cursor);
        let today = now.date_naive();
        (pos.left(today, self.max_posts_per_day) < MIN_RESULTS).then(|| Pause {
            reason: format!("daily cap reached ({} posts read)", pos.read),
            until: resumes_at(today),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/x/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).expect("fixture")
    }

    #[test]
    fn parse_fills_every_field_x_gives() {
        let page = parse(&fixture("search-first.json"), "x-posteo").unwrap();
        assert_eq!(page.newest_id.as_deref(), Some("1865012345678901250"));
        assert_eq!(
            page.next_token.as_deref(),
            Some("b26v89c19zqg8o3fr5tf1hrz5wj1w3mbkr4ynozmfcx3e")
        );
        let ids: Vec<_> = page
            .posts
            .iter()
            .map(|p| p.id.as_deref().unwrap())
            .collect();
        assert_eq!(
            ids,
            ["1865012345678901240", "1865012345678901250"],
            "oldest first"
        );
        let p = &page.posts[1];
        assert_eq!(
            p.text,
            "Mon colis est en retard depuis lundi & le suivi ne bouge plus @posteo_aide https://t.co/AbCdEf1234"
        );
        assert_eq!(p.author.as_deref(), Some("@alice_martin"));
        assert_eq!(p.author_name.as_deref(), Some("Alice Martin"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://x.com/alice_martin/status/1865012345678901250")
        );
        assert_eq!(p.created_at.as_deref(), Some("2026-12-06T09:14:05Z"));
        assert_eq!(p.lang.as_deref(), Some("fr"));
        assert_eq!(p.followers, Some(1208));
        assert_eq!(p.engagement, Some(4 + 3 + 2 + 1));
        assert_eq!(p.source.as_deref(), Some("x-posteo"));
    }

    #[test]
    fn replies_carry_the_post_they_answer_and_the_conversation() {
        let page = parse(&fixture("search-thread.json"), "x").unwrap();
        let by_id = |id: &str| page.posts.iter().find(|p| p.id.as_deref() == Some(id)).unwrap();
        // The complaint starts its conversation.
        let complaint = by_id("1865100000000000100");
        assert_eq!(complaint.in_reply_to, None);
        assert_eq!(complaint.thread.as_deref(), Some("x:1865100000000000100"));
        // The brand's reply answers it, in the same conversation.
        let reply = by_id("1865100000000000180");
        assert_eq!(reply.author.as_deref(), Some("@posteo_aide"));
        assert_eq!(reply.in_reply_to.as_deref(), Some("1865100000000000100"));
        assert_eq!(reply.thread.as_deref(), Some("x:1865100000000000100"));
        // A quote answers nothing and starts its own conversation.
        let quote = by_id("1865100000000000150");
        assert_eq!(quote.in_reply_to, None);
        assert_eq!(quote.thread.as_deref(), Some("x:1865100000000000150"));
    }

    #[test]
    fn parse_empty_and_malformed() {
        let page = parse(&fixture("search-empty.json"), "x").unwrap();
        assert_eq!(page, SearchPage::default());
        let e = parse(b"{\"data\": [{\"id\": 1}]", "x").unwrap_err();
        assert!(
            matches!(&e, SourceError::Permanent(m) if m.starts_with("malformed X search response")),
            "{e:?}"
        );
    }

    #[test]
    fn rate_limit_headers_ask_for_a_wait_only_when_none_is_left() {
        let now = DateTime::from_timestamp(1_796_544_000, 0).unwrap();
        let s = Duration::from_secs;
        let table = [
            (Some("0"), Some("1796544600"), Some(s(600))),
            (Some("0"), Some("1796543000"), Some(s(0))),
            (Some("3"), Some("1796544600"), None),
            (None, Some("1796544600"), None),
            (Some("0"), None, None),
            (Some("0"), Some("soon"), None),
        ];
        for (remaining, reset, want) in table {
            assert_eq!(
                rate_wait(remaining, reset, now),
                want,
                "{remaining:?} {reset:?}"
            );
        }
    }

}
