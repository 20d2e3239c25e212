//! The `x` source: recent posts matching a query, through the paid API, under a daily spend cap
//! (SPEC §3).
//!
//! This file owns the kind's keys, their checks, its settings and its `build`; the polling (the
//! search, its paging and the spend budget in the cursor) is `api`'s, the query with the
//! brand's accounts `query`'s. URL and secret keys are checked by `config::validate`, as for
//! every kind.

pub mod api;
pub mod position;
pub mod query;

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
    // X returns at least 10 posts a request and the source never reads past the cap: a cap
    // under 10 would never read anything.
    let max_posts_per_day = r
        .u64_in("max_posts_per_day", api::MIN_RESULTS, u64::MAX)
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

/// The search, with its bearer token read from `env`.
fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s = super::settings::<XSettings>(spec)?;
    let bearer_token = super::secret(&s.bearer_token, env)
        .map_err(|e| format!("secret \"bearer_token\": {e}"))?;
    Ok(Box::new(api::XSource {
        name: spec.name.clone(),
        base_url: s
            .base_url
            .clone()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
        query: query::search_query(&s.query, &spec.brand_accounts),
        bearer_token,
        max_results: s.max_results.unwrap_or(100),
        max_posts_per_day: s.max_posts_per_day,
        max_bytes: spec.max_bytes,
    }))
}

/// The API's root.
pub const DEFAULT_BASE_URL: &str = "https://api.x.com";
