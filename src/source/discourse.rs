//! The `discourse` source: a Discourse forum's latest posts, or a search (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. URL and secret keys are checked
//! by `config::validate`, as for every kind.

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};

/// `kind = "discourse"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "discourse",
        required: &["url"],
        optional: &["mode", "query", "api_key", "api_username"],
        secrets: &["api_key"],
        read,
    },
    build,
};

/// A `discourse` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscourseSettings {
    /// The forum's base URL.
    pub url: String,
    /// `posts` (the default) or `search`, if given.
    pub mode: Option<String>,
    /// The search query (mode `search` only).
    pub query: Option<String>,
    /// An API key, if given (then `api_username` is too).
    pub api_key: Option<SecretRef>,
    /// The API key's user.
    pub api_username: Option<String>,
}

/// `mode` (default `posts`), a query in mode `search`, API keys together.
fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    let mode = r.one_of("mode", &["posts", "search"]).map(|(m, _)| m);
    let query = r.non_empty("query");
    match (mode.as_deref(), &query) {
        (Some("search"), None) if !r.has("query") => {
            let at = r.at;
            r.error(
                at,
                "source of kind \"discourse\" in mode \"search\" needs \"query\"",
            );
        }
        (Some("posts"), Some((_, span))) => {
            r.error(
                span.start,
                "\"query\" needs mode = \"search\", not \"posts\"",
            );
        }
        (None, Some((_, span))) if !r.has("mode") => {
            r.error(span.start, "\"query\" needs mode = \"search\"");
        }
        _ => {}
    }
    let api_username = r.non_empty("api_username").map(|(u, _)| u);
    values::together(r, "api_username", "api_key");
    Settings::new(DiscourseSettings {
        url: values::text(r, "url"),
        mode,
        query: query.map(|(q, _)| q),
        api_key: secret::reference(r, "api_key", true, dir),
        api_username,
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<DiscourseSettings>(spec)?;
    super::planned(spec)
}
