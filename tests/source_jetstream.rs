//! The real daemon on a `bluesky` source in mode `jetstream`, fed by a WebSocket server on
//! loopback that replays thousands of events built from `tests/fixtures/bluesky/jetstream.jsonl`,
//! drops the connection mid-stream and goes silent: the source resumes from its stored cursor
//! with no gap and no duplicate, also across a kill -9 and a restart, and fills in the profiles
//! of the posts that hit a rule.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};

/// What the server does on one connection, after the events at or after the client's cursor.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// Sends this many events, then drops the TCP connection without a close frame.
    DropAfter(usize),
    /// Sends this many events, then keeps the connection open and sends nothing.
    SilentAfter(usize),
    /// Sends every event, then stays open (quiet, as a filtered stream between posts).
    All,
}

/// A Jetstream `/subscribe` on loopback.
pub struct Jetstream {
    port: u16,
    /// The request URI and `User-Agent` of each connection, in order.
    pub connections: Arc<Mutex<Vec<(String, String)>>>,
}

impl Jetstream {
    /// Serves `events` (JSON texts with a `time_us`), one behaviour per connection in order
    /// (the last one repeats).
    pub fn start(events: Vec<String>, script: Vec<Behaviour>) -> Jetstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let seen = connections.clone();
        let events = Arc::new(events);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let mut n = 0;
                while let Ok((stream, _)) = listener.accept().await {
                    let behaviour = script[n.min(script.len() - 1)];
                    n += 1;
                    tokio::spawn(serve(stream, events.clone(), seen.clone(), behaviour));
                }
            });
        });
        Jetstream { port, connections }
    }

    /// `ws://127.0.0.1:port/subscribe`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/subscribe", self.port)
    }

    /// The `cursor` query parameter of each connection (`None` when absent).
    pub fn cursors(&self) -> Vec<Option<i64>> {
        let conns = self.connections.lock().unwrap();
        conns
            .iter()
            .map(|(uri, _)| {
                let url = url::Url::parse(&format!("ws://x{uri}")).unwrap();
                let cursor = url.query_pairs().find(|(k, _)| k == "cursor");
                cursor.map(|(_, v)| v.parse().unwrap())
            })
            .collect()
    }
}

// tungstenite's handshake callback returns its (large) error response by value.
#[allow(clippy::result_large_err)]
async fn serve(
    stream: tokio::net::TcpStream,
    events: Arc<Vec<String>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
    behaviour: Behaviour,
) {
    let record = |req: &Request, resp: Response| {
        let ua = req
            .headers()
            .get("user-agent")
            .map(|v| v.to_str().unwrap_or("").to_string());
        seen.lock()
            .unwrap()
            .push((req.uri().to_string(), ua.unwrap_or_default()));
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, record).await else {
        return;
    };
    let uri = seen.lock().unwrap().last().unwrap().0.clone();
    let url = url::Url::parse(&format!("ws://x{uri}")).unwrap();
    let cursor: i64 = url
        .query_pairs()
        .find(|(k, _)| k == "cursor")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let from = events.iter().filter(|e| time_us(e) >= cursor);
    let limit = match behaviour {
        Behaviour::DropAfter(n) | Behaviour::SilentAfter(n) => n,
        Behaviour::All => usize::MAX,
    };
    for event in from.take(limit) {
        if ws.send(Message::text(event.clone())).await.is_err() {
            return;
        }
    }
    if let Behaviour::DropAfter(_) = behaviour {
        return; // dropping the socket: no close frame
    }
    // Silent: read (answering nothing) until the client goes away.
    while let Some(Ok(_)) = ws.next().await {}
}

fn now_us() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.unwrap().as_micros() as i64
}

fn time_us(event: &str) -> i64 {
    let v: serde_json::Value = serde_json::from_str(event).unwrap();
    v["time_us"].as_i64().unwrap()
}

/// `n` events made from the fixture's, each post with its own rkey, `time_us` from `base`,
/// 1 ms apart but not strictly ordered (as Jetstream's are not).
pub fn events(n: usize, base: i64) -> Vec<String> {
    let fixture =
        std::fs::read_to_string(crate::util::root().join("tests/fixtures/bluesky/jetstream.jsonl"))
            .unwrap();
    let lines: Vec<&str> = fixture.lines().collect();
    (0..n)
        .map(|i| {
            let mut v: serde_json::Value = serde_json::from_str(lines[i % lines.len()]).unwrap();
            let jitter = if i % 5 == 1 { -1_500 } else { 0 };
            v["time_us"] = (base + i as i64 * 1_000 + jitter).into();
            if v["commit"]["rkey"].is_string() {
                v["commit"]["rkey"] = format!("3mpt{i:07}a").into();
            }
            v.to_string()
        })
        .collect()
}

const RULES: &str = r#"
[[rule]]
name = "livraison"
query = 'colis OR retard* OR recommandé*'
"#;

fn config(endpoint: &str, service: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\
         user_agent = \"vigie-test/1 (+mailto:ops@example.org)\"\n\n\
         [[source]]\nname = \"bsky-stream\"\nkind = \"bluesky\"\nmode = \"jetstream\"\n\
         endpoint = \"{endpoint}\"\nlangs = [\"fr\"]\nservice = \"{service}\"\nevery = \"1s\"\n"
    )
}

/// Of the fixture's 10 events, 4 are French post creates, 3 of which hit the rule.
const EVENTS: usize = 3_000;
const POSTS: i64 = 1_200;
const HITS: i64 = 900;

#[test]
fn jetstream_resumes_after_a_drop_a_silence_and_a_kill_without_gap_or_duplicate() {
    // The events happen just after the daemon's first connection, which starts from "now".
    let base = now_us() + 10_000_000;
    let stream = Jetstream::start(
        events(EVENTS, base),
        vec![
            Behaviour::DropAfter(1_000),
            Behaviour::SilentAfter(1_000),
            Behaviour::All,
        ],
    );
    let appview = TestServer::start();
    let profiles =
        std::fs::read(crate::util::root().join("tests/fixtures/bluesky/getProfiles.json")).unwrap();
    appview.script("/xrpc/app.bsky.actor.getProfiles", [Reply::ok(profiles)]);
    let mut d = Daemon::start(&[
        ("vigie.toml", &config(&stream.url(), &appview.url(""))),
        ("rules.toml", RULES),
    ]);
    d.wait_for("every post", Duration::from_secs(120), || {
        d.count("SELECT COUNT(*) FROM posts") == POSTS
    });
    assert_eq!(d.count("SELECT COUNT(*) FROM hits_v"), HITS, "{}", d.log());
    assert!(d.log().contains("silent: no event for"), "{}", d.log());
    let cursors = stream.cursors();
    assert!(cursors.len() >= 3, "{cursors:?}");
    assert_eq!(cursors[0], None, "a new source starts from now");
    for c in &cursors[1..] {
        // Before a batch is stored, from the first connection's time (less the rewind).
        assert!(
            c.is_some_and(|c| c < base),
            "a reconnection resumes from the cursor: {cursors:?}"
        );
    }
    for (uri, ua) in stream.connections.lock().unwrap().iter() {
        assert!(
            uri.contains("wantedCollections=app.bsky.feed.post"),
            "{uri}"
        );
        assert_eq!(ua, "vigie-test/1 (+mailto:ops@example.org)");
    }
    // The posts that hit the rule carry their author's profile; the others keep the DID.
    let (author, name, followers): (String, String, i64) = d
        .db()
        .query_row(
            "SELECT author, author_name, followers FROM posts \
             WHERE source_id LIKE 'at://did:plc:r2zybk6op3ymzpz6jhqpkoy5/%' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (author.as_str(), name.as_str(), followers),
        ("@camille-durand.bsky.social", "Camille Durand", 1342)
    );
    // A hit whose author has no profile keeps the DID (a third of the hits).
    let unknown =
        d.count("SELECT COUNT(*) FROM posts WHERE author = 'did:plc:o2rolxey6s5k7d4lxcz3inl4'");
    assert_eq!(unknown, HITS / 3);
    assert!(
        appview.requests("/xrpc/app.bsky.actor.getProfiles").len() <= 5,
        "profiles are cached"
    );

    // kill -9 and restart: the source resumes from the stored cursor, nothing is stored twice.
    let before = stream.cursors().len();
    d.kill9();
    d.restart();
    d.wait_for(
        "a reconnection after the restart",
        Duration::from_secs(60),
        || stream.cursors().len() > before,
    );
    // The newest event is the last one (its `time_us` is base + 2.999 s), less 5 s of rewind.
    let resumed = stream.cursors()[before];
    assert_eq!(resumed, Some(base + 2_999_000 - 5_000_000));
    d.wait_polls(3);
    assert_eq!(d.count("SELECT COUNT(*) FROM posts"), POSTS);
    assert_eq!(d.count("SELECT COUNT(*) FROM hits_v"), HITS);
}

#[test]
fn jetstream_refused_handshakes_show_in_sources_with_backoff() {
    // Plain HTTP answers where the WebSocket upgrade was expected: 429 and 503.
    let limited = TestServer::start();
    limited.script(
        "/subscribe",
        [Reply::new(429)
            .header("Retry-After", "3")
            .body(fixture_error())],
    );
    let down = TestServer::start();
    down.script("/subscribe", [Reply::new(503)]);
    let ws = |server: &TestServer| server.url("/subscribe").replacen("http://", "ws://", 1);
    let mut c = config(&ws(&limited), &limited.url(""));
    c.push_str(&format!(
        "\n[[source]]\nname = \"down\"\nkind = \"bluesky\"\nmode = \"jetstream\"\n\
         endpoint = \"{}\"\nevery = \"1s\"\n",
        ws(&down)
    ));
    let d = Daemon::start(&[("vigie.toml", &c), ("rules.toml", RULES)]);
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
    d.wait_for("both errors", Duration::from_secs(60), || {
        error("bsky-stream").is_some() && error("down").is_some()
    });
    assert!(
        error("bsky-stream")
            .unwrap()
            .contains("rate limited, retry after 3s"),
        "{:?}",
        error("bsky-stream")
    );
    assert!(
        error("down").unwrap().contains("503"),
        "{:?}",
        error("down")
    );
    d.wait_for("a retry", Duration::from_secs(60), || {
        limited.requests("/subscribe").len() >= 2
    });
    let reqs = limited.requests("/subscribe");
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_secs(3),
        "Retry-After kept"
    );
}

fn fixture_error() -> String {
    std::fs::read_to_string(
        crate::util::root().join("tests/fixtures/bluesky/error-RateLimitExceeded.json"),
    )
    .unwrap()
}

#[test]
fn jetstream_preview_prints_the_first_batch_and_stores_nothing() {
    let stream = Jetstream::start(events(20, now_us() + 10_000_000), vec![Behaviour::All]);
    let dir = crate::util::tree(&[
        ("vigie.toml", &config(&stream.url(), "http://127.0.0.1:9")),
        ("rules.toml", RULES),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let r = crate::util::vigie(
        &[
            "preview",
            "bsky-stream",
            "--config",
            crate::util::s(&cfg),
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let posts: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    // 20 events: 8 French post creates.
    assert_eq!(posts.len(), 8, "{}", r.stdout);
    assert!(posts.iter().all(|p| p["lang"] == "fr"));
    assert!(
        !dir.path().join("vigie.db").exists(),
        "preview stores nothing"
    );
}
