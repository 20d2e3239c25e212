//! The `mastodon` source: statuses with given hashtags on one instance (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. URL and secret keys are checked
//! by `config::validate`, as for every kind.

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

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<MastodonSettings>(spec)?;
    super::planned(spec)
}
