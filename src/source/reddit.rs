//! The `reddit` source: subreddits' new posts, or a search in them, from the Atom feeds (no
//! account) or, with `client_id` + `client_secret`, the app-only OAuth JSON API (SPEC §3).
//!
//! This file owns the kind's keys, their checks, its settings and its `build`; the requests are
//! `poll`'s, the cursor, feed budget and rate-limit wait `pace`'s, and the pure parsers
//! `feed`'s (Atom) and `listing`'s (JSON listings, the token). URL and secret keys are checked by
//! `config::validate`, as for every kind.

pub mod feed;
pub mod listing;
pub mod pace;
pub mod poll;

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

/// The source, its client secret read from `env` (OAuth only when both keys are given).
fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s = super::settings::<RedditSettings>(spec)?;
    let oauth = match (&s.client_id, &s.client_secret) {
        (Some(client_id), Some(secret)) => Some(poll::OAuth {
            client_id: client_id.clone(),
            client_secret: super::secret(secret, env)?,
        }),
        _ => None,
    };
    Ok(Box::new(poll::RedditSource::new(
        spec.name.clone(),
        spec.max_bytes,
        &s.subreddits,
        s.query.clone(),
        oauth,
        s.base_url.clone(),
        usernames(&spec.brand_accounts),
    )))
}

/// The Reddit usernames among `brand_accounts` (`@Posteo`, `u/Posteo` and `/u/Posteo` are
/// `Posteo`; `name@server`, a Mastodon account, is none).
pub fn usernames(brand_accounts: &[String]) -> Vec<String> {
    brand_accounts
        .iter()
        .map(|h| {
            let h = h.trim().trim_start_matches('@');
            h.strip_prefix("/u/").or(h.strip_prefix("u/")).unwrap_or(h)
        })
        .filter(|n| {
            (3..=20).contains(&n.len())
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .map(str::to_string)
        .collect()
}
