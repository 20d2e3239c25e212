//! Unit tests of the `html` source's `parse` on recorded pages, and its pure helpers.

use super::*;

const AVIS: &str = include_str!("../../../tests/fixtures/html/avis.html");

fn sel(item: &str, fields: &[(&str, &str, Option<&str>)]) -> Selectors {
    let mut select = PostFields::default();
    for (field, css, attr) in fields {
        let attr = attr.map(str::to_string);
        select.set(field, HtmlSelect { css: css.to_string(), attr });
    }
    Selectors::compile(&HtmlSettings {
        url: String::new(),
        item: item.into(),
        select,
    })
    .unwrap()
}

fn avis() -> Selectors {
    sel(
        "article.review",
        &[
            ("id", "article.review", Some("data-id")),
            ("text", ".review-body", None),
            ("author", ".review-author", None),
            ("created_at", "time", Some("datetime")),
            ("url", "a.permalink", Some("href")),
        ],
    )
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc()
}

fn page() -> url::Url {
    url::Url::parse("https://avis.example.fr/posteo?page=1").unwrap()
}

#[test]
fn items_become_posts_oldest_first() {
    let posts = parse(AVIS, &page(), &avis(), "avis", now()).unwrap();
    let ids: Vec<_> = posts.iter().map(|p| p.id.as_deref().unwrap()).collect();
    assert_eq!(ids, ["r-101", "r-102"]);
    let p = &posts[0];
    assert_eq!(p.author.as_deref(), Some("Julie M."));
    assert_eq!(p.created_at.as_deref(), Some("2026-11-22T08:14:00Z"));
    assert_eq!(p.url.as_deref(), Some("https://avis.example.fr/posteo/avis/r-101"));
    assert_eq!(
        p.text,
        "Mon colis n'est jamais arrivé.\n\nJ’ai fait une réclamation il y a dix jours, toujours rien."
    );
    // A relative link is resolved against the page's URL; the script never shows.
    assert_eq!(posts[1].url.as_deref(), Some("https://avis.example.fr/posteo/avis/r-102"));
    assert_eq!(posts[1].text, "Le vase est arrivé cassé, l’emballage était écrasé.");
    assert!(posts.iter().all(|p| !p.text.contains("__STATE__")));
}

#[test]
fn without_an_id_the_id_is_a_hash_of_link_and_text_and_times_may_be_french() {
    let s = sel(
        "article.review",
        &[
            ("text", ".review-body", None),
            ("created_at", "time", None),
            ("url", "a.permalink", Some("href")),
        ],
    );
    let a = parse(AVIS, &page(), &s, "avis", now()).unwrap();
    let b = parse(AVIS, &page(), &s, "avis", now()).unwrap();
    assert_eq!(a, b, "the same page gives the same ids");
    let ids: Vec<_> = a.iter().map(|p| p.id.clone().unwrap()).collect();
    assert_eq!(ids[0].len(), 24);
    assert_ne!(ids[0], ids[1]);
    // "il y a 3 heures" / "il y a 2 heures", counted from the fetch time.
    assert_eq!(a[0].created_at.as_deref(), Some("2026-11-22T07:00:00Z"));
    assert_eq!(a[1].created_at.as_deref(), Some("2026-11-22T08:00:00Z"));
}

#[test]
fn a_page_without_items_or_texts_is_an_error_saying_which() {
    let err = parse("<p>Maintenance</p>", &page(), &avis(), "avis", now()).unwrap_err();
    assert!(err.to_string().contains("\"item\" selector"), "{err}");
    let s = sel("article.review", &[("text", ".absent", None)]);
    let err = parse(AVIS, &page(), &s, "avis", now()).unwrap_err();
    assert!(err.to_string().contains("none of the 2 items has a text"), "{err}");
}

#[test]
fn undated_items_come_after_dated_ones_in_page_order() {
    let html = r#"<p class="r">colis a</p><p class="r"><time>12 mars 2026</time> colis b</p>
        <p class="r">colis c</p><p class="r"><time>il y a 2 jours</time> colis d</p>"#;
    let s = sel("p.r", &[("text", "p.r", None), ("created_at", "time", None)]);
    let posts = parse(html, &page(), &s, "avis", now()).unwrap();
    let texts: Vec<_> = posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        ["12 mars 2026 colis b", "il y a 2 jours colis d", "colis a", "colis c"]
    );
}

#[test]
fn links_that_are_not_web_links_are_dropped() {
    let html = r#"<div class="r"><a href="javascript:void(0)">colis</a></div>"#;
    let s = sel("div.r", &[("text", "a", None), ("url", "a", Some("href"))]);
    let posts = parse(html, &page(), &s, "avis", now()).unwrap();
    assert_eq!(posts[0].url, None);
    assert_eq!(posts[0].text, "colis");
}

#[test]
fn pages_are_decoded_by_their_charset() {
    let latin1 = b"<meta charset=\"iso-8859-1\"><p>r\xe9clamation</p>";
    assert!(decode(latin1, None).contains("réclamation"));
    let declared = b"<p>r\xe9clamation</p>";
    assert!(decode(declared, Some("text/html; charset=windows-1252")).contains("réclamation"));
    assert!(decode("réclamation".as_bytes(), Some("text/html")).contains("réclamation"));
}

#[test]
fn loopback_urls_are_known() {
    for (url, want) in [
        ("http://127.0.0.1:8080/avis", true),
        ("http://127.3.2.1/avis", true),
        ("http://[::1]:8080/avis", true),
        ("http://LOCALHOST/avis", true),
        ("https://avis.example.fr/avis", false),
        ("http://10.0.0.1/avis", false),
        ("http://localhost.example.fr/", false),
        ("not a url", false),
    ] {
        assert_eq!(is_loopback(url), want, "{url}");
    }
}
