//! Unit tests of the `jsonl` source: parsing, the cursor, and the file changing between polls.

use std::io::Write;

use super::*;

fn post(id: &str) -> String {
    format!("{{\"id\":\"{id}\",\"text\":\"colis {id}\"}}\n")
}

fn ids(page: &Page) -> Vec<String> {
    page.posts.iter().map(|p| p.id.clone().unwrap()).collect()
}

fn append(path: &Path, data: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(data).unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    src: JsonlSource,
    fetch: Fetcher,
}

impl Fixture {
    fn new(data: &str, max_bytes: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        std::fs::write(&path, data).unwrap();
        Fixture {
            src: JsonlSource::new("d".into(), path.clone(), max_bytes),
            path,
            _dir: dir,
            fetch: Fetcher::new(Default::default()).unwrap(),
        }
    }

    async fn poll(&self, cursor: &Cursor) -> Page {
        self.src.poll(&self.fetch, cursor).await.unwrap()
    }
}

#[test]
fn parses_posts_and_counts_bad_lines() {
    let data =
        b"{\"id\":\"1\",\"text\":\"colis\"}\nnot json\n\n{\"text\":\"sans id\"}\n\xff{bad utf8\n";
    let mut skipped = Skipped::default();
    let posts = parse(data, "demo", 100, &mut skipped);
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].id.as_deref(), Some("1"));
    assert_eq!(posts[0].source.as_deref(), Some("demo"));
    assert_eq!(skipped.bad, 2);
    assert_eq!(skipped.first.as_ref().map(|f| f.0), Some(126));
    // An id-less post's id comes from its line, wherever the line is.
    let id = posts[1].id.clone().unwrap();
    assert!(id.starts_with("line-") && id.len() == 37, "{id}");
    let again = parse(b"\n\n{\"text\":\"sans id\"}\r\n", "demo", 0, &mut skipped);
    assert_eq!(again[0].id.as_ref(), Some(&id));
    let other = parse(b"{\"text\":\"autre\"}\n", "demo", 136, &mut skipped);
    assert_ne!(other[0].id.as_ref(), Some(&id));
}

#[tokio::test]
async fn follows_appends_and_waits_for_whole_lines() {
    let f = Fixture::new("{\"id\":\"1\",\"text\":\"a\"}\n{\"id\":\"2\",\"te", 1 << 20);
    let p1 = f.poll(&Cursor::default()).await;
    assert_eq!(ids(&p1), ["1"]);
    append(&f.path, b"xt\":\"b\"}\n");
    let p2 = f.poll(&p1.cursor).await;
    assert_eq!(ids(&p2), ["2"]);
    let p3 = f.poll(&p2.cursor).await;
    assert!(p3.posts.is_empty());
    assert_eq!(p3.cursor, p2.cursor);
}

#[tokio::test]
async fn a_bare_offset_from_an_older_version_is_resumed() {
    let f = Fixture::new(&(post("1") + &post("2")), 1 << 20);
    let old = Cursor {
        position: Some(post("1").len().to_string()),
        ..Cursor::default()
    };
    let p = f.poll(&old).await;
    assert_eq!(ids(&p), ["2"]);
    let pos: Position = serde_json::from_str(p.cursor.position.as_deref().unwrap()).unwrap();
    assert_eq!(pos.off, (post("1") + &post("2")).len() as u64);
    // Beyond the end: read from the start.
    let far = Cursor {
        position: Some("100000".into()),
        ..Cursor::default()
    };
    assert_eq!(ids(&f.poll(&far).await), ["1", "2"]);
}

#[tokio::test]
async fn a_file_rewritten_in_place_past_the_offset_is_read_from_the_start() {
    let f = Fixture::new(&post("1"), 1 << 20);
    let p1 = f.poll(&Cursor::default()).await;
    // Same inode, longer than the offset, other first bytes.
    let data = post("7") + &post("8") + &post("9");
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&f.path)
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
    assert_eq!(ids(&f.poll(&p1.cursor).await), ["7", "8", "9"]);
}

#[tokio::test]
async fn a_renamed_file_is_drained_then_the_new_one_read() {
    let f = Fixture::new(&post("1"), 1 << 20);
    let p1 = f.poll(&Cursor::default()).await;
    append(&f.path, post("2").as_bytes());
    // Moved out of the folder and a new file created: only the open handle reaches "2". Its
    // last line has no newline and is read all the same, since the file is done.
    let gone = f._dir.path().join("elsewhere");
    std::fs::create_dir(&gone).unwrap();
    std::fs::rename(&f.path, gone.join("p.jsonl.1")).unwrap();
    append(
        &gone.join("p.jsonl.1"),
        b"{\"id\":\"3\",\"text\":\"no newline\"}",
    );
    std::fs::write(&f.path, post("4")).unwrap();
    let p2 = f.poll(&p1.cursor).await;
    assert_eq!(ids(&p2), ["2", "3", "4"]);
    // The store failed to commit that page: the daemon polls again from the old cursor, and the
    // drained file is still at hand.
    assert_eq!(ids(&f.poll(&p1.cursor).await), ["2", "3", "4"]);
    let p3 = f.poll(&p2.cursor).await;
    assert!(p3.posts.is_empty());
    assert!(f.poll(&p3.cursor).await.posts.is_empty());
}

#[tokio::test]
async fn a_renamed_file_is_found_in_its_folder_by_a_new_source() {
    let f = Fixture::new(&post("1"), 1 << 20);
    let p1 = f.poll(&Cursor::default()).await;
    append(&f.path, post("2").as_bytes());
    std::fs::rename(&f.path, f.path.with_extension("jsonl.1")).unwrap();
    std::fs::write(&f.path, post("3")).unwrap();
    // A restart: nothing held open.
    let fresh = JsonlSource::new("d".into(), f.path.clone(), 1 << 20);
    let p2 = fresh.poll(&f.fetch, &p1.cursor).await.unwrap();
    assert_eq!(ids(&p2), ["2", "3"]);
}

#[tokio::test]
async fn a_long_line_is_skipped_even_while_it_is_written() {
    let long = format!("{{\"text\":\"{}", "x".repeat(300));
    let f = Fixture::new(&(post("1") + &long), 64);
    let p1 = f.poll(&Cursor::default()).await;
    assert_eq!(ids(&p1), ["1"]);
    // The long line has no end yet: passed over, and its end is looked for on the next poll.
    let p2 = f.poll(&p1.cursor).await;
    assert!(p2.posts.is_empty());
    let pos: Position = serde_json::from_str(p2.cursor.position.as_deref().unwrap()).unwrap();
    assert!(pos.skip, "{pos:?}");
    append(
        &f.path,
        format!("{}\"}}\n{}", "y".repeat(100), post("2")).as_bytes(),
    );
    assert_eq!(ids(&f.poll(&p2.cursor).await), ["2"]);
}

#[tokio::test]
async fn missing_file_is_a_transient_error() {
    let src = JsonlSource::new("d".into(), "/nonexistent/p.jsonl".into(), 10);
    let e = src
        .poll(
            &Fetcher::new(Default::default()).unwrap(),
            &Cursor::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, SourceError::Transient(ref m) if m.contains("cannot open")),
        "{e}"
    );
}
