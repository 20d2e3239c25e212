//! The `jsonl` source: posts (SPEC §7) from a local file, read from the start, then followed as
//! it grows, like `tail -f`.
//!
//! The cursor is the byte offset just past the last complete line read. A poll reads at most
//! `max_bytes` from there and stops at the last newline, so a line being written is read whole
//! on a later poll. A file shorter than the cursor was truncated or replaced: reading starts
//! over (the store's unique key drops posts already seen). A line that is not a JSON post is
//! logged with its offset and skipped; it never stops the lines after it. Posts without an `id`
//! get their line's byte offset, which is stable for an append-only file.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use async_trait::async_trait;

use super::fetch::Fetcher;
use super::{Cursor, Page, Source, SourceError};
use crate::post::{decode_lossy, Post};

/// A local file of JSON posts, one per line.
#[derive(Debug, Clone)]
pub struct JsonlSource {
    /// The configured source name.
    pub name: String,
    /// The file (already resolved against the config's folder).
    pub path: PathBuf,
    /// Most bytes read in one poll.
    pub max_bytes: u64,
}

#[async_trait]
impl Source for JsonlSource {
    async fn poll(&self, _fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let this = self.clone();
        let cursor = cursor.clone();
        tokio::task::spawn_blocking(move || this.read(&cursor))
            .await
            .map_err(|e| SourceError::Transient(format!("jsonl reader stopped: {e}")))?
    }
}

impl JsonlSource {
    fn read(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let shown = self.path.display();
        let mut file = std::fs::File::open(&self.path)
            .map_err(|e| SourceError::Transient(format!("cannot open {shown}: {}", e.kind())))?;
        let len = file
            .metadata()
            .map_err(|e| SourceError::Transient(format!("cannot stat {shown}: {}", e.kind())))?
            .len();
        let mut offset: u64 = cursor
            .position
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if offset > len {
            tracing::info!(source = %self.name, "File is shorter than the cursor, reading it again from the start.");
            offset = 0;
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| SourceError::Transient(format!("cannot seek {shown}: {}", e.kind())))?;
        let mut buf = Vec::new();
        file.take(self.max_bytes)
            .read_to_end(&mut buf)
            .map_err(|e| SourceError::Transient(format!("cannot read {shown}: {}", e.kind())))?;
        // Only complete lines: the rest is read again on the next poll.
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete == 0 && buf.len() as u64 == self.max_bytes && self.max_bytes > 0 {
            return Err(SourceError::Permanent(format!(
                "{shown}: a line at byte {offset} is longer than max_bytes ({})",
                self.max_bytes
            )));
        }
        let posts = parse(&buf[..complete], &self.name, offset);
        Ok(Page {
            posts,
            cursor: Cursor {
                position: Some((offset + complete as u64).to_string()),
                ..Cursor::default()
            },
        })
    }
}

/// Parses complete lines that start at byte `base` of the file; bad lines are logged and skipped.
pub fn parse(bytes: &[u8], source: &str, base: u64) -> Vec<Post> {
    let mut posts = Vec::new();
    let mut at = base;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let start = at;
        at += line.len() as u64;
        let text = decode_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<Post>(text) {
            Ok(mut post) => {
                post.source = Some(source.to_string());
                if post.id.is_none() {
                    post.id = Some(format!("offset-{start}"));
                }
                posts.push(post);
            }
            Err(e) => {
                tracing::warn!(source = %source, offset = start, error = %e, "Skipped a line that is not a JSON post.");
            }
        }
    }
    posts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_posts_and_skips_bad_lines() {
        let data = b"{\"id\":\"1\",\"text\":\"colis\"}\nnot json\n\n{\"text\":\"sans id\"}\n\xff{bad utf8\n";
        let posts = parse(data, "demo", 100);
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[0].id.as_deref(), Some("1"));
        assert_eq!(posts[0].source.as_deref(), Some("demo"));
        assert_eq!(posts[1].id.as_deref(), Some("offset-136"));
    }

    #[tokio::test]
    async fn follows_appends_and_waits_for_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        std::fs::write(&path, "{\"id\":\"1\",\"text\":\"a\"}\n{\"id\":\"2\",\"te").unwrap();
        let src = JsonlSource {
            name: "d".into(),
            path: path.clone(),
            max_bytes: 1 << 20,
        };
        let fetch = Fetcher::new(Default::default()).unwrap();
        let p1 = src.poll(&fetch, &Cursor::default()).await.unwrap();
        assert_eq!(p1.posts.len(), 1);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"xt\":\"b\"}\n").unwrap();
        let p2 = src.poll(&fetch, &p1.cursor).await.unwrap();
        assert_eq!(
            p2.posts
                .iter()
                .map(|p| p.id.clone().unwrap())
                .collect::<Vec<_>>(),
            ["2"]
        );
        let p3 = src.poll(&fetch, &p2.cursor).await.unwrap();
        assert!(p3.posts.is_empty());
        // Truncated or replaced: start over.
        std::fs::write(&path, "{\"id\":\"9\",\"text\":\"c\"}\n").unwrap();
        let p4 = src.poll(&fetch, &p2.cursor).await.unwrap();
        assert_eq!(p4.posts[0].id.as_deref(), Some("9"));
    }

    #[tokio::test]
    async fn missing_file_is_a_transient_error() {
        let src = JsonlSource {
            name: "d".into(),
            path: "/nonexistent/p.jsonl".into(),
            max_bytes: 10,
        };
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
}
