//! The `html` source: a web page's items, found by CSS selectors (SPEC §3).
//!
//! This file owns the kind's keys and their checks (selectors are compiled by `scraper` while
//! the config is read, so a bad one is a `file:line:col` error; `every` under 5 minutes is
//! refused unless the URL is loopback), its settings, and its `poll`/`parse`. `poll` asks the
//! site's robots.txt first ([`super::robots`]), then GETs the page (conditional on its
//! validators) through the fetcher, and parses it off the async threads. `parse` is pure: the
//! page's bytes, its URL and the fetch time in, posts out. Each item gives a post: its text
//! (HTML to text), author, time (machine or French formats, [`super::french_time`]; none: the
//! store uses the fetch time), link (resolved against the page URL) and id (else a hash of the
//! link and text). A page on which the item selector finds nothing is an error: the site
//! changed, or it is not the page the config means.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use scraper::{ElementRef, Html, Selector};
use sha2::{Digest, Sha256};
use toml::de::DeValue;

use super::fetch::{FetchRequest, Fetched, Fetcher};
use super::robots::Robots;
use super::text::html_to_text;
use super::{french_time, Cursor, Env, Kind, Page, PostFields, Source, SourceError};
use crate::config::duration::parse_duration;
use crate::config::raw::{article, Reader};
use crate::config::syntax::selector;
use crate::config::values::{self, POST_FIELDS};
use crate::config::{KindDef, Settings, SourceSpec};
use crate::post::Post;

/// The least `every` for a page on someone else's site: scraping is heavier than a feed, and
/// reviews do not come by the minute. Loopback URLs (tests, a local mirror) are exempt.
pub const MIN_EVERY: Duration = Duration::from_secs(300);

/// Most items one poll keeps (the first on the page).
pub const MAX_ITEMS: usize = 10_000;

/// `kind = "html"`.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "html",
        required: &["url", "item", "select"],
        optional: &[],
        secrets: &[],
        read,
    },
    build,
};

/// An `html` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlSettings {
    /// The page's URL.
    pub url: String,
    /// The CSS selector of one item.
    pub item: String,
    /// Per field, where to read it inside an item.
    pub select: PostFields<HtmlSelect>,
}

/// Where one field is read inside an item: an element's text, or one of its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlSelect {
    /// The CSS selector, relative to the item.
    pub css: String,
    /// The attribute to read (`href`, `datetime`), or the element's text when `None`.
    pub attr: Option<String>,
}

/// The item selector and, per field, a selector or `{ css, attr }`.
fn read(r: &mut Reader<'_, '_, '_>, _dir: &Path) -> Settings {
    let item = r.non_empty("item");
    if let Some((item, span)) = &item {
        if let Err(e) = css(item) {
            r.error(span.start, format!("\"item\": {e}"));
        }
    }
    let mut select = PostFields::default();
    if let Some((t, at)) = r.table("select") {
        let mut s = Reader::new(r.file(), t, at, &mut *r.errors);
        for field in POST_FIELDS {
            let Some(v) = s.raw(field) else { continue };
            let sel = match v.get_ref() {
                DeValue::Table(_) => {
                    let Some((t, at)) = s.table(field) else {
                        continue;
                    };
                    let mut c = Reader::new(s.file(), t, at, &mut *s.errors);
                    if !c.has("css") {
                        c.error(at, format!("\"select.{field}\" needs \"css\""));
                    }
                    let css = c.non_empty("css");
                    let attr = c.non_empty("attr").map(|(a, _)| a);
                    c.finish(&["css", "attr"]);
                    css.map(|css| (css, attr))
                }
                DeValue::String(_) => s.non_empty(field).map(|css| (css, None)),
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
            if let Some(((text, span), attr)) = sel {
                if let Err(e) = css(&text) {
                    s.error(span.start, format!("\"select.{field}\": {e}"));
                }
                select.set(field, HtmlSelect { css: text, attr });
            }
        }
        if !s.has("text") {
            s.error(at, "[source.select] needs \"text\"");
        }
        s.finish(POST_FIELDS);
    }
    let url = values::text(r, "url");
    polite_every(r, &url);
    Settings::new(HtmlSettings {
        url,
        item: item.map(|(i, _)| i).unwrap_or_default(),
        select,
    })
}

/// A selector as `scraper` compiles it, after the config's own check (clearer on typos).
fn css(s: &str) -> Result<Selector, String> {
    selector(s)?;
    Selector::parse(s).map_err(|e| format!("\"{s}\" is not a CSS selector: {e}"))
}

/// Refuses `every` under [`MIN_EVERY`] for a URL that is not loopback. A bad or missing
/// `every` or `url` is reported by the common checks.
fn polite_every(r: &mut Reader<'_, '_, '_>, url: &str) {
    let Some(v) = r.raw("every") else { return };
    let DeValue::String(text) = v.get_ref() else {
        return;
    };
    let Ok(every) = parse_duration(text) else {
        return;
    };
    if every < MIN_EVERY && !is_loopback(url) {
        r.error(
            v.span().start,
            format!(
                "\"every\" must be at least 5m for kind \"html\", not \"{text}\": a page is someone else's site (loopback URLs are exempt)"
            ),
        );
    }
}

/// Whether `url` points at this machine: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s: &HtmlSettings = super::settings(spec)?;
    let url = url::Url::parse(&s.url).map_err(|e| format!("\"url\": {e}"))?;
    let selectors = Selectors::compile(s)?;
    Ok(Box::new(HtmlSource {
        name: spec.name.clone(),
        url,
        max_bytes: spec.max_bytes,
        selectors: Arc::new(selectors),
        robots: Robots::default(),
    }))
}

/// The compiled selectors of a source.
#[derive(Debug)]
pub struct Selectors {
    item: Selector,
    fields: PostFields<(Selector, Option<String>)>,
}

impl Selectors {
    /// Compiles the settings' selectors (already checked by the config).
    pub fn compile(s: &HtmlSettings) -> Result<Selectors, String> {
        let one = |f: &Option<HtmlSelect>| -> Result<_, String> {
            f.as_ref()
                .map(|f| Ok((css(&f.css)?, f.attr.clone())))
                .transpose()
        };
        let sel = &s.select;
        Ok(Selectors {
            item: css(&s.item)?,
            fields: PostFields {
                id: one(&sel.id)?,
                text: one(&sel.text)?,
                author: one(&sel.author)?,
                created_at: one(&sel.created_at)?,
                url: one(&sel.url)?,
            },
        })
    }
}

/// A page polled for its items.
#[derive(Debug)]
pub struct HtmlSource {
    name: String,
    url: url::Url,
    max_bytes: u64,
    selectors: Arc<Selectors>,
    /// The site's robots.txt, kept a day.
    robots: Robots,
}

#[async_trait]
impl Source for HtmlSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let wait = self.robots.check(fetch, self.url.as_str()).await?;
        let req = FetchRequest::get(self.url.as_str(), cursor, self.max_bytes);
        let body = match fetch.get(&req).await? {
            Fetched::NotModified => {
                return Ok(Page {
                    posts: Vec::new(),
                    cursor: cursor.clone(),
                    wait,
                })
            }
            Fetched::Body(body) => body,
        };
        let cursor = Cursor {
            etag: body.etag,
            last_modified: body.last_modified,
            position: None,
        };
        let (selectors, url, name) = (Arc::clone(&self.selectors), self.url.clone(), self.name.clone());
        let (bytes, content_type) = (body.bytes, body.content_type);
        // Parsing a big page is seconds of CPU: off the async threads, and a panic in the
        // parser is this poll's error, not the daemon's.
        let posts = tokio::task::spawn_blocking(move || {
            let text = decode(&bytes, content_type.as_deref());
            parse(&text, &url, &selectors, &name, Utc::now())
        })
        .await
        .map_err(|_| SourceError::Permanent("the HTML parser crashed on this page".into()))??;
        Ok(Page { posts, cursor, wait })
    }
}

/// The page as text: its declared charset (`Content-Type`, else `<meta charset>`), else UTF-8,
/// invalid bytes replaced.
pub fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return Cow::Owned(enc.decode_without_bom_handling(&bytes[bom..]).0.into_owned());
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let label = content_type
        .map(str::to_ascii_lowercase)
        .and_then(|ct| charset(&ct))
        .or_else(|| charset(&head));
    match label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes())) {
        Some(enc) if enc != encoding_rs::UTF_8 => Cow::Owned(enc.decode(bytes).0.into_owned()),
        _ => crate::post::decode_lossy(bytes),
    }
}

/// The value after the first `charset=` in `text`.
fn charset(text: &str) -> Option<String> {
    let rest = &text[text.find("charset=")? + 8..];
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

/// The posts of a page, oldest first (then those without a time, in page order), at most
/// [`MAX_ITEMS`]. `now` is the fetch time, for relative times ("il y a 3 heures").
pub fn parse(
    html: &str,
    page: &url::Url,
    sel: &Selectors,
    source: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Post>, SourceError> {
    let doc = Html::parse_document(html);
    let mut items = 0;
    let mut posts: Vec<Post> = Vec::new();
    for item in doc.select(&sel.item).take(MAX_ITEMS) {
        items += 1;
        if let Some(post) = post(item, page, sel, source, now) {
            posts.push(post);
        }
    }
    if items == 0 {
        return Err(SourceError::Permanent(
            "no element of the page matches the \"item\" selector: has the site changed?".into(),
        ));
    }
    if posts.is_empty() {
        return Err(SourceError::Permanent(format!(
            "none of the {items} items has a text: no element matches the \"select.text\" selector"
        )));
    }
    // Dated posts first, oldest first; undated ones after them, in page order (a total order:
    // the sort may panic on one that is not).
    posts.sort_by(|a, b| match (&a.created_at, &b.created_at) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ok(posts)
}

/// One item's post; `None` when it has no text.
fn post(item: ElementRef<'_>, page: &url::Url, sel: &Selectors, source: &str, now: DateTime<Utc>) -> Option<Post> {
    let text = match &sel.fields.text {
        Some((css, None)) => find(item, css).map(|e| html_to_text(&e.inner_html())),
        Some(field) => value(item, field),
        None => None,
    }
    .filter(|t| !t.trim().is_empty())?;
    let field = |f: &Option<(Selector, Option<String>)>| f.as_ref().and_then(|f| value(item, f));
    let url = field(&sel.fields.url)
        .and_then(|link| page.join(&link).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(String::from);
    let created_at = field(&sel.fields.created_at)
        .and_then(|t| french_time::parse(&t, now))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
    let id = field(&sel.fields.id).unwrap_or_else(|| {
        let digest = Sha256::digest(format!("{}\n{text}", url.as_deref().unwrap_or_default()));
        digest[..12].iter().map(|b| format!("{b:02x}")).collect()
    });
    Some(Post {
        id: Some(id),
        source: Some(source.to_string()),
        text,
        author: field(&sel.fields.author),
        url,
        created_at,
        ..Post::default()
    })
}

/// The item itself when it matches `css` (`id = { css = "article", attr = "data-id" }`), else
/// its first descendant that does.
fn find<'a>(item: ElementRef<'a>, css: &Selector) -> Option<ElementRef<'a>> {
    if css.matches(&item) {
        return Some(item);
    }
    item.select(css).next()
}

/// A field's value: the attribute, or the element's text on one line; `None` when empty.
fn value(item: ElementRef<'_>, (css, attr): &(Selector, Option<String>)) -> Option<String> {
    let el = find(item, css)?;
    let raw = match attr {
        Some(a) => el.value().attr(a)?.to_string(),
        None => el.text().collect::<Vec<_>>().join(" "),
    };
    let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    (!one_line.is_empty()).then_some(one_line)
}

#[cfg(test)]
mod tests;
