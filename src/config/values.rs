//! Generic checks of values that several kinds use (SPEC §3): keys that go together, language
//! codes, HTTP headers, email addresses, and the fields a post takes from a `json` item or an
//! `html` element. JSON Pointers, JSONPath and CSS selectors are `syntax`'s.
//!
//! Each kind's own checks live in its file (`source::mastodon`, `notify::email`…) and call these;
//! `validate` checks what all kinds share (required keys, secrets written in clear, URLs). Nothing
//! here reads a secret's value: that is `secret`'s job, when the pipeline is built or `vigie
//! check` resolves them.

use super::raw::Reader;

/// The fields a post takes from a `json` item or an `html` element.
pub const POST_FIELDS: &[&str] = &["id", "text", "author", "created_at", "url"];

/// A string key's value, or empty when it is absent or not a string (then an error is recorded).
pub fn text(r: &mut Reader<'_, '_, '_>, key: &str) -> String {
    r.string(key).map(|(s, _)| s).unwrap_or_default()
}

/// A string key's value, if present and a string.
pub fn opt_text(r: &mut Reader<'_, '_, '_>, key: &str) -> Option<String> {
    r.string(key).map(|(s, _)| s)
}

/// The values of a list (as read by `Reader::list`), without their spans.
pub fn plain(list: Option<Vec<super::raw::At<String>>>) -> Vec<String> {
    list.unwrap_or_default()
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

/// `headers`: a table of valid HTTP header names and values.
pub fn headers(r: &mut Reader<'_, '_, '_>) {
    let at = r.key_at("headers").unwrap_or(r.at);
    for (name, value) in r.string_table("headers").unwrap_or_default() {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            r.error(
                at,
                format!("\"headers\": \"{name}\" is not a valid HTTP header name"),
            );
        } else if reqwest::header::HeaderValue::from_str(&value).is_err() {
            r.error(
                at,
                format!("\"headers\": the value of \"{name}\" is not a valid HTTP header value"),
            );
        }
    }
}

/// Both keys or neither (`b` is a secret: also `b_file` or `credential`).
pub fn together(r: &mut Reader<'_, '_, '_>, a: &str, b: &str) {
    let a_at = r.key_at(a);
    let b_at = [b.to_string(), format!("{b}_file"), "credential".to_string()]
        .iter()
        .find_map(|k| r.key_at(k));
    match (a_at, b_at) {
        (Some(at), None) => r.error(at, format!("\"{a}\" needs \"{b}\"")),
        (None, Some(at)) => r.error(at, format!("\"{b}\" needs \"{a}\"")),
        _ => {}
    }
}

/// A BCP 47 language code (`fr`, `pt-BR`) written at `at` for `key`.
pub fn language(r: &mut Reader<'_, '_, '_>, key: &str, lang: &str, at: usize) {
    let mut parts = lang.split('-');
    let first = parts.next().unwrap_or_default();
    let ok = (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts
            .all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !ok {
        r.error(
            at,
            format!("\"{key}\": \"{lang}\" is not a language code like \"fr\" or \"pt-BR\""),
        );
    }
}

/// An email address (`Name <addr>`) written at `at` for `key`.
pub fn mailbox(r: &mut Reader<'_, '_, '_>, key: &str, addr: &str, at: usize) {
    if let Err(e) = addr.parse::<lettre::message::Mailbox>() {
        r.error(at, format!("\"{key}\": invalid address \"{addr}\": {e}"));
    }
}
