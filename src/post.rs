//! `Post`: the one type every stage shares (SPEC §7).
//!
//! A source produces posts, the matcher reads them, the store writes them, `match`, `replay` and
//! the `jsonl` source read them from JSON lines. Only `text` is required on input; the other
//! fields are optional so that `vigie match` can take a bare `{"text": "…"}`. This module owns the
//! shape and the JSON form only: normalising the text is `normalize`'s job, and checking that a
//! replayed post has an `id` and a `created_at` is `replay`'s.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// One message from one source: a toot, a forum post, a review, a feed item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// The source's own id for the post (unique within the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The configured source name that produced the post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The post's text, as plain text (sources turn HTML into text before this point).
    pub text: String,
    /// The author's handle or name, as the source gives it (`@alice`, `alice@mastodon.social`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The author's display name, when the platform gives one besides the handle (`Alice
    /// Martin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// A link to the post on its platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The post's own creation time, RFC 3339 (event time for alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// The language the source reports, if any (`fr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// The author's follower count, if the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub followers: Option<u64>,
    /// The post's engagement, likes + reposts + replies, if the platform gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<u64>,
    /// The id of the post this one answers, in the source's own ids (SPEC §7: Mastodon
    /// `in_reply_to_id`, Bluesky `reply.parent`, X `referenced_tweets` "replied_to", Discourse
    /// `reply_to_post_number`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// The thread the post belongs to, as a key that is the same wherever the thread is seen and
    /// unique across platforms: the root post's URI or URL (a Mastodon status `uri`, a Bluesky
    /// `at://` URI, a Discourse topic URL) or a platform-prefixed id (`x:conversation_id`). Set by
    /// sources that know it; otherwise the store follows `in_reply_to` through the posts it holds
    /// (SPEC §5.1: one case per thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

/// Bytes read from a file or a pipe (a line of posts) as text: borrowed when they are valid
/// UTF-8, with each invalid sequence replaced by U+FFFD otherwise, so a bad byte costs one
/// character and not the line.
///
/// Same result as `String::from_utf8_lossy`, whose check runs at well under 1 GB/s on French text
/// (every accent and emoji leaves its ASCII fast path); `simdutf8` checks the valid case with SIMD.
pub fn decode_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl Post {
    /// A post with only a text, as `vigie match "…"` builds it.
    pub fn from_text(text: impl Into<String>) -> Post {
        Post {
            text: text.into(),
            ..Post::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes that are mostly pieces of French UTF-8 (accents, emoji, curly quotes), cut anywhere
    /// and mixed with stray bytes, so both the valid and the broken cases come up often.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"colis ".to_vec()),
            Just("réclamation ".as_bytes().to_vec()),
            Just("📦 ".as_bytes().to_vec()),
            Just("l’œuf ".as_bytes().to_vec()),
            Just("é".as_bytes()[..1].to_vec()),
            Just("📦".as_bytes()[..3].to_vec()),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn decode_lossy_is_from_utf8_lossy(bytes in bytes()) {
            let ours = decode_lossy(&bytes);
            prop_assert_eq!(&ours, &String::from_utf8_lossy(&bytes));
            prop_assert_eq!(matches!(ours, Cow::Borrowed(_)), std::str::from_utf8(&bytes).is_ok());
        }
    }

    #[test]
    fn the_spec_example_reads_whole() {
        // SPEC §7's example line, every field kept.
        let line = r#"{"id": "113", "source": "mastodon-fr", "text": "Mon colis est en retard",
            "author": "@alice", "author_name": "Alice Martin", "url": "https://x.example/113",
            "created_at": "2026-11-22T09:14:00Z", "lang": "fr", "followers": 120,
            "engagement": 7, "in_reply_to": "112"}"#;
        let post: Post = serde_json::from_str(line).expect("a post");
        assert_eq!(
            (post.author_name.as_deref(), post.followers, post.engagement),
            (Some("Alice Martin"), Some(120), Some(7))
        );
        let back = serde_json::to_value(&post).expect("json");
        assert_eq!(back["engagement"], 7);
        assert_eq!(post.in_reply_to.as_deref(), Some("112"));
        assert_eq!(back["in_reply_to"], "112");
        assert!(back.get("thread").is_none());
        assert!(Post::from_text("x").engagement.is_none());
    }

    #[test]
    fn decode_lossy_replaces_each_bad_sequence_once() {
        // A stray continuation byte, a truncated 3-byte sequence, an overlong `/`, a surrogate
        // and a truncated emoji at the end: one U+FFFD each (the overlong and the surrogate one
        // per byte, as the Unicode "maximal subpart" rule says), the text around them kept.
        let bytes = b"a\x80b \xe2\x80 c \xc0\xaf d \xed\xa0\x80 e \xf0\x9f\x93";
        assert_eq!(
            decode_lossy(bytes),
            "a\u{fffd}b \u{fffd} c \u{fffd}\u{fffd} d \u{fffd}\u{fffd}\u{fffd} e \u{fffd}"
        );
        assert!(matches!(
            decode_lossy("colis abîmé 📦".as_bytes()),
            Cow::Borrowed(_)
        ));
    }
}
