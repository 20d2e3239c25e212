//! Reddit's Atom feeds (`/r/{subs}/new/.rss`, `/r/{subs}/search.rss`), parsed without I/O.
//!
//! Reddit writes every entry the same way: `<id>` is the link's fullname (`t3_1h8k2qa`, the same
//! id as the JSON listings), `<author><name>` is `/u/name`, and `<content type="html">` wraps the
//! self text between `<!-- SC_OFF -->` and `<!-- SC_ON -->`, followed by a "submitted by /u/…
//! [link] [comments]" trailer (a link post has only the trailer and a thumbnail). The post's text
//! is the title and the self text, without the trailer, whose words would otherwise be matched.
//! Feeds carry no score, comment count or follower count. Fetching is `poll`'s.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chrono::SecondsFormat;

use super::listing::{handle, Parsed};
use crate::post::Post;
use crate::source::text::html_to_text;
use crate::source::SourceError;

/// Parses a Reddit Atom feed into posts of `source`, oldest first.
pub fn parse(body: &[u8], source: &str) -> Result<Parsed, SourceError> {
    let feed = match catch_unwind(AssertUnwindSafe(|| feed_rs::parser::parse(body))) {
        Ok(Ok(feed)) => feed,
        Ok(Err(e)) => {
            return Err(SourceError::Permanent(format!(
                "malformed reddit feed: {e}"
            )))
        }
        Err(_) => {
            return Err(SourceError::Permanent(
                "malformed reddit feed: the feed parser crashed on this document".into(),
            ))
        }
    };
    let newest = feed.entries.first().map(|e| e.id.clone());
    let mut posts: Vec<Post> = Vec::with_capacity(feed.entries.len());
    for entry in feed.entries.iter().rev() {
        if entry.id.is_empty() || posts.iter().any(|p| p.id.as_deref() == Some(&entry.id)) {
            continue;
        }
        posts.push(post(entry, source));
    }
    Ok(Parsed { posts, newest })
}

fn post(e: &feed_rs::model::Entry, source: &str) -> Post {
    let title = e
        .title
        .as_ref()
        .map(|t| html_to_text(&t.content))
        .unwrap_or_default();
    let body = e
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(self_text)
        .unwrap_or_default();
    let text = match (title.is_empty(), body.is_empty()) {
        (false, false) => format!("{title}\n{body}"),
        (false, true) => title,
        _ => body,
    };
    let url = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone());
    Post {
        id: Some(e.id.clone()),
        source: Some(source.to_string()),
        text,
        author: e.authors.first().and_then(|a| handle(a.name.as_deref()?)),
        author_name: None,
        url,
        created_at: e
            .published
            .or(e.updated)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        lang: None,
        followers: None,
        engagement: None,
        in_reply_to: None,
        thread: None,
    }
}

/// The self text of an entry's HTML content: what lies between Reddit's `SC_OFF` and `SC_ON`
/// markers, as plain text; empty for a link post, whose content is only the trailer.
fn self_text(html: &str) -> String {
    let Some((_, rest)) = html.split_once("<!-- SC_OFF -->") else {
        return String::new();
    };
    let inner = rest
        .split_once("<!-- SC_ON -->")
        .map_or(rest, |(inner, _)| inner);
    html_to_text(inner)
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
    fn feed_entries_become_posts_without_the_trailer() {
        let parsed = parse(&fixture("new.atom.xml"), "reddit-fr").expect("parses");
        assert_eq!(parsed.newest.as_deref(), Some("t3_1h8k2qa"));
        let ids: Vec<_> = parsed.posts.iter().map(|p| p.id.as_deref()).collect();
        assert_eq!(
            ids,
            [Some("t3_1h8jw3m"), Some("t3_1h8jzx1"), Some("t3_1h8k2qa")],
            "oldest first, ids as in the JSON listings"
        );
        let p = &parsed.posts[2];
        assert_eq!(p.author.as_deref(), Some("u/clara_dsn"));
        assert_eq!(
            p.url.as_deref(),
            Some(
                "https://www.reddit.com/r/AskFrance/comments/1h8k2qa/colis_bloque_depuis_9_jours/"
            )
        );
        assert_eq!(p.created_at.as_deref(), Some("2026-12-06T09:12:30Z"));
        assert_eq!(
            p.text,
            "Colis bloqué depuis 9 jours\nMon colis est bloqué « en cours d'acheminement » \
             depuis 9 jours, le service client ne répond plus. Quelqu'un a déjà fait une \
             réclamation ?"
        );
        // A link post: its title only, not "submitted by … [link] [comments]".
        assert_eq!(
            parsed.posts[1].text,
            "Livraisons en retard avant Noël : les colis s'accumulent"
        );
        assert!(parsed.posts.iter().all(|p| !p.text.contains("submitted")));
    }

    #[test]
    fn empty_and_malformed_feeds() {
        assert_eq!(
            parse(&fixture("empty.atom.xml"), "r").expect("parses"),
            Parsed::default()
        );
        let err = parse(b"<html><body>Too Many Requests", "r").expect_err("malformed");
        assert!(
            matches!(&err, SourceError::Permanent(m) if m.starts_with("malformed reddit feed")),
            "{err:?}"
        );
    }
}
