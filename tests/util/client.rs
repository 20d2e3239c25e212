//! The other end of vigie's own listener (`[daemon] listen`): a free port to give it, one raw
//! HTTP/1.1 request at a time, and `/metrics` read by the reference OpenMetrics parser (the
//! `prometheus_client` Python package, tests/requirements.txt).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request with an empty body: the status, the raw headers in lower case, the body
/// (status 0 and nothing else when nothing listens yet).
pub fn request(port: u16, method: &str, target: &str) -> (u16, String, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let code = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (code, head.to_ascii_lowercase(), body.to_string())
}

/// `GET path`: the status and the body.
pub fn get(port: u16, path: &str) -> (u16, String) {
    let (code, _, body) = request(port, "GET", path);
    (code, body)
}

/// Every sample of `/metrics`, parsed by the reference parser: `(name, labels, value)`.
pub fn scrape(port: u16) -> Vec<(String, Value, f64)> {
    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200, "GET /metrics");
    let script = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut py = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (tests/requirements.txt: prometheus-client)");
    py.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
