//! `Post`: the one type every stage shares (SPEC §7).
//!
//! A source produces posts, the matcher reads them, the store writes them, `match`, `replay` and
//! the `jsonl` source read them from JSON lines. Only `text` is required on input; the other
//! fields are optional so that `vigie match` can take a bare `{"text": "…"}`. This module owns the
//! shape and the JSON form only: normalising the text is `normalize`'s job, and checking that a
//! replayed post has an `id` and a `created_at` is `replay`'s.

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
