//! The `x` source: recent posts matching a query, through the paid API, under a daily spend cap
//! (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. URL and secret keys are checked
//! by `config::validate`, as for every kind.

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};

/// `kind = "x"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "x",
        required: &["query", "bearer_token", "max_posts_per_day"],
        optional: &["max_results", "base_url"],
        secrets: &["bearer_token"],
        read,
    },
    build,
};

/// An `x` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XSettings {
    /// The search query.
    pub query: String,
    /// The API's bearer token.
    pub bearer_token: SecretRef,
    /// Posts per request (10 to 100), if given.
    pub max_results: Option<u64>,
    /// The daily spend cap, in posts read.
    pub max_posts_per_day: u64,
    /// The API's base URL, if given (tests point it at 127.0.0.1).
    pub base_url: Option<String>,
}

/// A query, the page size the API takes, a daily spend cap.
fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    let query = r.non_empty("query").map(|(q, _)| q).unwrap_or_default();
    let max_results = r.u64_in("max_results", 10, 100).map(|(n, _)| n);
    let max_posts_per_day = r
        .u64_in("max_posts_per_day", 1, u64::MAX)
        .map_or(0, |(n, _)| n);
    Settings::new(XSettings {
        query,
        bearer_token: secret::reference(r, "bearer_token", true, dir)
            .unwrap_or(SecretRef::Literal(Default::default())),
        max_results,
        max_posts_per_day,
        base_url: values::opt_text(r, "base_url"),
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<XSettings>(spec)?;
    super::planned(spec)
}
