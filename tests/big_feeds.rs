//! The real daemon on a huge feed (100,000 items, 8 MB, no validators), issue 21 point 8:
//! memory stays within four times `max_bytes` of an idle daemon's, a poll keeps the newest
//! posts and says so, and items already stored are not matched again when the unchanged feed
//! is downloaded again.

use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};

const RULES: &str = r#"
[[rule]]
name = "colis"
query = 'colis AND retard'
"#;

const MIB: u64 = 1024 * 1024;

/// An RSS feed of `n` undated items, one in a hundred a hit.
fn feed(n: usize) -> Vec<u8> {
    let mut s =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>big</title>");
    for i in 0..n {
        let title = if i % 100 == 0 {
            format!("colis en retard {i}")
        } else {
            format!("message {i} du forum")
        };
        s.push_str(&format!(
            "<item><guid>{i}</guid><title>{title}</title><link>http://x/{i}</link></item>"
        ));
    }
    s.push_str("</channel></rss>");
    s.into_bytes()
}

fn config(url: &str) -> String {
    format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\n\n[[source]]\nname = \"big\"\n\
         kind = \"rss\"\nurl = \"{url}\"\nevery = \"1s\"\nmax_bytes = {}\n",
        10 * MIB
    )
}

fn items_seen(d: &Daemon) -> i64 {
    d.count("SELECT items_seen FROM sources WHERE name = 'big'")
}

/// The daemon's peak resident memory so far, in bytes (`VmHWM`).
fn peak_rss(d: &Daemon) -> u64 {
    let pid = d.child.as_ref().expect("running").id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

/// Starts a daemon on a feed of `n` items and waits until a poll stored `want` posts.
fn polled(server: &TestServer, path: &str, n: usize, want: i64) -> Daemon {
    server.script(path, [Reply::ok(feed(n))]);
    let d = Daemon::start(&[
        ("vigie.toml", &config(&server.url(path))),
        ("rules.toml", RULES),
    ]);
    d.wait_for("the first poll stored", Duration::from_secs(180), || {
        items_seen(&d) >= want
    });
    d
}

/// See: issue 21 point 8: the 100,000-item feed peaked at 170 MB (200 MB here, debug build).
#[test]
fn a_huge_feed_is_polled_within_four_times_max_bytes() {
    let server = TestServer::start();
    let mut idle = polled(&server, "/small", 10, 10);
    let baseline = peak_rss(&idle);
    assert_eq!(idle.terminate(Duration::from_secs(10)), 0);
    let body = feed(100_000);
    assert!(body.len() as u64 > 8 * MIB && (body.len() as u64) < 10 * MIB);
    let mut d = polled(&server, "/big", 100_000, 10_000);
    let peak = peak_rss(&d);
    assert!(
        peak.saturating_sub(baseline) <= 4 * 10 * MIB,
        "peak RSS {} MiB, idle {} MiB: more than 4 x max_bytes (40 MiB) for one poll",
        peak / MIB,
        baseline / MIB
    );
    assert_eq!(
        items_seen(&d),
        10_000,
        "one poll keeps the newest 10,000 posts"
    );
    assert_eq!(d.count("SELECT COUNT(*) FROM hits"), 100);
    d.wait_for("a second poll", Duration::from_secs(120), || {
        d.log().matches("Polled.").count() >= 2
    });
    assert_eq!(
        d.log().matches("listed=100000 kept=10000").count(),
        1,
        "the skipped items are logged, once: {}",
        d.log()
    );
    assert_eq!(d.terminate(Duration::from_secs(10)), 0);
}

/// See: issue 21 point 8. The same 2,000 items downloaded again (no validators) are looked up,
/// not matched: the poll's debug line counts them as listed, none as new.
#[test]
fn an_unchanged_feed_downloaded_again_is_not_matched_again() {
    let server = TestServer::start();
    let mut d = polled(&server, "/feed", 2_000, 2_000);
    d.wait_for("two more polls", Duration::from_secs(60), || {
        d.log().matches("Polled.").count() >= 3
    });
    let log = d.log();
    let polls: Vec<&str> = log.lines().filter(|l| l.contains("Polled.")).collect();
    assert!(polls[0].contains("listed=2000 new=2000"), "{log}");
    for line in &polls[1..] {
        assert!(line.contains("listed=2000 new=0"), "{log}");
    }
    assert_eq!(d.count("SELECT COUNT(*) FROM hits"), 20);
    assert_eq!(d.terminate(Duration::from_secs(10)), 0);
}
