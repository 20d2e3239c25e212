//! The real daemon following a `jsonl` file through what writers and logrotate do to it: replace
//! by rename, truncate and rewrite, copytruncate, rename and create (live and across a restart),
//! id-less posts in a rewritten file, and lines it must skip (longer than `max_bytes`, garbage).
//!
//! Every post's text contains `colis`, so every post hits the one rule and its text is stored:
//! the tests compare the set of stored texts with the set written (no post lost, none doubled).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::daemon_util::Daemon;

const RULES: &str = r#"
[[rule]]
name = "colis"
query = 'colis'
"#;

const WAIT: Duration = Duration::from_secs(60);

fn config(max_bytes: u64) -> String {
    format!(
        r#"[daemon]
database = "vigie.db"
rules = ["rules.toml"]

[[source]]
name = "demo"
kind = "jsonl"
path = "posts.jsonl"
every = "1s"
max_bytes = {max_bytes}
"#
    )
}

/// Lines `tag0 … tag{n-1}`, each a post with an id (`id = true`) or without.
fn lines(tag: &str, n: usize, id: bool) -> String {
    (0..n)
        .map(|i| {
            let text = format!("colis {tag}{i} en retard");
            let post = if id {
                serde_json::json!({"id": format!("{tag}{i}"), "text": text})
            } else {
                serde_json::json!({"text": text, "author": "@client"})
            };
            post.to_string() + "\n"
        })
        .collect()
}

/// The texts `lines(tag, n, _)` holds.
fn texts(tag: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("colis {tag}{i} en retard"))
        .collect()
}

/// SIGTERM; the daemon must exit 0.
fn stop(d: &mut Daemon) {
    let code = d.terminate(Duration::from_secs(10));
    assert_eq!(code, 0, "exit code after SIGTERM; log:\n{}", d.log());
}

fn start(files: &[(&str, &str)]) -> Daemon {
    let cfg = config(1 << 20);
    let mut all = vec![("vigie.toml", cfg.as_str()), ("rules.toml", RULES)];
    all.extend_from_slice(files);
    Daemon::start(&all)
}

fn append(path: &Path, data: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(data.as_bytes()).expect("append");
}

/// Writes `data` to a new file beside `path` and renames it over `path` (a new inode).
fn replace(path: &Path, data: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).expect("write new file");
    std::fs::rename(&tmp, path).expect("rename over");
}

/// Truncates `path` in place (same inode) and writes `data` into it.
fn rewrite_in_place(path: &Path, data: &str) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open for truncate");
    f.write_all(data.as_bytes()).expect("rewrite");
}

fn stored(d: &Daemon) -> Vec<String> {
    let db = d.db();
    let mut st = match db.prepare("SELECT text FROM posts WHERE source = 'demo' ORDER BY text") {
        Ok(st) => st,
        Err(_) => return Vec::new(),
    };
    st.query_map([], |r| r.get::<_, Option<String>>(0))
        .map(|rows| rows.filter_map(|r| r.ok().flatten()).collect())
        .unwrap_or_default()
}

/// Waits until exactly the texts `want` are stored, then checks that none is stored twice.
fn wait_stored(d: &Daemon, want: &[Vec<String>]) {
    let want: BTreeSet<String> = want.iter().flatten().cloned().collect();
    d.wait_for(&format!("{} posts stored", want.len()), WAIT, || {
        let got = stored(d);
        got.len() >= want.len() && got.iter().cloned().collect::<BTreeSet<_>>() == want
    });
    let got = stored(d);
    assert_eq!(got.len(), want.len(), "a post stored twice: {got:?}");
}

#[test]
fn a_file_replaced_by_a_longer_one_is_read_from_its_start() {
    let d = start(&[("posts.jsonl", &lines("a", 100, true))]);
    let path = d.path().join("posts.jsonl");
    wait_stored(&d, &[texts("a", 100)]);
    replace(&path, &lines("b", 150, true));
    wait_stored(&d, &[texts("a", 100), texts("b", 150)]);
}

#[test]
fn a_file_truncated_and_rewritten_longer_is_read_from_its_start() {
    let mut d = start(&[("posts.jsonl", &lines("a", 100, true))]);
    let path = d.path().join("posts.jsonl");
    wait_stored(&d, &[texts("a", 100)]);
    // Live: truncated and rewritten with more than was read, in one write.
    rewrite_in_place(&path, &lines("b", 150, true));
    wait_stored(&d, &[texts("a", 100), texts("b", 150)]);
    // Between two polls for sure (the daemon is stopped): same inode, longer than the old
    // offset, other first bytes.
    stop(&mut d);
    rewrite_in_place(&path, &lines("c", 200, true));
    d.restart();
    wait_stored(&d, &[texts("a", 100), texts("b", 150), texts("c", 200)]);
}

#[test]
fn copytruncate_keeps_the_lines_written_before_the_copy() {
    let mut d = start(&[("posts.jsonl", &lines("a", 100, true))]);
    let path = d.path().join("posts.jsonl");
    wait_stored(&d, &[texts("a", 100)]);
    // logrotate's copytruncate while the daemon is down, so no poll sees the 50 new lines in
    // the original: they are only in the copy now.
    stop(&mut d);
    append(&path, &lines("b", 50, true));
    std::fs::copy(&path, d.path().join("posts.jsonl.1")).expect("copy");
    rewrite_in_place(&path, "");
    append(&path, &lines("c", 80, true));
    d.restart();
    wait_stored(&d, &[texts("a", 100), texts("b", 50), texts("c", 80)]);
    // Live: truncated to nothing, then written again past the old offset.
    rewrite_in_place(&path, "");
    append(&path, &lines("d", 120, true));
    wait_stored(
        &d,
        &[
            texts("a", 100),
            texts("b", 50),
            texts("c", 80),
            texts("d", 120),
        ],
    );
}

#[test]
fn a_rotated_file_is_drained_before_the_new_one_live() {
    let d = start(&[("posts.jsonl", &lines("a", 100, true))]);
    let path = d.path().join("posts.jsonl");
    wait_stored(&d, &[texts("a", 100)]);
    // Rename then create (logrotate's default), the renamed file moved out of the folder so
    // only the open handle can reach its 50 unread lines.
    let archive = d.path().join("archive");
    std::fs::create_dir(&archive).unwrap();
    append(&path, &lines("b", 50, true));
    std::fs::rename(&path, archive.join("posts.jsonl.1")).expect("rotate");
    std::fs::write(&path, lines("c", 30, true)).expect("create");
    wait_stored(&d, &[texts("a", 100), texts("b", 50), texts("c", 30)]);
}

#[test]
fn a_rotated_file_is_drained_after_a_restart() {
    let mut d = start(&[("posts.jsonl", &lines("a", 100, true))]);
    let path = d.path().join("posts.jsonl");
    wait_stored(&d, &[texts("a", 100)]);
    stop(&mut d);
    append(&path, &lines("b", 50, true));
    std::fs::rename(&path, d.path().join("posts.jsonl.1")).expect("rotate");
    std::fs::write(&path, lines("c", 30, true)).expect("create");
    d.restart();
    wait_stored(&d, &[texts("a", 100), texts("b", 50), texts("c", 30)]);
}

#[test]
fn id_less_posts_of_a_rewritten_file_are_all_stored_once() {
    let d = start(&[("posts.jsonl", &lines("a", 50, false))]);
    let path = d.path().join("posts.jsonl");
    wait_stored(&d, &[texts("a", 50)]);
    // New id-less posts in a new file: none may take the id of an old one.
    replace(&path, &lines("b", 60, false));
    wait_stored(&d, &[texts("a", 50), texts("b", 60)]);
    // Old and new lines mixed in another new file: the old ones are known by their content.
    replace(&path, &(lines("c", 30, false) + &lines("a", 50, false)));
    wait_stored(&d, &[texts("a", 50), texts("b", 60), texts("c", 30)]);
}

#[test]
fn long_lines_and_garbage_are_skipped_with_one_summary() {
    let long = format!(
        "{{\"id\":\"long\",\"text\":\"colis {}\"}}\n",
        "x".repeat(100 * 1024)
    );
    let garbage: String = (0..200)
        .map(|i| format!("garbage line {i} {{{{\n"))
        .collect();
    let data = lines("a", 10, true) + &long + &garbage + &lines("b", 10, true);
    let cfg = config(64 * 1024);
    let d = Daemon::start(&[
        ("vigie.toml", &cfg),
        ("rules.toml", RULES),
        ("posts.jsonl", &data),
    ]);
    wait_stored(&d, &[texts("a", 10), texts("b", 10)]);
    d.wait_for("the summary line", WAIT, || {
        d.log().contains("bad_lines=200")
    });
    let log = d.log();
    let summaries: Vec<&str> = log.lines().filter(|l| l.contains("Skipped")).collect();
    assert_eq!(summaries.len(), 1, "one summary line:\n{log}");
    assert!(summaries[0].contains("long_lines=1"), "{}", summaries[0]);
    assert_eq!(
        d.count("SELECT COUNT(*) FROM sources_v WHERE source = 'demo' AND last_status = 'ok'"),
        1,
        "the source is healthy:\n{log}"
    );
    // Appending after the skipped lines keeps working.
    append(&d.path().join("posts.jsonl"), &lines("c", 5, true));
    wait_stored(&d, &[texts("a", 10), texts("b", 10), texts("c", 5)]);
}
