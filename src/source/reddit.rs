//! The `reddit` source: subreddits' new posts, from feeds or, with OAuth keys, the JSON API
//! (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. URL and secret keys are checked
//! by `config::validate`, as for every kind.

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};

/// `kind = "reddit"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "reddit",
        required: &["subreddits"],
        optional: &["query", "client_id", "client_secret", "base_url"],
        secrets: &["client_secret"],
        read,
    },
    build,
};

/// A `reddit` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedditSettings {
    /// Subreddit names, without `r/`.
    pub subreddits: Vec<String>,
    /// A search query, if given.
    pub query: Option<String>,
    /// The OAuth client id, if given (then `client_secret` is too).
    pub client_id: Option<String>,
    /// The OAuth client secret.
    pub client_secret: Option<SecretRef>,
    /// The server's base URL, if given (tests point it at 127.0.0.1).
    pub base_url: Option<String>,
}

/// Subreddit names, an optional query, OAuth keys together.
fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    let subs = r.list("subreddits");
    if let Some(subs) = &subs {
        if subs.is_empty() {
            let at = r.key_at("subreddits").unwrap_or(r.at);
            r.error(at, "\"subreddits\" is empty");
        }
        for (sub, span) in subs {
            let ok = (2..=21).contains(&sub.len())
                && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                r.error(
                    span.start,
                    format!(
                        "\"subreddits\": \"{sub}\" is not a subreddit name (2 to 21 letters, digits or _, without \"r/\")"
                    ),
                );
            }
        }
    }
    let query = r.non_empty("query").map(|(q, _)| q);
    let client_id = r.non_empty("client_id").map(|(c, _)| c);
    values::together(r, "client_id", "client_secret");
    Settings::new(RedditSettings {
        subreddits: values::plain(subs),
        query,
        client_id,
        client_secret: secret::reference(r, "client_secret", true, dir),
        base_url: values::opt_text(r, "base_url"),
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<RedditSettings>(spec)?;
    super::planned(spec)
}
