//! The `facebook` source: a page's posts and comments, through the Graph API (SPEC §3).
//!
//! This file owns the kind's keys, their checks, its settings and its `build`; the polling (the
//! feed, the comments of each post, Graph API errors) is `api`'s, the comments' threads
//! `thread`'s. URL and secret keys are checked by `config::validate`, as for every kind.

pub mod api;
pub mod thread;

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};

/// `kind = "facebook"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "facebook",
        required: &["page_id", "access_token"],
        optional: &["base_url"],
        secrets: &["access_token"],
        read,
    },
    build,
};

/// A `facebook` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacebookSettings {
    /// The page's id or name.
    pub page_id: String,
    /// The page access token.
    pub access_token: SecretRef,
    /// The API's base URL, if given (tests point it at 127.0.0.1).
    pub base_url: Option<String>,
}

/// A page id or name.
fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    let page_id = r.non_empty("page_id");
    if let Some((id, span)) = &page_id {
        if id.chars().any(|c| c.is_whitespace() || "/?#&".contains(c)) {
            r.error(
                span.start,
                format!("\"page_id\": \"{id}\" is not a page id or name"),
            );
        }
    }
    Settings::new(FacebookSettings {
        page_id: page_id.map(|(id, _)| id).unwrap_or_default(),
        access_token: secret::reference(r, "access_token", true, dir)
            .unwrap_or(SecretRef::Literal(Default::default())),
        base_url: values::opt_text(r, "base_url"),
    })
}

/// The page's reader, with its access token read from `env`.
fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s = super::settings::<FacebookSettings>(spec)?;
    let access_token = super::secret(&s.access_token, env)
        .map_err(|e| format!("secret \"access_token\": {e}"))?;
    Ok(Box::new(api::FacebookSource {
        name: spec.name.clone(),
        base_url: s
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
        page_id: s.page_id.clone(),
        access_token,
        max_bytes: spec.max_bytes,
    }))
}

/// The Graph API's root, with the version the fields were checked against.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com/v21.0";
