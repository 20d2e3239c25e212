//! The `bluesky` source: post search, or the Jetstream firehose (SPEC §3); `mode` decides
//! which keys apply and which source `build` makes.
//!
//! This file owns the kind's keys, their checks, its settings and `build`. The two modes live
//! beside it: `search` (`app.bsky.feed.searchPosts`, with `session` for app-password logins)
//! and `jetstream` (the WebSocket, reading `event`s); both turn post records into posts through
//! `record` and complete the posts that hit a rule through `profiles`. Search reads the brand
//! accounts' own posts through `author`; Jetstream already carries them (see `jetstream`). URL and secret keys are
//! checked by `config::validate`, as for every kind.

pub mod author;
pub mod event;
pub mod jetstream;
pub mod profiles;
pub mod record;
pub mod search;
pub mod session;

use std::path::Path;

use super::{Env, Kind, Source};
use crate::config::raw::Reader;
use crate::config::{secret, values, KindDef, SecretRef, Settings, SourceSpec};

/// `kind = "bluesky"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "bluesky",
        required: &["mode"],
        optional: &[
            "service",
            "query",
            "lang",
            "identifier",
            "app_password",
            "endpoint",
            "langs",
        ],
        secrets: &["app_password"],
        read,
    },
    build,
};

/// A `bluesky` source's settings. Keys of the other mode are refused by the config, so they
/// are `None` or empty here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueskySettings {
    /// `search` or `jetstream`.
    pub mode: String,
    /// The base URL of the XRPC service, if given: search calls it (a PDS, default
    /// [`PDS`]); Jetstream asks it for profiles (an AppView, default [`APPVIEW`]).
    pub service: Option<String>,
    /// Search: the query.
    pub query: Option<String>,
    /// Search: a language code to filter on.
    pub lang: Option<String>,
    /// Search: the account's handle, to log in.
    pub identifier: Option<String>,
    /// Search: the account's app password.
    pub app_password: Option<SecretRef>,
    /// Jetstream: the `ws://` or `wss://` endpoint, if given.
    pub endpoint: Option<String>,
    /// Jetstream: language codes to keep.
    pub langs: Vec<String>,
}

fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    const SEARCH: &[&str] = &[
        "query",
        "lang",
        "identifier",
        "app_password",
        "app_password_file",
        "credential",
    ];
    const JETSTREAM: &[&str] = &["endpoint", "langs"];
    let mode = r.one_of("mode", &["search", "jetstream"]).map(|(m, _)| m);
    let (other, other_mode) = match mode.as_deref() {
        Some("search") => (JETSTREAM, "jetstream"),
        Some(_) => (SEARCH, "search"),
        None => (&[][..], ""),
    };
    for key in other {
        if let Some(at) = r.key_at(key) {
            r.raw(key);
            r.error(
                at,
                format!(
                    "\"{key}\" is a key of mode \"{other_mode}\", not of mode \"{}\"",
                    mode.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    if mode.as_deref() == Some("search") && !r.has("query") {
        let at = r.at;
        r.error(
            at,
            "source of kind \"bluesky\" in mode \"search\" needs \"query\"",
        );
    }
    let mut s = BlueskySettings {
        mode: mode.clone().unwrap_or_default(),
        service: values::opt_text(r, "service"),
        query: None,
        lang: None,
        identifier: None,
        app_password: None,
        endpoint: None,
        langs: Vec::new(),
    };
    if mode.as_deref() != Some("jetstream") {
        s.query = r.non_empty("query").map(|(q, _)| q);
        if let Some((lang, span)) = r.string("lang") {
            values::language(r, "lang", &lang, span.start);
            s.lang = Some(lang);
        }
        s.identifier = r.non_empty("identifier").map(|(i, _)| i);
        values::together(r, "identifier", "app_password");
        s.app_password = secret::reference(r, "app_password", true, dir);
    }
    if mode.as_deref() != Some("search") {
        let langs = r.list("langs").unwrap_or_default();
        for (lang, span) in &langs {
            values::language(r, "langs", lang, span.start);
        }
        s.langs = values::plain(Some(langs));
        s.endpoint = values::opt_text(r, "endpoint");
    }
    Settings::new(s)
}

/// Where search logs in and searches when `service` is not given and `identifier` is.
pub const PDS: &str = "https://bsky.social";

/// The public AppView: searches without a login, profiles for Jetstream.
pub const APPVIEW: &str = "https://public.api.bsky.app";

/// The Jetstream instance used when `endpoint` is not given.
pub const JETSTREAM: &str = "wss://jetstream2.us-east.bsky.network/subscribe";

fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s = super::settings::<BlueskySettings>(spec)?;
    if s.mode == "jetstream" {
        return Ok(Box::new(jetstream::JetstreamSource::new(
            spec.name.clone(),
            s.endpoint.clone().unwrap_or_else(|| JETSTREAM.into()),
            s.langs.clone(),
            s.service.clone().unwrap_or_else(|| APPVIEW.into()),
            spec.max_bytes,
        )
        .with_brand_accounts(&spec.brand_accounts)));
    }
    let login = match (&s.identifier, &s.app_password) {
        (Some(id), Some(password)) => Some((
            id.clone(),
            super::secret(password, env).map_err(|e| format!("\"app_password\": {e}"))?,
        )),
        _ => None,
    };
    let default = if login.is_some() { PDS } else { APPVIEW };
    Ok(Box::new(search::SearchSource::new(
        spec.name.clone(),
        s.service.clone().unwrap_or_else(|| default.into()),
        s.query.clone().unwrap_or_default(),
        s.lang.clone(),
        login,
        spec.max_bytes,
    )
    .with_brand_accounts(&spec.brand_accounts)))
}
