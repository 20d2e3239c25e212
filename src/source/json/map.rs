//! The `json` kind's mapping, pure: a response document → its items (JSONPath) → posts (JSON
//! Pointers and templates), times → RFC 3339 UTC, and the next page's URL.
//!
//! Every way a mapping can miss is an error naming the key and the pointer, and saying where the
//! pointer stops (`no "name" in /user (its keys: "login", "id")`), so that a user reading `vigie
//! sources` or `vigie preview` can fix the config; silent emptiness would look like a quiet API.
//! A pointer that reaches a JSON `null` is "no value" for `author`, `url` and `created_at` (an
//! API's way of saying "none"), and an error for `id` and `text`. Fetching and paging are
//! `json.rs`'s.

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use serde_json_path::JsonPath;

use crate::post::Post;
use crate::source::text::html_to_text;
use crate::source::PostFields;

/// What a template's value may keep as is when it goes into a URL: RFC 3986's unreserved.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How `created_at` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `2026-11-22T09:14:00+01:00`.
    Rfc3339,
    /// Seconds since 1970 (a number or a string of digits).
    Unix,
    /// Milliseconds since 1970.
    UnixMs,
    /// Not given: a string is RFC 3339, a number Unix seconds.
    Guess,
}

impl TimeFormat {
    /// From the config's `time_format`.
    pub fn from_config(value: Option<&str>) -> TimeFormat {
        match value {
            Some("rfc3339") => TimeFormat::Rfc3339,
            Some("unix") => TimeFormat::Unix,
            Some("unix_ms") => TimeFormat::UnixMs,
            _ => TimeFormat::Guess,
        }
    }
}

/// How a page's items become posts.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// `items`, as written (for errors).
    pub items_text: String,
    /// `items`, parsed.
    pub items: JsonPath,
    /// `items` without its last `[*]` / `.*`: when it selects something (an empty list), a page
    /// without items is an empty page rather than a mapping that selects nothing.
    pub list: Option<JsonPath>,
    /// Per field, a pointer or a template.
    pub fields: PostFields<String>,
    /// How `created_at` is written.
    pub time_format: TimeFormat,
}

impl Mapping {
    /// The mapping of `items` (already checked by the config) and `fields`.
    pub fn new(
        items: &str,
        fields: PostFields<String>,
        time_format: TimeFormat,
    ) -> Result<Mapping, String> {
        let parse = |p: &str| JsonPath::parse(p).map_err(|e| format!("\"items\": {e}"));
        let list = items
            .strip_suffix("[*]")
            .or_else(|| items.strip_suffix(".*"))
            .map(parse)
            .transpose()?;
        Ok(Mapping {
            items_text: items.to_string(),
            items: parse(items)?,
            list,
            fields,
            time_format,
        })
    }

    /// The items of a response. A path that selects one list (`$.items` for `$.items[*]`) gives
    /// its elements; a path that selects nothing is an error, unless the list it walks exists.
    pub fn items<'a>(&self, doc: &'a Value) -> Result<Vec<&'a Value>, String> {
        let nodes = self.items.query(doc).all();
        if let [Value::Array(list)] = nodes[..] {
            return Ok(list.iter().collect());
        }
        if !nodes.is_empty() {
            return Ok(nodes);
        }
        if let Some(list) = &self.list {
            // An empty list, or `null` (how some APIs say "none"), is an empty page.
            let walked = list.query(doc).all();
            if walked.iter().any(|v| v.is_array() || v.is_object() || v.is_null()) {
                return Ok(Vec::new());
            }
        }
        Err(format!(
            "\"items\": \"{}\" selects nothing in the response ({})",
            self.items_text,
            keys_of(doc)
        ))
    }

    /// The post an item becomes (`n`: its place on the page, from 1, for errors).
    pub fn post(&self, item: &Value, n: usize) -> Result<Post, String> {
        let f = &self.fields;
        let at = |field: &str| format!("item {n}: \"fields.{field}\"");
        let required = |field: &str, how: &Option<String>| -> Result<Option<String>, String> {
            match how {
                None => Ok(None),
                Some(how) => match self.value(item, how, field == "url")? {
                    Some(v) => Ok(Some(v)),
                    None => Err(format!("{}: \"{how}\" is null", at(field))),
                },
            }
        };
        let optional = |field: &str, how: &Option<String>| match how {
            None => Ok(None),
            Some(how) => self.value(item, how, field == "url"),
        };
        let id = required("id", &f.id).map_err(|e| with(&at("id"), e))?;
        let text = required("text", &f.text).map_err(|e| with(&at("text"), e))?;
        let author = optional("author", &f.author).map_err(|e| with(&at("author"), e))?;
        let url = optional("url", &f.url).map_err(|e| with(&at("url"), e))?;
        let created_at = match &f.created_at {
            None => None,
            Some(p) => self
                .time(item, p)
                .map_err(|e| with(&at("created_at"), e))?,
        };
        Ok(Post {
            id,
            text: html_to_text(&text.unwrap_or_default()),
            author,
            url,
            created_at,
            ..Post::default()
        })
    }

    /// A pointer's value as text, or a template filled in (`url`: its values percent-encoded).
    fn value(&self, item: &Value, how: &str, url: bool) -> Result<Option<String>, String> {
        if how.starts_with('/') {
            return text_at(item, how);
        }
        fill(how, |p| match text_at(item, p)? {
            Some(v) if url => Ok(utf8_percent_encode(&v, COMPONENT).to_string()),
            Some(v) => Ok(v),
            None => Err(format!("\"{p}\" is null")),
        })
        .map(Some)
    }

    /// `created_at` as RFC 3339 UTC.
    fn time(&self, item: &Value, pointer: &str) -> Result<Option<String>, String> {
        let Some(value) = found(item, pointer)? else {
            return Ok(None);
        };
        time(value, self.time_format)
            .map(Some)
            .map_err(|why| format!("\"{pointer}\" = {value} {why}"))
    }
}

/// `prefix: message`, unless the message already names where (template errors do not).
fn with(prefix: &str, e: String) -> String {
    format!("{prefix}: {e}")
}

/// A template with each `{/pointer}` replaced by `value(pointer)`.
pub fn fill(
    template: &str,
    mut value: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&value(&rest[open + 1..open + len])?);
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value at `pointer`: `None` for a JSON null, an error saying where it stops when absent.
pub fn found<'a>(doc: &'a Value, pointer: &str) -> Result<Option<&'a Value>, String> {
    match doc.pointer(pointer) {
        Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(v)),
        None => Err(missing(doc, pointer)),
    }
}

/// The text at `pointer`: strings as they are, numbers and booleans written out.
pub fn text_at(doc: &Value, pointer: &str) -> Result<Option<String>, String> {
    match found(doc, pointer)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(Value::Array(_)) => Err(format!("\"{pointer}\" is a list, not a text")),
        Some(_) => Err(format!("\"{pointer}\" is an object, not a text")),
    }
}

/// Why `pointer` selects nothing in `doc`: the first step that does not exist, and the keys
/// that do there.
fn missing(doc: &Value, pointer: &str) -> String {
    let mut here = doc;
    let mut walked = String::new();
    for token in pointer.split('/').skip(1) {
        let name = token.replace("~1", "/").replace("~0", "~");
        let next = match here {
            Value::Object(map) => map.get(&name),
            Value::Array(list) => name.parse::<usize>().ok().and_then(|i| list.get(i)),
            _ => None,
        };
        match next {
            Some(v) => {
                here = v;
                walked.push('/');
                walked.push_str(token);
            }
            None => {
                let place = if walked.is_empty() {
                    "the item".to_string()
                } else {
                    walked.clone()
                };
                return format!(
                    "\"{pointer}\" selects nothing: no \"{name}\" in {place} ({})",
                    keys_of(here)
                );
            }
        }
    }
    format!("\"{pointer}\" selects nothing")
}

/// `its keys: "a", "b"` (the first ten), or what the value is instead of an object.
fn keys_of(v: &Value) -> String {
    match v {
        Value::Object(map) if map.is_empty() => "an empty object".into(),
        Value::Object(map) => {
            let mut keys: Vec<String> = map.keys().take(10).map(|k| format!("\"{k}\"")).collect();
            if map.len() > 10 {
                keys.push("…".into());
            }
            format!("its keys: {}", keys.join(", "))
        }
        Value::Array(list) => format!("a list of {}", list.len()),
        Value::String(_) => "a string".into(),
        Value::Number(_) => "a number".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Null => "null".into(),
    }
}

/// Why a value is not an RFC 3339 time.
const RFC3339: &str =
    "is not an RFC 3339 time like \"2026-11-22T09:14:00+01:00\" (time_format = \"rfc3339\")";

/// A time as RFC 3339 UTC to the second (`2026-11-22T08:14:00Z`), or why it is not one.
pub fn time(value: &Value, format: TimeFormat) -> Result<String, String> {
    let utc = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let since_1970 = |v: &Value, per_second: f64, what: &str| {
        let n = number(v).ok_or_else(|| format!("is not a number of {what} (time_format)"))?;
        let ms = (n * 1000.0 / per_second).round();
        if !ms.is_finite() || ms.abs() > 8.0e15 {
            return Err(format!("is out of range for {what} (time_format)"));
        }
        DateTime::from_timestamp_millis(ms as i64)
            .map(utc)
            .ok_or_else(|| format!("is out of range for {what} (time_format)"))
    };
    let rfc3339 = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|t| utc(t.with_timezone(&Utc)))
            .ok_or_else(|| RFC3339.to_string())
    };
    match format {
        TimeFormat::Rfc3339 => rfc3339(value),
        TimeFormat::Unix => since_1970(value, 1.0, "seconds since 1970"),
        TimeFormat::UnixMs => since_1970(value, 1000.0, "milliseconds since 1970"),
        TimeFormat::Guess if value.is_number() => since_1970(value, 1.0, "seconds since 1970"),
        TimeFormat::Guess => rfc3339(value),
    }
}

/// The next page's URL from `next` (a pointer to a URL, absolute or relative to `page`, or a
/// template whose values are percent-encoded). `None` when the response gives none (absent,
/// null or empty): the last page.
pub fn next_url(doc: &Value, next: &str, page: &url::Url) -> Result<Option<url::Url>, String> {
    let target = if next.starts_with('/') {
        match doc.pointer(next) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(format!("\"next\": \"{next}\" is not a URL")),
        }
    } else {
        let mut ended = false;
        let filled = fill(next, |p| match doc.pointer(p) {
            Some(Value::String(s)) if !s.is_empty() => {
                Ok(utf8_percent_encode(s, COMPONENT).to_string())
            }
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => {
                ended = true;
                Ok(String::new())
            }
        })?;
        if ended {
            return Ok(None);
        }
        filled
    };
    page.join(&target)
        .map(Some)
        .map_err(|e| format!("\"next\": the response's next page is not a URL: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn times_land_as_rfc3339_utc() {
        let table = [
            (json!("2026-11-22T09:14:00+01:00"), TimeFormat::Rfc3339, "2026-11-22T08:14:00Z"),
            (json!("2026-11-22T08:14:00.250Z"), TimeFormat::Guess, "2026-11-22T08:14:00Z"),
            (json!(1_795_335_240), TimeFormat::Unix, "2026-11-22T08:14:00Z"),
            (json!("1795335240"), TimeFormat::Unix, "2026-11-22T08:14:00Z"),
            (json!(1_795_335_240.4), TimeFormat::Guess, "2026-11-22T08:14:00Z"),
            (json!(1_795_335_240_000_i64), TimeFormat::UnixMs, "2026-11-22T08:14:00Z"),
        ];
        for (value, format, want) in table {
            assert_eq!(time(&value, format).as_deref(), Ok(want), "{value} {format:?}");
        }
        assert!(time(&json!("hier"), TimeFormat::Rfc3339).is_err());
        assert!(time(&json!("2026-11-22T08:14:00Z"), TimeFormat::Unix).is_err());
        assert!(time(&json!(1e300), TimeFormat::UnixMs).is_err());
    }

    #[test]
    fn a_missing_pointer_says_where_it_stops() {
        let item = json!({"id": 7, "user": {"login": "bob", "id": 3}});
        let e = text_at(&item, "/user/name").unwrap_err();
        assert_eq!(
            e,
            "\"/user/name\" selects nothing: no \"name\" in /user (its keys: \"login\", \"id\")"
        );
        let e = text_at(&item, "/author").unwrap_err();
        assert!(e.contains("no \"author\" in the item (its keys: \"id\", \"user\")"), "{e}");
        assert_eq!(text_at(&item, "/id"), Ok(Some("7".into())));
        assert!(text_at(&item, "/user").unwrap_err().contains("object"));
    }

    #[test]
    fn templates_fill_and_encode_for_urls() {
        let fields = PostFields {
            text: Some("{/title}\n{/body}".to_string()),
            url: Some("https://x.example/q/{/id}?t={/title}".to_string()),
            ..PostFields::default()
        };
        let m = Mapping::new("$.items[*]", fields, TimeFormat::Guess).unwrap();
        let p = m
            .post(&json!({"id": 5, "title": "Colis & retard", "body": "<p>Où est-il&nbsp;?</p>"}), 1)
            .unwrap();
        assert!(p.text.starts_with("Colis & retard\n"), "{:?}", p.text);
        assert!(p.text.ends_with("Où est-il\u{a0}?"), "{:?}", p.text);
        assert_eq!(p.url.as_deref(), Some("https://x.example/q/5?t=Colis%20%26%20retard"));
    }

    #[test]
    fn items_that_select_nothing_are_an_error_but_an_empty_list_is_not() {
        let m = Mapping::new("$.items[*]", PostFields::default(), TimeFormat::Guess).unwrap();
        assert_eq!(m.items(&json!({"items": []})), Ok(vec![]));
        assert_eq!(m.items(&json!({"items": null})), Ok(vec![]));
        let e = m.items(&json!({"data": [1]})).unwrap_err();
        assert_eq!(
            e,
            "\"items\": \"$.items[*]\" selects nothing in the response (its keys: \"data\")"
        );
        let whole = Mapping::new("$.items", PostFields::default(), TimeFormat::Guess).unwrap();
        assert_eq!(whole.items(&json!({"items": [1, 2]})).unwrap().len(), 2);
    }

    #[test]
    fn next_pages() {
        let page = url::Url::parse("https://api.example/v1/reviews?page=1").unwrap();
        let doc = json!({"links": {"next": "/v1/reviews?page=2"}, "nextPageToken": "a b", "end": null});
        let next = |n: &str| next_url(&doc, n, &page).map(|u| u.map(|u| u.to_string()));
        assert_eq!(
            next("/links/next"),
            Ok(Some("https://api.example/v1/reviews?page=2".into()))
        );
        assert_eq!(
            next("https://api.example/v1/reviews?pageToken={/nextPageToken}"),
            Ok(Some("https://api.example/v1/reviews?pageToken=a%20b".into()))
        );
        assert_eq!(next("/end"), Ok(None));
        assert_eq!(next("/nothing"), Ok(None));
        assert_eq!(next("https://x/?t={/end}"), Ok(None));
    }
}
