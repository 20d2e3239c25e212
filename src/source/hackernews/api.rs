//! The `hackernews` source's requests: Algolia's `search_by_date`, forward from the last item.
//!
//! One request asks for the newest [`HITS_PER_PAGE`] stories and comments matching the query
//! (`tags` ORed: `(story,comment)`), newer than the stored `created_at_i`
//! (`numericFilters=created_at_i>…`; the cursor's position is `{"created_at_i": 1795338840}`).
//! When more matched than a page holds, the next pages follow (`page=1…`) up to [`MAX_PAGES`],
//! so a busy query catches up in one poll; a first poll reads one page of history. Algolia
//! allows 10,000 requests an hour per IP and sends no rate-limit headers.
//!
//! Turning hits into posts is `search`'s; fetching is `source::fetch`'s.

use serde::{Deserialize, Serialize};

/// Where Hacker News search lives (`base_url` overrides it, for tests and mirrors).
pub const DEFAULT_BASE_URL: &str = "https://hn.algolia.com";

/// Hits asked per request (Algolia's HN index serves up to 1,000 hits per query, in pages).
pub const HITS_PER_PAGE: u32 = 100;

/// Pages one poll reads while catching up: Algolia stops paging at 1,000 hits anyway.
pub const MAX_PAGES: u32 = 10;

/// Tags searched when the config gives none.
pub const DEFAULT_TAGS: &[&str] = &["story", "comment"];

/// The cursor's position: the creation time (Unix seconds) of the newest item seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Algolia's `created_at_i` of the newest item seen.
    pub created_at_i: i64,
}

impl Position {
    /// Reads a cursor's position; an unreadable one starts afresh.
    pub fn decode(position: Option<&str>) -> Option<Position> {
        serde_json::from_str(position?).ok()
    }

    /// The position to store.
    pub fn encode(self) -> String {
        serde_json::to_string(&self).unwrap_or_default()
    }
}

/// The search URL for `query` and `tags` (ORed), items newer than `since`, page `page`.
pub fn search_url(
    base: &url::Url,
    query: &str,
    tags: &[String],
    since: Option<Position>,
    page: u32,
) -> url::Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    // A base URL is http(s), which always has path segments.
    url.path_segments_mut()
        .expect("http(s) URL")
        .pop_if_empty()
        .extend(["api", "v1", "search_by_date"]);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("query", query);
        let tags: Vec<&str> = if tags.is_empty() {
            DEFAULT_TAGS.to_vec()
        } else {
            tags.iter().map(String::as_str).collect()
        };
        q.append_pair("tags", &format!("({})", tags.join(",")));
        q.append_pair("hitsPerPage", &HITS_PER_PAGE.to_string());
        if let Some(since) = since {
            q.append_pair(
                "numericFilters",
                &format!("created_at_i>{}", since.created_at_i),
            );
        }
        if page > 0 {
            q.append_pair("page", &page.to_string());
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_urls() {
        let base = url::Url::parse(DEFAULT_BASE_URL).unwrap();
        assert_eq!(
            search_url(&base, "posteo colis", &[], None, 0).as_str(),
            "https://hn.algolia.com/api/v1/search_by_date?query=posteo+colis\
             &tags=%28story%2Ccomment%29&hitsPerPage=100"
        );
        let since = Some(Position {
            created_at_i: 1_795_338_840,
        });
        let local = url::Url::parse("http://127.0.0.1:9/hn/").unwrap();
        assert_eq!(
            search_url(&local, "q", &["comment".into()], since, 2).as_str(),
            "http://127.0.0.1:9/hn/api/v1/search_by_date?query=q&tags=%28comment%29\
             &hitsPerPage=100&numericFilters=created_at_i%3E1795338840&page=2"
        );
    }

    #[test]
    fn positions_round_trip() {
        let p = Position {
            created_at_i: 1_795_338_840,
        };
        assert_eq!(p.encode(), r#"{"created_at_i":1795338840}"#);
        assert_eq!(Position::decode(Some(&p.encode())), Some(p));
        assert_eq!(Position::decode(Some("{}")), None);
        assert_eq!(Position::decode(None), None);
    }
}
