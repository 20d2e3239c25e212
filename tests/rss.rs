//! The `rss` parser on hand-written French feeds of every format, on broken feeds, and on the
//! whole feedparser corpus (no panic may escape).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use vigie::post::Post;
use vigie::source::rss::parse;
use vigie::source::SourceError;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(crate::util::root().join("tests/fixtures/rss").join(name)).expect("fixture")
}

fn posts(name: &str) -> Vec<Post> {
    parse(&fixture(name), "forum").unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn rss2_items_become_posts_oldest_first_with_html_decoded() {
    let p = posts("rss20.xml");
    assert_eq!(p.len(), 2);
    assert_eq!(
        p[0].id.as_deref(),
        Some("https://forum.example.fr/t/objet-casse/102")
    );
    assert_eq!(
        p[0].text,
        "Objet cassé à la livraison\nL'objet est arrivé CASSÉ & l'emballage ouvert."
    );
    assert_eq!(p[0].created_at.as_deref(), Some("2026-11-22T08:00:00Z"));
    assert_eq!(p[1].id.as_deref(), Some("forum-101"));
    assert_eq!(
        p[1].text,
        "Colis perdu depuis 10 jours\nBonjour,\n\nma réclamation est restée sans réponse."
    );
    assert_eq!(p[1].author.as_deref(), Some("julie_m"));
    assert_eq!(
        p[1].url.as_deref(),
        Some("https://forum.example.fr/t/colis-perdu/101")
    );
    assert_eq!(p[1].created_at.as_deref(), Some("2026-11-22T08:14:00Z"));
    assert!(p.iter().all(|p| p.source.as_deref() == Some("forum")));
}

#[test]
fn rss1_rss091_atom_and_json_feed() {
    let p = posts("rss10.rdf");
    assert_eq!(
        p[0].text,
        "Retards de livraison avant Noël\nLes colis arrivent en retard dans plusieurs régions."
    );
    assert_eq!(p[0].created_at.as_deref(), Some("2026-11-21T18:30:00Z"));
    let p = posts("rss091.xml");
    assert_eq!(
        p[0].text,
        "Lettre recommandée perdue\nToujours pas reçu ma lettre."
    );
    let p = posts("atom.xml");
    assert_eq!(
        p[0].id.as_deref(),
        Some("tag:mastodon.example,2026:status/555")
    );
    assert_eq!(p[0].author.as_deref(), Some("@alice@mastodon.example"));
    assert_eq!(
        p[0].url.as_deref(),
        Some("https://mastodon.example/@alice/555")
    );
    assert_eq!(p[0].created_at.as_deref(), Some("2026-11-22T09:59:00Z"));
    assert!(
        p[0].text
            .ends_with("Mon #colis est en retard, merci @posteo"),
        "{}",
        p[0].text
    );
    let p = posts("feed.json");
    assert_eq!(p[0].id.as_deref(), Some("avis-9"));
    assert_eq!(
        p[0].text,
        "Remboursement refusé\nMa demande de remboursement a été refusée."
    );
    assert_eq!(p[0].author.as_deref(), Some("Karim Z."));
    assert_eq!(p[0].created_at.as_deref(), Some("2026-11-22T06:45:00Z"));
}

#[test]
fn broken_feeds_are_repaired() {
    // No `version`, HTML entities XML does not know, a stray `&`.
    let p = posts("no-version.xml");
    assert_eq!(p[0].text, "Colis en retard\ndésolé & AT&T ne répond pas");
    // UTF-16 with a BOM (feed-rs 3.0 can panic on these).
    let p = posts("utf16.xml");
    assert_eq!(p[0].text, "Réclamation en cours");
}

#[test]
fn invalid_utf8_and_non_feeds_are_clean_errors() {
    for name in ["invalid-utf8.xml", "malformed.xml"] {
        match parse(&fixture(name), "forum") {
            Err(SourceError::Permanent(m)) => {
                assert!(m.starts_with("malformed feed"), "{name}: {m}")
            }
            other => panic!("{name}: expected a malformed-feed error, got {other:?}"),
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("corpus dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn feedparser_corpus_gives_posts_or_clean_errors_and_never_panics() {
    // In the repository (tests/fixtures/feedparser, with its LICENSE), so a lone clone runs it.
    let corpus = crate::util::root().join("tests/fixtures/feedparser/tests");
    assert!(
        corpus.is_dir(),
        "the feedparser corpus is expected at {}",
        corpus.display()
    );
    let mut all = Vec::new();
    files(&corpus, &mut all);
    all.sort();
    let (mut with_posts, mut empty, mut errors, mut panics) = (0, 0, 0, Vec::new());
    let mut wellformed = (0, 0);
    for path in &all {
        let body = std::fs::read(path).expect("read corpus file");
        let is_wellformed = path.to_string_lossy().contains("/wellformed/");
        match catch_unwind(AssertUnwindSafe(|| parse(&body, "corpus"))) {
            Ok(Ok(p)) if !p.is_empty() => with_posts += 1,
            Ok(Ok(_)) => empty += 1,
            Ok(Err(SourceError::Permanent(m))) if m.starts_with("malformed feed") => {
                errors += 1;
                if is_wellformed {
                    wellformed.1 += 1;
                }
                continue;
            }
            Ok(Err(e)) => panic!("{}: unexpected error kind {e:?}", path.display()),
            Err(_) => panics.push(path.display().to_string()),
        }
        if is_wellformed {
            wellformed.0 += 1;
        }
    }
    println!(
        "feedparser corpus: {} files: {with_posts} with posts, {empty} parsed without entries, {errors} clean errors, {} panics; wellformed: {} parsed, {} errors",
        all.len(),
        panics.len(),
        wellformed.0,
        wellformed.1
    );
    assert!(panics.is_empty(), "panics escaped on: {panics:?}");
    assert!(all.len() > 1500, "corpus incomplete: {} files", all.len());
    assert!(
        wellformed.0 > wellformed.1 * 4,
        "most wellformed files must parse: {wellformed:?}"
    );
}

/// An RSS document with `n` dated items, item `i` published `i` minutes after 08:00, listed
/// newest first as feeds do, with a channel element after the items (kept in every piece).
fn big_feed(n: usize) -> Vec<u8> {
    let mut s =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\n");
    for i in (0..n).rev() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap()
            + chrono::Duration::minutes(i as i64);
        s.push_str(&format!(
            "<item><guid>id-{i}</guid><title>colis {i} &amp; retard</title><pubDate>{}</pubDate></item>\n",
            t.to_rfc2822()
        ));
    }
    s.push_str("<description>after the items</description></channel></rss>");
    s.into_bytes()
}

/// See: issue 21 point 8. A feed with more items than one parse takes is parsed in pieces;
/// every item comes out once, in order, as from a small feed.
#[test]
fn a_big_feed_parsed_in_pieces_loses_and_doubles_nothing() {
    let n = vigie::source::rss::BATCH * 3 + 17;
    let p = parse(&big_feed(n), "forum").expect("parses");
    let ids: Vec<String> = p.iter().map(|p| p.id.clone().unwrap_or_default()).collect();
    let want: Vec<String> = (0..n).map(|i| format!("id-{i}")).collect();
    assert_eq!(ids, want);
    assert_eq!(p[5].text, "colis 5 & retard");
}

/// See: issue 21 point 8. A poll keeps the newest posts only, and says how many were listed.
#[test]
fn a_capped_parse_keeps_the_newest_posts() {
    let n = vigie::source::rss::BATCH * 2 + 3;
    let (p, listed) = vigie::source::rss::parse_capped(&big_feed(n), "forum", 100).expect("parses");
    assert_eq!(listed, n);
    let ids: Vec<String> = p.iter().map(|p| p.id.clone().unwrap_or_default()).collect();
    let want: Vec<String> = (n - 100..n).map(|i| format!("id-{i}")).collect();
    assert_eq!(ids, want, "the 100 newest, oldest first");
}
