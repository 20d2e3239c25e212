//! One Jetstream event (the v1 `/subscribe` JSON wire) as vigie reads it: its `time_us`, and
//! the post it creates when it creates one in the wanted languages, or by a brand account
//! (whatever its language: the brand's answers count wherever they are written). Pure: the
//! connection, the batches and the cursor are `jetstream`'s.

use std::collections::HashMap;

use serde::Deserialize;

use super::record::{post_uri, PostRecord, POST_COLLECTION};
use crate::post::Post;

/// What one Jetstream event means to vigie.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its `time_us`: where a subscription resumes.
    pub time_us: i64,
    /// The post it creates, when it creates one in the wanted languages.
    pub post: Option<Post>,
}

#[derive(Deserialize)]
struct Wire {
    did: String,
    time_us: i64,
    kind: String,
    #[serde(default)]
    commit: Option<Commit>,
}

#[derive(Deserialize)]
struct Commit {
    operation: String,
    collection: String,
    rkey: String,
    #[serde(default)]
    record: Option<PostRecord>,
}

/// Parses one event (a v1 `/subscribe` text message). Posts carry the author's DID as
/// `author` until `profiles` finds the handle.
pub fn parse_event(text: &str, langs: &[String]) -> Result<Event, serde_json::Error> {
    parse_event_with(text, langs, &HashMap::new())
}

/// [`parse_event`], also keeping the posts of the brand accounts `brand` (DID → handle) in
/// any language, their author as `@handle`.
pub fn parse_event_with(
    text: &str,
    langs: &[String],
    brand: &HashMap<String, String>,
) -> Result<Event, serde_json::Error> {
    let wire: Wire = serde_json::from_str(text)?;
    let post = match wire.commit {
        Some(Commit {
            operation,
            collection,
            rkey,
            record: Some(record),
        }) if wire.kind == "commit"
            && operation == "create"
            && collection == POST_COLLECTION
            && (record.in_langs(langs) || brand.contains_key(&wire.did)) =>
        {
            let uri = post_uri(&wire.did, &rkey);
            let author = match brand.get(&wire.did) {
                Some(handle) => format!("@{handle}"),
                None => wire.did.clone(),
            };
            Some(record.into_post(&uri, &wire.did, author))
        }
        _ => None,
    };
    Ok(Event {
        time_us: wire.time_us,
        post,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture's events, one per line.
    fn fixture() -> Vec<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bluesky/jetstream.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn keeps_post_creates_in_the_wanted_languages() {
        let langs = vec!["fr".to_string()];
        let events: Vec<Event> = fixture()
            .iter()
            .map(|l| parse_event(l, &langs).unwrap())
            .collect();
        let posts: Vec<&Post> = events.iter().filter_map(|e| e.post.as_ref()).collect();
        assert_eq!(posts.len(), 4, "{posts:#?}");
        let first = posts[0];
        assert_eq!(
            first.id.as_deref(),
            Some("at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptc2xyzfr2a")
        );
        assert_eq!(
            first.url.as_deref(),
            Some("https://bsky.app/profile/did:plc:r2zybk6op3ymzpz6jhqpkoy5/post/3mptc2xyzfr2a")
        );
        assert_eq!(
            first.author.as_deref(),
            Some("did:plc:r2zybk6op3ymzpz6jhqpkoy5")
        );
        assert_eq!(first.created_at.as_deref(), Some("2026-07-04T14:38:06Z"));
        assert_eq!(first.lang.as_deref(), Some("fr"));
        assert!(first.text.contains("colis"), "{}", first.text);
        // Every event moves the cursor, kept or not.
        assert!(events.iter().all(|e| e.time_us > 1_700_000_000_000_000));
        let all = fixture()
            .iter()
            .filter(|l| parse_event(l, &[]).unwrap().post.is_some())
            .count();
        assert!(all > posts.len(), "without langs, posts in every language");
    }

    #[test]
    fn replies_carry_their_thread_and_brand_posts_pass_the_language_filter() {
        let lines = fixture();
        let fr = vec!["fr".to_string()];
        // The fixture's third event answers the first.
        let reply = parse_event(&lines[2], &fr).unwrap().post.unwrap();
        let root = "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptc2xyzfr2a";
        assert_eq!(reply.in_reply_to.as_deref(), Some(root));
        assert_eq!(reply.thread.as_deref(), Some(root));
        let first = parse_event(&lines[0], &fr).unwrap().post.unwrap();
        assert_eq!((first.in_reply_to, first.thread.as_deref()), (None, Some(root)));
        // The second event is in English: dropped, unless its author speaks for the brand.
        assert_eq!(parse_event(&lines[1], &fr).unwrap().post, None);
        let brand = HashMap::from([(
            "did:plc:dclwtltrt2ggsryagfzk7dp4".to_string(),
            "laposte.bsky.social".to_string(),
        )]);
        let post = parse_event_with(&lines[1], &fr, &brand).unwrap().post.unwrap();
        assert_eq!(post.author.as_deref(), Some("@laposte.bsky.social"));
    }

    #[test]
    fn a_broken_event_is_an_error() {
        assert!(parse_event("{\"did\":", &[]).is_err());
        assert!(parse_event("{\"kind\":\"commit\"}", &[]).is_err());
    }
}
