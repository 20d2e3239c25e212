//! Mastodon statuses (the API's JSON) into posts: the pure half of the `mastodon` source.
//!
//! A timeline is a JSON array of `Status` entities, newest first (docs.joinmastodon.org,
//! entities/Status). Each status becomes a post with every SPEC §7 field the entity gives: the
//! instance's id, the permalink (`url`, else the ActivityPub `uri`), the author as `@acct` (local
//! accounts qualified with the instance's host, so `@bob` on two instances stays two people), the
//! display name, followers, language, creation time, the text (content warning, then the HTML
//! content as plain text) and the engagement (replies + boosts + favourites). A boost (`reblog`
//! set) is not a new post: it is skipped, though its id still moves the cursor. Thread fields:
//! `in_reply_to` is the status's `in_reply_to_id` (an id of this instance, like `id`), and a
//! status that answers nothing is the root of its own thread, keyed by its `uri` (its ActivityPub
//! id, the same on every server, where `id` is local); a reply's root is looked up by `thread`.
//! Requests, paging and the cursor are `poll`'s.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat};
use serde::Deserialize;

use crate::post::Post;
use crate::source::text::html_to_text;
use crate::source::SourceError;

/// The fields vigie reads from a `Status`; the API sends many more, which serde skips.
#[derive(Debug, Deserialize)]
struct Status {
    id: String,
    #[serde(default)]
    created_at: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    replies_count: Option<u64>,
    #[serde(default)]
    reblogs_count: Option<u64>,
    #[serde(default)]
    favourites_count: Option<u64>,
    #[serde(default)]
    spoiler_text: String,
    #[serde(default)]
    content: String,
    /// Only whether it is set matters: a boost is skipped whole.
    #[serde(default)]
    reblog: Option<serde::de::IgnoredAny>,
    account: Account,
}

/// The fields vigie reads from an `Account`.
#[derive(Debug, Deserialize)]
struct Account {
    acct: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    followers_count: Option<u64>,
}

/// One timeline page as posts.
#[derive(Debug, Default, PartialEq)]
pub struct Statuses {
    /// The page's statuses that are not boosts, oldest first.
    pub posts: Vec<Post>,
    /// How many statuses the page listed, boosts included (a full page means more may follow).
    pub listed: usize,
    /// The newest status id on the page, boosts included: the next `min_id`.
    pub newest: Option<String>,
    /// The oldest status id on the page, boosts included: where a `since_id` catch-up stops.
    pub oldest: Option<String>,
    /// Statuses that did not read as statuses, skipped.
    pub skipped: usize,
}

/// Orders two status ids. Mastodon's are decimal snowflakes and other servers' (Pleroma,
/// Akkoma) fixed-width sortable strings, so the longer is newer, then the greater.
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Parses a timeline page from the instance at host `host` (for local handles). A status that
/// does not read as one (a field of the wrong type) is skipped and counted, so one odd status
/// cannot stop a source; a body that is not a JSON array is an error.
pub fn parse(body: &[u8], source: &str, host: &str) -> Result<Statuses, SourceError> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| SourceError::Permanent(format!("malformed Mastodon timeline: {e}")))?;
    let listed = items.len();
    let ids = || items.iter().filter_map(|s| s.get("id")?.as_str());
    let newest = ids().max_by(|a, b| cmp_ids(a, b)).map(str::to_string);
    let oldest = ids().min_by(|a, b| cmp_ids(a, b)).map(str::to_string);
    let statuses: Vec<Status> = items
        .into_iter()
        .filter_map(|s| serde_json::from_value(s).ok())
        .collect();
    let skipped = listed - statuses.len();
    let mut posts: Vec<Post> = statuses
        .into_iter()
        .filter(|s| s.reblog.is_none())
        .map(|s| post(s, source, host))
        .collect();
    posts.sort_by(|a, b| cmp_ids(a.id.as_deref().unwrap_or(""), b.id.as_deref().unwrap_or("")));
    Ok(Statuses {
        posts,
        listed,
        newest,
        oldest,
        skipped,
    })
}

fn post(s: Status, source: &str, host: &str) -> Post {
    let content = html_to_text(&s.content);
    let warning = s.spoiler_text.trim();
    let text = match (warning.is_empty(), content.is_empty()) {
        (true, _) => content,
        (false, true) => warning.to_string(),
        (false, false) => format!("{warning}\n{content}"),
    };
    let author = if s.account.acct.contains('@') || host.is_empty() {
        format!("@{}", s.account.acct)
    } else {
        format!("@{}@{host}", s.account.acct)
    };
    let in_reply_to = s.in_reply_to_id.filter(|i| !i.is_empty());
    // A status that answers nothing starts its thread; a reply's root is `thread`'s to find.
    let thread = match in_reply_to {
        None => s.uri.clone().filter(|u| !u.is_empty()),
        Some(_) => None,
    };
    let counts = [s.replies_count, s.reblogs_count, s.favourites_count];
    let engagement = counts
        .iter()
        .any(Option::is_some)
        .then(|| counts.iter().flatten().sum());
    Post {
        id: Some(s.id),
        source: Some(source.to_string()),
        text,
        author: Some(author),
        author_name: Some(s.account.display_name.trim().to_string()).filter(|n| !n.is_empty()),
        url: s.url.filter(|u| !u.is_empty()).or(s.uri),
        created_at: DateTime::parse_from_rfc3339(&s.created_at)
            .ok()
            .map(|t| t.to_utc().to_rfc3339_opts(SecondsFormat::Secs, true)),
        lang: s.language.filter(|l| !l.is_empty()),
        followers: s.account.followers_count,
        engagement,
        in_reply_to,
        thread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/mastodon/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_tag_timeline_becomes_posts_with_every_field() {
        let page = parse(&fixture("tag-first.json"), "masto", "mastodon.example").unwrap();
        // Three statuses listed, one of them a boost: two posts, oldest first.
        assert_eq!(page.listed, 3);
        assert_eq!(page.newest.as_deref(), Some("113512000000000300"));
        let ids: Vec<_> = page
            .posts
            .iter()
            .map(|p| p.id.as_deref().unwrap())
            .collect();
        assert_eq!(ids, ["113511999000000200", "113512000000000300"]);
        let alice = &page.posts[1];
        assert_eq!(
            alice,
            &Post {
                id: Some("113512000000000300".into()),
                source: Some("masto".into()),
                text: "Mon #colis est en retard depuis lundi, l'appli #posteo dit \"en cours \
                       d’acheminement\".\n\nScandaleux."
                    .into(),
                author: Some("@alice@piaille.example".into()),
                author_name: Some("Alice Martin".into()),
                url: Some("https://piaille.example/@alice/113512000000000300".into()),
                created_at: Some("2026-11-22T09:14:00Z".into()),
                lang: Some("fr".into()),
                followers: Some(120),
                engagement: Some(17),
                in_reply_to: None,
                thread: Some("https://piaille.example/users/alice/statuses/113512000000000300".into()),
            }
        );
        // A local account is qualified with the instance; an empty display name is no name.
        let bob = &page.posts[0];
        assert_eq!(bob.author.as_deref(), Some("@bob@mastodon.example"));
        assert_eq!(bob.author_name, None);
    }

    #[test]
    fn content_warnings_and_mentions_are_text() {
        let page = parse(&fixture("tag-newer.json"), "masto", "mastodon.example").unwrap();
        let texts: Vec<_> = page.posts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Retard de courrier #posteo\nLa lettre recommandée n'est jamais arrivée.",
                "Réponse du @posteo_aide :\nmon colis est bloqué au centre de tri, \
                 «\u{a0}incident d'acheminement\u{a0}».",
            ]
        );
        assert_eq!(page.newest.as_deref(), Some("113512000000000500"));
    }

    #[test]
    fn an_empty_page_and_a_broken_one() {
        assert_eq!(parse(b"[]", "m", "h").unwrap(), Statuses::default());
        // One status that does not read is skipped, not the page; its id still counts.
        let body =
            br#"[{"id": "12", "account": 3}, {"id": "11", "uri": "u", "account": {"acct": "a"}}]"#;
        let page = parse(body, "m", "h").unwrap();
        assert_eq!((page.listed, page.skipped, page.posts.len()), (2, 1, 1));
        assert_eq!(page.newest.as_deref(), Some("12"));
        let err = parse(&fixture("malformed.json"), "m", "h").unwrap_err();
        assert!(
            matches!(&err, SourceError::Permanent(m) if m.starts_with("malformed Mastodon timeline")),
            "{err:?}"
        );
        // The error body of a refused request is not a timeline.
        assert!(parse(&fixture("error-401.json"), "m", "h").is_err());
    }

    #[test]
    fn replies_name_their_parent_and_roots_their_own_uri() {
        let page = parse(&fixture("tag-replies.json"), "m", "mastodon.example").unwrap();
        let fields: Vec<_> = page
            .posts
            .iter()
            .map(|p| (p.id.as_deref().unwrap(), p.in_reply_to.as_deref(), p.thread.as_deref()))
            .collect();
        assert_eq!(
            fields,
            [
                (
                    "113512000000000620",
                    None,
                    Some("https://piaille.example/users/alice/statuses/113512003000000100")
                ),
                // A reply's root is not on the page: `thread` looks it up.
                ("113512000000000650", Some("113512000000000600"), None),
                ("113512000000000700", Some("113512000000000600"), None),
            ]
        );
        assert_eq!(page.oldest.as_deref(), Some("113512000000000620"));
    }

    #[test]
    fn ids_order_by_length_then_bytes() {
        assert_eq!(cmp_ids("99", "100"), Ordering::Less);
        assert_eq!(
            cmp_ids("113512000000000300", "113511999000000200"),
            Ordering::Greater
        );
        assert_eq!(
            cmp_ids("AQqoTTXFhCJEg55sIq", "AQqoTTXFhCJEg55sIq"),
            Ordering::Equal
        );
    }
}
