//! Reddit's Atom feeds (`/r/{subs}/new/.rss`, `/r/{subs}/search.rss`), parsed without I/O.
//!
//! Reddit writes every entry the same way: `<id>` is the link's fullname (`t3_1h8k2qa`, the same
//! id as the JSON listings), `<author><name>` is `/u/name`, and `<content type="html">` wraps the
//! self text between `<!-- SC_OFF -->` and `<!-- SC_ON -->`, followed by a "submitted by /u/…
//! [link] [comments]" trailer (a link post has only the trailer and a thumbnail). The post's text
//! is the title and the self text, without the trailer, whose words would otherwise be matched.
//! Feeds carry no score, comment count or follower count. Fetching is `poll`'s.
//!
//! A user's comments feed (`/user/{name}/comments/.rss`, the brand's replies) has comments:
//! `<id>` is the comment's fullname (`t1_…`), its title (`/u/name on {link title}`) is left out
//! of the text, and its thread is the link in its permalink (`/comments/{id36}/…`). Feeds do not
//! say which comment a comment answers: `in_reply_to` is left empty, the thread is enough.

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
    let url = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.clone());
    let comment = e.id.starts_with("t1_");
    let text = if comment {
        // A comment's title is "/u/name on {the link's title}": not what the comment says.
        match e.content.as_ref().and_then(|c| c.body.as_deref()) {
            Some(html) if html.contains("<!-- SC_OFF -->") => body,
            Some(html) => html_to_text(html),
            None => String::new(),
        }
    } else {
        match (title.is_empty(), body.is_empty()) {
            (false, false) => format!("{title}\n{body}"),
            (false, true) => title,
            _ => body,
        }
    };
    let thread = if comment {
        url.as_deref().and_then(link_of).map(|l| format!("reddit:t3_{l}"))
    } else {
        Some(format!("reddit:{}", e.id))
    };
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
        thread,
    }
}

/// The link's base-36 id in a permalink: `…/comments/{id36}/…`.
fn link_of(permalink: &str) -> Option<&str> {
    let (_, rest) = permalink.split_once("/comments/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(id)
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
    fn links_are_threads_and_comments_of_a_user_feed_are_in_their_link() {
        let parsed = parse(&fixture("new.atom.xml"), "r").expect("parses");
        assert_eq!(parsed.posts[2].thread.as_deref(), Some("reddit:t3_1h8k2qa"));
        let parsed = parse(&fixture("user-comments.atom.xml"), "r").expect("parses");
        assert_eq!(parsed.newest.as_deref(), Some("t1_m0k3x7b"));
        let reply = &parsed.posts[1];
        assert_eq!(reply.id.as_deref(), Some("t1_m0k3x7b"));
        assert_eq!(reply.author.as_deref(), Some("u/Posteo_Officiel"));
        assert_eq!(reply.thread.as_deref(), Some("reddit:t3_1h8k2qa"));
        assert_eq!(reply.in_reply_to, None, "feeds do not say");
        assert!(
            reply.text.starts_with("Bonjour, nous sommes désolés") && !reply.text.contains(" on "),
            "{}",
            reply.text
        );
        assert_eq!(link_of("https://www.reddit.com/r/a/comments/1h8fq20/x/m0k2p9d/"), Some("1h8fq20"));
        assert_eq!(link_of("https://www.reddit.com/r/a/"), None);
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
