//! The values of each kind's own keys (SPEC §3): enums, ranges, lists, JSON Pointers, CSS
//! selectors, email addresses, HTTP headers, and keys that go together or belong to one mode.
//!
//! `kinds` says which keys a kind takes and points each kind at its function here; `validate`
//! checks what all kinds share (required keys, secrets written in clear, URLs). A function reads
//! every one of its kind's keys typed, so that `vigie check` refuses what `vigie run` (or the
//! module that will poll the kind) would refuse. Nothing here reads a secret's value: that is
//! `secret`'s job, when the pipeline is built or `vigie check` resolves them.

use super::raw::{article, Reader};
use super::syntax::{json_path, pointer, pointer_or_template, selector};

/// Hacker News (Algolia) tags taken as they are; `author_…` and `story_…` are also accepted.
const HN_TAGS: &[&str] = &[
    "story",
    "comment",
    "poll",
    "pollopt",
    "show_hn",
    "ask_hn",
    "front_page",
];

/// The fields a post takes from a `json` item or an `html` element.
const POST_FIELDS: &[&str] = &["id", "text", "author", "created_at", "url"];

/// `jsonl`: a file path.
pub fn jsonl(r: &mut Reader<'_, '_, '_>) {
    r.non_empty("path");
}

/// Kinds whose keys are all checked by `validate` (URLs and secrets): `rss`, the chat webhooks,
/// `console`.
pub fn nothing_more(_: &mut Reader<'_, '_, '_>) {}

/// `mastodon`: hashtags, timeline.
pub fn mastodon(r: &mut Reader<'_, '_, '_>) {
    for (tag, span) in r.list("hashtags").unwrap_or_default() {
        let word = tag.strip_prefix('#').unwrap_or(&tag);
        if word.is_empty() || !word.chars().all(|c| c.is_alphanumeric() || c == '_') {
            r.error(
                span.start,
                format!("\"hashtags\": \"{tag}\" is not a hashtag (letters, digits and _)"),
            );
        }
    }
    r.one_of("timeline", &["local", "public"]);
}

/// `bluesky`: `mode` decides which keys apply.
pub fn bluesky(r: &mut Reader<'_, '_, '_>) {
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
    if mode.as_deref() != Some("jetstream") {
        r.non_empty("query");
        if let Some((lang, span)) = r.string("lang") {
            language(r, "lang", &lang, span.start);
        }
        r.non_empty("identifier");
        together(r, "identifier", "app_password");
    }
    if mode.as_deref() != Some("search") {
        for (lang, span) in r.list("langs").unwrap_or_default() {
            language(r, "langs", &lang, span.start);
        }
    }
}

/// `reddit`: subreddit names, an optional query, OAuth keys together.
pub fn reddit(r: &mut Reader<'_, '_, '_>) {
    if let Some(subs) = r.list("subreddits") {
        if subs.is_empty() {
            let at = r.key_at("subreddits").unwrap_or(r.at);
            r.error(at, "\"subreddits\" is empty");
        }
        for (sub, span) in subs {
            let ok = (2..=21).contains(&sub.len())
                && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                r.error(
                    span.start,
                    format!(
                        "\"subreddits\": \"{sub}\" is not a subreddit name (2 to 21 letters, digits or _, without \"r/\")"
                    ),
                );
            }
        }
    }
    r.non_empty("query");
    r.non_empty("client_id");
    together(r, "client_id", "client_secret");
}

/// `hackernews`: a query and Algolia tags.
pub fn hackernews(r: &mut Reader<'_, '_, '_>) {
    r.non_empty("query");
    for (tag, span) in r.list("tags").unwrap_or_default() {
        let ok = HN_TAGS.contains(&tag.as_str())
            || tag.strip_prefix("author_").is_some_and(|a| !a.is_empty())
            || tag
                .strip_prefix("story_")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            r.error(
                span.start,
                format!(
                    "\"tags\": \"{tag}\" is not one of {}, author_NAME, story_ID",
                    HN_TAGS.join(", ")
                ),
            );
        }
    }
}

/// `discourse`: `mode` (default `posts`), a query in mode `search`, API keys together.
pub fn discourse(r: &mut Reader<'_, '_, '_>) {
    let mode = r.one_of("mode", &["posts", "search"]).map(|(m, _)| m);
    let query = r.non_empty("query");
    match (mode.as_deref(), query) {
        (Some("search"), None) if !r.has("query") => {
            let at = r.at;
            r.error(
                at,
                "source of kind \"discourse\" in mode \"search\" needs \"query\"",
            );
        }
        (Some("posts"), Some((_, span))) => {
            r.error(
                span.start,
                "\"query\" needs mode = \"search\", not \"posts\"",
            );
        }
        (None, Some((_, span))) if !r.has("mode") => {
            r.error(span.start, "\"query\" needs mode = \"search\"");
        }
        _ => {}
    }
    r.non_empty("api_username");
    together(r, "api_username", "api_key");
}

/// `x`: a query, the page size the API takes, a daily spend cap.
pub fn x(r: &mut Reader<'_, '_, '_>) {
    r.non_empty("query");
    r.u64_in("max_results", 10, 100);
    r.u64_in("max_posts_per_day", 1, u64::MAX);
}

/// `facebook`: a page id or name.
pub fn facebook(r: &mut Reader<'_, '_, '_>) {
    if let Some((id, span)) = r.non_empty("page_id") {
        if id.chars().any(|c| c.is_whitespace() || "/?#&".contains(c)) {
            r.error(
                span.start,
                format!("\"page_id\": \"{id}\" is not a page id or name"),
            );
        }
    }
}

/// `json`: items (JSONPath), fields (JSON Pointers or templates), time format, next, headers.
pub fn json(r: &mut Reader<'_, '_, '_>) {
    if let Some((items, span)) = r.non_empty("items") {
        if let Err(e) = json_path(&items) {
            r.error(span.start, format!("\"items\": {e}"));
        }
    }
    if let Some((t, at)) = r.table("fields") {
        let mut f = Reader::new(r.file(), t, at, &mut *r.errors);
        for field in POST_FIELDS {
            if let Some((value, span)) = f.non_empty(field) {
                if let Err(e) = pointer_or_template(&value) {
                    f.error(span.start, format!("\"fields.{field}\": {e}"));
                }
            }
        }
        if !f.has("text") {
            f.error(at, "[source.fields] needs \"text\"");
        }
        f.finish(POST_FIELDS);
    }
    r.one_of("time_format", &["rfc3339", "unix", "unix_ms"]);
    if let Some((next, span)) = r.string("next") {
        if let Err(e) = pointer(&next) {
            r.error(span.start, format!("\"next\": {e}"));
        }
    }
    headers(r);
}

/// `html`: the item selector and, per field, a selector or `{ css, attr }`.
pub fn html(r: &mut Reader<'_, '_, '_>) {
    if let Some((item, span)) = r.non_empty("item") {
        if let Err(e) = selector(&item) {
            r.error(span.start, format!("\"item\": {e}"));
        }
    }
    let Some((t, at)) = r.table("select") else {
        return;
    };
    let mut s = Reader::new(r.file(), t, at, &mut *r.errors);
    for field in POST_FIELDS {
        let Some(v) = s.raw(field) else { continue };
        let sel = match v.get_ref() {
            toml::de::DeValue::Table(_) => {
                let Some((t, at)) = s.table(field) else {
                    continue;
                };
                let mut c = Reader::new(s.file(), t, at, &mut *s.errors);
                if !c.has("css") {
                    c.error(at, format!("\"select.{field}\" needs \"css\""));
                }
                let css = c.non_empty("css");
                c.non_empty("attr");
                c.finish(&["css", "attr"]);
                css
            }
            toml::de::DeValue::String(_) => s.non_empty(field),
            other => {
                let got = other.type_str();
                s.error(
                    v.span().start,
                    format!(
                        "\"select.{field}\" must be a CSS selector or {{ css = \"…\", attr = \"…\" }}, not {} {got}",
                        article(got)
                    ),
                );
                None
            }
        };
        if let Some((css, span)) = sel {
            if let Err(e) = selector(&css) {
                s.error(span.start, format!("\"select.{field}\": {e}"));
            }
        }
    }
    if !s.has("text") {
        s.error(at, "[source.select] needs \"text\"");
    }
    s.finish(POST_FIELDS);
}

/// `email`: addresses, and a login that has both its halves.
pub fn email(r: &mut Reader<'_, '_, '_>) {
    if let Some((addr, span)) = r.non_empty("from") {
        mailbox(r, "from", &addr, span.start);
    }
    if let Some(to) = r.strings("to") {
        if to.is_empty() {
            let at = r.key_at("to").unwrap_or(r.at);
            r.error(at, "\"to\" names no recipient");
        }
        for (addr, span) in to {
            mailbox(r, "to", &addr, span.start);
        }
    }
    r.non_empty("username");
    // A password inside the URL is refused by `validate`; then the pair is not in question.
    let url = r
        .string("smtp_url")
        .and_then(|(u, span)| Some((url::Url::parse(&u).ok()?, span.start)));
    if url.as_ref().is_some_and(|(u, _)| u.password().is_some()) {
        return;
    }
    let url_user = url.and_then(|(u, at)| (!u.username().is_empty()).then_some(at));
    let user_at = r.key_at("username").or(url_user);
    let password_at = ["password", "password_file", "credential"]
        .iter()
        .find_map(|k| r.key_at(k));
    match (user_at, password_at) {
        (Some(at), None) => r.error(
            at,
            "a username is set (in \"smtp_url\" or \"username\") but no \"password\" (or password_file, credential)",
        ),
        (None, Some(at)) => r.error(
            at,
            "a password is set but no username (in \"smtp_url\" or \"username\")",
        ),
        _ => {}
    }
}

/// `webhook`: extra request headers.
pub fn webhook(r: &mut Reader<'_, '_, '_>) {
    headers(r);
}

/// `headers`: a table of valid HTTP header names and values.
fn headers(r: &mut Reader<'_, '_, '_>) {
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
fn together(r: &mut Reader<'_, '_, '_>, a: &str, b: &str) {
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

fn language(r: &mut Reader<'_, '_, '_>, key: &str, lang: &str, at: usize) {
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

fn mailbox(r: &mut Reader<'_, '_, '_>, key: &str, addr: &str, at: usize) {
    if let Err(e) = addr.parse::<lettre::message::Mailbox>() {
        r.error(at, format!("\"{key}\": invalid address \"{addr}\": {e}"));
    }
}

#[cfg(test)]
mod tests {
    /// A minimal valid table for each kind, without its `[[…]]` header, `name` and `kind`.
    fn base(kind: &str, key: &str) -> &'static str {
        match kind {
            "rss" => "url = \"https://x.org/f\"",
            "jsonl" => "path = \"p.jsonl\"",
            "mastodon" => "instance = \"https://m.social\"",
            "bluesky" if ["endpoint", "langs"].contains(&key) => "mode = \"jetstream\"",
            "bluesky" => "mode = \"search\"\nquery = \"q\"",
            "reddit" => "subreddits = [\"france\"]",
            "hackernews" => "query = \"q\"",
            "discourse" => "url = \"https://f.org\"",
            "x" => "query = \"q\"\nbearer_token = \"${T}\"\nmax_posts_per_day = 10",
            "facebook" => "page_id = \"1\"\naccess_token = \"${T}\"",
            "json" => "url = \"https://x.org\"\nitems = \"$[*]\"\nfields = { text = \"/t\" }",
            "html" => "url = \"https://x.org\"\nitem = \"p\"\nselect = { text = \"p\" }",
            "email" => "smtp_url = \"smtp://h\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]",
            "console" => "",
            _ => "url = \"https://h.org/x\"",
        }
    }

    /// Every key of every kind, set to `true` (or a string, for the one boolean key), is
    /// refused at its line.
    #[test]
    fn every_key_of_every_kind_is_type_checked() {
        use crate::config::kinds::{NOTIFIERS, NOTIFIER_COMMON, SOURCES, SOURCE_COMMON};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        let tables = [
            ("source", SOURCES, SOURCE_COMMON),
            ("notifier", NOTIFIERS, NOTIFIER_COMMON),
        ];
        let mut checked = 0;
        for (table, kinds, common) in tables {
            for kind in kinds {
                let keys = common
                    .iter()
                    .filter(|k| **k != "kind")
                    .map(|k| k.to_string())
                    .chain(kind.keys());
                for key in keys {
                    let base: String = base(kind.name, &key)
                        .lines()
                        .filter(|l| !l.starts_with(&format!("{key} ")))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    let name = if key == "name" { "" } else { "name = \"n\"\n" };
                    // The one boolean key (jsonl's demo-only `shift_to_now`) gets a string.
                    let wrong = if key == "shift_to_now" {
                        "\"yes\""
                    } else {
                        "true"
                    };
                    let text = format!(
                        "[daemon]\nrules = []\n[[{table}]]\n{name}kind = \"{}\"\n{base}{key} = {wrong}\n",
                        kind.name
                    );
                    let line = text.lines().count();
                    std::fs::write(&path, &text).unwrap();
                    let errors = crate::config::load_with_env(&path, &|_| None).expect_err(&text);
                    let want = format!("\"{key}\" must be");
                    assert!(
                        errors
                            .iter()
                            .any(|e| e.line == line && e.message.starts_with(&want)),
                        "{}: {key} = true not refused as a type error:\n{text}\n{errors:#?}",
                        kind.name
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 80, "{checked}");
    }
}
