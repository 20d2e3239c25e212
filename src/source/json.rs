//! The `json` source: any JSON API, its items found by JSONPath and each post's fields by JSON
//! Pointers or templates (SPEC §3).
//!
//! This file owns the kind's keys, their checks and its settings; this version cannot poll it
//! yet (`build` says so), and its `poll`/`parse` will live here. The syntax of pointers,
//! templates and JSONPath is `config::syntax`'s; URL keys are checked by `config::validate`.

use std::path::Path;

use super::{Env, Kind, PostFields, Source};
use crate::config::raw::Reader;
use crate::config::syntax::{json_path, pointer, pointer_or_template};
use crate::config::values::{self, POST_FIELDS};
use crate::config::{KindDef, Settings, SourceSpec};

/// `kind = "json"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "json",
        required: &["url", "items", "fields"],
        optional: &["time_format", "next", "headers"],
        secrets: &[],
        read,
    },
    build,
};

/// A `json` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonSettings {
    /// The API's URL.
    pub url: String,
    /// JSONPath to the items (`$.data[*]`).
    pub items: String,
    /// Per field, a JSON Pointer (`/id`) or a template embedding pointers (`https://x/{/id}`).
    pub fields: PostFields<String>,
    /// `rfc3339`, `unix` or `unix_ms`, if given.
    pub time_format: Option<String>,
    /// A pointer to the next page's URL, if given.
    pub next: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

/// Items (JSONPath), fields (JSON Pointers or templates), time format, next, headers.
fn read(r: &mut Reader<'_, '_, '_>, _dir: &Path) -> Settings {
    let items = r.non_empty("items");
    if let Some((items, span)) = &items {
        if let Err(e) = json_path(items) {
            r.error(span.start, format!("\"items\": {e}"));
        }
    }
    let mut fields = PostFields::default();
    if let Some((t, at)) = r.table("fields") {
        let mut f = Reader::new(r.file(), t, at, &mut *r.errors);
        for field in POST_FIELDS {
            if let Some((value, span)) = f.non_empty(field) {
                if let Err(e) = pointer_or_template(&value) {
                    f.error(span.start, format!("\"fields.{field}\": {e}"));
                }
                fields.set(field, value);
            }
        }
        if !f.has("text") {
            f.error(at, "[source.fields] needs \"text\"");
        }
        f.finish(POST_FIELDS);
    }
    let time_format = r
        .one_of("time_format", &["rfc3339", "unix", "unix_ms"])
        .map(|(t, _)| t);
    let next = r.string("next");
    if let Some((next, span)) = &next {
        if let Err(e) = pointer(next) {
            r.error(span.start, format!("\"next\": {e}"));
        }
    }
    values::headers(r);
    Settings::new(JsonSettings {
        url: values::text(r, "url"),
        items: items.map(|(i, _)| i).unwrap_or_default(),
        fields,
        time_format,
        next: next.map(|(n, _)| n),
        headers: r.string_table("headers").unwrap_or_default(),
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    super::settings::<JsonSettings>(spec)?;
    super::planned(spec)
}
