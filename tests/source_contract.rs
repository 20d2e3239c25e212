//! The contract every polled source kind keeps (issue 19), run once per kind against a real
//! daemon and a loopback server playing the platform from recorded responses.
//!
//! A kind joins by adding one [`Case`] (its config keys, its recorded pages, how its cursor shows
//! in a request, one post with every SPEC §7 field its fixture has) and one `#[test]` calling
//! [`assert_source_contract`]. The contract:
//!
//! 1. the first poll stores the posts, the sample post with every field the fixture gives;
//! 2. the next poll's request carries the cursor and only newer posts are added;
//! 3. no post is stored twice across polls, a `kill -9` and a restart (the restarted daemon
//!    resumes from the stored cursor);
//! 4. 401, 403, 429 with `Retry-After`, 5xx, a malformed body and an oversized body each show as
//!    an error in `vigie sources`, with the right backoff, while a healthy source of the same
//!    kind keeps polling;
//! 5. `vigie preview NAME` prints the posts, stores nothing, and builds only that source (a
//!    notifier whose secret is missing does not stop it);
//! 6. no secret of the case (its `env` values) shows in the logs or in `vigie sources`.
//!
//! Streaming kinds (Bluesky's Jetstream) have their own test: there is no page to script.

use std::time::Duration;

use serde_json::Value;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, Request, TestServer};
use crate::util::{s, vigie, vigie_env};

/// Rules of every contract run: sample posts must hit one of these words, since only posts
/// that hit a rule keep their text and details.
const RULES: &str = r#"
[[rule]]
name = "plainte"
query = 'colis OR retard OR réclamation OR commande OR cassé* OR livraison'
"#;

/// Which answers the loopback platform gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first poll's answers.
    First,
    /// Every later poll's answers: newer posts (and old ones where the platform repeats them).
    Next,
}

/// One post of the first page, with every SPEC §7 field the fixture gives (`None`: the platform
/// does not give it, and it is not checked).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// The platform's id, as stored in `source_id`.
    pub id: &'static str,
    /// The permalink.
    pub url: Option<&'static str>,
    /// The author's handle.
    pub author: Option<&'static str>,
    /// The author's display name.
    pub author_name: Option<&'static str>,
    /// The author's followers.
    pub followers: Option<i64>,
    /// The post's language.
    pub lang: Option<&'static str>,
    /// Its creation time, as stored (UTC, `2026-11-22T08:14:00Z`).
    pub created_at: Option<&'static str>,
    /// Words the stored plain text contains (HTML turned into text: no tags, entities decoded).
    pub text_contains: &'static [&'static str],
    /// Likes + reposts + replies.
    pub engagement: Option<i64>,
}

/// A source kind as the contract sees it.
pub struct Case {
    /// `kind = "…"`.
    pub kind: &'static str,
    /// The `[[source]]` keys besides `name`, `kind` and `every`, for the platform served at
    /// `base` (`http://127.0.0.1:PORT`, no trailing slash).
    pub keys: fn(base: &str) -> String,
    /// Environment of the daemon and the CLI: the secrets `keys` refer to as `${VAR}`. No value
    /// may ever show in a log or in `vigie sources`.
    pub env: &'static [(&'static str, &'static str)],
    /// Scripts the platform's answers for `step` on `server` (auth endpoints included).
    pub script: fn(server: &TestServer, step: Step),
    /// The path of the request that lists posts: the cursor shows there, faults are served there.
    pub list_path: &'static str,
    /// Whether a request to `list_path` carries the cursor of the first poll (`min_id=…`,
    /// `If-None-Match`…).
    pub carries_cursor: fn(&Request) -> bool,
    /// `source_id`s stored by the first poll.
    pub first_ids: &'static [&'static str],
    /// `source_id`s stored once the next polls are in (the first ones included).
    pub all_ids: &'static [&'static str],
    /// One post of the first page.
    pub sample: Sample,
    /// A 200 body the source must refuse, and a word of the error it shows.
    pub malformed: (&'static [u8], &'static str),
    /// Error words that differ from the defaults of [`Fault::words`] for this kind.
    pub fault_words: &'static [(Fault, &'static str)],
}

/// A bad answer on the list path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 401 Unauthorized.
    Unauthorized,
    /// 403 Forbidden.
    Forbidden,
    /// 429 with `Retry-After: 3`.
    RateLimited,
    /// 503 without `Retry-After`.
    Unavailable,
    /// The case's malformed body.
    Malformed,
    /// A body that never ends, against `max_bytes = 65536`.
    Oversized,
}

impl Fault {
    const ALL: [Fault; 6] = [
        Fault::Unauthorized,
        Fault::Forbidden,
        Fault::RateLimited,
        Fault::Unavailable,
        Fault::Malformed,
        Fault::Oversized,
    ];

    /// The source name used for this fault.
    fn name(self) -> &'static str {
        match self {
            Fault::Unauthorized => "f401",
            Fault::Forbidden => "f403",
            Fault::RateLimited => "f429",
            Fault::Unavailable => "f503",
            Fault::Malformed => "malformed",
            Fault::Oversized => "oversized",
        }
    }

    /// What `vigie sources` shows, unless the case says otherwise.
    fn words(self, case: &Case) -> &'static str {
        if let Some((_, w)) = case.fault_words.iter().find(|(f, _)| *f == self) {
            return w;
        }
        match self {
            Fault::Unauthorized => "401",
            Fault::Forbidden => "403",
            Fault::RateLimited => "rate limited",
            Fault::Unavailable => "503",
            Fault::Malformed => case.malformed.1,
            Fault::Oversized => "exceeds 65536 bytes",
        }
    }

    /// The faulty reply.
    fn reply(self, case: &Case) -> Reply {
        match self {
            Fault::Unauthorized => Reply::new(401).body(r#"{"error":"unauthorized"}"#),
            Fault::Forbidden => Reply::new(403).body(r#"{"error":"forbidden"}"#),
            Fault::RateLimited => Reply::new(429).header("Retry-After", "3"),
            Fault::Unavailable => Reply::new(503),
            Fault::Malformed => Reply::ok(case.malformed.0),
            Fault::Oversized => Reply::ok("").endless_body(),
        }
    }
}

/// `[daemon]` plus one source table per `(name, base, extra keys)`.
fn config(case: &Case, sources: &[(&str, String, &str)], with_notifier: bool) -> String {
    let mut c = String::from(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nuser_agent = \"vigie-test/1 (+mailto:ops@example.org)\"\nhttp_timeout = \"5s\"\n",
    );
    for (name, base, extra) in sources {
        c.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"{}\"\nevery = \"1s\"\n{}\n{extra}\n",
            case.kind,
            (case.keys)(base)
        ));
    }
    if with_notifier {
        // A notifier that cannot be built: only `preview` runs with it.
        c.push_str(
            "\n[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"${CONTRACT_UNSET_WEBHOOK_URL}\"\n",
        );
    }
    c
}

/// The platform's base URL on `server`.
fn base(server: &TestServer) -> String {
    server.url("")
}

/// Stored `source_id`s of `source`, sorted.
fn stored_ids(d: &Daemon, source: &str) -> Vec<String> {
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

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// `vigie sources --format json`, one object per source.
fn sources(d: &Daemon, env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let r = vigie_env(
        &["sources", "--config", s(&d.config()), "--format", "json"],
        "",
        env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    (rows, r.stdout)
}

/// Checks the stored sample against the case.
fn assert_sample(d: &Daemon, source: &str, sample: &Sample) {
    let row = d
        .db()
        .query_row(
            "SELECT url, author, author_name, followers, lang, created_at, text, engagement
             FROM posts WHERE source = ?1 AND source_id = ?2",
            [source, sample.id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                ))
            },
        )
        .unwrap_or_else(|e| panic!("sample post {} not stored: {e}", sample.id));
    let (url, author, author_name, followers, lang, created_at, text, engagement) = row;
    let want = |field: &str, got: Option<String>, want: Option<&str>| {
        if let Some(w) = want {
            assert_eq!(got.as_deref(), Some(w), "{}: {field}", sample.id);
        }
    };
    want("url", url, sample.url);
    want("author", author, sample.author);
    want("author_name", author_name, sample.author_name);
    want("lang", lang, sample.lang);
    want("created_at", Some(created_at), sample.created_at);
    if let Some(f) = sample.followers {
        assert_eq!(followers, Some(f), "{}: followers", sample.id);
    }
    if let Some(e) = sample.engagement {
        assert_eq!(engagement, Some(e), "{}: engagement", sample.id);
    }
    let text =
        text.unwrap_or_else(|| panic!("{}: no text stored (does it hit a rule?)", sample.id));
    for word in sample.text_contains {
        assert!(
            text.contains(word),
            "{}: {word:?} not in {text:?}",
            sample.id
        );
    }
    assert!(
        !text.contains('<') || !text.contains('>'),
        "{}: HTML left in the text: {text:?}",
        sample.id
    );
}

/// Runs the whole contract for `case`.
pub fn assert_source_contract(case: &Case) {
    polls_cursor_restart(case);
    faults(case);
    preview(case);
}

/// Points 1–3 and 6: first poll, cursor, no duplicate across polls, kill -9 and restart.
fn polls_cursor_restart(case: &Case) {
    let server = TestServer::start();
    (case.script)(&server, Step::First);
    let mut d = Daemon::start_env(
        &[
            (
                "vigie.toml",
                &config(case, &[("src", base(&server), "")], false),
            ),
            ("rules.toml", RULES),
        ],
        case.env,
    );
    let first = sorted(case.first_ids);
    d.wait_for("the first page stored", Duration::from_secs(60), || {
        stored_ids(&d, "src") == first
    });
    assert_sample(&d, "src", &case.sample);
    let seen = server.requests(case.list_path).len();
    (case.script)(&server, Step::Next);
    let all = sorted(case.all_ids);
    d.wait_for("the newer posts stored", Duration::from_secs(60), || {
        stored_ids(&d, "src") == all
    });
    let later = &server.requests(case.list_path)[seen..];
    assert!(
        later.iter().any(|r| (case.carries_cursor)(r)),
        "{}: no request after the first poll carries the cursor: {:#?}",
        case.kind,
        later.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    // More polls of the same answers add nothing.
    let polls = server.requests(case.list_path).len();
    d.wait_for("two more polls", Duration::from_secs(60), || {
        server.requests(case.list_path).len() >= polls + 2
    });
    d.wait_for("the polls committed", Duration::from_secs(60), || {
        d.count("SELECT COUNT(*) FROM sources WHERE name = 'src' AND last_status = 'ok'") == 1
    });
    assert_eq!(
        stored_ids(&d, "src"),
        all,
        "{}: polls stored twice",
        case.kind
    );
    // kill -9, then a restart resumes from the stored cursor: nothing stored twice.
    d.kill9();
    let before = server.requests(case.list_path).len();
    d.restart();
    d.wait_for("polls after the restart", Duration::from_secs(60), || {
        server.requests(case.list_path).len() >= before + 2
    });
    let resumed = &server.requests(case.list_path)[before..];
    assert!(
        (case.carries_cursor)(&resumed[0]),
        "{}: the first request after a restart does not carry the stored cursor: {}",
        case.kind,
        resumed[0].target
    );
    assert_eq!(
        stored_ids(&d, "src"),
        all,
        "{}: stored twice across kill -9",
        case.kind
    );
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'src'"),
        case.all_ids.len() as i64
    );
    assert_no_secret(case, &d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// Point 4: every fault shows in `vigie sources` with its backoff, a healthy source keeps
/// polling.
fn faults(case: &Case) {
    let good = TestServer::start();
    (case.script)(&good, Step::First);
    let servers: Vec<(Fault, TestServer)> = Fault::ALL
        .iter()
        .map(|&f| {
            let server = TestServer::start();
            (case.script)(&server, Step::First);
            server.script(case.list_path, [f.reply(case)]);
            (f, server)
        })
        .collect();
    let mut tables = vec![("good", base(&good), "")];
    for (f, server) in &servers {
        let extra = if *f == Fault::Oversized {
            "max_bytes = 65536"
        } else {
            ""
        };
        tables.push((f.name(), base(server), extra));
    }
    let mut d = Daemon::start_env(
        &[
            ("vigie.toml", &config(case, &tables, false)),
            ("rules.toml", RULES),
        ],
        case.env,
    );
    let status = |d: &Daemon, name: &str| -> Option<String> {
        d.db()
            .query_row(
                "SELECT last_status FROM sources_v WHERE source = ?1",
                [name],
                |r| r.get(0),
            )
            .ok()
    };
    d.wait_for(
        "every faulty source to fail",
        Duration::from_secs(90),
        || {
            Fault::ALL
                .iter()
                .all(|f| status(&d, f.name()).as_deref() == Some("error"))
        },
    );
    let (rows, _) = sources(&d, case.env);
    for f in Fault::ALL {
        let row = rows
            .iter()
            .find(|r| r["source"] == f.name())
            .unwrap_or_else(|| panic!("{}: no row for {}", case.kind, f.name()));
        let err = row["last_error"].as_str().unwrap_or_default();
        let words = f.words(case);
        assert!(
            err.contains(words),
            "{} {f:?}: last error {err:?} should mention {words:?}",
            case.kind
        );
        assert!(row["next_poll_at"].is_string(), "{f:?}: {row}");
    }
    // The healthy source keeps polling and storing while the others fail.
    let polls = good.requests(case.list_path).len();
    d.wait_for(
        "more polls of the healthy source",
        Duration::from_secs(60),
        || good.requests(case.list_path).len() >= polls + 2,
    );
    assert_eq!(stored_ids(&d, "good"), sorted(case.first_ids));
    // Backoff: a 429 waits its Retry-After; other failures wait at least `every`.
    for (f, server) in &servers {
        d.wait_for("a faulty source retried", Duration::from_secs(90), || {
            server.requests(case.list_path).len() >= 2
        });
        let reqs = server.requests(case.list_path);
        let least = if *f == Fault::RateLimited {
            Duration::from_secs(3)
        } else {
            Duration::from_millis(900)
        };
        for w in reqs.windows(2) {
            let gap = w[1].at - w[0].at;
            assert!(
                gap >= least,
                "{} {f:?}: retried after {gap:?}, less than {least:?}",
                case.kind
            );
        }
    }
    assert_no_secret(case, &d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

/// Point 5: `vigie preview` prints the posts, stores nothing, builds only its source.
fn preview(case: &Case) {
    let server = TestServer::start();
    (case.script)(&server, Step::First);
    let dir = crate::util::tree(&[
        (
            "vigie.toml",
            &config(case, &[("src", base(&server), "")], true),
        ),
        ("rules.toml", RULES),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let r = vigie_env(
        &["preview", "src", "--config", s(&cfg), "--format", "json"],
        "",
        case.env,
    );
    assert_eq!(r.code, 0, "{}: preview failed: {}", case.kind, r.stderr);
    let ids: Vec<String> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect();
    for id in case.first_ids {
        assert!(
            ids.iter().any(|i| i == id),
            "{}: preview does not show {id}: {ids:?}",
            case.kind
        );
    }
    assert!(
        !dir.path().join("vigie.db").exists(),
        "preview stores nothing"
    );
    for (_, secret) in case.env {
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }
    // Without the secrets its own keys need, preview says so (and `check` does too).
    if !case.env.is_empty() {
        let r = vigie(&["preview", "src", "--config", s(&cfg)], "");
        assert_ne!(r.code, 0, "{}: preview without its secrets", case.kind);
    }
}

/// Point 6: no secret value in the daemon's log or in `vigie sources`.
fn assert_no_secret(case: &Case, d: &Daemon) {
    let log = d.log();
    let (_, shown) = sources(d, case.env);
    for (var, secret) in case.env {
        assert!(!log.contains(secret), "{}: ${var} in the log", case.kind);
        assert!(
            !shown.contains(secret),
            "{}: ${var} in vigie sources",
            case.kind
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The cases.

/// `rss`: validators are its cursor; a feed lists old items again, the store keeps one each.
fn rss_case() -> Case {
    const FIRST: &str = include_str!("fixtures/rss/rss20.xml");
    fn newer() -> String {
        FIRST.replace(
            "    <item>\n      <title>Colis perdu",
            "    <item>\n      <title>Commande en retard</title>\n      <link>https://forum.example.fr/t/commande-retard/103</link>\n      <guid isPermaLink=\"false\">forum-103</guid>\n      <pubDate>Sun, 22 Nov 2026 10:30:00 +0100</pubDate>\n      <description>Ma commande a trois jours de retard.</description>\n    </item>\n    <item>\n      <title>Colis perdu",
        )
    }
    Case {
        kind: "rss",
        keys: |base| format!("url = \"{base}/feed.xml\""),
        env: &[],
        script: |server, step| match step {
            Step::First => server.script(
                "/feed.xml",
                [Reply::ok(FIRST)
                    .header("ETag", "\"v1\"")
                    .header("Content-Type", "application/rss+xml")],
            ),
            Step::Next => server.script(
                "/feed.xml",
                [Reply::ok(newer()).header("ETag", "\"v2\""), Reply::new(304)],
            ),
        },
        list_path: "/feed.xml",
        carries_cursor: |r| r.header("if-none-match").is_some(),
        first_ids: &["forum-101", "https://forum.example.fr/t/objet-casse/102"],
        all_ids: &[
            "forum-101",
            "forum-103",
            "https://forum.example.fr/t/objet-casse/102",
        ],
        sample: Sample {
            id: "forum-101",
            url: Some("https://forum.example.fr/t/colis-perdu/101"),
            author: Some("julie_m"),
            created_at: Some("2026-11-22T08:14:00Z"),
            text_contains: &["Colis perdu", "réclamation"],
            ..Sample::default()
        },
        malformed: (b"<rss version=\"2.0\"><channel><item><title>", "malformed"),
        fault_words: &[],
    }
}

#[test]
fn rss_keeps_the_source_contract() {
    assert_source_contract(&rss_case());
}

/// `json`, on YouTube's commentThreads (an API key header as a secret): the first page's ETag
/// is its cursor on the wire; the next page lists a newer thread above the two known ones.
fn json_case() -> Case {
    const FIRST: &str = include_str!("fixtures/recipes/youtube-commentthreads.json");
    const NEWER: &str = r#"{
      "kind": "youtube#commentThread",
      "etag": "Hn4cT8pLq1sWd5mB2vXz9yK7jGa",
      "id": "UgyN3qP8rLm2sK5vTz0Ap4AaABAg",
      "snippet": {
        "channelId": "UCq6Zp0sTnYV1rLk2c9HqPmA",
        "videoId": "Xk3pQ9vLmT0",
        "topLevelComment": {
          "kind": "youtube#comment",
          "etag": "Jd7pQ1tLm3sRb8nV4cXw2yH6kEf",
          "id": "UgyN3qP8rLm2sK5vTz0Ap4AaABAg",
          "snippet": {
            "channelId": "UCq6Zp0sTnYV1rLk2c9HqPmA",
            "videoId": "Xk3pQ9vLmT0",
            "textDisplay": "Même problème, commande en retard depuis une semaine.",
            "textOriginal": "Même problème, commande en retard depuis une semaine.",
            "authorDisplayName": "@nadia.r",
            "authorProfileImageUrl": "https://yt3.ggpht.com/ytc/AIdro_pQ4rT7mL2sN9vK1cX8yZ5wB3jH0gF6dE=s48-c-k-c0x00ffffff-no-rj",
            "authorChannelUrl": "http://www.youtube.com/@nadia.r",
            "authorChannelId": { "value": "UCm5pR1sQ8nV4tL7kZ2xWc0E" },
            "canRate": true,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": "2026-11-22T09:30:00Z",
            "updatedAt": "2026-11-22T09:30:00Z"
          }
        },
        "canReply": true,
        "totalReplyCount": 0,
        "isPublic": true
      }
    },"#;
    fn first() -> String {
        // One page: the token of the recipe's fixture would page to the same path.
        FIRST.replace(
            "\"nextPageToken\": \"QURTSl9pM3hGc0JrOFdTc3p3bDN0cWZIZ2dKdjFqVF9xb0FxUnNtU0p1UzhwT2JpQ2d4\",\n",
            "",
        )
    }
    fn newer() -> String {
        first().replacen("\"items\": [", &format!("\"items\": [{NEWER}"), 1)
    }
    const C: &str = "/snippet/topLevelComment/snippet";
    Case {
        kind: "json",
        keys: |base| {
            format!(
                "url = \"{base}/youtube/v3/commentThreads?part=snippet&allThreadsRelatedToChannelId=UCq6Zp0sTnYV1rLk2c9HqPmA&order=time&maxResults=100\"\n\
                 items = \"$.items[*]\"\n\
                 time_format = \"rfc3339\"\n\
                 fields = {{ id = \"/id\", text = \"{C}/textDisplay\", author = \"{C}/authorDisplayName\", created_at = \"{C}/publishedAt\", url = \"https://www.youtube.com/watch?v={{/snippet/videoId}}&lc={{/id}}\" }}\n\
                 headers = {{ \"X-Goog-Api-Key\" = \"${{YOUTUBE_API_KEY}}\" }}"
            )
        },
        env: &[("YOUTUBE_API_KEY", "AIzaSyD-c0ntract-t3st-k3y-n0t-real")],
        script: |server, step| match step {
            Step::First => server.script(
                "/youtube/v3/commentThreads",
                [Reply::ok(first())
                    .header("ETag", "\"q1Xb8fZ2lP0cJm8yqH7sVxW3dKo\"")
                    .header("Content-Type", "application/json; charset=UTF-8")],
            ),
            Step::Next => server.script(
                "/youtube/v3/commentThreads",
                [
                    Reply::ok(newer()).header("ETag", "\"r9Kd2mQ7pL4sVb1nX8cWz3yH6jE\""),
                    Reply::new(304),
                ],
            ),
        },
        list_path: "/youtube/v3/commentThreads",
        carries_cursor: |r| {
            r.header("if-none-match").is_some()
                && r.header("x-goog-api-key") == Some("AIzaSyD-c0ntract-t3st-k3y-n0t-real")
        },
        first_ids: &["UgxKz3rVq1fPqD8m2Ap4AaABAg", "UgzR7mN2pLq9sT4vXw1Ap4AaABAg"],
        all_ids: &[
            "UgxKz3rVq1fPqD8m2Ap4AaABAg",
            "UgyN3qP8rLm2sK5vTz0Ap4AaABAg",
            "UgzR7mN2pLq9sT4vXw1Ap4AaABAg",
        ],
        sample: Sample {
            id: "UgxKz3rVq1fPqD8m2Ap4AaABAg",
            url: Some("https://www.youtube.com/watch?v=Xk3pQ9vLmT0&lc=UgxKz3rVq1fPqD8m2Ap4AaABAg"),
            author: Some("@camille.dsr"),
            created_at: Some("2026-11-22T08:14:00Z"),
            text_contains: &["colis", "n'a pas bougé", "réclamation"],
            ..Sample::default()
        },
        malformed: (
            b"{\"kind\": \"youtube#commentThreadListResponse\", \"items\": [",
            "malformed JSON",
        ),
        fault_words: &[],
    }
}

#[test]
fn json_keeps_the_source_contract() {
    assert_source_contract(&json_case());
}

/// `mastodon`: one hashtag with a token; the cursor is the newest status id (`min_id`), a boost
/// is no post.
fn mastodon_case() -> Case {
    const FIRST: &str = include_str!("fixtures/mastodon/tag-first.json");
    const NEWER: &str = include_str!("fixtures/mastodon/tag-newer.json");
    Case {
        kind: "mastodon",
        keys: |base| {
            format!("instance = \"{base}\"\nhashtags = [\"colis\"]\ntoken = \"${{CONTRACT_MASTODON_TOKEN}}\"")
        },
        env: &[("CONTRACT_MASTODON_TOKEN", "masto-contract-token-5f2a")],
        script: |server, step| match step {
            Step::First => server.script("/api/v1/timelines/tag/colis", [Reply::ok(FIRST)]),
            Step::Next => server.script(
                "/api/v1/timelines/tag/colis",
                [Reply::ok(NEWER), Reply::ok("[]")],
            ),
        },
        list_path: "/api/v1/timelines/tag/colis",
        carries_cursor: |r| r.target.contains("min_id=113512000000000"),
        first_ids: &["113511999000000200", "113512000000000300"],
        all_ids: &[
            "113511999000000200",
            "113512000000000300",
            "113512000000000400",
            "113512000000000500",
        ],
        sample: Sample {
            id: "113512000000000300",
            url: Some("https://piaille.example/@alice/113512000000000300"),
            author: Some("@alice@piaille.example"),
            author_name: Some("Alice Martin"),
            followers: Some(120),
            lang: Some("fr"),
            created_at: Some("2026-11-22T09:14:00Z"),
            text_contains: &["#colis est en retard", "l'appli #posteo dit \"en cours"],
            engagement: Some(17),
        },
        malformed: (b"[{\"id\": \"1\", \"content\": \"<p>cut", "malformed"),
        fault_words: &[],
    }
}

#[test]
fn mastodon_keeps_the_source_contract() {
    assert_source_contract(&mastodon_case());
}

/// `hackernews`: Algolia's search; the cursor is the newest `created_at_i`.
fn hackernews_case() -> Case {
    const FIRST: &str = include_str!("fixtures/hackernews/search-first.json");
    const NEWER: &str = include_str!("fixtures/hackernews/search-newer.json");
    const EMPTY: &str = include_str!("fixtures/hackernews/search-empty.json");
    Case {
        kind: "hackernews",
        keys: |base| format!("query = \"posteo\"\nbase_url = \"{base}\""),
        env: &[],
        script: |server, step| match step {
            Step::First => server.script("/api/v1/search_by_date", [Reply::ok(FIRST)]),
            Step::Next => server.script(
                "/api/v1/search_by_date",
                [Reply::ok(NEWER), Reply::ok(EMPTY)],
            ),
        },
        list_path: "/api/v1/search_by_date",
        carries_cursor: |r| r.target.contains("numericFilters=created_at_i%3E17953"),
        first_ids: &["42199000", "42200100", "42200310"],
        all_ids: &["42199000", "42200100", "42200310", "42200400"],
        sample: Sample {
            id: "42200100",
            url: Some("https://news.ycombinator.com/item?id=42200100"),
            author: Some("mdupont"),
            created_at: Some("2026-11-22T08:40:00Z"),
            text_contains: &[
                "Ask HN: Is Posteo's parcel service reliable?",
                "Colis perdu",
            ],
            engagement: Some(23),
            ..Sample::default()
        },
        malformed: (
            b"{\"hits\": [{\"objectID\": \"1\", \"created_at",
            "malformed",
        ),
        fault_words: &[],
    }
}

#[test]
fn hackernews_keeps_the_source_contract() {
    assert_source_contract(&hackernews_case());
}

/// `discourse` in mode `search`: the cursor is the newest post's day (`after:` in `q`), the
/// API key rides in headers; a search lists old hits again, the store keeps one each.
fn discourse_case() -> Case {
    const FIRST: &str = include_str!("fixtures/discourse/search.json");
    fn newer() -> String {
        let mut page: Value = serde_json::from_str(FIRST).expect("search.json");
        let mut hit = page["posts"][0].clone();
        hit["id"] = 1043.into();
        hit["post_number"] = 5.into();
        hit["created_at"] = "2026-11-22T09:40:12.000Z".into();
        hit["blurb"] =
            "Commande livrée avec deux jours de retard, et le colis était ouvert.".into();
        page["posts"].as_array_mut().expect("posts").insert(0, hit);
        page.to_string()
    }
    Case {
        kind: "discourse",
        keys: |base| {
            format!(
                "url = \"{base}\"\nmode = \"search\"\nquery = \"colis\"\napi_key = \"${{CONTRACT_DISCOURSE_KEY}}\"\napi_username = \"vigie\""
            )
        },
        env: &[("CONTRACT_DISCOURSE_KEY", "dk-7c1e55b09f3a-contract")],
        script: |server, step| match step {
            Step::First => server.script("/search.json", [Reply::ok(FIRST)]),
            Step::Next => server.script("/search.json", [Reply::ok(newer())]),
        },
        list_path: "/search.json",
        carries_cursor: |r| r.target.contains("after%3A2026-11-21"),
        first_ids: &["1041", "1042"],
        all_ids: &["1041", "1042", "1043"],
        sample: Sample {
            id: "1042",
            // The permalink holds the loopback port: tests/discourse.rs checks it.
            author: Some("@julie_m"),
            author_name: Some("Julie Martin"),
            created_at: Some("2026-11-22T08:14:00Z"),
            text_contains: &["Colis bloqué depuis une semaine", "réclamation"],
            engagement: Some(3),
            ..Sample::default()
        },
        malformed: (b"{\"posts\": 5}", "malformed Discourse search.json"),
        fault_words: &[],
    }
}

#[test]
fn discourse_keeps_the_source_contract() {
    assert_source_contract(&discourse_case());
}

/// `html`: a review page's validators are its cursor; the page lists old reviews again, the
/// store keeps one each. robots.txt is absent (404): everything is allowed.
fn html_case() -> Case {
    Case {
        kind: "html",
        keys: |base| {
            format!(
                "url = \"{base}/posteo\"\nitem = \"article.review\"\nselect = {{ id = {{ css = \"article.review\", attr = \"data-id\" }}, text = \".review-body\", author = \".review-author\", created_at = {{ css = \"time\", attr = \"datetime\" }}, url = {{ css = \"a.permalink\", attr = \"href\" }} }}"
            )
        },
        env: &[],
        script: |server, step| match step {
            Step::First => server.script(
                "/posteo",
                [Reply::ok(include_str!("fixtures/html/avis.html"))
                    .header("ETag", "\"v1\"")
                    .header("Content-Type", "text/html; charset=utf-8")],
            ),
            Step::Next => server.script(
                "/posteo",
                [
                    Reply::ok(include_str!("fixtures/html/avis-next.html"))
                        .header("ETag", "\"v2\""),
                    Reply::new(304),
                ],
            ),
        },
        list_path: "/posteo",
        carries_cursor: |r| r.header("if-none-match").is_some(),
        first_ids: &["r-101", "r-102"],
        all_ids: &["r-101", "r-102", "r-103"],
        sample: Sample {
            id: "r-101",
            url: Some("https://avis.example.fr/posteo/avis/r-101"),
            author: Some("Julie M."),
            created_at: Some("2026-11-22T08:14:00Z"),
            text_contains: &["colis", "réclamation"],
            ..Sample::default()
        },
        malformed: (
            b"<html><body><p>Site en maintenance</p></body></html>",
            "\"item\" selector",
        ),
        fault_words: &[],
    }
}

#[test]
fn html_keeps_the_source_contract() {
    assert_source_contract(&html_case());
}
