//! Threads of a Facebook page's comments (SPEC §5.1): which top-level comment a reply is under.
//!
//! The comment stream (`filter=stream`) gives each reply its `parent`, the comment it answers;
//! a complaint is usually a top-level comment on one of the page's posts and the page answers
//! under it, so a comment's thread is its top-level comment. Pure: the poll (`api`) calls it on
//! each post's comments as parsed.

use std::collections::HashMap;

use crate::post::Post;

/// Sets the thread fields of `comments`, the comments of the page post `post_id` as parsed
/// (a reply's `in_reply_to` is its parent comment): a top-level comment answers the post and
/// starts its own thread; a reply is in the thread of the top-level comment above it, found
/// through the parents among `comments`, or its parent when that is not among them (Facebook
/// nests replies under top-level comments).
pub fn thread_comments(post_id: &str, comments: &mut [Post]) {
    let parents: HashMap<String, String> = comments
        .iter()
        .filter_map(|c| Some((c.id.clone()?, c.in_reply_to.clone()?)))
        .collect();
    for c in comments.iter_mut() {
        let Some(id) = c.id.clone() else { continue };
        let mut top = id;
        // Bounded: a cycle in a broken answer ends the walk.
        for _ in 0..parents.len() {
            match parents.get(&top) {
                Some(parent) => top = parent.clone(),
                None => break,
            }
        }
        if c.in_reply_to.is_none() {
            c.in_reply_to = Some(post_id.to_string());
        }
        c.thread = Some(format!("facebook:{top}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::facebook::api::parse;
    use crate::source::facebook::api::tests::fixture;

    #[test]
    fn comments_thread_under_their_top_level_comment() {
        let (mut posts, _) = parse(&fixture("comments-thread.json"), "fb").unwrap();
        thread_comments("104501234567890_987654321098765", &mut posts);
        let by_id = |id: &str| posts.iter().find(|p| p.id.as_deref() == Some(id)).unwrap();
        // The complaint answers the page post and starts its thread.
        let complaint = by_id("987654321098765_1122334455669900");
        assert_eq!(
            complaint.in_reply_to.as_deref(),
            Some("104501234567890_987654321098765")
        );
        let thread = Some("facebook:987654321098765_1122334455669900");
        assert_eq!(complaint.thread.as_deref(), thread);
        // The page answers under it.
        let answer = by_id("987654321098765_1122334455669911");
        assert_eq!(answer.author.as_deref(), Some("104501234567890"));
        assert_eq!(answer.author_name.as_deref(), Some("Posteo"));
        assert_eq!(
            answer.in_reply_to.as_deref(),
            Some("987654321098765_1122334455669900")
        );
        assert_eq!(answer.thread.as_deref(), thread);
        // A reply to the reply is in the same thread.
        let again = by_id("987654321098765_1122334455669922");
        assert_eq!(
            again.in_reply_to.as_deref(),
            Some("987654321098765_1122334455669911")
        );
        assert_eq!(again.thread.as_deref(), thread);
        // A reply whose parent is not in the answer (older than `since`): its parent's thread.
        let mut late = vec![Post {
            id: Some("c2".into()),
            in_reply_to: Some("c1".into()),
            ..Post::from_text("merci")
        }];
        thread_comments("p", &mut late);
        assert_eq!(late[0].thread.as_deref(), Some("facebook:c1"));
    }
}
