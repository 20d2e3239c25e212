//! The real daemon when a poll goes wrong in ways other than an HTTP status: a source whose
//! parsing panics, and stalled feeds that share a host with a healthy one (issue 21, points 6
//! and 7). Each fault must show in `sources_v` while the other sources keep being polled.

use std::time::Duration;

use crate::daemon_util::Daemon;
use crate::util::http::{Reply, TestServer};

const RULES: &str = r#"
[[rule]]
name = "colis"
query = 'colis OR réclamation OR cassé*'
"#;

fn feed() -> Vec<u8> {
    std::fs::read(crate::util::root().join("tests/fixtures/rss/rss20.xml")).expect("fixture")
}

fn config(http_timeout: &str, sources: &[(&str, String)]) -> String {
    let mut c = format!(
        "[daemon]\ndatabase = \"vigie.db\"\nrules = [\"rules.toml\"]\nhttp_timeout = \"{http_timeout}\"\n"
    );
    for (name, url) in sources {
        c.push_str(&format!(
            "\n[[source]]\nname = \"{name}\"\nkind = \"rss\"\nurl = \"{url}\"\nevery = \"1s\"\n"
        ));
    }
    c
}

/// `(last_status, last_error, failures)` of a source in `sources_v`.
fn status(d: &Daemon, source: &str) -> (Option<String>, Option<String>, i64) {
    d.db()
        .query_row(
            "SELECT last_status, last_error, failures FROM sources_v WHERE source = ?1",
            [source],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap_or((None, None, 0))
}

/// See: issue 21 point 6. A feed whose XML declaration names its encoding without quotes (and
/// whose root lacks `version`, so the repair path reads the declaration) made the rss source
/// panic: the poll task died and the source was never polled again, silently. That slicing bug
/// is fixed (the declaration is read as declaring nothing); the guard that turns any other panic
/// into a stored, retried source error is `daemon::poll`'s unit test with a panicking source.
#[test]
fn a_feed_that_made_the_poll_panic_is_read_and_polled_again() {
    let server = TestServer::start();
    let hostile = "<?xml version=\"1.0\" encoding=\u{e9}t\u{e9}?>\n<rss><channel><title>x</title>\
        <item><guid>1</guid><title>colis perdu</title></item></channel></rss>";
    server.script("/hostile", [Reply::ok(hostile)]);
    server.script("/good", [Reply::ok(feed())]);
    let mut d = Daemon::start(&[
        (
            "vigie.toml",
            &config(
                "5s",
                &[
                    ("hostile", server.url("/hostile")),
                    ("good", server.url("/good")),
                ],
            ),
        ),
        ("rules.toml", RULES),
    ]);
    d.wait_for(
        "the hostile feed fetched three times",
        Duration::from_secs(60),
        || server.requests("/hostile").len() >= 3,
    );
    d.wait_for("the hostile feed's post stored", Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM hits_v WHERE source = 'hostile' AND text LIKE '%colis perdu%'") == 1
    });
    let (st, _, failures) = status(&d, "hostile");
    assert_eq!(st.as_deref(), Some("ok"), "{}", d.log());
    assert_eq!(failures, 0, "{}", d.log());
    assert!(!d.log().contains("panicked"), "{}", d.log());
    d.wait_for("the good feed stored", Duration::from_secs(30), || {
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'good'") == 2
    });
    assert_eq!(d.terminate(Duration::from_secs(10)), 0);
}

/// See: issue 21 point 7. Two feeds that stall (one after its headers, one before) hold the
/// host's two slots; with a five-minute `http_timeout` the third feed of that host used to wait
/// the full five minutes. The read timeout ends a stall early, so it is polled again and again.
#[test]
fn stalled_feeds_do_not_starve_another_feed_of_their_host() {
    let server = TestServer::start();
    server.script("/stall-body", [Reply::ok(vec![b'a'; 100]).stall_after(10)]);
    server.script(
        "/stall-head",
        [Reply::ok("late").delay(Duration::from_secs(3600))],
    );
    server.script("/good", [Reply::ok(feed())]);
    let mut d = Daemon::start(&[
        (
            "vigie.toml",
            &config(
                "300s",
                &[
                    ("stall-body", server.url("/stall-body")),
                    ("stall-head", server.url("/stall-head")),
                    ("good", server.url("/good")),
                ],
            ),
        ),
        ("rules.toml", RULES),
    ]);
    // Polled at least twice while the other two stall: not once by luck before they took the
    // slots.
    d.wait_for(
        "the good feed polled twice",
        Duration::from_secs(120),
        || server.requests("/good").len() >= 2,
    );
    d.wait_for("both stalls recorded", Duration::from_secs(60), || {
        ["stall-body", "stall-head"]
            .iter()
            .all(|s| status(&d, s).1.is_some_and(|e| e.contains("stalled")))
    });
    assert_eq!(
        d.count("SELECT COUNT(*) FROM posts WHERE source = 'good'"),
        2
    );
    assert_eq!(d.terminate(Duration::from_secs(10)), 0);
}
