//! `source::fetch::Fetcher` against a real loopback server: headers sent, conditional GET,
//! status classification, the body cap, timeouts, gzip, redirects, secret redaction and the
//! per-host limit. The pure parts (redaction, `Retry-After`, backoff) are unit tests in their
//! modules.

use std::time::{Duration, SystemTime};

use vigie::source::fetch::{Body, FetchOptions, FetchRequest, Fetched, Fetcher};
use vigie::source::{Cursor, SourceError};

use crate::util::http::{Reply, TestServer};
use crate::util::root;

const MIB: u64 = 1024 * 1024;

/// A fetcher with default options except `f`'s changes.
fn fetcher(f: impl FnOnce(&mut FetchOptions)) -> Fetcher {
    let mut opts = FetchOptions {
        user_agent: "vigie-test/1 (+mailto:test@example.org)".into(),
        ..FetchOptions::default()
    };
    f(&mut opts);
    Fetcher::new(opts).expect("fetcher")
}

/// One GET with `cursor` and `max_bytes`, failing the test if it takes more than 10 s.
async fn get(
    fetch: &Fetcher,
    url: &str,
    cursor: &Cursor,
    max_bytes: u64,
) -> Result<Fetched, SourceError> {
    let req = FetchRequest::get(url, cursor, max_bytes);
    tokio::time::timeout(Duration::from_secs(10), fetch.get(&req))
        .await
        .expect("fetch must finish within 10 s")
}

/// The body of a successful, modified GET.
fn body(r: Result<Fetched, SourceError>) -> Body {
    match r {
        Ok(Fetched::Body(b)) => b,
        other => panic!("expected a body, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_sends_user_agent_and_extra_headers() {
    let server = TestServer::start();
    server.script("/feed", [Reply::ok("hi")]);
    let headers = [("Accept".to_string(), "application/rss+xml".to_string())];
    let url = server.url("/feed");
    let cursor = Cursor::default();
    let req = FetchRequest::get(&url, &cursor, MIB).with_headers(&headers);
    let got = body(fetcher(|_| {}).get(&req).await);
    assert_eq!(got.bytes, b"hi");
    let seen = server.requests("/feed");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].header("user-agent"),
        Some("vigie-test/1 (+mailto:test@example.org)")
    );
    assert_eq!(seen[0].header("accept"), Some("application/rss+xml"));
    assert!(seen[0]
        .header("accept-encoding")
        .is_some_and(|v| v.contains("gzip") && v.contains("br")));
    assert_eq!(seen[0].header("if-none-match"), None);
    assert_eq!(seen[0].header("if-modified-since"), None);
}

#[tokio::test]
async fn fetch_posts_a_body_and_shows_every_response_header() {
    // An API login (Bluesky's createSession, Reddit's token endpoint) is a POST whose answer
    // the source reads, headers included (`Link` paging, rate-limit counters).
    let server = TestServer::start();
    server.script(
        "/login",
        [Reply::ok(r#"{"accessJwt":"a"}"#)
            .header("X-RateLimit-Remaining", "0")
            .header("Link", "<https://x.org/next>; rel=\"next\"")],
    );
    let url = server.url("/login");
    let cursor = Cursor::default();
    let req = FetchRequest::get(&url, &cursor, MIB)
        .with_body("application/json", br#"{"identifier":"me"}"#);
    let got = body(fetcher(|_| {}).get(&req).await);
    assert_eq!(got.status, 200);
    assert!(got.is_success());
    assert_eq!(got.bytes, br#"{"accessJwt":"a"}"#);
    assert_eq!(got.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        got.header("LINK"),
        Some("<https://x.org/next>; rel=\"next\"")
    );
    let seen = server.requests("/login");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(seen[0].body, br#"{"identifier":"me"}"#);
}

#[tokio::test]
async fn fetch_keeps_client_errors_as_bodies_only_when_asked() {
    // A platform's 4xx body says what to do (an expired token to refresh, a revoked one to
    // report): a source that asks gets it; 429 stays a rate limit, 5xx an error.
    let server = TestServer::start();
    let expired = r#"{"error":"ExpiredToken","message":"Token has expired"}"#;
    server.script("/api", [Reply::new(400).body(expired)]);
    server.script("/limited", [Reply::new(429).header("Retry-After", "7")]);
    server.script("/broken", [Reply::new(502)]);
    let fetch = fetcher(|_| {});
    let cursor = Cursor::default();
    let (api, limited, broken) = (
        server.url("/api"),
        server.url("/limited"),
        server.url("/broken"),
    );
    let kept = body(
        fetch
            .get(&FetchRequest::get(&api, &cursor, MIB).keeping_client_errors())
            .await,
    );
    assert_eq!(kept.status, 400);
    assert!(!kept.is_success());
    assert_eq!(kept.bytes, expired.as_bytes());
    match fetch.get(&FetchRequest::get(&api, &cursor, MIB)).await {
        Err(SourceError::Permanent(m)) => assert!(m.contains("HTTP 400"), "{m}"),
        other => panic!("without asking, a 400 is a permanent error: {other:?}"),
    }
    let req = FetchRequest::get(&limited, &cursor, MIB).keeping_client_errors();
    assert_eq!(
        fetch.get(&req).await,
        Err(SourceError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        })
    );
    let req = FetchRequest::get(&broken, &cursor, MIB).keeping_client_errors();
    assert!(matches!(
        fetch.get(&req).await,
        Err(SourceError::Transient(_))
    ));
}

#[tokio::test]
async fn fetch_returns_validators_then_sends_them_and_304_is_not_modified() {
    let server = TestServer::start();
    let date = "Sun, 22 Nov 2026 10:00:00 GMT";
    server.script(
        "/feed",
        [
            Reply::ok("<rss/>")
                .header("ETag", "\"v1\"")
                .header("Last-Modified", date)
                .header("Content-Type", "application/rss+xml"),
            Reply::new(304),
        ],
    );
    let fetch = fetcher(|_| {});
    let first = body(get(&fetch, &server.url("/feed"), &Cursor::default(), MIB).await);
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    assert_eq!(first.last_modified.as_deref(), Some(date));
    assert_eq!(first.content_type.as_deref(), Some("application/rss+xml"));

    let cursor = Cursor {
        etag: first.etag,
        last_modified: first.last_modified,
        position: None,
    };
    let second = get(&fetch, &server.url("/feed"), &cursor, MIB).await;
    assert_eq!(second, Ok(Fetched::NotModified));
    let seen = server.requests("/feed");
    assert_eq!(seen[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(seen[1].header("if-modified-since"), Some(date));
}

#[tokio::test]
async fn fetch_429_with_retry_after_is_rate_limited() {
    let server = TestServer::start();
    server.script("/api", [Reply::new(429).header("Retry-After", "7")]);
    let got = get(
        &fetcher(|_| {}),
        &server.url("/api"),
        &Cursor::default(),
        MIB,
    )
    .await;
    assert_eq!(
        got,
        Err(SourceError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        })
    );
}

#[tokio::test]
async fn fetch_503_with_retry_after_date_is_rate_limited() {
    let server = TestServer::start();
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    server.script("/api", [Reply::new(503).header("Retry-After", &at)]);
    match get(
        &fetcher(|_| {}),
        &server.url("/api"),
        &Cursor::default(),
        MIB,
    )
    .await
    {
        Err(SourceError::RateLimited {
            retry_after: Some(d),
        }) => {
            assert!(
                (Duration::from_secs(100)..=Duration::from_secs(120)).contains(&d),
                "{d:?}"
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_5xx_is_transient_and_4xx_permanent_naming_status_and_url() {
    let server = TestServer::start();
    server.script("/503", [Reply::new(503)]);
    server.script("/500", [Reply::new(500)]);
    server.script("/408", [Reply::new(408)]);
    server.script("/404", [Reply::new(404)]);
    server.script("/401", [Reply::new(401)]);
    let fetch = fetcher(|_| {});
    let url = |p: &str| server.url(p);
    let table = [
        (
            "/503",
            SourceError::Transient(format!("HTTP 503 from {}", url("/503"))),
        ),
        (
            "/500",
            SourceError::Transient(format!("HTTP 500 from {}", url("/500"))),
        ),
        (
            "/408",
            SourceError::Transient(format!("HTTP 408 from {}", url("/408"))),
        ),
        (
            "/404",
            SourceError::Permanent(format!("HTTP 404 from {}", url("/404"))),
        ),
        (
            "/401",
            SourceError::Permanent(format!("HTTP 401 from {}", url("/401"))),
        ),
    ];
    for (path, want) in table {
        assert_eq!(
            get(&fetch, &url(path), &Cursor::default(), MIB).await,
            Err(want),
            "{path}"
        );
    }
}

#[tokio::test]
async fn fetch_endless_body_over_cap_is_permanent_and_aborted() {
    let server = TestServer::start();
    server.script("/huge", [Reply::ok("").endless_body()]);
    let got = get(
        &fetcher(|_| {}),
        &server.url("/huge"),
        &Cursor::default(),
        64 * 1024,
    )
    .await;
    match got {
        Err(SourceError::Permanent(m)) => {
            assert!(
                m.starts_with("response body exceeds 65536 bytes (max_bytes)"),
                "{m}"
            );
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn fetch_declared_length_over_cap_fails_and_exact_cap_passes() {
    let server = TestServer::start();
    server.script("/doc", [Reply::ok(vec![b'a'; 1000])]);
    let fetch = fetcher(|_| {});
    let over = get(&fetch, &server.url("/doc"), &Cursor::default(), 999).await;
    assert!(
        matches!(&over, Err(SourceError::Permanent(m)) if m.contains("exceeds 999 bytes")),
        "{over:?}"
    );
    let exact = body(get(&fetch, &server.url("/doc"), &Cursor::default(), 1000).await);
    assert_eq!(exact.bytes.len(), 1000);
}

#[tokio::test]
async fn fetch_decodes_gzip() {
    let server = TestServer::start();
    let fixtures = root().join("tests/fixtures/fetch");
    let gz = std::fs::read(fixtures.join("hello.txt.gz")).unwrap();
    server.script("/gz", [Reply::ok(gz).header("Content-Encoding", "gzip")]);
    let got = body(
        get(
            &fetcher(|_| {}),
            &server.url("/gz"),
            &Cursor::default(),
            MIB,
        )
        .await,
    );
    assert_eq!(
        got.bytes,
        std::fs::read(fixtures.join("hello.txt")).unwrap()
    );
}

#[tokio::test]
async fn fetch_caps_decompressed_bytes_of_a_gzip_bomb() {
    let server = TestServer::start();
    // 1 KiB on the wire, 1 MiB once decoded.
    let gz = std::fs::read(root().join("tests/fixtures/fetch/zeros-1mib.gz")).unwrap();
    assert!(gz.len() < 2048);
    server.script("/bomb", [Reply::ok(gz).header("Content-Encoding", "gzip")]);
    let got = get(
        &fetcher(|_| {}),
        &server.url("/bomb"),
        &Cursor::default(),
        64 * 1024,
    )
    .await;
    assert!(
        matches!(&got, Err(SourceError::Permanent(m)) if m.contains("exceeds 65536 bytes")),
        "{got:?}"
    );
}

#[tokio::test]
async fn fetch_stalled_body_times_out_as_transient() {
    let server = TestServer::start();
    server.script("/slow", [Reply::ok(vec![b'a'; 100]).stall_after(10)]);
    let fetch = fetcher(|o| o.timeout = Duration::from_millis(300));
    let got = get(&fetch, &server.url("/slow"), &Cursor::default(), MIB).await;
    assert_eq!(
        got,
        Err(SourceError::Transient(format!(
            "timed out after 0.3s fetching {}",
            server.url("/slow")
        )))
    );
}

#[tokio::test]
async fn fetch_follows_redirects_up_to_the_limit() {
    let server = TestServer::start();
    server.script("/old", [Reply::new(301).header("Location", "/new")]);
    server.script("/new", [Reply::ok("moved")]);
    server.script("/loop", [Reply::new(302).header("Location", "/loop")]);
    let fetch = fetcher(|o| o.max_redirects = 3);
    assert_eq!(
        body(get(&fetch, &server.url("/old"), &Cursor::default(), MIB).await).bytes,
        b"moved"
    );
    let got = get(&fetch, &server.url("/loop"), &Cursor::default(), MIB).await;
    assert_eq!(
        got,
        Err(SourceError::Permanent(format!(
            "too many redirects fetching {}",
            server.url("/loop")
        )))
    );
    // The first request and three redirects followed; the fourth is refused.
    assert_eq!(server.requests("/loop").len(), 4);
}

#[tokio::test]
async fn fetch_connection_refused_is_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/feed");
    let got = get(&fetcher(|_| {}), &url, &Cursor::default(), MIB).await;
    assert_eq!(
        got,
        Err(SourceError::Transient(format!(
            "connection refused fetching {url}"
        )))
    );
}

#[tokio::test]
async fn fetch_errors_never_show_url_secrets() {
    let server = TestServer::start();
    server.script("/500", [Reply::new(500)]);
    server.script("/stall", [Reply::ok("abc").stall_after(1)]);
    server.script(
        "/loop",
        [Reply::new(302).header("Location", "/loop?token=SECRET")],
    );
    server.script("/huge", [Reply::ok("").endless_body()]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let secret_url = |base: String| {
        base.replace("http://", "http://user:SECRET@") + "?token=SECRET&x=SECRET#SECRET"
    };
    let fetch = fetcher(|o| o.timeout = Duration::from_millis(300));
    let urls = [
        secret_url(server.url("/500")),
        secret_url(server.url("/stall")),
        secret_url(server.url("/loop")),
        secret_url(server.url("/huge")),
        secret_url(format!("http://{closed}/feed")),
        "not a url, SECRET".to_string(),
    ];
    for url in urls {
        let err = get(&fetch, &url, &Cursor::default(), 1024)
            .await
            .expect_err(&url);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("user"), "{shown}");
    }
    // The secret still reached the server: redaction is for messages only.
    assert_eq!(
        server.requests("/500")[0].target,
        "/500?token=SECRET&x=SECRET"
    );
}

#[tokio::test]
async fn fetch_per_host_limit_serialises_requests() {
    let server = TestServer::start();
    let delay = Duration::from_millis(300);
    server.script("/slow", [Reply::ok("x").delay(delay)]);
    let fetch = fetcher(|o| o.per_host = 1);
    let (url, cursor) = (server.url("/slow"), Cursor::default());
    let (a, b) = tokio::join!(
        get(&fetch, &url, &cursor, MIB),
        get(&fetch, &url, &cursor, MIB)
    );
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let seen = server.requests("/slow");
    assert_eq!(seen.len(), 2);
    // The second request reached the server only after the first had been answered.
    assert_eq!((seen[0].waiting, seen[1].waiting), (1, 1));
    assert!(
        seen[1].at - seen[0].at >= delay,
        "{:?}",
        seen[1].at - seen[0].at
    );
}

#[tokio::test]
async fn fetch_per_host_limit_allows_that_many_at_once() {
    // The control for the test above: with two slots, both requests wait at the server together.
    let server = TestServer::start();
    server.script("/slow", [Reply::ok("x").delay(Duration::from_secs(1))]);
    let fetch = fetcher(|o| o.per_host = 2);
    let (url, cursor) = (server.url("/slow"), Cursor::default());
    let (a, b) = tokio::join!(
        get(&fetch, &url, &cursor, MIB),
        get(&fetch, &url, &cursor, MIB)
    );
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    let waiting: Vec<usize> = server.requests("/slow").iter().map(|r| r.waiting).collect();
    assert_eq!(waiting, [1, 2]);
}

/// See: issue 21 point 7. Two stalled servers on a host hold both of its slots only for the read
/// timeout, not the whole (here ten-minute) timeout, so a third feed of that host gets through.
#[tokio::test]
async fn fetch_stalled_feeds_free_their_host_slots_after_the_read_timeout() {
    let server = TestServer::start();
    server.script("/stall-body", [Reply::ok(vec![b'a'; 100]).stall_after(10)]);
    server.script(
        "/stall-head",
        [Reply::ok("late").delay(Duration::from_secs(600))],
    );
    server.script("/ok", [Reply::ok("fresh")]);
    let fetch = fetcher(|o| {
        o.per_host = 2;
        o.timeout = Duration::from_secs(600);
        o.read_timeout = Duration::from_millis(500);
    });
    let cursor = Cursor::default();
    let get_long = |path: &str| {
        let (fetch, url, cursor) = (fetch.clone(), server.url(path), cursor.clone());
        async move {
            let req = FetchRequest::get(&url, &cursor, MIB);
            // A hang guard, far below the ten-minute total timeout.
            tokio::time::timeout(Duration::from_secs(60), fetch.get(&req))
                .await
                .expect("the read timeout ends a stalled fetch")
        }
    };
    let body_stall = tokio::spawn(get_long("/stall-body"));
    let head_stall = tokio::spawn(get_long("/stall-head"));
    // Both stalled fetches hold their slots before the third one asks for one.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.requests("/stall-body").is_empty() || server.requests("/stall-head").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "stalled requests sent"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fresh = get_long("/ok").await;
    assert_eq!(body(fresh).bytes, b"fresh");
    let stalled = |path: &str, what: &str| {
        Err(SourceError::Transient(format!(
            "stalled: {what} for 0.5s fetching {}",
            server.url(path)
        )))
    };
    assert_eq!(body_stall.await.unwrap(), stalled("/stall-body", "no data"));
    assert_eq!(
        head_stall.await.unwrap(),
        stalled("/stall-head", "no response")
    );
}
