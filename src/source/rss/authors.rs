//! Who wrote a feed item: the feed's person (RSS `bob@example.org (Bob)`, Atom and Dublin Core
//! names), a Lemmy actor URL read as a handle, and RSS's `<source>` publisher (Google News) for
//! items that name no one. feed-rs 3 drops `<source>`, so it is read here with quick-xml.

use quick_xml::events::Event;

/// The author's handle and display name (SPEC §7) from a feed's person. RSS writes
/// `bob@example.org (Bob)`, which feed-rs gives as the email and the name `(Bob)`: the address is
/// the author and `Bob` the name. A name alone (Atom, Dublin Core) is the author, as before.
pub fn author(name: Option<&str>, email: Option<&str>) -> (Option<String>, Option<String>) {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let email = email.map(str::trim).filter(|e| !e.is_empty());
    let bare = |n: &str| {
        let n = n
            .strip_prefix('(')
            .and_then(|n| n.strip_suffix(')'))
            .unwrap_or(n);
        Some(n.trim().to_string()).filter(|n| !n.is_empty())
    };
    match (name, email) {
        (Some(n), Some(e)) => (Some(e.to_string()), bare(n)),
        (Some(n), None) => (Some(actor_handle(n).unwrap_or_else(|| n.to_string())), None),
        (None, Some(e)) => (Some(e.to_string()), None),
        (None, None) => (None, None),
    }
}

/// The text of each RSS `<item>`'s `<source>` (the publisher, as Google News gives it:
/// `<source url="https://www.leparisien.fr">Le Parisien</source>`), in document order; `None`
/// when the document does not read as XML.
pub fn item_sources(body: &[u8]) -> Option<Vec<Option<String>>> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut sources = Vec::new();
    // The depth of the open `<item>`, and the text of its open `<source>`.
    let (mut depth, mut item, mut text): (usize, Option<usize>, Option<String>) = (0, None, None);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                depth += 1;
                match e.local_name().into_inner() {
                    "item" if item.is_none() => {
                        item = Some(depth);
                        sources.push(None);
                    }
                    "source" if item == Some(depth - 1) => text = Some(String::new()),
                    _ => {}
                }
            }
            Event::End(_) => {
                if item == Some(depth) {
                    item = None;
                } else if let Some(t) = text.take().filter(|_| item == Some(depth - 1)) {
                    let t = html_escape::decode_html_entities(t.trim()).trim().to_string();
                    if let Some(last) = sources.last_mut() {
                        *last = Some(t).filter(|t| !t.is_empty());
                    }
                }
                depth = depth.checked_sub(1)?;
            }
            Event::Text(t) => text.iter_mut().for_each(|s| s.push_str(&t)),
            Event::CData(t) => text.iter_mut().for_each(|s| s.push_str(&t)),
            Event::GeneralRef(r) => text
                .iter_mut()
                .for_each(|s| s.push_str(&format!("&{};", &*r))),
            Event::Eof => break,
            _ => {}
        }
    }
    Some(sources)
}

/// A Lemmy actor URL (`https://lemmy.example/u/alice`, what Lemmy's feeds give as
/// `dc:creator`) as the handle people write, `@alice@lemmy.example`.
fn actor_handle(name: &str) -> Option<String> {
    let url = url::Url::parse(name).ok()?;
    let host = url.host_str()?;
    let mut path = url.path_segments()?;
    match (path.next(), path.next(), path.next()) {
        (Some("u"), Some(user), None) if !user.is_empty() && url.query().is_none() => {
            Some(format!("@{user}@{host}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::rss::parse;

    #[test]
    fn rss_authors_are_an_address_and_a_name() {
        let feed = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
            <item><title>a</title><guid>1</guid><author>bob@example.org (Bob)</author></item>
            <item><title>b</title><guid>2</guid><author>alice@example.org</author></item>
            <item><title>c</title><guid>3</guid><dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">Carol</dc:creator></item>
            </channel></rss>"#;
        let posts = parse(feed, "f").unwrap();
        let authors: Vec<(Option<&str>, Option<&str>)> = posts
            .iter()
            .map(|p| (p.author.as_deref(), p.author_name.as_deref()))
            .collect();
        assert_eq!(
            authors,
            [
                (Some("bob@example.org"), Some("Bob")),
                (Some("alice@example.org"), None),
                (Some("Carol"), None),
            ]
        );
    }

    /// Google News items name no author but their publisher in `<source>`, which feed-rs
    /// drops: it becomes the author. An item's own author wins; Lemmy's actor URLs are handles.
    #[test]
    fn publishers_and_actor_urls_become_authors() {
        let feed = br#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>
            <item><title>a</title><guid>1</guid><source url="https://www.leparisien.fr">Le Parisien</source></item>
            <item><title>b</title><guid>2</guid></item>
            <item><title>c</title><guid>3</guid><author>bob@example.org (Bob)</author><source url="https://x.fr">X</source></item>
            <item><title>d</title><guid>4</guid><source url="https://www.60millions-mag.com">60 Millions de consommateurs &amp; co</source></item>
            <item><title>e</title><guid>5</guid><dc:creator>https://lemmy.example/u/alice</dc:creator></item>
            </channel></rss>"#;
        let posts = parse(feed, "f").unwrap();
        let authors: Vec<Option<&str>> = posts.iter().map(|p| p.author.as_deref()).collect();
        assert_eq!(
            authors,
            [
                Some("Le Parisien"),
                None,
                Some("bob@example.org"),
                Some("60 Millions de consommateurs & co"),
                Some("@alice@lemmy.example"),
            ]
        );
        assert_eq!(actor_handle("https://lemmy.example/c/laposte"), None);
        assert_eq!(actor_handle("Alice"), None);
    }

}
