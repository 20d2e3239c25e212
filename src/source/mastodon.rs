//! The `mastodon` source: statuses with given hashtags on one instance, and its local or
//! federated timeline (SPEC §3).
//!
//! This file owns the kind's keys, their checks, its settings and its `build`; the rest lives
//! beside it: `api` (which requests: streams, `min_id` positions, `Link` paging, rate-limit
//! headers), `status` (the pure parse: statuses into posts), `poll` (the [`Source`] that
//! fetches through `source::fetch`), `thread` (each reply's thread root) and `brand` (the brand
//! accounts' own statuses). URL and secret keys are checked by `config::validate`, as
//! for every kind.

pub mod api;
pub mod brand;
pub mod poll;
pub mod status;
pub mod thread;

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};

/// `kind = "mastodon"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "mastodon",
        required: &["instance"],
        optional: &["hashtags", "timeline", "token"],
        secrets: &["token"],
        read,
    },
    build,
};

/// A `mastodon` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MastodonSettings {
    /// The instance's base URL (`https://mastodon.social`).
    pub instance: String,
    /// Hashtags to follow, as written (a leading `#` is allowed).
    pub hashtags: Vec<String>,
    /// `local` or `public`, if given.
    pub timeline: Option<String>,
    /// An access token, if given.
    pub token: Option<SecretRef>,
}

/// Hashtags, timeline.
fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    let hashtags = r.list("hashtags").unwrap_or_default();
    for (tag, span) in &hashtags {
        let word = tag.strip_prefix('#').unwrap_or(tag);
        if word.is_empty() || !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
            r.error(
                span.start,
                format!("\"hashtags\": \"{tag}\" is not a hashtag (letters, digits and _)"),
            );
        }
    }
    let timeline = r.one_of("timeline", &["local", "public"]).map(|(t, _)| t);
    Settings::new(MastodonSettings {
        instance: values::text(r, "instance"),
        hashtags: values::plain(Some(hashtags)),
        timeline,
        token: secret::reference(r, "token", true, dir),
    })
}

/// The source, its token (if any) read from `env`.
fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s = super::settings::<MastodonSettings>(spec)?;
    let token = s
        .token
        .as_ref()
        .map(|t| super::secret(t, env))
        .transpose()
        .map_err(|e| format!("secret \"token\": {e}"))?;
    Ok(Box::new(poll::MastodonSource::new(
        spec.name.clone(),
        &s.instance,
        &s.hashtags,
        s.timeline.as_deref(),
        token.as_ref(),
        spec.max_bytes,
    )?
    .with_brand_accounts(&spec.brand_accounts)))
}
