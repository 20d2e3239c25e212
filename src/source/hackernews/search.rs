//! Hacker News search results (Algolia's HN API) into posts: the pure half of the `hackernews`
//! source.
//!
//! `search_by_date` answers `{"hits": [...], "page", "nbPages", "hitsPerPage", …}`, newest first
//! (hn.algolia.com/api). A hit is a story (`title`, `url`, `story_text`, `points`,
//! `num_comments`) or a comment (`comment_text`, `story_id`, `parent_id`, `story_title`). Each
//! becomes a post: the item id, its permalink on news.ycombinator.com, the author's username,
//! the creation time, the text (a story's title then its text; a comment's HTML as plain text)
//! and the engagement (points + comments, where given). HN has no display names, followers or
//! languages. Requests, paging and the cursor are `poll`'s.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::post::Post;
use crate::source::text::html_to_text;
use crate::source::SourceError;

/// Where HN shows an item.
const ITEM_URL: &str = "https://news.ycombinator.com/item?id=";

/// One page of results.
#[derive(Debug, Deserialize)]
struct Response {
    hits: Vec<serde_json::Value>,
    #[serde(default)]
    page: u64,
    #[serde(default, rename = "nbPages")]
    nb_pages: u64,
}

/// The fields vigie reads from a hit; serde skips the others (`_highlightResult`, `_tags`…).
#[derive(Debug, Deserialize)]
struct Hit {
    #[serde(rename = "objectID")]
    object_id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    created_at_i: Option<i64>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    story_text: Option<String>,
    #[serde(default)]
    comment_text: Option<String>,
    #[serde(default)]
    points: Option<u64>,
    #[serde(default)]
    num_comments: Option<u64>,
    /// A comment's parent: the story or the comment it answers.
    #[serde(default)]
    parent_id: Option<u64>,
    /// The story a comment is under (a story's own id for a story).
    #[serde(default)]
    story_id: Option<u64>,
}

/// One page as posts.
#[derive(Debug, Default, PartialEq)]
pub struct Results {
    /// The hits that have a text, oldest first.
    pub posts: Vec<Post>,
    /// The newest `created_at_i` on the page: the next `numericFilters` bound.
    pub newest: Option<i64>,
    /// Whether a later page exists (`page + 1 < nbPages`).
    pub more: bool,
    /// Hits that did not read as hits (no `objectID`, a field of the wrong type), skipped.
    pub skipped: usize,
}

/// Parses one `search_by_date` page. A hit that does not read as one is skipped and counted,
/// so one odd item cannot stop a source; a body that is not a results page is an error.
pub fn parse(body: &[u8], source: &str) -> Result<Results, SourceError> {
    let response: Response = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed Hacker News search: {e}")))?;
    let listed = response.hits.len();
    let newest = response
        .hits
        .iter()
        .filter_map(|h| h.get("created_at_i")?.as_i64())
        .max();
    let hits: Vec<Hit> = response
        .hits
        .into_iter()
        .filter_map(|h| serde_json::from_value(h).ok())
        .collect();
    let skipped = listed - hits.len();
    let mut posts: Vec<(Option<i64>, Post)> = hits
        .into_iter()
        .filter_map(|h| Some((h.created_at_i, post(h, source)?)))
        .collect();
    posts.sort_by_key(|(at, _)| *at);
    Ok(Results {
        posts: posts.into_iter().map(|(_, p)| p).collect(),
        newest,
        more: response.page + 1 < response.nb_pages,
        skipped,
    })
}

/// The post of a hit; `None` for a hit with no text at all (a deleted comment).
fn post(h: Hit, source: &str) -> Option<Post> {
    let title = h.title.as_deref().map(str::trim).unwrap_or_default();
    let body = h
        .comment_text
        .as_deref()
        .or(h.story_text.as_deref())
        .map(html_to_text)
        .unwrap_or_default();
    let text = match (title.is_empty(), body.is_empty()) {
        (true, true) => return None,
        (false, false) => format!("{title}\n{body}"),
        (false, true) => title.to_string(),
        (true, false) => body,
    };
    let created_at = h
        .created_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc())
        .or_else(|| DateTime::<Utc>::from_timestamp(h.created_at_i?, 0))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    let engagement = match (h.points, h.num_comments) {
        (None, None) => None,
        (p, c) => Some(p.unwrap_or(0) + c.unwrap_or(0)),
    };
    // The thread is the story: a story's own id, a comment's `story_id`.
    let thread = match h.story_id {
        Some(story) => format!("hn:{story}"),
        None => format!("hn:{}", h.object_id),
    };
    Some(Post {
        url: Some(format!("{ITEM_URL}{}", h.object_id)),
        in_reply_to: h.parent_id.map(|p| p.to_string()),
        thread: Some(thread),
        id: Some(h.object_id),
        source: Some(source.to_string()),
        text,
        author: h.author.filter(|a| !a.is_empty()),
        author_name: None,
        created_at,
        lang: None,
        followers: None,
        engagement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/hackernews/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn stories_and_comments_become_posts() {
        let page = parse(&fixture("search-first.json"), "hn").unwrap();
        assert_eq!(page.newest, Some(1_795_338_840));
        assert!(!page.more);
        let ids: Vec<_> = page
            .posts
            .iter()
            .map(|p| p.id.as_deref().unwrap())
            .collect();
        assert_eq!(ids, ["42199000", "42200100", "42200310"], "oldest first");
        let ask = &page.posts[1];
        assert_eq!(
            ask,
            &Post {
                id: Some("42200100".into()),
                source: Some("hn".into()),
                text: "Ask HN: Is Posteo's parcel service reliable?\nColis perdu deux fois ce \
                       mois-ci.\n\nLe service client ne répond pas, is that normal?"
                    .into(),
                author: Some("mdupont".into()),
                author_name: None,
                url: Some("https://news.ycombinator.com/item?id=42200100".into()),
                created_at: Some("2026-11-22T08:40:00Z".into()),
                lang: None,
                followers: None,
                engagement: Some(23),
                in_reply_to: None,
                thread: Some("hn:42200100".into()),
            }
        );
        // A comment's HTML and entities become text; no points or comment count: no engagement.
        let comment = &page.posts[2];
        assert_eq!(
            comment.text,
            "Same here with Posteo's parcel service: mon colis est en retard depuis lundi and \
             support only says \"en cours d'acheminement\".\n\nAnyone got a réclamation through?"
        );
        assert_eq!(comment.engagement, None);
        // A comment answers its parent, under its story.
        assert_eq!(comment.in_reply_to.as_deref(), Some("42200290"));
        assert_eq!(comment.thread.as_deref(), Some("hn:42200100"));
        // A link story is its title.
        assert_eq!(
            page.posts[0].text,
            "Posteo raises parcel prices, delivery delays expected"
        );
    }

    #[test]
    fn empty_malformed_and_deleted() {
        let page = parse(&fixture("search-empty.json"), "hn").unwrap();
        assert_eq!(page, Results::default());
        let err = parse(&fixture("malformed.json"), "hn").unwrap_err();
        assert!(
            matches!(&err, SourceError::Permanent(m) if m.starts_with("malformed Hacker News search")),
            "{err:?}"
        );
        // A deleted comment has no text: no post, but its time still moves the cursor.
        let body = br#"{"hits": [{"objectID": "7", "created_at_i": 9, "comment_text": null}],
                        "page": 0, "nbPages": 3}"#;
        let page = parse(body, "hn").unwrap();
        assert_eq!(
            (page.posts.len(), page.newest, page.more),
            (0, Some(9), true)
        );
        // Without `created_at`, the time comes from `created_at_i`.
        let body = br#"{"hits": [{"objectID": "8", "created_at_i": 1795338840, "title": "t"}]}"#;
        let page = parse(body, "hn").unwrap();
        assert_eq!(
            page.posts[0].created_at.as_deref(),
            Some("2026-11-22T09:14:00Z")
        );
    }
}
