//! Discourse's JSON answers into posts: `/posts.json` (`latest_posts`), `/search.json`
//! (`posts` with their `topics`), and the error bodies (`errors`, `extras.wait_seconds`).
//!
//! Pure: bytes in, posts out, so tests run on recorded answers. The shapes are Discourse's own
//! serializers: `PostSerializer` for the latest posts (with `cooked` HTML), `SearchPostSerializer`
//! for search hits (a plain-text `blurb`, no `cooked`) and `render_json_error` for refusals.
//! Paging and the cursor are the source's (`discourse.rs`).
//!
//! Threads (SPEC §5.1): a post's thread is its topic's URL (`{base}/t/{topic_id}`, without the
//! slug, which changes with the title). Discourse says what a post answers by its number in the
//! topic (`reply_to_post_number`; none is a reply to the topic, its first post), and posts are
//! known by their global id, so `in_reply_to` is the parent's id when the parent is in the same
//! answer, and empty otherwise: the thread, always set, is what ties a reply to its complaint.
//! The brand's posts come from `/user_actions.json` ([`user_actions`], `UserActionSerializer`:
//! an `excerpt` of the post, its `post_id`, `topic_id`, `post_number`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::post::Post;
use crate::source::text::html_to_text;
use crate::source::SourceError;

/// One post of `/posts.json` or `/search.json`; fields a serializer leaves out are `None`.
#[derive(Debug, Deserialize)]
struct RawPost {
    id: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    /// The rendered HTML (latest posts).
    #[serde(default)]
    cooked: Option<String>,
    /// The excerpt around the match (search).
    #[serde(default)]
    blurb: Option<String>,
    #[serde(default)]
    post_number: Option<u64>,
    /// The number in the topic of the post this one answers (none: the topic).
    #[serde(default)]
    reply_to_post_number: Option<u64>,
    #[serde(default)]
    topic_id: Option<u64>,
    #[serde(default)]
    topic_slug: Option<String>,
    #[serde(default)]
    topic_title: Option<String>,
    #[serde(default)]
    reply_count: Option<u64>,
    /// Search hits count likes here; latest posts in `actions_summary` (id 2).
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    actions_summary: Vec<Action>,
}

#[derive(Debug, Deserialize)]
struct Action {
    id: u64,
    #[serde(default)]
    count: Option<u64>,
}

/// `PostActionType` 2 is a like.
const LIKE: u64 = 2;

#[derive(Debug, Deserialize)]
struct Latest {
    latest_posts: Vec<RawPost>,
}

#[derive(Debug, Deserialize)]
struct Search {
    #[serde(default)]
    posts: Vec<RawPost>,
    #[serde(default)]
    topics: Vec<Topic>,
    #[serde(default)]
    grouped_search_result: Option<Grouped>,
}

#[derive(Debug, Deserialize)]
struct Topic {
    id: u64,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Grouped {
    #[serde(default)]
    more_full_page_results: Option<bool>,
    #[serde(default)]
    more_posts: Option<bool>,
}

/// One page of posts, newest first as Discourse lists them, with their numeric ids.
#[derive(Debug, Default, PartialEq)]
pub struct Parsed {
    /// `(post id, post)`, in the page's order.
    pub posts: Vec<(u64, Post)>,
    /// Search only: whether Discourse says another page follows.
    pub more: bool,
}

fn malformed(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Permanent(format!("malformed Discourse {what}: {e}"))
}

/// A `/posts.json` page. `base` is the forum's URL without a trailing slash.
pub fn latest(body: &[u8], base: &str, source: &str) -> Result<Parsed, SourceError> {
    let page: Latest = serde_json::from_slice(body).map_err(|e| malformed("posts.json", e))?;
    let mut posts: Vec<(u64, Post)> = page
        .latest_posts
        .iter()
        .map(|p| (p.id, post(p, p.topic_slug.as_deref(), base, source)))
        .collect();
    link_replies(&page.latest_posts, &mut posts);
    Ok(Parsed { posts, more: false })
}

/// A `/search.json` page: each hit's topic (slug, title) is looked up in `topics`.
pub fn search(body: &[u8], base: &str, source: &str) -> Result<Parsed, SourceError> {
    let page: Search = serde_json::from_slice(body).map_err(|e| malformed("search.json", e))?;
    let more = page
        .grouped_search_result
        .as_ref()
        .is_some_and(|g| g.more_full_page_results.or(g.more_posts).unwrap_or(false));
    let mut posts: Vec<(u64, Post)> = page
        .posts
        .iter()
        .map(|p| {
            let topic = page.topics.iter().find(|t| Some(t.id) == p.topic_id);
            let mut post = post(p, topic.and_then(|t| t.slug.as_deref()), base, source);
            if let Some(title) = topic.and_then(|t| t.title.as_deref()) {
                post.text = with_title(title, post.text);
            }
            (p.id, post)
        })
        .collect();
    link_replies(&page.posts, &mut posts);
    Ok(Parsed { posts, more })
}

/// Sets `in_reply_to` of each of `posts` (parsed from `raw`, in the same order) to the id of
/// the post it answers, when that post is among them.
fn link_replies(raw: &[RawPost], posts: &mut [(u64, Post)]) {
    let ids: std::collections::HashMap<(u64, u64), u64> = raw
        .iter()
        .filter_map(|p| Some(((p.topic_id?, p.post_number?), p.id)))
        .collect();
    for (r, (_, post)) in raw.iter().zip(posts.iter_mut()) {
        let (Some(topic), Some(number)) = (r.topic_id, r.post_number) else {
            continue;
        };
        let parent = match r.reply_to_post_number {
            Some(n) => n,
            None if number > 1 => 1,
            None => continue,
        };
        post.in_reply_to = ids.get(&(topic, parent)).map(u64::to_string);
    }
}

/// One of `/user_actions.json`'s `user_actions` (`UserActionSerializer`).
#[derive(Debug, Deserialize)]
struct UserAction {
    #[serde(default)]
    post_id: Option<u64>,
    #[serde(default)]
    topic_id: Option<u64>,
    #[serde(default)]
    post_number: Option<u64>,
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    excerpt: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    acting_username: Option<String>,
    #[serde(default)]
    acting_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    deleted: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct UserActions {
    #[serde(default)]
    user_actions: Vec<UserAction>,
}

/// A `/user_actions.json?username=…&filter=4,5` page (a user's topics and replies, newest
/// first) as posts with their ids, newest first. Actions without a post, and deleted posts,
/// are left out.
pub fn user_actions(body: &[u8], base: &str, source: &str) -> Result<Vec<(u64, Post)>, SourceError> {
    let page: UserActions =
        serde_json::from_slice(body).map_err(|e| malformed("user_actions.json", e))?;
    let posts = page
        .user_actions
        .into_iter()
        .filter(|a| a.deleted != Some(true))
        .filter_map(|a| {
            let raw = RawPost {
                id: a.post_id?,
                name: a.acting_name,
                username: a.acting_username.or(a.username),
                created_at: a.created_at,
                cooked: None,
                blurb: a.excerpt,
                post_number: a.post_number,
                reply_to_post_number: None,
                topic_id: a.topic_id,
                topic_slug: None,
                topic_title: a.title,
                reply_count: None,
                like_count: None,
                actions_summary: Vec::new(),
            };
            Some((raw.id, post(&raw, a.slug.as_deref(), base, source)))
        })
        .collect();
    Ok(posts)
}

fn post(p: &RawPost, slug: Option<&str>, base: &str, source: &str) -> Post {
    let body = p
        .cooked
        .as_deref()
        .or(p.blurb.as_deref())
        .map(html_to_text)
        .unwrap_or_default();
    let text = match (p.post_number, p.topic_title.as_deref()) {
        // A topic's first post is its title and its body.
        (Some(1), Some(title)) => with_title(title, body),
        _ => body,
    };
    let url = p.topic_id.map(|topic| {
        let number = p.post_number.unwrap_or(1);
        match slug.filter(|s| !s.is_empty()) {
            Some(slug) => format!("{base}/t/{slug}/{topic}/{number}"),
            None => format!("{base}/t/{topic}/{number}"),
        }
    });
    let likes = p.like_count.or_else(|| {
        p.actions_summary
            .iter()
            .find(|a| a.id == LIKE)
            .and_then(|a| a.count)
    });
    let engagement = match (likes, p.reply_count) {
        (None, None) => None,
        (l, r) => Some(l.unwrap_or(0) + r.unwrap_or(0)),
    };
    let username = p.username.as_deref().map(str::trim).filter(|u| !u.is_empty());
    Post {
        id: Some(p.id.to_string()),
        source: Some(source.to_string()),
        text,
        author: username.map(|u| format!("@{u}")),
        author_name: p
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty() && Some(*n) != username)
            .map(str::to_string),
        url,
        created_at: p.created_at.as_deref().and_then(rfc3339),
        lang: None,
        followers: None,
        engagement,
        in_reply_to: None,
        thread: p.topic_id.map(|topic| format!("{base}/t/{topic}")),
    }
}

/// `title` then `text`, unless the text already starts with it.
fn with_title(title: &str, text: String) -> String {
    let title = html_to_text(title);
    if title.is_empty() || text.starts_with(&title) {
        text
    } else if text.is_empty() {
        title
    } else {
        format!("{title}\n{text}")
    }
}

/// Discourse's times (`2026-11-22T08:14:00.123Z`) as RFC 3339 UTC to the second.
pub fn rfc3339(t: &str) -> Option<String> {
    let t = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
    Some(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// What a refusal's body says: `render_json_error`'s `errors` and, for 429,
/// `extras.wait_seconds`. Anything else (an HTML page from a proxy) says nothing.
#[derive(Debug, Default, PartialEq)]
pub struct Refusal {
    /// The first error message, if any.
    pub message: Option<String>,
    /// How long to wait, from `extras.wait_seconds`.
    pub wait_seconds: Option<u64>,
}

/// Reads a refusal's body.
pub fn refusal(body: &[u8]) -> Refusal {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<String>,
        #[serde(default)]
        extras: Option<Extras>,
    }
    #[derive(Deserialize)]
    struct Extras {
        #[serde(default)]
        wait_seconds: Option<f64>,
    }
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return Refusal::default();
    };
    Refusal {
        message: b.errors.into_iter().next().map(|m| m.trim().to_string()),
        wait_seconds: b
            .extras
            .and_then(|e| e.wait_seconds)
            .filter(|w| w.is_finite() && *w >= 0.0)
            .map(|w| w.ceil() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/discourse/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const BASE: &str = "https://forum.example.fr";

    #[test]
    fn latest_posts_become_posts_with_permalinks() {
        let page = latest(&fixture("posts.json"), BASE, "f").unwrap();
        let ids: Vec<u64> = page.posts.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1042, 1041, 1040]);
        let (_, p) = &page.posts[0];
        assert_eq!(p.id.as_deref(), Some("1042"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://forum.example.fr/t/colis-bloque-depuis-une-semaine/311/4")
        );
        assert_eq!(p.author.as_deref(), Some("@julie_m"));
        assert_eq!(p.author_name.as_deref(), Some("Julie Martin"));
        assert_eq!(p.created_at.as_deref(), Some("2026-11-22T08:14:00Z"));
        assert_eq!(p.engagement, Some(3 + 1));
        assert!(p.text.contains("réclamation"), "{}", p.text);
        assert!(!p.text.contains('<'), "{}", p.text);
        // A topic's first post carries the topic's title.
        let (_, first) = &page.posts[2];
        assert!(first.text.starts_with("Objet cassé à la livraison\n"), "{}", first.text);
    }

    #[test]
    fn search_hits_take_their_topic_slug_and_title() {
        let page = search(&fixture("search.json"), BASE, "f").unwrap();
        assert!(!page.more);
        let (id, p) = &page.posts[0];
        assert_eq!(*id, 1042);
        assert_eq!(
            p.url.as_deref(),
            Some("https://forum.example.fr/t/colis-bloque-depuis-une-semaine/311/4")
        );
        assert!(p.text.starts_with("Colis bloqué depuis une semaine\n"), "{}", p.text);
        assert_eq!(p.engagement, Some(3));
    }

    #[test]
    fn posts_are_in_their_topic_and_answer_the_post_they_reply_to() {
        let page = latest(&fixture("posts-thread.json"), BASE, "f").unwrap();
        let by_id = |id: u64| &page.posts.iter().find(|(i, _)| *i == id).unwrap().1;
        let thread = Some("https://forum.example.fr/t/312");
        // The topic's first post answers nothing.
        assert_eq!(by_id(1050).in_reply_to, None);
        assert_eq!(by_id(1050).thread.as_deref(), thread);
        // The brand's reply to the topic (no `reply_to_post_number`) answers its first post.
        assert_eq!(by_id(1051).in_reply_to.as_deref(), Some("1050"));
        assert_eq!(by_id(1051).author.as_deref(), Some("@posteo_support"));
        assert_eq!(by_id(1051).thread.as_deref(), thread);
        // A reply to post #2 answers it.
        assert_eq!(by_id(1052).in_reply_to.as_deref(), Some("1051"));
        assert_eq!(by_id(1052).thread.as_deref(), thread);
        // A parent outside the answer is not guessed.
        let page = latest(&fixture("posts.json"), BASE, "f").unwrap();
        assert_eq!(page.posts[0].1.in_reply_to, None);
        assert_eq!(page.posts[0].1.thread.as_deref(), Some("https://forum.example.fr/t/311"));
        // Search hits too.
        let page = search(&fixture("search.json"), BASE, "f").unwrap();
        assert_eq!(page.posts[0].1.thread.as_deref(), Some("https://forum.example.fr/t/311"));
    }

    #[test]
    fn user_actions_are_the_brand_posts() {
        let posts = user_actions(&fixture("user-actions.json"), BASE, "f").unwrap();
        let ids: Vec<u64> = posts.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, [1044, 1039], "newest first, the deleted one left out");
        let (_, p) = &posts[0];
        assert_eq!(p.id.as_deref(), Some("1044"));
        assert_eq!(p.author.as_deref(), Some("@posteo_support"));
        assert_eq!(p.author_name.as_deref(), Some("Service client Posteo"));
        assert_eq!(p.thread.as_deref(), Some("https://forum.example.fr/t/311"));
        assert_eq!(
            p.url.as_deref(),
            Some("https://forum.example.fr/t/colis-bloque-depuis-une-semaine/311/5")
        );
        assert_eq!(p.created_at.as_deref(), Some("2026-11-22T08:31:12Z"));
        assert!(p.text.starts_with("Bonjour Julie, nous sommes désolés"), "{}", p.text);
        assert!(!p.text.contains("&rsquo;"), "{}", p.text);
        assert!(user_actions(b"[", BASE, "f").is_err());
    }

    #[test]
    fn refusals_say_how_long_to_wait() {
        assert_eq!(
            refusal(&fixture("rate-limited.json")),
            Refusal {
                message: Some(
                    "You’ve performed this action too many times. Please wait 37 seconds before trying again.".into()
                ),
                wait_seconds: Some(37),
            }
        );
        assert_eq!(refusal(b"<html>Too many</html>"), Refusal::default());
        assert_eq!(rfc3339("2026-11-22T09:14:00.5+01:00").as_deref(), Some("2026-11-22T08:14:00Z"));
    }

    #[test]
    fn wrong_shapes_are_clean_errors() {
        for body in [&b"{}"[..], b"[", b"{\"latest_posts\": 3}"] {
            let err = latest(body, BASE, "f").unwrap_err();
            assert!(err.to_string().starts_with("malformed Discourse posts.json"), "{err}");
        }
    }
}
