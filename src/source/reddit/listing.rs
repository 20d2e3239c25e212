//! Reddit's JSON answers, parsed without I/O: the listings of the OAuth API (`/r/{sub}/new`,
//! `/r/{sub}/search`) and the app-only token (`/api/v1/access_token`).
//!
//! A listing is `{"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {…}}], "after",
//! "before"}}`, newest first; only links (`t3`) become posts, other things (comments, `more`)
//! are skipped. A post's id is the link's fullname (`t3_1h8k2qa`), which the store's unique key
//! deduplicates across polls and restarts, and which the feeds (`feed`) use too, so switching a
//! source between feeds and OAuth never doubles a post. Fetching, the token's lifetime and the
//! cursor are `poll`'s.
//!
//! Threads (SPEC §5.1): a link is the root of its thread, `reddit:{fullname}`. The brand's
//! comments (`/user/{name}/comments`, [`parse_comments`]) answer their `parent_id` (a link or a
//! comment, by fullname) in the thread of their `link_id`.

use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;

use crate::config::secret::Secret;
use crate::post::Post;
use crate::source::text::html_to_text;
use crate::source::SourceError;

/// Where permalinks point: posts are read on reddit.com whatever server was polled.
pub const PERMALINK_BASE: &str = "https://www.reddit.com";

/// What one listing or feed gave: its posts, oldest first, and the newest fullname (the next
/// poll's `before`), if it listed anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// The posts, oldest first, each fullname once.
    pub posts: Vec<Post>,
    /// The fullname of the newest thing listed (even one that is not a post).
    pub newest: Option<String>,
}

#[derive(Deserialize)]
struct Listing {
    data: ListingData,
}

#[derive(Deserialize)]
struct ListingData {
    #[serde(default)]
    children: Vec<Thing>,
}

#[derive(Deserialize)]
struct Thing {
    kind: String,
    data: serde_json::Value,
}

/// The fields of a link (`t3`) that a post needs.
#[derive(Deserialize)]
struct Link {
    name: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    selftext: Option<String>,
    #[serde(default)]
    selftext_html: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    created_utc: Option<f64>,
    #[serde(default)]
    score: Option<i64>,
    #[serde(default)]
    num_comments: Option<i64>,
}

fn malformed(what: impl std::fmt::Display) -> SourceError {
    SourceError::Permanent(format!("malformed reddit listing: {what}"))
}

/// Parses a listing into posts of `source`, oldest first.
pub fn parse(body: &[u8], source: &str) -> Result<Parsed, SourceError> {
    let listing: Listing = serde_json::from_slice(body).map_err(malformed)?;
    let children = listing.data.children;
    let newest = children
        .first()
        .and_then(|t| t.data.get("name")?.as_str().map(str::to_owned));
    let mut posts: Vec<Post> = Vec::with_capacity(children.len());
    for thing in children.into_iter().rev().filter(|t| t.kind == "t3") {
        let link: Link = serde_json::from_value(thing.data).map_err(malformed)?;
        if posts.iter().all(|p| p.id.as_deref() != Some(&link.name)) {
            posts.push(post(link, source));
        }
    }
    Ok(Parsed { posts, newest })
}

/// One link as a post: the title and the self text, the score plus comments as engagement.
fn post(link: Link, source: &str) -> Post {
    let title = link.title.unwrap_or_default();
    // `raw_json=1` makes `selftext_html` real HTML; without it, it arrives escaped once more.
    let body = match link.selftext_html.as_deref() {
        Some(html) if !html.contains('<') => html_to_text(&html_to_text(html)),
        Some(html) => html_to_text(html),
        None => link.selftext.unwrap_or_default(),
    };
    let text = match (title.trim().is_empty(), body.trim().is_empty()) {
        (false, false) => format!("{}\n{}", title.trim(), body.trim()),
        (false, true) => title.trim().to_string(),
        _ => body.trim().to_string(),
    };
    // A downvoted post has a negative score; engagement counts what people did, at least 0.
    let engagement = match (link.score, link.num_comments) {
        (None, None) => None,
        (score, comments) => {
            Some(score.unwrap_or(0).max(0) as u64 + comments.unwrap_or(0).max(0) as u64)
        }
    };
    Post {
        source: Some(source.to_string()),
        text,
        author: link.author.as_deref().and_then(handle),
        author_name: None,
        url: link.permalink.map(|p| format!("{PERMALINK_BASE}{p}")),
        created_at: link.created_utc.and_then(rfc3339),
        lang: None,
        followers: None,
        engagement,
        in_reply_to: None,
        thread: Some(format!("reddit:{}", link.name)),
        id: Some(link.name),
    }
}

/// A comment (`t1`) of a user's comments listing.
#[derive(Deserialize)]
struct Comment {
    name: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_html: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    created_utc: Option<f64>,
    #[serde(default)]
    score: Option<i64>,
    /// The link the comment is under (`t3_…`).
    #[serde(default)]
    link_id: Option<String>,
    /// What it answers: the link, or a comment (`t1_…`).
    #[serde(default)]
    parent_id: Option<String>,
}

/// A `/user/{name}/comments` listing (the brand's comments): each comment is a post that
/// answers its `parent_id` in the thread of its link.
pub fn parse_comments(body: &[u8], source: &str) -> Result<Parsed, SourceError> {
    let listing: Listing = serde_json::from_slice(body).map_err(malformed)?;
    let children = listing.data.children;
    let newest = children
        .first()
        .and_then(|t| t.data.get("name")?.as_str().map(str::to_owned));
    let mut posts: Vec<Post> = Vec::with_capacity(children.len());
    for thing in children.into_iter().rev().filter(|t| t.kind == "t1") {
        let c: Comment = serde_json::from_value(thing.data).map_err(malformed)?;
        if posts.iter().any(|p| p.id.as_deref() == Some(&c.name)) {
            continue;
        }
        let text = match (c.body_html.as_deref(), c.body) {
            (Some(html), _) if html.contains('<') => html_to_text(html),
            (Some(html), _) => html_to_text(&html_to_text(html)),
            (None, body) => body.unwrap_or_default(),
        };
        posts.push(Post {
            id: Some(c.name),
            source: Some(source.to_string()),
            text: text.trim().to_string(),
            author: c.author.as_deref().and_then(handle),
            author_name: None,
            url: c.permalink.map(|p| format!("{PERMALINK_BASE}{p}")),
            created_at: c.created_utc.and_then(rfc3339),
            lang: None,
            followers: None,
            engagement: c.score.map(|s| s.max(0) as u64),
            in_reply_to: c.parent_id,
            thread: c.link_id.map(|l| format!("reddit:{l}")),
        });
    }
    Ok(Parsed { posts, newest })
}

/// `u/name`, as Reddit writes a user; `None` for a deleted account (`[deleted]`).
pub fn handle(name: &str) -> Option<String> {
    let name = name.trim();
    let name = name
        .strip_prefix("/u/")
        .or(name.strip_prefix("u/"))
        .unwrap_or(name);
    let real = !name.is_empty() && name != "[deleted]" && !name.contains(char::is_whitespace);
    real.then(|| format!("u/{name}"))
}

/// Unix seconds (Reddit sends floats: `1796548350.0`) as RFC 3339 UTC.
fn rfc3339(secs: f64) -> Option<String> {
    if !secs.is_finite() {
        return None;
    }
    let t = DateTime::from_timestamp(secs.trunc() as i64, 0)?;
    Some(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// An app-only access token and how long Reddit says it lasts.
#[derive(Debug)]
pub struct Token {
    /// The bearer token (a secret: never logged).
    pub access_token: Secret,
    /// Its lifetime from now (`expires_in`, 24 hours in practice).
    pub expires_in: std::time::Duration,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// Parses the answer of `/api/v1/access_token`. Reddit answers some refusals with a 200 and
/// `{"error": "invalid_grant"}`: those are permanent errors naming the reason, never the body.
pub fn parse_token(body: &[u8]) -> Result<Token, SourceError> {
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed reddit token answer: {e}")))?;
    match (answer.access_token, answer.error) {
        (Some(token), None) if !token.is_empty() => Ok(Token {
            access_token: Secret::new(token),
            expires_in: std::time::Duration::from_secs(answer.expires_in.unwrap_or(3600)),
        }),
        (_, Some(error)) => Err(SourceError::Permanent(format!(
            "reddit refused the app's client_id/client_secret: {}",
            reason(&error)
        ))),
        _ => Err(SourceError::Permanent(
            "malformed reddit token answer: no access_token".into(),
        )),
    }
}

/// The reason in one of Reddit's error bodies (`{"message": "Forbidden", "error": 403, "reason":
/// "private"}`, `{"error": "invalid_grant"}`), short and printable; `None` for anything else.
pub fn error_reason(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let field = |k: &str| v.get(k).and_then(|f| f.as_str()).map(str::to_owned);
    let text = match (field("message"), field("reason")) {
        (Some(m), Some(r)) => format!("{m}, {r}"),
        (Some(m), None) => m,
        (None, Some(r)) => r,
        (None, None) => field("error")?,
    };
    Some(text.chars().filter(|c| !c.is_control()).take(120).collect())
}

fn reason(error: &serde_json::Value) -> String {
    let text = match error {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().filter(|c| !c.is_control()).take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/reddit/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).expect("fixture")
    }

    #[test]
    fn listing_fills_every_field_reddit_gives() {
        let parsed = parse(&fixture("new.json"), "reddit-fr").expect("parses");
        assert_eq!(parsed.newest.as_deref(), Some("t3_1h8k2qa"));
        let ids: Vec<_> = parsed.posts.iter().map(|p| p.id.as_deref()).collect();
        assert_eq!(
            ids,
            [Some("t3_1h8jw3m"), Some("t3_1h8jzx1"), Some("t3_1h8k2qa")],
            "oldest first"
        );
        let p = &parsed.posts[2];
        assert_eq!(p.source.as_deref(), Some("reddit-fr"));
        assert_eq!(p.author.as_deref(), Some("u/clara_dsn"));
        assert_eq!(
            p.url.as_deref(),
            Some(
                "https://www.reddit.com/r/AskFrance/comments/1h8k2qa/colis_bloque_depuis_9_jours/"
            )
        );
        assert_eq!(p.created_at.as_deref(), Some("2026-12-06T09:12:30Z"));
        assert_eq!(p.engagement, Some(5 + 3));
        assert!(
            p.text
                .starts_with("Colis bloqué depuis 9 jours\nMon colis est bloqué"),
            "{}",
            p.text
        );
        assert!(
            !p.text.contains('<') && !p.text.contains("SC_OFF"),
            "{}",
            p.text
        );
        // A link post is its title; a downvoted post by a deleted account has no author and
        // counts its comments only.
        assert_eq!(
            parsed.posts[1].text,
            "Livraisons en retard avant Noël : les colis s'accumulent"
        );
        assert_eq!(parsed.posts[1].engagement, Some(41 + 17));
        assert_eq!(parsed.posts[0].author, None);
        assert_eq!(parsed.posts[0].engagement, Some(1));
    }

    #[test]
    fn links_are_threads_and_the_brand_comments_answer_in_them() {
        let parsed = parse(&fixture("new.json"), "r").expect("parses");
        let p = &parsed.posts[2];
        assert_eq!(p.in_reply_to, None);
        assert_eq!(p.thread.as_deref(), Some("reddit:t3_1h8k2qa"));
        let parsed = parse_comments(&fixture("user-comments.json"), "r").expect("parses");
        assert_eq!(parsed.newest.as_deref(), Some("t1_m0k3x7b"));
        let ids: Vec<_> = parsed.posts.iter().map(|p| p.id.as_deref()).collect();
        assert_eq!(ids, [Some("t1_m0k2p9d"), Some("t1_m0k3x7b")], "oldest first");
        let reply = &parsed.posts[1];
        assert_eq!(reply.author.as_deref(), Some("u/Posteo_Officiel"));
        assert_eq!(reply.in_reply_to.as_deref(), Some("t3_1h8k2qa"));
        assert_eq!(reply.thread.as_deref(), Some("reddit:t3_1h8k2qa"));
        assert_eq!(reply.created_at.as_deref(), Some("2026-12-06T09:31:02Z"));
        assert!(reply.text.starts_with("Bonjour, nous sommes désolés"), "{}", reply.text);
        assert!(!reply.text.contains('<'), "{}", reply.text);
        assert_eq!(
            reply.url.as_deref(),
            Some("https://www.reddit.com/r/AskFrance/comments/1h8k2qa/colis_bloque_depuis_9_jours/m0k3x7b/")
        );
        // A reply to a comment answers the comment.
        assert_eq!(parsed.posts[0].in_reply_to.as_deref(), Some("t1_m0jzz01"));
        assert_eq!(parsed.posts[0].thread.as_deref(), Some("reddit:t3_1h8fq20"));
    }

    #[test]
    fn escaped_html_without_raw_json_is_text_too() {
        let body = br#"{"kind":"Listing","data":{"children":[{"kind":"t3","data":{"name":"t3_a",
            "title":"Colis","selftext_html":"&lt;!-- SC_OFF --&gt;&lt;div class=\"md\"&gt;&lt;p&gt;perdu &amp;amp; cass\u00e9&lt;/p&gt;&lt;/div&gt;"}}]}}"#;
        let parsed = parse(body, "r").expect("parses");
        assert_eq!(parsed.posts[0].text, "Colis\nperdu & cassé");
    }

    #[test]
    fn empty_listing_other_things_and_duplicates() {
        let parsed = parse(&fixture("empty.json"), "r").expect("parses");
        assert_eq!(parsed, Parsed::default());
        let body = br#"{"kind":"Listing","data":{"children":[
            {"kind":"t3","data":{"name":"t3_b","title":"colis"}},
            {"kind":"t1","data":{"name":"t1_x","body":"a comment"}},
            {"kind":"t3","data":{"name":"t3_b","title":"colis"}}]}}"#;
        let parsed = parse(body, "r").expect("parses");
        assert_eq!(parsed.newest.as_deref(), Some("t3_b"));
        assert_eq!(parsed.posts.len(), 1);
        assert_eq!(parsed.posts[0].engagement, None);
    }

    #[test]
    fn malformed_listings_are_permanent_errors() {
        for body in [
            &b"<html>blocked</html>"[..],
            br#"{"kind":"Listing"}"#,
            br#"{"kind":"Listing","data":{"children":[{"kind":"t3","data":{"title":"no name"}}]}}"#,
        ] {
            let err = parse(body, "r").expect_err("malformed");
            assert!(
                matches!(&err, SourceError::Permanent(m) if m.starts_with("malformed reddit listing")),
                "{err:?}"
            );
        }
    }

    #[test]
    fn token_answers() {
        let token = parse_token(&fixture("token.json")).expect("token");
        assert!(token.access_token.expose().ends_with(".TOKEN-ONE"));
        assert_eq!(token.expires_in.as_secs(), 86400);
        let err = parse_token(br#"{"error": "invalid_grant"}"#).expect_err("refused");
        assert_eq!(
            err,
            SourceError::Permanent(
                "reddit refused the app's client_id/client_secret: invalid_grant".into()
            )
        );
        assert!(parse_token(b"{}").is_err());
        assert!(parse_token(b"nope").is_err());
    }

    #[test]
    fn handles_and_error_reasons() {
        assert_eq!(handle("/u/clara_dsn").as_deref(), Some("u/clara_dsn"));
        assert_eq!(handle("clara_dsn").as_deref(), Some("u/clara_dsn"));
        assert_eq!(handle("[deleted]"), None);
        assert_eq!(handle(""), None);
        assert_eq!(
            error_reason(&fixture("error-403.json")).as_deref(),
            Some("Forbidden, private")
        );
        assert_eq!(
            error_reason(&fixture("error-401.json")).as_deref(),
            Some("Unauthorized")
        );
        assert_eq!(error_reason(b"<html>"), None);
    }
}
