//! Alert delivery with a receiver that hangs (issue 21, points 1–3), with the real daemon: each
//! delivery's outcome is recorded as soon as it is known, so neither SIGTERM nor kill -9 makes a
//! healthy receiver get an alert twice; notifiers never wait for each other; and an SMTP server
//! that accepts the connection but never greets is given up on at the greeting timeout and
//! recorded as a transient failure. Every wait is for a condition, never for a time.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};

/// Generous: a loaded machine is slow, never wrong.
const WAIT: Duration = Duration::from_secs(60);

/// A rule that alerts on every hit and notifies `notifiers`.
fn rules(notifiers: &[&str]) -> String {
    let list: Vec<String> = notifiers.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "[[rule]]\nname = \"retard\"\nquery = 'colis AND retard'\nalert = {{ each = true }}\nnotify = [{}]\n",
        list.join(", ")
    )
}

/// The daemon on `posts.jsonl` (polled every second) with these `[[notifier]]` bodies.
fn config(notifiers: &[String]) -> String {
    let mut cfg = String::from(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\n\
         [[source]]\nname = \"feed\"\nkind = \"jsonl\"\npath = \"posts.jsonl\"\nevery = \"1s\"\n",
    );
    for n in notifiers {
        cfg.push_str("\n[[notifier]]\n");
        cfg.push_str(n);
    }
    cfg
}

fn webhook(name: &str, url: &str) -> String {
    format!("name = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\n")
}

/// Complaints `range`, one JSON line each: one `each` alert per post.
fn posts(range: std::ops::Range<usize>) -> String {
    range
        .map(|i| {
            serde_json::json!({
                "id": format!("p{i}"),
                "text": format!("Mon colis est en retard (n°{i})"),
                "author": format!("@client{i}"),
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// The daemon with a healthy webhook `ok` and a webhook `hung` that holds every request.
fn start_with_a_hung_receiver(server: &TestServer, initial: &str) -> Daemon {
    server.script("/ok", [Reply::new(204)]);
    server.script("/hung", [Reply::new(204).delay(Duration::from_secs(3600))]);
    let cfg = config(&[
        webhook("ok", &server.url("/ok")),
        webhook("hung", &server.url("/hung")),
    ]);
    Daemon::start(&[
        ("vigie.toml", &cfg),
        ("rules.toml", &rules(&["ok", "hung"])),
        ("posts.jsonl", initial),
    ])
}

fn append(d: &Daemon, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("posts.jsonl"))
        .expect("posts.jsonl");
    f.write_all(text.as_bytes()).expect("append");
}

/// Deliveries of `notifier` recorded as sent.
fn sent(d: &Daemon, notifier: &str) -> i64 {
    d.count(&format!(
        "SELECT COUNT(*) FROM deliveries WHERE notifier = '{notifier}' AND status = 'sent'"
    ))
}

/// Deliveries of `notifier` with at least one recorded outcome.
fn attempted(d: &Daemon, notifier: &str) -> i64 {
    d.count(&format!(
        "SELECT COUNT(*) FROM deliveries WHERE notifier = '{notifier}' AND attempts > 0"
    ))
}

/// `(status, attempts, last_error)` of each delivery of `notifier`.
fn rows(d: &Daemon, notifier: &str) -> Vec<(String, i64, Option<String>)> {
    let db = d.db();
    let mut stmt = db
        .prepare(
            "SELECT status, attempts, last_error FROM deliveries WHERE notifier = ?1 ORDER BY id",
        )
        .unwrap();
    stmt.query_map([notifier], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The `webhook-id`s the healthy receiver got: each alert exactly once.
fn assert_each_alert_once(server: &TestServer, d: &Daemon) {
    let mut ids: Vec<String> = server
        .requests("/ok")
        .iter()
        .map(|r| r.header("webhook-id").unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "healthy receiver requests; log:\n{}", d.log());
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three different alerts");
    assert_eq!(d.count("SELECT COUNT(*) FROM alerts"), 3);
}

/// Restarts the daemon with the hung receiver healed, and waits until every delivery is sent:
/// by then the daemon has gone through the whole outbox, so a leftover would have been resent.
fn restart_and_deliver_everything(server: &TestServer, d: &mut Daemon) {
    server.script("/hung", [Reply::new(204)]);
    d.restart();
    d.wait_for("the hung receiver's deliveries", WAIT, || {
        sent(d, "hung") == 3
    });
    assert_eq!(sent(d, "ok"), 3);
}

// See: issue 21, point 1 (SIGTERM while a receiver hangs).
#[test]
fn sigterm_with_a_hung_receiver_does_not_resend_to_the_healthy_one() {
    let server = TestServer::start();
    let mut d = start_with_a_hung_receiver(&server, &posts(0..3));
    d.wait_for(
        "3 alerts at the healthy receiver, 1 held by the hung one",
        WAIT,
        || server.requests("/ok").len() == 3 && !server.requests("/hung").is_empty(),
    );
    let code = d.terminate(Duration::from_secs(120));
    assert_eq!(code, 0, "{}", d.log());
    assert_eq!(sent(&d, "ok"), 3, "{}", d.log());
    // The hung sends were waited for (they are bounded) and recorded: a transient failure.
    let hung = rows(&d, "hung");
    assert!(!hung.is_empty());
    for (status, attempts, error) in &hung {
        let error = error.as_deref().unwrap_or_default();
        if *attempts > 0 {
            assert_eq!(status, "pending", "{error}");
            assert!(error.contains("no answer within"), "{error}");
        }
    }
    assert!(hung.iter().any(|r| r.1 > 0), "{hung:?}\n{}", d.log());
    restart_and_deliver_everything(&server, &mut d);
    assert_each_alert_once(&server, &d);
}

// See: issue 21, point 1 (kill -9 while a receiver hangs).
#[test]
fn kill9_with_a_hung_receiver_does_not_resend_to_the_healthy_one() {
    let server = TestServer::start();
    let mut d = start_with_a_hung_receiver(&server, &posts(0..3));
    d.wait_for("3 healthy deliveries recorded as sent", WAIT, || {
        sent(&d, "ok") == 3
    });
    // Recorded while the hung receiver still holds its requests, not after.
    assert!(!server.requests("/hung").is_empty());
    assert_eq!(attempted(&d, "hung"), 0, "{}", d.log());
    d.kill9();
    restart_and_deliver_everything(&server, &mut d);
    assert_each_alert_once(&server, &d);
    // The hung receiver got the interrupted attempts again, with the same ids.
    let first = server.requests("/hung")[0]
        .header("webhook-id")
        .map(str::to_string);
    let again = server.requests("/hung");
    assert!(again[1..]
        .iter()
        .any(|r| r.header("webhook-id") == first.as_deref()));
}

// See: issue 21, point 2.
#[test]
fn a_hung_receiver_does_not_delay_the_others() {
    let server = TestServer::start();
    let d = start_with_a_hung_receiver(&server, &posts(0..1));
    d.wait_for("the first alert at both receivers", WAIT, || {
        server.requests("/ok").len() == 1 && server.requests("/hung").len() == 1
    });
    // Each later alert reaches the healthy receiver while the hung one still holds the first.
    for n in 2..=3 {
        append(&d, &posts(n - 1..n));
        d.wait_for("the next alert at the healthy receiver", WAIT, || {
            server.requests("/ok").len() == n
        });
    }
    assert_eq!(attempted(&d, "hung"), 0, "{}", d.log());
    // Received is not yet recorded: the row turns `sent` just after the receiver answers.
    d.wait_for("3 healthy deliveries recorded as sent", WAIT, || {
        sent(&d, "ok") == 3
    });
}

/// A TCP server that accepts connections and never says a word.
struct Silent {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let (accepted, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (count, stopped) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    count.fetch_add(1, Ordering::SeqCst);
                    held.push(s);
                }
            }
        });
        Silent {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// See: issue 21, point 3.
#[test]
fn smtp_server_that_never_greets_is_a_transient_greeting_timeout() {
    let silent = Silent::start();
    let email = format!(
        "name = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://{}\"\n\
         from = \"Vigie <alerts@example.org>\"\nto = [\"cm@example.org\"]\n",
        silent.addr
    );
    let d = Daemon::start(&[
        ("vigie.toml", &config(&[email])),
        ("rules.toml", &rules(&["mail"])),
        ("posts.jsonl", &posts(0..1)),
    ]);
    d.wait_for(
        "the first attempt's outcome",
        Duration::from_secs(90),
        || attempted(&d, "mail") == 1,
    );
    assert!(silent.accepted.load(Ordering::SeqCst) >= 1);
    let (status, attempts, error) = rows(&d, "mail").remove(0);
    let error = error.unwrap_or_default();
    assert_eq!((status.as_str(), attempts), ("pending", 1), "{error}");
    assert!(
        error.contains("did not greet within 10s"),
        "{error}\n{}",
        d.log()
    );
}
