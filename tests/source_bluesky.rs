//! The `bluesky` source in mode `search` with the real daemon against a loopback server playing
//! the PDS from `tests/fixtures/bluesky/`: the shared source contract, then the session flows
//! (app-password login, refresh on `ExpiredToken`, a new login when the refresh is refused, a
//! refused login) with every secret and token kept out of the logs and `vigie sources`.

use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::source_contract::{assert_source_contract, Case, Sample, Step};
use crate::util::http::{Reply, TestServer};
use crate::util::{s, vigie_env};

const SEARCH: &str = "/xrpc/app.bsky.feed.searchPosts";
const CREATE: &str = "/xrpc/com.atproto.server.createSession";
const REFRESH: &str = "/xrpc/com.atproto.server.refreshSession";
const PROFILES: &str = "/xrpc/app.bsky.actor.getProfiles";
const PASSWORD: &str = "abcd-efgh-SECRET-ijkl";

fn fixture(name: &str) -> String {
    crate::util::fixture("bluesky", name)
}

fn json(body: String) -> Reply {
    Reply::ok(body).header("Content-Type", "application/json")
}

fn keys(base: &str) -> String {
    format!(
        "mode = \"search\"\nservice = \"{base}\"\nquery = \"colis OR retard\"\nlang = \"fr\"\n\
         identifier = \"veille.example.org\"\napp_password = \"${{BSKY_APP_PASSWORD}}\""
    )
}

/// The search as the contract sees it: `since` is its cursor.
fn search_case() -> Case {
    Case {
        kind: "bluesky",
        keys,
        env: &[("BSKY_APP_PASSWORD", PASSWORD)],
        script: |server, step| {
            server.script(CREATE, [json(fixture("createSession.json"))]);
            server.script(REFRESH, [json(fixture("refreshSession.json"))]);
            server.script(PROFILES, [json(fixture("getProfiles.json"))]);
            match step {
                Step::First => server.script(
                    SEARCH,
                    [
                        json(fixture("searchPosts-1.json")),
                        json(fixture("searchPosts-2.json")),
                    ],
                ),
                Step::Next => server.script(SEARCH, [json(fixture("searchPosts-newer.json"))]),
            }
        },
        list_path: SEARCH,
        carries_cursor: |r| r.target.contains("&since=2026-07-04T15%3A"),
        first_ids: &[
            "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a",
            "at://did:plc:wq4aajammjtxdomz3e23667t/app.bsky.feed.post/3mptcz7bq3k2w",
            "at://did:plc:o2rolxey6s5k7d4lxcz3inl4/app.bsky.feed.post/3mptcw2pl5s2k",
        ],
        all_ids: &[
            "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a",
            "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptdq7ll2c2b",
            "at://did:plc:wq4aajammjtxdomz3e23667t/app.bsky.feed.post/3mptcz7bq3k2w",
            "at://did:plc:o2rolxey6s5k7d4lxcz3inl4/app.bsky.feed.post/3mptcw2pl5s2k",
        ],
        sample: Sample {
            id: "at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/app.bsky.feed.post/3mptd4kq2ls2a",
            url: Some("https://bsky.app/profile/camille-durand.bsky.social/post/3mptd4kq2ls2a"),
            author: Some("@camille-durand.bsky.social"),
            author_name: Some("Camille Durand"),
            // From getProfiles: search results carry no follower count.
            followers: Some(1342),
            lang: Some("fr"),
            created_at: Some("2026-07-04T15:02:41Z"),
            text_contains: &["Troisième jour", "colis"],
            engagement: Some(8),
        },
        malformed: (b"{\"posts\": 3}", "malformed searchPosts answer"),
        fault_words: &[],
    }
}

#[test]
fn bluesky_search_keeps_the_source_contract() {
    assert_source_contract(&search_case());
}

/// createSession's answer with other tokens.
fn session(access: &str, refresh: &str) -> Reply {
    let body = fixture("createSession.json")
        .replace("ACCESS-JWT-ONE", access)
        .replace("REFRESH-JWT-ONE", refresh);
    json(body)
}

fn expired() -> Reply {
    Reply::new(400)
        .header("Content-Type", "application/json")
        .body(fixture("error-ExpiredToken.json"))
}

fn config(base: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\n\
         [[source]]\nname = \"bsky\"\nkind = \"bluesky\"\nevery = \"1s\"\n{}\n",
        keys(base)
    )
}

const RULES: &str = "[[rule]]\nname = \"colis\"\nquery = 'colis'\n";

/// Every secret of a session run, none of which may show in the log or `vigie sources`.
const SECRETS: &[&str] = &[
    PASSWORD,
    "ACCESS-JWT-ONE",
    "REFRESH-JWT-ONE",
    "ACCESS-JWT-TWO",
    "REFRESH-JWT-TWO",
    "ACCESS-JWT-THREE",
    "REFRESH-JWT-THREE",
];

fn assert_no_secret(d: &Daemon) {
    let env = [("BSKY_APP_PASSWORD", PASSWORD)];
    let r = vigie_env(&["sources", "--config", s(&d.config())], "", &env);
    for secret in SECRETS {
        assert!(!d.log().contains(secret), "{secret} in the log");
        assert!(!r.stdout.contains(secret), "{secret} in vigie sources");
    }
}

#[test]
fn bluesky_search_refreshes_an_expired_token_and_logs_in_again_when_the_refresh_is_refused() {
    let server = TestServer::start();
    server.script(
        CREATE,
        [
            session("ACCESS-JWT-ONE", "REFRESH-JWT-ONE"),
            session("ACCESS-JWT-THREE", "REFRESH-JWT-THREE"),
        ],
    );
    // The first refresh works; the second is refused (the refresh token expired too).
    server.script(REFRESH, [json(fixture("refreshSession.json")), expired()]);
    server.script(PROFILES, [json(fixture("getProfiles.json"))]);
    let page = || json(fixture("searchPosts-2.json"));
    server.script(SEARCH, [page(), expired(), page(), expired(), page()]);
    let mut d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""))),
            ("rules.toml", RULES),
        ],
        &[("BSKY_APP_PASSWORD", PASSWORD)],
    );
    d.wait_for("the second login", Duration::from_secs(60), || {
        server.requests(SEARCH).len() >= 6
    });
    let bearer =
        |r: &crate::util::http::Request| r.header("authorization").unwrap_or("").to_string();
    let searches: Vec<String> = server.requests(SEARCH).iter().map(bearer).collect();
    assert_eq!(
        searches[..6],
        [
            "Bearer ACCESS-JWT-ONE",
            "Bearer ACCESS-JWT-ONE",
            "Bearer ACCESS-JWT-TWO",
            "Bearer ACCESS-JWT-TWO",
            "Bearer ACCESS-JWT-THREE",
            "Bearer ACCESS-JWT-THREE",
        ]
    );
    let refreshes: Vec<String> = server.requests(REFRESH).iter().map(bearer).collect();
    assert_eq!(
        refreshes,
        ["Bearer REFRESH-JWT-ONE", "Bearer REFRESH-JWT-TWO"]
    );
    let logins = server.requests(CREATE);
    assert_eq!(logins.len(), 2);
    for login in &logins {
        assert_eq!(login.method, "POST");
        let body: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
        assert_eq!(body["identifier"], "veille.example.org");
        assert_eq!(body["password"], PASSWORD);
    }
    // Every poll succeeded: the token dance is not an error.
    assert_eq!(
        d.count("SELECT COUNT(*) FROM sources_v WHERE last_status = 'ok'"),
        1
    );
    assert!(!d.log().contains("Poll failed."), "{}", d.log());
    assert_eq!(d.count("SELECT COUNT(*) FROM posts"), 1);
    assert_no_secret(&d);
    assert_eq!(d.terminate(Duration::from_secs(30)), 0);
}

#[test]
fn bluesky_search_refused_login_is_a_clear_error_without_the_password() {
    let server = TestServer::start();
    server.script(
        CREATE,
        [Reply::new(401)
            .header("Content-Type", "application/json")
            .body(fixture("error-AuthenticationRequired.json"))],
    );
    let d = Daemon::start_env(
        &[
            ("vigie.toml", &config(&server.url(""))),
            ("rules.toml", RULES),
        ],
        &[("BSKY_APP_PASSWORD", PASSWORD)],
    );
    d.wait_for(
        "the error in vigie sources",
        Duration::from_secs(60),
        || d.count("SELECT COUNT(*) FROM sources_v WHERE last_status = 'error'") == 1,
    );
    let error: String = d
        .db()
        .query_row("SELECT last_error FROM sources_v", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        error,
        "Bluesky login as \"veille.example.org\" refused: HTTP 401 AuthenticationRequired (Invalid identifier or password)"
    );
    assert!(server.requests(SEARCH).is_empty());
    assert_no_secret(&d);
}
