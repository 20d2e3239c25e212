//! The `hackernews` source: stories and comments matching a query, through Algolia's search API
//! (SPEC §3).
//!
//! This file owns the kind's keys, their checks, its settings and its `build`; the rest lives
//! beside it: `api` (the search URL and the `created_at_i` position), `search` (the pure parse:
//! hits into posts) and `poll` (the [`Source`] that fetches through `source::fetch`). URL keys
//! are checked by `config::validate`, as for every kind.

pub mod api;
pub mod poll;
pub mod search;

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{values, KindDef, Settings, SourceSpec};

/// `kind = "hackernews"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "hackernews",
        required: &["query"],
        optional: &["tags", "base_url"],
        secrets: &[],
        read,
    },
    build,
};

/// Hacker News (Algolia) tags taken as they are; `author_…` and `story_…` are also accepted.
const HN_TAGS: &[&str] = &[
    "story",
    "comment",
    "poll",
    "pollopt",
    "show_hn",
    "ask_hn",
    "front_page",
];

/// A `hackernews` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HackernewsSettings {
    /// The search query.
    pub query: String,
    /// Algolia tags (`story`, `comment`, `author_NAME`…).
    pub tags: Vec<String>,
    /// The API's base URL, if given (tests point it at 127.0.0.1).
    pub base_url: Option<String>,
}

/// A query and Algolia tags.
fn read(r: &mut Reader<'_, '_, '_>, _dir: &Path) -> Settings {
    let query = r.non_empty("query").map(|(q, _)| q).unwrap_or_default();
    let tags = r.list("tags").unwrap_or_default();
    for (tag, span) in &tags {
        let ok = HN_TAGS.contains(&tag.as_str())
            || tag.strip_prefix("author_").is_some_and(|a| !a.is_empty())
            || tag
                .strip_prefix("story_")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            r.error(
                span.start,
                format!(
                    "\"tags\": \"{tag}\" is not one of {}, author_NAME, story_ID",
                    HN_TAGS.join(", ")
                ),
            );
        }
    }
    Settings::new(HackernewsSettings {
        query,
        tags: values::plain(Some(tags)),
        base_url: values::opt_text(r, "base_url"),
    })
}

/// The source.
fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s = super::settings::<HackernewsSettings>(spec)?;
    Ok(Box::new(poll::HackernewsSource::new(
        spec.name.clone(),
        s.query.clone(),
        s.tags.clone(),
        s.base_url.as_deref(),
        spec.max_bytes,
        api::usernames(&spec.brand_accounts),
    )?))
}
