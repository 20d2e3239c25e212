//! The `facebook` source: a page's posts and comments, through the Graph API (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. URL and secret keys are checked
//! by `config::validate`, as for every kind.

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

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<FacebookSettings>(spec)?;
    super::planned(spec)
}
