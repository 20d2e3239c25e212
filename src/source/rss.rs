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

use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use feed_rs::model::{Entry, Feed};

use super::fetch::{FetchRequest, Fetched, Fetcher};
use super::text::html_to_text;
use super::{Cursor, Page, Source, SourceError};
use crate::post::Post;

/// A feed URL.
#[derive(Debug, Clone)]
pub struct RssSource {
    /// The configured source name.
    pub name: String,
    /// The feed's URL.
    pub url: String,
    /// Body cap per poll.
    pub max_bytes: u64,
}

#[async_trait]
impl Source for RssSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let req = FetchRequest {
            url: &self.url,
            cursor,
            max_bytes: self.max_bytes,
            headers: &[],
        };
        match fetch.get(&req).await? {
            Fetched::NotModified => Ok(Page {
                posts: Vec::new(),
                cursor: cursor.clone(),
            }),
            Fetched::Body(body) => Ok(Page {
                posts: parse(&body.bytes, &self.name)?,
                cursor: Cursor {
                    etag: body.etag,
                    last_modified: body.last_modified,
                    position: None,
                },
            }),
        }
    }
}

fn malformed(msg: impl std::fmt::Display) -> SourceError {
    SourceError::Permanent(format!("malformed feed: {msg}"))
}

/// Parses a feed into posts, oldest first.
pub fn parse(body: &[u8], source: &str) -> Result<Vec<Post>, SourceError> {
    let feed = match attempt(body) {
        Ok(feed) => feed,
        Err(first) => {
            let repaired = repair(body)?;
            attempt(repaired.as_bytes()).map_err(|_| malformed(first))?
        }
    };
    let mut posts: Vec<Post> = feed.entries.iter().map(|e| post(e, source)).collect();
    // Oldest first; undated entries keep their feed order after the dated ones.
    posts.sort_by(|a, b| match (&a.created_at, &b.created_at) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ok(posts)
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
    let quote = rest.chars().next()?;
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

fn post(e: &Entry, source: &str) -> Post {
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
    let author = e
        .authors
        .first()
        .and_then(|p| p.name.as_deref())
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .or_else(|| e.authors.first().and_then(|p| p.email.clone()));
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
        url,
        created_at: e.published.or(e.updated).map(rfc3339),
        lang: e.language.clone(),
        followers: None,
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
    }
}
