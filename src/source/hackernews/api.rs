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

/// The cursor's position: the creation time (Unix seconds) of the newest item seen, and of
/// the newest item of the brand's accounts (`{"created_at_i": 1795338840, "brand": 1795339000}`;
/// a cursor from before `brand` reads as no brand item seen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Algolia's `created_at_i` of the newest item seen.
    pub created_at_i: i64,
    /// The `created_at_i` of the newest item by a brand account seen, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<i64>,
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

/// The search for the items of the brand's accounts (HN usernames), newer than `since`: no
/// query, stories and comments (`tags=(story,comment),(author_a,author_b)`: Algolia ANDs the
/// groups and ORs inside each), one page.
pub fn brand_url(base: &url::Url, names: &[String], since: Option<i64>) -> url::Url {
    let mut url = search_url(base, "", &[], None, 0);
    let authors: Vec<String> = names.iter().map(|n| format!("author_{n}")).collect();
    url.query_pairs_mut().clear();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("query", "")
            .append_pair(
                "tags",
                &format!("({}),({})", DEFAULT_TAGS.join(","), authors.join(",")),
            )
            .append_pair("hitsPerPage", &HITS_PER_PAGE.to_string());
        if let Some(since) = since {
            q.append_pair("numericFilters", &format!("created_at_i>{since}"));
        }
    }
    url
}

/// The HN usernames among `brand_accounts` (`@posteo` is `posteo`; `name@server`, a Mastodon
/// account, is none).
pub fn usernames(brand_accounts: &[String]) -> Vec<String> {
    brand_accounts
        .iter()
        .map(|h| h.trim().trim_start_matches('@'))
        .filter(|n| {
            (2..=15).contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .map(str::to_string)
        .collect()
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
            brand: None,
        });
        let local = url::Url::parse("http://127.0.0.1:9/hn/").unwrap();
        assert_eq!(
            search_url(&local, "q", &["comment".into()], since, 2).as_str(),
            "http://127.0.0.1:9/hn/api/v1/search_by_date?query=q&tags=%28comment%29\
             &hitsPerPage=100&numericFilters=created_at_i%3E1795338840&page=2"
        );
    }

    #[test]
    fn brand_searches() {
        let base = url::Url::parse(DEFAULT_BASE_URL).unwrap();
        let names = usernames(&["@posteo_fr".into(), "support".into(), "a@b.social".into()]);
        assert_eq!(names, ["posteo_fr", "support"]);
        assert_eq!(
            brand_url(&base, &names, Some(1_795_339_000)).as_str(),
            "https://hn.algolia.com/api/v1/search_by_date?query=\
             &tags=%28story%2Ccomment%29%2C%28author_posteo_fr%2Cauthor_support%29\
             &hitsPerPage=100&numericFilters=created_at_i%3E1795339000"
        );
    }

    #[test]
    fn positions_round_trip() {
        let p = Position {
            created_at_i: 1_795_338_840,
            brand: None,
        };
        assert_eq!(p.encode(), r#"{"created_at_i":1795338840}"#);
        let b = Position {
            brand: Some(1_795_339_000),
            ..p
        };
        assert_eq!(b.encode(), r#"{"created_at_i":1795338840,"brand":1795339000}"#);
        assert_eq!(Position::decode(Some(&b.encode())), Some(b));
        assert_eq!(Position::decode(Some(&p.encode())), Some(p));
        assert_eq!(Position::decode(Some("{}")), None);
        assert_eq!(Position::decode(None), None);
    }
}
