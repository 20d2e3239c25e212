//! The `rss` source: RSS 0.9x/1.0/2.0, Atom and JSON Feed, through `feed-rs`.
//!
//! `parse` is pure and tolerant. Real feeds are broken in known ways (the feedparser corpus
//! shows them all): `feed-rs` 3.0 panics on some UTF-16 documents, rejects an `<rss>` root
//! without `version`, fails a whole document on one stray `&` or on an HTML entity that XML
//! does not define (`&eacute;`). So every parse runs under `catch_unwind`, and a failed parse is
//! retried once on a repaired copy: transcoded to UTF-8 from its BOM or declared encoding, a
//! `version` added, stray `&` escaped, HTML entities turned into character references. A
//! document that still fails is a clean `Permanent` error; a UTF-8 document with invalid bytes
//! is one too (it is reported, not silently mangled). HTML content becomes plain text in
//! `text`. Fetching, conditional GET and byte caps are `fetch`'s.
//!
//! Memory: `feed-rs` builds a model of the whole document, about ten times its size, so a
//! document with more than [`BATCH`] items is cut (by a quick-xml scan of the element tree) into
//! documents of [`BATCH`] items that share the original's head and tail, and each is parsed and
//! turned into posts before the next. A poll keeps at most [`MAX_POSTS_PER_POLL`] posts, the
//! newest; the source logs how many it skipped (once, until the feed shrinks again).

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use feed_rs::model::{Entry, Feed};
use quick_xml::events::Event;

mod authors;

use super::fetch::{FetchRequest, Fetched, Fetcher};
use super::text::html_to_text;
use super::{Cursor, Env, Kind, Page, Source, SourceError};
use crate::config::raw::Reader;
use crate::config::{values, KindDef, Settings, SourceSpec};
use crate::post::Post;
use authors::{author, item_sources};

/// Most items parsed at once: a document with more is parsed in pieces of this many.
pub const BATCH: usize = 500;

/// Most posts one poll keeps (the newest): a feed rarely lists more than a few hundred, and
/// matching and storing 100,000 at every poll would cost memory for nothing.
pub const MAX_POSTS_PER_POLL: usize = 10_000;

/// `kind = "rss"`: a feed URL (its scheme is checked by `config::validate`, as every URL key).
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "rss",
        required: &["url"],
        optional: &[],
        secrets: &[],
        read,
    },
    build,
};

/// An `rss` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RssSettings {
    /// The feed URL.
    pub url: String,
}

fn read(r: &mut Reader<'_, '_, '_>, _dir: &std::path::Path) -> Settings {
    Settings::new(RssSettings {
        url: values::text(r, "url"),
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s: &RssSettings = super::settings(spec)?;
    Ok(Box::new(RssSource::new(
        spec.name.clone(),
        s.url.clone(),
        spec.max_bytes,
    )))
}

/// A feed URL.
#[derive(Debug)]
pub struct RssSource {
    /// The configured source name.
    pub name: String,
    /// The feed's URL.
    pub url: String,
    /// Body cap per poll.
    pub max_bytes: u64,
    /// Whether the last poll listed more than [`MAX_POSTS_PER_POLL`] items: the warning is
    /// logged when this changes, not at every poll.
    over_cap: AtomicBool,
}

impl RssSource {
    /// The source for the feed at `url`.
    pub fn new(name: String, url: String, max_bytes: u64) -> RssSource {
        RssSource {
            name,
            url,
            max_bytes,
            over_cap: AtomicBool::new(false),
        }
    }
}

#[async_trait]
impl Source for RssSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let req = FetchRequest::get(&self.url, cursor, self.max_bytes);
        match fetch.get(&req).await? {
            Fetched::NotModified => Ok(Page {
                posts: Vec::new(),
                cursor: cursor.clone(),
                wait: None,
            }),
            Fetched::Body(body) => {
                let cursor = Cursor {
                    etag: body.etag,
                    last_modified: body.last_modified,
                    position: None,
                };
                let (posts, listed) = parse_capped(&body.bytes, &self.name, MAX_POSTS_PER_POLL)?;
                let over = listed > posts.len();
                if over != self.over_cap.swap(over, Ordering::Relaxed) && over {
                    tracing::warn!(
                        source = %self.name,
                        listed,
                        kept = posts.len(),
                        "Feed lists more items than a poll keeps; the oldest were skipped."
                    );
                }
                Ok(Page {
                    posts,
                    cursor,
                    wait: None,
                })
            }
        }
    }
}

fn malformed(msg: impl std::fmt::Display) -> SourceError {
    SourceError::Permanent(format!("malformed feed: {msg}"))
}

/// Parses a feed into posts, oldest first.
pub fn parse(body: &[u8], source: &str) -> Result<Vec<Post>, SourceError> {
    parse_capped(body, source, usize::MAX).map(|(posts, _)| posts)
}

/// Parses a feed into at most `cap` posts, the newest, oldest first; also returns how many
/// items the feed listed. A document with more than [`BATCH`] items is parsed [`BATCH`] at a
/// time, so memory follows the posts kept rather than the document's size.
pub fn parse_capped(
    body: &[u8],
    source: &str,
    cap: usize,
) -> Result<(Vec<Post>, usize), SourceError> {
    let mut posts = Vec::new();
    let mut listed = 0;
    let mut keep = |batch: Vec<Post>, posts: &mut Vec<Post>| {
        listed += batch.len();
        posts.extend(batch);
        if posts.len() > cap.saturating_mul(2) {
            newest(posts, cap);
        }
    };
    match item_spans(body).filter(|spans| spans.len() > BATCH) {
        None => keep(parse_document(body, source)?, &mut posts),
        Some(spans) => {
            let (head, tail) = (&body[..spans[0].0], &body[spans[spans.len() - 1].1..]);
            let mut doc = Vec::new();
            for batch in spans.chunks(BATCH) {
                doc.clear();
                doc.extend_from_slice(head);
                doc.extend_from_slice(&body[batch[0].0..batch[batch.len() - 1].1]);
                doc.extend_from_slice(tail);
                keep(parse_document(&doc, source)?, &mut posts);
            }
        }
    }
    newest(&mut posts, cap);
    // Oldest first; undated entries keep their feed order after the dated ones.
    posts.sort_by(|a, b| match (&a.created_at, &b.created_at) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ok((posts, listed))
}

/// Keeps the `cap` newest posts: dated ones newest first, then undated ones in feed order
/// (feeds list their newest items first).
fn newest(posts: &mut Vec<Post>, cap: usize) {
    if posts.len() <= cap {
        return;
    }
    posts.sort_by(|a, b| match (&a.created_at, &b.created_at) {
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    posts.truncate(cap);
}

/// The byte spans of the top-level `<item>` / `<entry>` elements (RSS, RDF, Atom), in order;
/// `None` when the document is not well-formed enough to cut (it is then parsed whole, with
/// the repairs).
fn item_spans(body: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().check_end_names = true;
    let mut spans = Vec::new();
    let (mut depth, mut open) = (0usize, None);
    loop {
        let before = usize::try_from(reader.buffer_position()).ok()?;
        let event = reader.read_event().ok()?;
        let after = usize::try_from(reader.buffer_position()).ok()?;
        let is_item = |name: &str| name == "item" || name == "entry";
        match event {
            Event::Start(e) => {
                depth += 1;
                if open.is_none() && is_item(e.local_name().into_inner()) {
                    open = Some((depth, before));
                }
            }
            Event::End(_) => {
                if let Some((_, start)) = open.filter(|(d, _)| *d == depth) {
                    spans.push((start, after));
                    open = None;
                }
                depth = depth.checked_sub(1)?;
            }
            Event::Empty(e) if open.is_none() && is_item(e.local_name().into_inner()) => {
                spans.push((before, after));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (open.is_none() && !spans.is_empty()).then_some(spans)
}

/// One whole document into posts, in feed order, repaired if need be.
fn parse_document(body: &[u8], source: &str) -> Result<Vec<Post>, SourceError> {
    let (feed, parsed) = match attempt(body) {
        Ok(feed) => (feed, Cow::Borrowed(body)),
        Err(first) => {
            let repaired = repair(body)?;
            let feed = attempt(repaired.as_bytes()).map_err(|_| malformed(first))?;
            (feed, Cow::Owned(repaired.into_bytes()))
        }
    };
    // feed-rs drops RSS's `<source>`: read it for the items that name no author.
    let publishers = if feed.entries.iter().any(|e| e.authors.is_empty())
        && parsed.windows(7).any(|w| w == b"<source")
    {
        item_sources(&parsed).filter(|s| s.len() == feed.entries.len())
    } else {
        None
    };
    Ok(feed
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let publisher = publishers.as_ref().and_then(|p| p[i].as_deref());
            post(e, source, publisher)
        })
        .collect())
}

/// One parse, with panics inside the parser turned into errors.
fn attempt(body: &[u8]) -> Result<Feed, String> {
    match catch_unwind(AssertUnwindSafe(|| feed_rs::parser::parse(body))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the feed parser crashed on this document".to_string()),
    }
}

/// The document as UTF-8 text with known breakages mended.
fn repair(body: &[u8]) -> Result<String, SourceError> {
    let text = to_utf8(body)?;
    let text = add_rss_version(&text);
    Ok(fix_ampersands(&text))
}

/// Decodes by BOM, then by the XML declaration's encoding, else as UTF-8 (strictly).
fn to_utf8(body: &[u8]) -> Result<String, SourceError> {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(body) {
        let (text, _, _) = enc.decode(&body[bom..]);
        return Ok(drop_declared_encoding(&text));
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]).to_lowercase();
    if let Some(label) = declared_encoding(&head) {
        if let Some(enc) = encoding_rs::Encoding::for_label(label.as_bytes()) {
            if enc != encoding_rs::UTF_8 {
                let (text, _, _) = enc.decode(body);
                return Ok(drop_declared_encoding(&text));
            }
        }
    }
    String::from_utf8(body.to_vec()).map_err(|e| {
        malformed(format!(
            "invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn declared_encoding(head: &str) -> Option<String> {
    let decl = &head[head.find("<?xml")?..];
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + 8..].trim_start().strip_prefix('=')?.trim_start();
    // An unquoted value is malformed: no encoding is declared (and slicing past a non-ASCII
    // first character would split it).
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(rest[..rest.find(quote)?].to_string())
}

/// Removes `encoding="…"` from the XML declaration once the text is UTF-8.
fn drop_declared_encoding(text: &str) -> String {
    let Some(start) = text.find("<?xml") else {
        return text.to_string();
    };
    let Some(len) = text[start..].find("?>") else {
        return text.to_string();
    };
    let decl = &text[start..start + len];
    let Some(at) = decl.find("encoding") else {
        return text.to_string();
    };
    let after = &decl[at..];
    let end = after
        .char_indices()
        .filter(|(_, c)| *c == '"' || *c == '\'')
        .nth(1)
        .map_or(after.len(), |(i, _)| i + 1);
    format!(
        "{}{}{}",
        &text[..start + at],
        &after[end..],
        &text[start + len..]
    )
}

/// `<rss>` without `version` is read as RSS 2.0.
fn add_rss_version(text: &str) -> Cow<'_, str> {
    let Some(at) = text.find("<rss") else {
        return Cow::Borrowed(text);
    };
    let tag_end = text[at..].find('>').map_or(text.len(), |i| at + i);
    if text[at..tag_end].contains("version") {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!(
        "{} version=\"2.0\"{}",
        &text[..at + 4],
        &text[at + 4..]
    ))
}

/// Escapes `&` that does not start an entity, and turns HTML named entities (which XML does
/// not define) into numeric character references.
fn fix_ampersands(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|k| k + 1);
        match end {
            Some(e) if rest.as_bytes().get(e) == Some(&b';') && e > 1 => {
                let name = &rest[1..e];
                let entity = &rest[..=e];
                if name.starts_with('#') || matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
                    out.push_str(entity);
                } else {
                    let decoded = html_escape::decode_html_entities(entity);
                    if decoded == entity {
                        out.push_str("&amp;");
                        out.push_str(&entity[1..]);
                    } else {
                        decoded
                            .chars()
                            .for_each(|c| out.push_str(&format!("&#{};", c as u32)));
                    }
                }
                rest = &rest[e + 1..];
            }
            _ => {
                out.push_str("&amp;");
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The post of entry `e`; `publisher` is its RSS `<source>`, the author when it names none.
fn post(e: &Entry, source: &str, publisher: Option<&str>) -> Post {
    let title = e
        .title
        .as_ref()
        .map(|t| html_to_text(&t.content))
        .unwrap_or_default();
    let body = e
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .or(e.summary.as_ref().map(|s| s.content.as_str()))
        .map(html_to_text)
        .unwrap_or_default();
    let text = match (title.is_empty(), body.is_empty()) {
        (false, false) if body.starts_with(&title) => body,
        (false, false) => format!("{title}\n{body}"),
        (false, true) => title,
        _ => body,
    };
    let url = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or(e.links.first())
        .map(|l| l.href.clone());
    let (author, author_name) = e.authors.first().map_or(
        (publisher.map(str::to_string), None),
        |p| author(p.name.as_deref(), p.email.as_deref()),
    );
    let id = if e.id.is_empty() {
        url.clone()
    } else {
        Some(e.id.clone())
    };
    Post {
        id,
        source: Some(source.to_string()),
        text,
        author,
        author_name,
        url,
        created_at: e.published.or(e.updated).map(rfc3339),
        lang: e.language.clone(),
        followers: None,
        engagement: None,
        in_reply_to: None,
        thread: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs() {
        assert_eq!(
            add_rss_version("<rss><channel/></rss>"),
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            add_rss_version("<rss version=\"0.91\">"),
            "<rss version=\"0.91\">"
        );
        assert_eq!(
            fix_ampersands("a & b &amp; r&eacute;c &#233; &x; AT&T"),
            "a &amp; b &amp; r&#233;c &#233; &amp;x; AT&amp;T"
        );
        assert_eq!(
            drop_declared_encoding("<?xml version=\"1.0\" encoding=\"utf-16\"?><rss/>"),
            "<?xml version=\"1.0\" ?><rss/>"
        );
        assert_eq!(
            declared_encoding("<?xml version='1.0' encoding='iso-8859-1'?>").as_deref(),
            Some("iso-8859-1")
        );
        // Unquoted (and non-ASCII): no encoding declared, no panic (issue 21 point 6 found it).
        assert_eq!(
            declared_encoding("<?xml version=\"1.0\" encoding=\u{e9}t\u{e9}?>"),
            None
        );
    }
}
