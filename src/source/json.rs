//! The `json` source: any JSON API, its items found by JSONPath (RFC 9535, `serde_json_path`)
//! and each post's fields by JSON Pointers or templates (SPEC §3).
//!
//! This file owns the kind's keys, their checks, its settings, `build` (header secrets read
//! there) and `poll`: one GET of `url`, then the `next` pages, up to [`MAX_PAGES`] and only
//! until a page reaches posts already seen (the cursor keeps the ids and the newest time of the
//! last posts). Item → post mapping, times and next URLs are `map`'s, pure; fetching, byte caps
//! and rate-limit statuses are `fetch`'s. A `backoff` pointer (Stack Exchange's `backoff`
//! field) becomes [`Page::wait`], which the scheduler honours; paging stops there too. The
//! syntax of pointers, templates and JSONPath is `config::syntax`'s; URL keys are checked by
//! `config::validate`.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fetch::{redact_url, FetchRequest, Fetched, Fetcher};
use super::{Cursor, Env, FirstItem, Kind, Page, PostFields, Preview, Source, SourceError};
use crate::config::raw::Reader;
use crate::config::secret::SecretRef;
use crate::config::syntax::{json_path, pointer, pointer_or_template};
use crate::config::values::{self, POST_FIELDS};
use crate::config::{KindDef, Settings, SourceSpec};
use crate::post::Post;

mod map;
#[cfg(test)]
mod tests;

pub use map::TimeFormat;
use map::{Mapping, TimeFormat as Format};

/// Most pages one poll reads by following `next`: a first poll backfills this many, and a busy
/// API that produced more new items than this many pages since the last poll loses the oldest
/// of them (a warning says so).
pub const MAX_PAGES: usize = 10;

/// Ids of the last poll's posts the cursor keeps, to know when paging reaches known posts.
const SEEN_KEPT: usize = 200;

/// `kind = "json"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "json",
        required: &["url", "items", "fields"],
        optional: &["time_format", "next", "headers", "backoff"],
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
    /// A pointer to the next page's URL, or a template embedding pointers, if given.
    pub next: Option<String>,
    /// Extra request headers; a value may be a secret (`"${VAR}"`), read when the source is
    /// built.
    pub headers: Vec<(String, SecretRef)>,
    /// A pointer to a number of seconds the API asks to wait before the next request.
    pub backoff: Option<String>,
}

/// Header names whose values are credentials: written in clear, they are refused.
fn is_credential(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "cookie"
        || ["auth", "key", "token", "secret", "password"]
            .iter()
            .any(|w| n.contains(w))
}

/// Items (JSONPath), fields (JSON Pointers or templates), time format, next, headers, backoff.
fn read(r: &mut Reader<'_, '_, '_>, _dir: &Path) -> Settings {
    let items = r.non_empty("items");
    if let Some((items, span)) = &items {
        let parsed = json_path(items).and_then(|()| {
            serde_json_path::JsonPath::parse(items)
                .map(|_| ())
                .map_err(|e| format!("\"{items}\" is not an RFC 9535 JSONPath: {e}"))
        });
        if let Err(e) = parsed {
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
        if let Err(e) = pointer_or_template(next) {
            r.error(span.start, format!("\"next\": {e}"));
        }
    }
    let backoff = r.string("backoff");
    if let Some((b, span)) = &backoff {
        if let Err(e) = pointer(b) {
            r.error(span.start, format!("\"backoff\": {e}"));
        }
    }
    values::headers(r);
    let at = r.key_at("headers").unwrap_or(r.at);
    let mut headers = Vec::new();
    for (name, value) in r.string_table("headers").unwrap_or_default() {
        let value = SecretRef::from_value(&value);
        if is_credential(&name) && matches!(value, SecretRef::Literal(_)) {
            r.error(
                at,
                format!(
                    "\"headers\": the value of \"{name}\" is a credential and must not be \
                     written in clear: use \"${{ENV_VAR}}\""
                ),
            );
        }
        headers.push((name, value));
    }
    Settings::new(JsonSettings {
        url: values::text(r, "url"),
        items: items.map(|(i, _)| i).unwrap_or_default(),
        fields,
        time_format,
        next: next.map(|(n, _)| n),
        headers,
        backoff: backoff.map(|(b, _)| b),
    })
}

/// Reads the header secrets and parses the mapping.
fn build(spec: &SourceSpec, env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s: &JsonSettings = super::settings(spec)?;
    let mut headers = Vec::new();
    for (name, value) in &s.headers {
        let value = super::secret(value, env).map_err(|e| format!("header \"{name}\": {e}"))?;
        if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
            return Err(format!(
                "header \"{name}\": its value is not a valid HTTP header value"
            ));
        }
        headers.push((name.clone(), value.expose().to_string()));
    }
    let mapping = Mapping::new(
        &s.items,
        s.fields.clone(),
        Format::from_config(s.time_format.as_deref()),
    )?;
    let url = url::Url::parse(&s.url).map_err(|e| format!("\"url\": {e}"))?;
    Ok(Box::new(JsonSource {
        name: spec.name.clone(),
        url,
        max_bytes: spec.max_bytes,
        mapping,
        next: s.next.clone(),
        backoff: s.backoff.clone(),
        headers,
        capped: AtomicBool::new(false),
        off_host: AtomicBool::new(false),
    }))
}

/// Logged when a poll stops at [`MAX_PAGES`] before known posts.
const CAPPED: &str =
    "Paging stopped at the page cap before reaching known posts; older new posts were skipped.";

/// Logged when a next page is on another host than `url`.
const OFF_HOST: &str =
    "The next page is on another host; it was not followed, since headers may hold secrets.";

/// A JSON API. No `Debug`: its headers hold secrets.
pub struct JsonSource {
    name: String,
    url: url::Url,
    max_bytes: u64,
    mapping: Mapping,
    next: Option<String>,
    backoff: Option<String>,
    /// Header values, secrets resolved: sent, never shown.
    headers: Vec<(String, String)>,
    /// Whether the last poll stopped at [`MAX_PAGES`] before known posts (warned on change).
    capped: AtomicBool,
    /// Whether the last poll met a next page on another host (warned on change).
    off_host: AtomicBool,
}

/// What the cursor remembers of the posts seen: the newest time, and the last poll's ids.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Seen {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<String>,
    #[serde(default)]
    ids: Vec<String>,
}

impl Seen {
    fn read(cursor: &Cursor) -> Seen {
        cursor
            .position
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default()
    }

    /// Whether `post` was among the posts seen, or is not newer than the newest.
    fn knows(&self, post: &Post) -> bool {
        self.ids.iter().any(|id| *id == key(post))
            || matches!((&post.created_at, &self.newest), (Some(t), Some(n)) if t <= n)
    }
}

/// How a post is recognised across polls: its id, else its link, else its text.
fn key(post: &Post) -> String {
    post.id
        .clone()
        .or_else(|| post.url.clone())
        .unwrap_or_else(|| post.text.clone())
}

#[async_trait]
impl Source for JsonSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        self.pages(fetch, cursor, None).await
    }

    async fn preview(&self, fetch: &Fetcher, cursor: &Cursor) -> Preview {
        let mut first = None;
        let page = self.pages(fetch, cursor, Some(&mut first)).await;
        Preview { page, first }
    }
}

impl JsonSource {
    /// One poll: the first page, then `next` pages until known posts, the cap, or a backoff.
    /// `first` (preview) receives the first item as received and what it became.
    async fn pages(
        &self,
        fetch: &Fetcher,
        cursor: &Cursor,
        mut first: Option<&mut Option<FirstItem>>,
    ) -> Result<Page, SourceError> {
        let seen = Seen::read(cursor);
        let mut url = self.url.clone();
        let mut visited = HashSet::from([url.to_string()]);
        let (mut posts, mut keys) = (Vec::new(), HashSet::new());
        let mut next_cursor = cursor.clone();
        let (mut wait, mut capped, mut off_host) = (None, false, false);
        let unconditional = Cursor::default();
        for page in 0..MAX_PAGES {
            let validators = if page == 0 { cursor } else { &unconditional };
            let req = FetchRequest::get(url.as_str(), validators, self.max_bytes)
                .with_headers(&self.headers);
            let body = match fetch.get(&req).await? {
                Fetched::NotModified => break,
                Fetched::Body(body) => body,
            };
            if page == 0 {
                next_cursor.etag = body.etag.clone();
                next_cursor.last_modified = body.last_modified.clone();
            }
            let doc: Value = serde_json::from_slice(&body.bytes).map_err(|e| {
                SourceError::Permanent(format!(
                    "malformed JSON from {}: {e}",
                    redact_url(url.as_str())
                ))
            })?;
            let permanent = SourceError::Permanent;
            let items = self.mapping.items(&doc).map_err(permanent)?;
            if let (Some(slot), Some(item)) = (first.as_deref_mut(), items.first()) {
                if slot.is_none() {
                    *slot = Some(FirstItem {
                        raw: serde_json::to_string_pretty(item).unwrap_or_default(),
                        post: self.mapping.post(item, 1),
                    });
                }
            }
            let mut reached = false;
            for (n, item) in items.iter().enumerate() {
                let post = self.mapping.post(item, n + 1).map_err(permanent)?;
                reached |= seen.knows(&post);
                if keys.insert(key(&post)) {
                    posts.push(post);
                }
            }
            wait = self.wait(&doc)?;
            let Some(next) = &self.next else { break };
            if reached || items.is_empty() || wait.is_some() {
                break;
            }
            let Some(next) = map::next_url(&doc, next, &url).map_err(permanent)? else {
                break;
            };
            if next.origin() != self.url.origin() {
                // Headers may hold secrets: they go to the configured host only.
                off_host = true;
                break;
            }
            if !visited.insert(next.to_string()) {
                break;
            }
            capped = page + 1 == MAX_PAGES && !seen.ids.is_empty();
            url = next;
        }
        self.warn_on_change(&self.capped, capped, CAPPED);
        self.warn_on_change(&self.off_host, off_host, OFF_HOST);
        for p in &mut posts {
            p.source = Some(self.name.clone());
        }
        if !posts.is_empty() {
            let newest = posts.iter().filter_map(|p| p.created_at.clone()).max();
            let seen = Seen {
                newest: newest.max(seen.newest),
                ids: posts.iter().take(SEEN_KEPT).map(key).collect(),
            };
            next_cursor.position = serde_json::to_string(&seen).ok();
        }
        // Oldest first when dated; the others keep the API's order after them.
        posts.sort_by(|a, b| match (&a.created_at, &b.created_at) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        Ok(Page {
            posts,
            cursor: next_cursor,
            wait,
        })
    }

    /// The wait the `backoff` pointer asks for, if any (absent, null or 0: none).
    fn wait(&self, doc: &Value) -> Result<Option<Duration>, SourceError> {
        let Some(p) = &self.backoff else {
            return Ok(None);
        };
        match doc.pointer(p) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                // A day at most: a wild value must not silence the source for ever.
                Some(s) if s > 0.0 && s.is_finite() => {
                    Ok(Some(Duration::from_secs_f64(s.min(86_400.0))))
                }
                Some(_) => Ok(None),
                None => Err(SourceError::Permanent(format!(
                    "\"backoff\": \"{p}\" = {v} is not a number of seconds"
                ))),
            },
        }
    }

    /// Logs `message` when `now` turns true (not at every poll while it stays so).
    fn warn_on_change(&self, flag: &AtomicBool, now: bool, message: &str) {
        if flag.swap(now, Ordering::Relaxed) != now && now {
            tracing::warn!(source = %self.name, "{message}");
        }
    }
}
