//! What both Bluesky modes share: an `app.bsky.feed.post` record turned into a [`Post`].
//!
//! Search results (`PostView.record`) and Jetstream commits (`commit.record`) carry the same
//! record; this module owns that record's shape (text, `createdAt`, `langs`, `reply`), the
//! at-URI of a post, its permalink on bsky.app and the time format. Threads come from the
//! record's `reply` (`app.bsky.feed.post#replyRef`: strong refs to the thread's `root` and the
//! `parent`): `in_reply_to` is the parent's at-URI (the id space of post ids), `thread` the
//! root's, or the post's own URI when it answers nothing. At-URIs are global, so the thread
//! key is the same from search, Jetstream or an author feed. Who the author is (a handle
//! from a `PostView`, a DID from Jetstream) is each mode's business.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::post::Post;

/// The collection of posts, as at-URIs and Jetstream commits name it.
pub const POST_COLLECTION: &str = "app.bsky.feed.post";

/// An `app.bsky.feed.post` record: the fields vigie reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRecord {
    /// The post's text (plain text: links and mentions are facets over it).
    #[serde(default)]
    pub text: String,
    /// When the author's client says it was written (RFC 3339, often with milliseconds).
    #[serde(default)]
    pub created_at: Option<String>,
    /// The languages the author's client declared (`["fr"]`), BCP 47.
    #[serde(default)]
    pub langs: Vec<String>,
    /// The thread it answers, when it is a reply.
    #[serde(default)]
    pub reply: Option<ReplyRef>,
}

/// `app.bsky.feed.post#replyRef`: the post a reply answers and its thread's first post.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplyRef {
    /// The thread's first post.
    #[serde(default)]
    pub root: Option<StrongRef>,
    /// The post answered.
    #[serde(default)]
    pub parent: Option<StrongRef>,
}

/// `com.atproto.repo.strongRef`: a record's at-URI (and its `cid`, which vigie does not need).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StrongRef {
    /// The record's at-URI.
    #[serde(default)]
    pub uri: String,
}

impl PostRecord {
    /// Whether the post is in one of `langs` (primary subtags, lowercase: `fr` takes `fr-FR`).
    /// Every post is when `langs` is empty; a post that declares no language is in none.
    pub fn in_langs(&self, langs: &[String]) -> bool {
        langs.is_empty()
            || self
                .langs
                .iter()
                .any(|l| langs.iter().any(|want| primary(l) == *want))
    }

    /// The post `uri` by `author`: the §7 fields a record gives. `author` is the handle
    /// (`@alice.bsky.social`) when known, else the DID; the permalink uses `profile` (a handle or
    /// a DID: bsky.app takes both).
    pub fn into_post(self, uri: &str, profile: &str, author: String) -> Post {
        let reply = self.reply.unwrap_or_default();
        let at = |r: Option<StrongRef>| r.map(|r| r.uri).filter(|u| !u.is_empty());
        let in_reply_to = at(reply.parent);
        // A reply without a readable root is still in its parent's thread: the store follows it.
        let thread = match (&in_reply_to, at(reply.root)) {
            (_, Some(root)) => Some(root),
            (None, None) => Some(uri.to_string()),
            (Some(_), None) => None,
        };
        Post {
            id: Some(uri.to_string()),
            in_reply_to,
            thread,
            url: permalink(profile, uri),
            author: Some(author),
            created_at: self.created_at.as_deref().and_then(rfc3339),
            lang: self.langs.first().map(|l| primary(l)),
            text: self.text,
            ..Post::default()
        }
    }
}

/// The lowercase primary subtag of a language tag: `fr-FR` → `fr`.
pub fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// `at://{did}/app.bsky.feed.post/{rkey}`.
pub fn post_uri(did: &str, rkey: &str) -> String {
    format!("at://{did}/{POST_COLLECTION}/{rkey}")
}

/// The post's page on bsky.app, `https://bsky.app/profile/{handle or did}/post/{rkey}`, when
/// `uri` is the at-URI of a post.
pub fn permalink(profile: &str, uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("at://")?;
    let mut parts = rest.split('/');
    let (_, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    (collection == POST_COLLECTION && !rkey.is_empty() && parts.next().is_none())
        .then(|| format!("https://bsky.app/profile/{profile}/post/{rkey}"))
}

/// An RFC 3339 time as vigie stores it (UTC, whole seconds); `None` when it is not one.
pub fn rfc3339(t: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
    Some(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permalink_table() {
        let table = [
            (
                "at://did:plc:abc/app.bsky.feed.post/3mptbyp7lu223",
                Some("https://bsky.app/profile/alice.bsky.social/post/3mptbyp7lu223"),
            ),
            ("at://did:plc:abc/app.bsky.feed.like/3mp", None),
            ("at://did:plc:abc/app.bsky.feed.post/", None),
            ("at://did:plc:abc/app.bsky.feed.post/a/b", None),
            ("https://bsky.app/x", None),
        ];
        for (uri, want) in table {
            assert_eq!(
                permalink("alice.bsky.social", uri).as_deref(),
                want,
                "uri={uri}"
            );
        }
    }

    #[test]
    fn replies_name_their_parent_and_root() {
        let reply: PostRecord = serde_json::from_str(
            r#"{"text": "t", "reply": {
                "root": {"cid": "bafyroot", "uri": "at://did:plc:a/app.bsky.feed.post/1"},
                "parent": {"cid": "bafyparent", "uri": "at://did:plc:b/app.bsky.feed.post/2"}}}"#,
        )
        .unwrap();
        let post = reply.into_post("at://did:plc:c/app.bsky.feed.post/3", "c", "@c".into());
        assert_eq!(
            post.in_reply_to.as_deref(),
            Some("at://did:plc:b/app.bsky.feed.post/2")
        );
        assert_eq!(
            post.thread.as_deref(),
            Some("at://did:plc:a/app.bsky.feed.post/1")
        );
        // A post that answers nothing starts its own thread.
        let own = "at://did:plc:c/app.bsky.feed.post/4";
        let post = PostRecord::default().into_post(own, "c", "@c".into());
        assert_eq!((post.in_reply_to, post.thread.as_deref()), (None, Some(own)));
    }

    #[test]
    fn langs_and_times() {
        let record = PostRecord {
            langs: vec!["fr-FR".into()],
            ..PostRecord::default()
        };
        assert!(record.in_langs(&["fr".into()]));
        assert!(record.in_langs(&[]));
        assert!(!record.in_langs(&["en".into()]));
        assert!(!PostRecord::default().in_langs(&["fr".into()]));
        assert_eq!(
            rfc3339("2026-07-04T14:38:06.240Z").as_deref(),
            Some("2026-07-04T14:38:06Z")
        );
        assert_eq!(
            rfc3339("2026-07-04T16:38:06+02:00").as_deref(),
            Some("2026-07-04T14:38:06Z")
        );
        assert_eq!(rfc3339("hier"), None);
    }
}
