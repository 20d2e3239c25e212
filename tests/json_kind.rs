//! The `json` source kind with the real daemon and `vigie preview` against loopback servers
//! playing YouTube's, Stack Exchange's and Mattermost's APIs from recorded answers
//! (`tests/fixtures/recipes/`, `tests/fixtures/json/`): paging that stops at known posts, the
//! mapping's errors naming their pointer, the three time formats, the first item shown raw,
//! Stack Exchange's `backoff`, and the shipped recipes (`config/recipes/`). The shared contract
//! is `source_contract`'s.

use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};
use crate::util::{s, shipped_tree, vigie, vigie_env};

const YOUTUBE: &str = include_str!("fixtures/recipes/youtube-commentthreads.json");
const YOUTUBE_2: &str = include_str!("fixtures/recipes/youtube-commentthreads-page2.json");
const STACK: &str = include_str!("fixtures/recipes/stackexchange-search.json");
const MATTERMOST: &str = include_str!("fixtures/json/mattermost-posts.json");

const RULES: &str = r#"
[[rule]]
name = "plainte"
query = 'colis OR retard OR réclamation OR commande OR cassé* OR livraison'
"#;

const THREADS: &str = "/youtube/v3/commentThreads";
const KEY: &str = "AIzaSyB-j50n-k1nd-t3st-k3y";
const C: &str = "/snippet/topLevelComment/snippet";

/// The config of one `json` source `name` with `keys`.
fn config(sources: &[(&str, String)]) -> String {
    let mut c = String::from(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"5s\"\n",
    );
    for (name, keys) in sources {
        c.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"json\"\nevery = \"1s\"\n{keys}\n"
        ));
    }
    c
}

/// The YouTube recipe's keys against `base`, with `fields` as an inline table.
fn youtube(base: &str, fields: &str) -> String {
    let url = format!("{base}{THREADS}?part=snippet&allThreadsRelatedToChannelId=UCq6Zp0sTnYV1rLk2c9HqPmA&order=time");
    format!(
        "url = \"{url}\"\nnext = \"{url}&pageToken={{/nextPageToken}}\"\nitems = \"$.items[*]\"\n\
         fields = {{ {fields} }}\nheaders = {{ \"X-Goog-Api-Key\" = \"${{YOUTUBE_API_KEY}}\" }}"
    )
}

fn youtube_fields() -> String {
    format!(
        "id = \"/id\", text = \"{C}/textDisplay\", author = \"{C}/authorDisplayName\", \
         created_at = \"{C}/publishedAt\", url = \"https://www.youtube.com/watch?v={{/snippet/videoId}}&lc={{/id}}\""
    )
}

/// A commentThreads page: `ids` (newest first, published at `times`), and `token` to the next.
fn threads(items: &[(&str, &str)], token: Option<&str>) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|(id, t)| {
            format!(
                r#"{{"kind": "youtube#commentThread", "etag": "e{id}", "id": "{id}", "snippet": {{"channelId": "UCq6Zp0sTnYV1rLk2c9HqPmA", "videoId": "Xk3pQ9vLmT0", "topLevelComment": {{"kind": "youtube#comment", "etag": "c{id}", "id": "{id}", "snippet": {{"channelId": "UCq6Zp0sTnYV1rLk2c9HqPmA", "videoId": "Xk3pQ9vLmT0", "textDisplay": "Colis {id} toujours en retard", "textOriginal": "Colis {id} toujours en retard", "authorDisplayName": "@client{id}", "authorChannelUrl": "http://www.youtube.com/@client{id}", "canRate": true, "viewerRating": "none", "likeCount": 0, "publishedAt": "{t}", "updatedAt": "{t}"}}}}, "canReply": true, "totalReplyCount": 0, "isPublic": true}}}}"#
            )
        })
        .collect();
    let token = token.map_or(String::new(), |t| format!("\"nextPageToken\": \"{t}\", "));
    format!(
        r#"{{"kind": "youtube#commentThreadListResponse", "etag": "p", {token}"pageInfo": {{"totalResults": {n}, "resultsPerPage": {n}}}, "items": [{}]}}"#,
        items.join(", "),
        n = items.len()
    )
}

fn stored(d: &Daemon, source: &str) -> Vec<String> {
    let db = d.db();
    let mut stmt = db
        .prepare("SELECT source_id FROM posts WHERE source = ?1 ORDER BY source_id")
        .expect("prepare");
    let ids = stmt
        .query_map([source], |r| r.get::<_, String>(0))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    ids
}

/// A busy channel: the second poll's first page is all new, so it follows `pageToken` to the
/// page that reaches a known comment, and stops there (the trap page after it is never asked
/// for). Every page carries the API key header.
#[test]
fn json_paging_follows_next_until_known_posts() {
    let server = TestServer::start();
    let t = |h: u32| format!("2026-11-22T{h:02}:00:00Z");
    let (t1, t2, t3, t4, t5, t6) = (t(1), t(2), t(3), t(4), t(5), t(6));
    server.script(
        THREADS,
        [
            Reply::ok(threads(&[("t3", &t3), ("t2", &t2)], Some("P2"))),
            Reply::ok(threads(&[("t1", &t1)], None)),
        ],
    );
    let mut d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(&[("yt", youtube(&server.url(""), &youtube_fields()))]),
            ),
            ("rules.toml", RULES),
        ],
        &[("YOUTUBE_API_KEY", KEY)],
    );
    d.wait_for(
        "the first poll's two pages",
        Duration::from_secs(60),
        || stored(&d, "yt") == ["t1", "t2", "t3"],
    );
    let first = server.requests(THREADS);
    assert_eq!(
        first.len(),
        2,
        "{:?}",
        first.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert!(
        first[1].target.ends_with("&pageToken=P2"),
        "{}",
        first[1].target
    );
    // The second poll: two new comments on the first page, one more and a known one on the
    // second; the third page would add "t0" if it were asked for.
    server.script(
        THREADS,
        [
            Reply::ok(threads(&[("t6", &t6), ("t5", &t5)], Some("Q2"))),
            Reply::ok(threads(&[("t4", &t4), ("t3", &t3)], Some("Q3"))),
            Reply::ok(threads(&[("t6", &t6), ("t5", &t5)], Some("Q2"))),
        ],
    );
    let _ = t1;
    d.wait_for(
        "the second poll's new comments",
        Duration::from_secs(60),
        || stored(&d, "yt") == ["t1", "t2", "t3", "t4", "t5", "t6"],
    );
    d.wait_polls(3);
    let all = server.requests(THREADS);
    assert!(
        all.iter().all(|r| !r.target.contains("pageToken=Q3")),
        "a page past the known posts was asked for: {:?}",
        all.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert!(all.iter().any(|r| r.target.ends_with("&pageToken=Q2")));
    for r in &all {
        assert_eq!(r.header("x-goog-api-key"), Some(KEY), "{}", r.target);
    }
    assert!(!d.log().contains(KEY));
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// A wrong `items` path and a wrong field pointer each fail their source with an error that
/// names the key and the pointer and says where it stops, in `vigie sources`; `vigie preview`
/// prints the first item as received before that error.
#[test]
fn json_mapping_errors_name_the_pointer() {
    let server = TestServer::start();
    server.script(THREADS, [Reply::ok(YOUTUBE)]);
    let base = server.url("");
    let wrong_field = youtube_fields().replace(
        &format!("{C}/authorDisplayName"),
        &format!("{C}/author/displayName"),
    );
    let wrong_items = youtube(&base, &youtube_fields()).replace("$.items[*]", "$.data[*]");
    let cfg = config(&[
        ("field", youtube(&base, &wrong_field)),
        ("items", wrong_items),
    ]);
    let env = [("YOUTUBE_API_KEY", KEY)];
    let mut d = Daemon::start_env(&[("vigie.toml", &cfg), ("rules.toml", RULES)], &env);
    let error = |name: &str| -> Option<String> {
        d.db()
            .query_row(
                "SELECT last_error FROM sources_v WHERE source = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
            .flatten()
    };
    d.wait_for("both sources failing", Duration::from_secs(60), || {
        error("field").is_some() && error("items").is_some()
    });
    let field = error("field").unwrap();
    assert!(
        field.contains(&format!(
            "item 1: \"fields.author\": \"{C}/author/displayName\" selects nothing: no \"author\" in {C} (its keys: \"channelId\", \"videoId\", \"textDisplay\""
        )),
        "{field}"
    );
    let items = error("items").unwrap();
    assert!(
        items.contains("\"items\": \"$.data[*]\" selects nothing in the response (its keys: \"kind\", \"etag\", \"nextPageToken\", \"pageInfo\", \"items\")"),
        "{items}"
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM posts"), 0);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);

    let r = vigie_env(&["preview", "field", "--config", s(&d.config())], "", &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("First item as received:\n{\n  \"kind\": \"youtube#commentThread\""),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("\"authorDisplayName\": \"@camille.dsr\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("no \"author\" in"), "{}", r.stderr);
}

/// RFC 3339 with an offset, Unix seconds and Unix milliseconds all land as RFC 3339 UTC.
#[test]
fn json_times_land_as_rfc3339_utc() {
    let server = TestServer::start();
    server.script(
        THREADS,
        [Reply::ok(YOUTUBE.replace(
            "\"publishedAt\": \"2026-11-22T08:14:00Z\"",
            "\"publishedAt\": \"2026-11-22T09:14:00+01:00\"",
        ))],
    );
    server.script(
        "/2.3/search/advanced",
        [Reply::ok(STACK.replace("\"backoff\": 10,", ""))],
    );
    server.script(
        "/api/v4/channels/h7k2p9m4xbf3ze8q1nw6r5t0yc/posts",
        [Reply::ok(MATTERMOST)],
    );
    let base = server.url("");
    let cfg = config(&[
        ("youtube", youtube(&base, &youtube_fields()) + "\ntime_format = \"rfc3339\""),
        (
            "stack",
            format!("url = \"{base}/2.3/search/advanced?order=desc&sort=creation&q=colissimo&site=stackoverflow\"\nitems = \"$.items[*]\"\ntime_format = \"unix\"\nfields = {{ id = \"/question_id\", text = \"{{/title}} {{/body}}\", created_at = \"/creation_date\" }}"),
        ),
        (
            "mattermost",
            format!("url = \"{base}/api/v4/channels/h7k2p9m4xbf3ze8q1nw6r5t0yc/posts\"\nitems = \"$.posts.*\"\ntime_format = \"unix_ms\"\nfields = {{ id = \"/id\", text = \"/message\", created_at = \"/create_at\" }}\nheaders = {{ Authorization = \"${{MM_TOKEN}}\" }}"),
        ),
    ]);
    let mut d = Daemon::start_env(
        &[("vigie.toml", &cfg), ("rules.toml", RULES)],
        &[("YOUTUBE_API_KEY", KEY), ("MM_TOKEN", "Bearer mm-t0ken")],
    );
    let time = |source: &str, id: &str| -> Option<String> {
        d.db()
            .query_row(
                "SELECT created_at FROM posts WHERE source = ?1 AND source_id = ?2",
                [source, id],
                |r| r.get(0),
            )
            .ok()
    };
    d.wait_for("a post from each source", Duration::from_secs(60), || {
        ["youtube", "stack", "mattermost"]
            .iter()
            .all(|s| !stored(&d, s).is_empty())
    });
    assert_eq!(
        time("youtube", "UgxKz3rVq1fPqD8m2Ap4AaABAg").as_deref(),
        Some("2026-11-22T08:14:00Z")
    );
    assert_eq!(
        time("stack", "79912346").as_deref(),
        Some("2026-11-22T07:50:00Z")
    );
    assert_eq!(
        time("mattermost", "8xk3qzq7b3gq5n1mwxh4c9d2ye").as_deref(),
        Some("2026-11-22T08:14:00Z")
    );
    assert_eq!(
        time("mattermost", "u6r1pzn3kjbt9e8m4o5wq2x7ah").as_deref(),
        Some("2026-11-22T07:47:01Z")
    );
    let mm = server.requests("/api/v4/channels/h7k2p9m4xbf3ze8q1nw6r5t0yc/posts");
    assert_eq!(mm[0].header("authorization"), Some("Bearer mm-t0ken"));
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// `vigie preview` shows the first item as the API sent it beside the post it became: above
/// the table, and as `raw` on that post's JSON line.
#[test]
fn json_preview_shows_the_first_item_raw() {
    let server = TestServer::start();
    server.script(THREADS, [Reply::ok(YOUTUBE)]);
    let dir = crate::util::tree(&[
        (
            "vigie.toml",
            &config(&[("yt", youtube(&server.url(""), &youtube_fields()))]),
        ),
        ("rules.toml", RULES),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let env = [("YOUTUBE_API_KEY", KEY)];
    let r = vigie_env(
        &["preview", "yt", "--config", s(&cfg), "--format", "table"],
        "",
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("First item as received:\n{\n  \"kind\": \"youtube#commentThread\",\n  \"etag\": \"Wm3vQm0aS8nq2zK1tYpLr5cXh4E\",\n  \"id\": \"UgxKz3rVq1fPqD8m2Ap4AaABAg\""), "{}", r.stdout);
    assert!(r.stdout.contains("becomes: id UgxKz3rVq1fPqD8m2Ap4AaABAg, author @camille.dsr, created_at 2026-11-22T08:14:00Z, url https://www.youtube.com/watch?v=Xk3pQ9vLmT0&lc=UgxKz3rVq1fPqD8m2Ap4AaABAg"), "{}", r.stdout);
    let r = vigie_env(
        &["preview", "yt", "--config", s(&cfg), "--format", "json"],
        "",
        &env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = rows
        .iter()
        .find(|v| v["id"] == "UgxKz3rVq1fPqD8m2Ap4AaABAg")
        .expect("the first item's post");
    assert_eq!(
        first["raw"]["snippet"]["topLevelComment"]["snippet"]["likeCount"],
        14
    );
    assert_eq!(rows.iter().filter(|v| v.get("raw").is_some()).count(), 1);
}

/// Stack Exchange's `backoff` (seconds the API asks for before the next request) holds the
/// next poll back although `every` is 1 s.
#[test]
fn json_backoff_holds_the_next_poll() {
    let server = TestServer::start();
    server.script(
        "/2.3/search/advanced",
        [Reply::ok(
            STACK.replace("\"backoff\": 10", "\"backoff\": 4"),
        )],
    );
    let base = server.url("");
    let cfg = config(&[(
        "stack",
        format!("url = \"{base}/2.3/search/advanced?order=desc&sort=creation&q=colissimo&site=stackoverflow\"\nitems = \"$.items[*]\"\nbackoff = \"/backoff\"\nfields = {{ id = \"/question_id\", text = \"/title\" }}"),
    )]);
    let mut d = Daemon::start(&[("vigie.toml", &cfg), ("rules.toml", RULES)]);
    d.wait_for("two polls", Duration::from_secs(60), || {
        server.requests("/2.3/search/advanced").len() >= 2
    });
    let reqs = server.requests("/2.3/search/advanced");
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_secs(4), "polled again after {gap:?}");
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// Previews `source` of the shipped recipe `file` with its API's host replaced by `server`'s,
/// and checks that every post has a text, an author, a time and a link.
fn preview_recipe(file: &str, host: &str, server: &TestServer, env: &[(&str, &str)]) -> Vec<Value> {
    let dir = shipped_tree();
    let path = dir.path().join("config/recipes").join(file);
    let text = std::fs::read_to_string(&path).expect("recipe");
    assert!(text.contains(host), "{file} does not use {host}");
    std::fs::write(&path, text.replace(host, &server.url(""))).expect("write");
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name = \""))
        .and_then(|n| n.strip_suffix('"'))
        .expect("a source name");
    let r = vigie_env(
        &["preview", name, "--config", s(&path), "--format", "json"],
        "",
        env,
    );
    assert_eq!(r.code, 0, "{file}: {}", r.stderr);
    let posts: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!posts.is_empty(), "{file}: no post");
    for p in &posts {
        for field in ["id", "text", "author", "created_at", "url"] {
            assert!(
                p[field].as_str().is_some_and(|v| !v.is_empty()),
                "{file}: no {field} in {p}"
            );
        }
        assert!(
            !p["rules"].as_array().unwrap().is_empty(),
            "{file}: hits no rule: {p}"
        );
    }
    posts
}

#[test]
fn youtube_recipe_parses_its_recorded_answer() {
    let server = TestServer::start();
    server.script(THREADS, [Reply::ok(YOUTUBE), Reply::ok(YOUTUBE_2)]);
    let posts = preview_recipe(
        "youtube-comments.toml",
        "https://www.googleapis.com",
        &server,
        &[("YOUTUBE_API_KEY", KEY)],
    );
    // Both pages: the second through the answer's nextPageToken.
    assert_eq!(posts.len(), 3);
    let reqs = server.requests(THREADS);
    assert!(
        reqs[1].target.contains("&pageToken=QURTSl9p"),
        "{}",
        reqs[1].target
    );
    assert!(reqs.iter().all(|r| r.header("x-goog-api-key") == Some(KEY)));
    // Without its key the recipe cannot be previewed (nor run).
    let dir = shipped_tree();
    let recipe = dir.path().join("config/recipes/youtube-comments.toml");
    let r = vigie(
        &["preview", "youtube-commentaires", "--config", s(&recipe)],
        "",
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("YOUTUBE_API_KEY is not set"),
        "{}",
        r.stderr
    );
}

#[test]
fn stackexchange_recipe_parses_its_recorded_answer() {
    let server = TestServer::start();
    server.script("/2.3/search/advanced", [Reply::ok(STACK)]);
    let posts = preview_recipe(
        "stackexchange-search.toml",
        "https://api.stackexchange.com",
        &server,
        &[],
    );
    assert_eq!(posts.len(), 2);
    let reqs = server.requests("/2.3/search/advanced");
    assert!(
        reqs[0].target.contains("sort=creation"),
        "{}",
        reqs[0].target
    );
}
