//! Unit tests of the `json` source's parsing on recorded responses (see
//! `tests/fixtures/json/README.md`); polling against loopback servers is in `tests/json_kind.rs`.

use super::*;

const YOUTUBE: &str = include_str!("../../../tests/fixtures/recipes/youtube-commentthreads.json");
const STACK: &str = include_str!("../../../tests/fixtures/recipes/stackexchange-search.json");
const MATTERMOST: &str = include_str!("../../../tests/fixtures/json/mattermost-posts.json");

fn fields(pairs: &[(&str, &str)]) -> PostFields<String> {
    let mut f = PostFields::default();
    for (k, v) in pairs {
        f.set(k, v.to_string());
    }
    f
}

fn posts(doc: &str, items: &str, f: &[(&str, &str)], time: Option<&str>) -> Vec<Post> {
    let m = Mapping::new(items, fields(f), Format::from_config(time)).unwrap();
    let doc: Value = serde_json::from_str(doc).unwrap();
    let items = m.items(&doc).unwrap();
    items
        .iter()
        .enumerate()
        .map(|(n, i)| m.post(i, n + 1).unwrap())
        .collect()
}

/// YouTube's commentThreads: RFC 3339 times, HTML text, a permalink template.
#[test]
fn youtube_comment_threads_map_to_posts() {
    let c = "/snippet/topLevelComment/snippet";
    let p = posts(
        YOUTUBE,
        "$.items[*]",
        &[
            ("id", "/id"),
            ("text", &format!("{c}/textDisplay")),
            ("author", &format!("{c}/authorDisplayName")),
            ("created_at", &format!("{c}/publishedAt")),
            ("url", "https://www.youtube.com/watch?v={/snippet/videoId}&lc={/id}"),
        ],
        Some("rfc3339"),
    );
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].id.as_deref(), Some("UgxKz3rVq1fPqD8m2Ap4AaABAg"));
    assert_eq!(p[0].author.as_deref(), Some("@camille.dsr"));
    assert_eq!(p[0].created_at.as_deref(), Some("2026-11-22T08:14:00Z"));
    assert_eq!(
        p[0].url.as_deref(),
        Some("https://www.youtube.com/watch?v=Xk3pQ9vLmT0&lc=UgxKz3rVq1fPqD8m2Ap4AaABAg")
    );
    assert!(p[0].text.contains("n'a pas bougé"), "{}", p[0].text);
    assert!(p[0].text.contains("\nLe service client"), "{}", p[0].text);
    assert!(!p[1].text.contains("<b>"), "{}", p[1].text);
}

/// Stack Exchange's search: Unix seconds, a title and an HTML body in one text.
#[test]
fn stack_exchange_questions_map_to_posts() {
    let p = posts(
        STACK,
        "$.items[*]",
        &[
            ("id", "/question_id"),
            ("text", "{/title}\n{/body}"),
            ("author", "/owner/display_name"),
            ("created_at", "/creation_date"),
            ("url", "/link"),
        ],
        Some("unix"),
    );
    assert_eq!(p[0].id.as_deref(), Some("79912346"));
    assert_eq!(p[0].created_at.as_deref(), Some("2026-11-22T07:50:00Z"));
    assert!(p[0].text.starts_with("API Colissimo : le suivi du colis reste \"en retard\" sans événement\n"), "{}", p[0].text);
    assert_eq!(p[1].author.as_deref(), Some("tdupont"));
}

/// Mattermost's posts: an object of posts (`.*`), milliseconds since 1970.
#[test]
fn unix_ms_times_and_object_members() {
    let p = posts(
        MATTERMOST,
        "$.posts.*",
        &[("id", "/id"), ("text", "/message"), ("created_at", "/create_at")],
        Some("unix_ms"),
    );
    let times: Vec<_> = p.iter().map(|p| p.created_at.clone().unwrap()).collect();
    assert_eq!(times, ["2026-11-22T08:14:00Z", "2026-11-22T07:47:01Z"]);
}

#[test]
fn the_cursor_knows_ids_and_older_times() {
    let seen = Seen {
        newest: Some("2026-11-22T08:14:00Z".into()),
        ids: vec!["a".into()],
    };
    let post = |id: &str, t: Option<&str>| Post {
        id: Some(id.into()),
        created_at: t.map(String::from),
        ..Post::default()
    };
    assert!(seen.knows(&post("a", None)));
    assert!(seen.knows(&post("b", Some("2026-11-22T08:14:00Z"))));
    assert!(!seen.knows(&post("c", Some("2026-11-22T08:14:01Z"))));
    assert!(!seen.knows(&post("d", None)));
}

#[test]
fn credential_headers_are_recognised() {
    for name in ["Authorization", "X-Goog-Api-Key", "Api-Key", "X-Auth-Token", "Cookie"] {
        assert!(is_credential(name), "{name}");
    }
    for name in ["Accept", "Accept-Language", "User-Agent"] {
        assert!(!is_credential(name), "{name}");
    }
}
