//! A real HTTP/1.1 server on loopback for tests: scripted replies per path, misbehaviours on
//! demand (a stalled body, an endless body, a slow answer), and a record of every request.
//!
//! It owns only the wire: tests decide what to script and what to assert. One request per
//! connection (`Connection: close` on every reply), one thread per connection; enough for reqwest
//! and for anything else in vigie that speaks HTTP. [`TestServer::start_tls`] serves HTTPS with the
//! test certificate of `tests/fixtures/tls`. Dropping the server stops it and releases any stalled
//! or delayed reply.
//!
//! ```ignore
//! let server = TestServer::start();
//! server.script("/feed", [Reply::new(200).header("ETag", "\"v1\"").body("<rss/>"), Reply::new(304)]);
//! // … GET server.url("/feed") twice …
//! assert_eq!(server.requests("/feed")[1].header("if-none-match"), Some("\"v1\""));
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Chunk size of an endless body.
const ENDLESS_CHUNK: usize = 16 * 1024;

/// One scripted reply: status, headers, body, and how to misbehave while sending it.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    delay: Duration,
    mode: Mode,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    StallAfter(usize),
    Endless,
}

impl Reply {
    /// A reply with `status`, no extra header and an empty body.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            mode: Mode::Normal,
        }
    }

    /// `200 OK` with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200).body(body)
    }

    /// Adds a header, sent as written. `Content-Length` and `Connection` are added by the server
    /// unless set here.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body (sent as is: pre-compress it and set `Content-Encoding` for gzip).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// Waits `d` after reading the request, before answering (interrupted when the server drops).
    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    /// Declares `Content-Length` as the body's length (at least `n + 1`), sends the headers and
    /// the first `n` body bytes (padded with spaces), then hangs until the server is dropped.
    pub fn stall_after(mut self, n: usize) -> Reply {
        self.mode = Mode::StallAfter(n);
        self
    }

    /// Sends no `Content-Length` and streams the body (or `x`s if empty) over and over, in 16 KiB
    /// chunks, until the client closes the connection or the server is dropped.
    pub fn endless_body(mut self) -> Reply {
        self.mode = Mode::Endless;
        self
    }
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// Path and query, as sent (`/feed?since=3`).
    pub target: String,
    /// Headers in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (read by `Content-Length`; chunked request bodies are not supported).
    pub body: Vec<u8>,
    /// When the request was fully read.
    pub at: Instant,
    /// Requests that were waiting for their reply when this one arrived, itself included. A
    /// request stops waiting when its reply starts (after any `delay`), so with a client limited
    /// to one request at a time this is always 1.
    pub waiting: usize,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// A loopback HTTP/1.1 server, stopped when dropped.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    /// Remaining replies per path; the last one repeats. Unscripted paths get a 404.
    scripts: Mutex<HashMap<String, Vec<Reply>>>,
    requests: Mutex<Vec<Request>>,
    waiting: Mutex<usize>,
    /// Set when the server drops; stalled and delayed replies wait on `wake`.
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl TestServer {
    /// Binds 127.0.0.1 on a free port and starts accepting.
    pub fn start() -> TestServer {
        TestServer::bind(None)
    }

    /// [`TestServer::start`] speaking HTTPS with `tests/fixtures/tls/server.pem` (for 127.0.0.1
    /// and localhost, signed by the test CA of [`super::smtp::test_ca`]).
    pub fn start_tls() -> TestServer {
        TestServer::bind(Some(tls_config()))
    }

    fn bind(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let https = tls.is_some();
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if *lock(&shared.stopped) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    match tls {
                        None => serve(stream, &state),
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            serve(rustls::StreamOwned::new(conn, stream), &state)
                        }
                    }
                });
            }
        });
        TestServer {
            addr,
            tls: https,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT{path}`, or `https://…` for [`TestServer::start_tls`].
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Scripts the replies to `path` (matched without the query): consumed in order, the last
    /// one repeating. Replaces any previous script for that path.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        let replies: Vec<Reply> = replies.into_iter().collect();
        assert!(!replies.is_empty(), "script for {path} needs a reply");
        lock(&self.state.scripts).insert(path.to_string(), replies);
    }

    /// Every request received for `path` (matched without the query), in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        let requests = lock(&self.state.requests);
        requests
            .iter()
            .filter(|r| r.path() == path)
            .cloned()
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        *lock(&self.state.stopped) = true;
        self.state.wake.notify_all();
        // Unblock `accept` so the acceptor sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Locks, ignoring poisoning: a panicking test thread must not hide its own message.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The server side of the test certificate.
fn tls_config() -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("server.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("server.pem");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("test certificate");
    Arc::new(config)
}

/// A connection the server answers on: plain TCP or TLS over it.
trait Conn: Read + Write {
    /// Ends the reply: the client reads to the end of the stream.
    fn finish(&mut self);
}

impl Conn for TcpStream {
    fn finish(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }
}

/// Reads one request, records it, and answers it per the script.
fn serve(mut stream: impl Conn, state: &State) {
    let Some(mut request) = read_request(&mut stream) else {
        return;
    };
    let reply = {
        let mut scripts = lock(&state.scripts);
        match scripts.get_mut(request.path()) {
            Some(replies) if replies.len() > 1 => replies.remove(0),
            Some(replies) => replies[0].clone(),
            None => Reply::new(404).body("no script for this path"),
        }
    };
    {
        let mut waiting = lock(&state.waiting);
        *waiting += 1;
        request.waiting = *waiting;
        lock(&state.requests).push(request);
    }
    if !reply.delay.is_zero() {
        let stopped = lock(&state.stopped);
        drop(state.wake.wait_timeout_while(stopped, reply.delay, |s| !*s));
    }
    *lock(&state.waiting) -= 1;
    let _ = respond(stream, &reply, state);
}

/// Parses the request line, headers and a `Content-Length` body.
fn read_request(stream: &mut impl Read) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
        at: Instant::now(),
        waiting: 0,
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    request.body.resize(length, 0);
    reader.read_exact(&mut request.body).ok()?;
    request.at = Instant::now();
    Some(request)
}

/// Writes the reply, misbehaving as scripted.
fn respond(mut stream: impl Conn, reply: &Reply, state: &State) -> std::io::Result<()> {
    let has = |name: &str| {
        reply
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let mut body = reply.body.clone();
    if let Mode::StallAfter(n) = reply.mode {
        let declared = body.len().max(n + 1);
        body.resize(n.max(body.len()), b' ');
        body.truncate(n);
        head.push_str(&format!("Content-Length: {declared}\r\n"));
    } else if reply.mode == Mode::Normal && !has("content-length") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !has("connection") {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body)?;
    stream.flush()?;
    match reply.mode {
        Mode::Normal => {}
        Mode::StallAfter(_) => {
            let stopped = lock(&state.stopped);
            drop(state.wake.wait_while(stopped, |s| !*s));
        }
        Mode::Endless => {
            let chunk = if body.is_empty() {
                vec![b'x'; ENDLESS_CHUNK]
            } else {
                body.repeat(ENDLESS_CHUNK / body.len() + 1)
            };
            // Ends with a write error once the client closes, or when the server drops.
            while !*lock(&state.stopped) {
                stream.write_all(&chunk)?;
            }
        }
    }
    stream.finish();
    Ok(())
}

/// The reason phrase of common statuses (clients ignore it; it helps reading captures).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
