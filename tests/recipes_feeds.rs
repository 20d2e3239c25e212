//! The recipes of `config/recipes/`: every one passes `vigie check`, and the Discourse forum and
//! the feed recipes (App Store reviews, Lemmy community, Google News) read their recorded answer
//! into posts with text, author, time and link, through `vigie preview` against a loopback server
//! standing in for the real site (the recipe's own file, its address pointed at the server).

use serde_json::Value;

use crate::util::http::{Reply, TestServer};
use crate::util::{s, shipped_tree, vigie, vigie_env};

/// Every shipped recipe passes `vigie check --strict` (what the unit's `ExecStartPre=` runs), with
/// the secrets its comments ask for set, as they are where it is deployed.
#[test]
fn every_recipe_passes_check() {
    let dir = shipped_tree();
    let mut entries: Vec<_> = std::fs::read_dir(dir.path().join("config/recipes"))
        .expect("config/recipes")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    entries.sort();
    for p in &entries {
        let secrets = [("YOUTUBE_API_KEY", "AIzaSy-recipe-check")];
        let r = vigie_env(&["check", "--strict", "--config", s(p)], "", &secrets);
        assert_eq!(r.code, 0, "{}:\n{}{}", p.display(), r.stdout, r.stderr);
    }
    assert!(entries.len() >= 4, "recipes: {entries:?}");
}

/// One recipe: its file, the site it names (replaced by the loopback server), the source's
/// name, the path it asks for, and the recorded answer.
struct Recipe {
    file: &'static str,
    site: &'static str,
    source: &'static str,
    path: &'static str,
    fixture: &'static str,
}

const RECIPES: &[Recipe] = &[
    Recipe {
        file: "discourse-forum.toml",
        site: "https://communaute.example.fr",
        source: "forum-communaute",
        path: "/posts.json",
        fixture: include_str!("fixtures/discourse/posts.json"),
    },
    Recipe {
        file: "appstore-reviews.toml",
        site: "https://itunes.apple.com",
        source: "appstore-fr",
        path: "/fr/rss/customerreviews/id=1234567890/sortby=mostrecent/xml",
        fixture: include_str!("fixtures/recipes/appstore-reviews.xml"),
    },
    Recipe {
        file: "lemmy-community.toml",
        site: "https://jlai.lu",
        source: "lemmy-france",
        path: "/feeds/c/france.xml",
        fixture: include_str!("fixtures/recipes/lemmy-community.xml"),
    },
    Recipe {
        file: "google-news.toml",
        site: "https://news.google.com",
        source: "google-news-fr",
        path: "/rss/search",
        fixture: include_str!("fixtures/recipes/google-news.xml"),
    },
];

#[test]
fn discourse_and_feed_recipes_read_their_site_into_whole_posts() {
    let dir = shipped_tree();
    for recipe in RECIPES {
        let server = TestServer::start();
        server.script(recipe.path, [Reply::ok(recipe.fixture)]);
        let path = dir.path().join("config/recipes").join(recipe.file);
        let text = std::fs::read_to_string(&path).expect("recipe");
        assert!(
            text.contains(recipe.site),
            "{}: no {}",
            recipe.file,
            recipe.site
        );
        std::fs::write(&path, text.replace(recipe.site, &server.url(""))).expect("write");
        let r = vigie(
            &[
                "preview",
                recipe.source,
                "--config",
                s(&path),
                "--format",
                "json",
            ],
            "",
        );
        assert_eq!(r.code, 0, "{}: {}", recipe.file, r.stderr);
        let posts: Vec<Value> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert!(posts.len() >= 2, "{}: {}", recipe.file, r.stdout);
        for p in &posts {
            for field in ["id", "text", "author", "created_at", "url"] {
                let v = p[field].as_str().unwrap_or_default();
                assert!(!v.is_empty(), "{}: no {field} in {p}", recipe.file);
            }
            let text = p["text"].as_str().unwrap_or_default();
            assert!(
                !text.contains('<') && !text.contains('─'),
                "{}: {text:?}",
                recipe.file
            );
            assert!(p["created_at"].as_str().unwrap_or_default().ends_with('Z'));
        }
        // The one request asked for the recipe's own path.
        assert_eq!(server.requests(recipe.path).len(), 1, "{}", recipe.file);
    }
}

/// What each site gives as its author and link, as a person reads them in an alert.
#[test]
fn feed_recipes_name_authors_as_their_sites_do() {
    let dir = shipped_tree();
    let author_of = |recipe: &Recipe| -> Vec<String> {
        let server = TestServer::start();
        server.script(recipe.path, [Reply::ok(recipe.fixture)]);
        let path = dir.path().join("config/recipes").join(recipe.file);
        let text = std::fs::read_to_string(&path).expect("recipe");
        std::fs::write(&path, text.replace(recipe.site, &server.url(""))).expect("write");
        let r = vigie(
            &[
                "preview",
                recipe.source,
                "--config",
                s(&path),
                "--format",
                "json",
            ],
            "",
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json")["author"].to_string())
            .collect()
    };
    // Google News: the publisher, from the item's <source>.
    assert_eq!(
        author_of(&RECIPES[3]),
        ["\"60 Millions de consommateurs\"", "\"Le Parisien\""]
    );
    // Lemmy: the actor address as a handle.
    assert_eq!(
        author_of(&RECIPES[2]),
        ["\"@jb_r@sh.itjust.example\"", "\"@margaux@lemmy.example\""]
    );
    // Discourse: @username.
    assert!(author_of(&RECIPES[0]).contains(&"\"@julie_m\"".to_string()));
}
