//! The `jsonl` source: posts (SPEC §7) from a local file, read from the start, then followed as
//! it grows, replaced, truncated or rotated, like `tail -F` but without losing lines.
//!
//! The cursor (`Position`, compact JSON in `Cursor::position`) names the file by device and
//! inode, holds the byte offset just past the last complete line read, and a fingerprint of the
//! file's first bytes. A poll reads at most `max_bytes` from there and stops at the last newline,
//! so a line being written is read whole on a later poll. The same file, shorter than the offset
//! or with other first bytes (truncated, or truncated and rewritten past the offset), is read
//! again from the start. Another file at the path (replaced, or rotated and created again) is
//! read from the start once the previous one is drained: the source keeps the file it follows
//! open, so a renamed or deleted file's unread lines are still read; after a restart or reload it
//! looks for the previous inode in the file's folder. A truncated file may have been copied first
//! (`copytruncate`): the copy with the same first bytes, in the same folder, gives the lines not
//! read yet. Only when the previous file is not found are its unread lines lost, and a warning
//! says so. `file.rs` holds the position and the reads; this module decides what to read.
//!
//! A line longer than `max_bytes` is skipped without being held in memory, and so is a line that
//! is not a JSON post; one summary per poll counts both. Posts without an `id` get one from their
//! line's content, so a rewritten file's new posts never take an old post's id.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::fetch::Fetcher;
use super::{Cursor, Env, Kind, Page, Source, SourceError};
use crate::config::raw::Reader;
use crate::config::{values, KindDef, Settings, SourceSpec};
use crate::post::{decode_lossy, Post};
use file::{hex16, read_at_most, resume, skip_line, FileId, Position, Resume};

mod file;

/// Most bytes of over-long lines scanned for their end in one poll.
const SKIP_SCAN: u64 = 64 << 20;
/// Most entries of the file's folder looked at when searching for a rotated file.
const MAX_SIBLINGS: usize = 10_000;

/// `kind = "jsonl"`: a local file of posts.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "jsonl",
        required: &["path"],
        optional: &["shift_to_now"],
        secrets: &[],
        read,
    },
    build,
};

/// A `jsonl` source's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonlSettings {
    /// The file, resolved against the config's folder.
    pub path: PathBuf,
    /// Demo only: move every post's time by one offset so that the file's newest post is the
    /// time of the first poll.
    pub shift_to_now: bool,
}

fn read(r: &mut Reader<'_, '_, '_>, dir: &Path) -> Settings {
    r.non_empty("path");
    Settings::new(JsonlSettings {
        path: dir.join(values::text(r, "path")),
        shift_to_now: r.bool("shift_to_now").is_some_and(|(b, _)| b),
    })
}

fn build(spec: &SourceSpec, _env: Env<'_>) -> Result<Box<dyn Source>, String> {
    let s: &JsonlSettings = super::settings(spec)?;
    let source = JsonlSource::new(spec.name.clone(), s.path.clone(), spec.max_bytes);
    Ok(Box::new(if s.shift_to_now {
        source.shifted_to_now()
    } else {
        source
    }))
}

/// A local file of JSON posts, one per line.
#[derive(Debug, Clone)]
pub struct JsonlSource {
    /// The configured source name.
    pub name: String,
    /// The file (already resolved against the config's folder).
    pub path: PathBuf,
    /// Most bytes read into memory at once.
    pub max_bytes: u64,
    /// The file the last cursor points into, kept open so that it can be drained once renamed,
    /// and the previous one if that poll drained it (its cursor may not have been stored).
    held: Arc<Mutex<Vec<Held>>>,
    /// `shift_to_now` (demo only): the offset added to every post's time, set at the first
    /// poll from the file's newest post.
    shift: Option<Arc<std::sync::OnceLock<chrono::TimeDelta>>>,
}

#[derive(Debug)]
struct Held {
    id: FileId,
    file: File,
}

/// Lines skipped during one poll, logged once at its end.
#[derive(Debug, Default, PartialEq)]
pub struct Skipped {
    /// Lines longer than `max_bytes`.
    pub long: u64,
    /// Lines that are not JSON posts.
    pub bad: u64,
    /// The first skipped line's offset and why.
    pub first: Option<(u64, String)>,
}

impl Skipped {
    fn note(&mut self, offset: u64, why: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some((offset, why()));
        }
    }
}

/// The result of reading one file from an offset.
struct Chunk {
    posts: Vec<Post>,
    off: u64,
    skip: bool,
    /// Read to its end: nothing unread is left (or only an unfinished line).
    drained: bool,
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
    /// A source following `path`.
    pub fn new(name: String, path: PathBuf, max_bytes: u64) -> JsonlSource {
        JsonlSource {
            name,
            path,
            max_bytes,
            held: Arc::default(),
            shift: None,
        }
    }

    /// The same source with `shift_to_now`: a demo file dated once stays fresh. At the first
    /// poll of this process, the newest `created_at` of the file (up to `max_bytes` read) is
    /// taken as now; every post then read has its time moved by that offset. Lines added later
    /// move by the same offset; a restart computes a new one for the lines it has not read.
    pub fn shifted_to_now(mut self) -> JsonlSource {
        self.shift = Some(Arc::default());
        self
    }

    /// The `shift_to_now` offset, computed once.
    fn offset(&self) -> Option<chrono::TimeDelta> {
        let once = self.shift.as_ref()?;
        Some(*once.get_or_init(|| {
            let newest = File::open(&self.path).ok().and_then(|f| {
                io::BufRead::lines(io::BufReader::new(io::Read::take(f, self.max_bytes)))
                    .map_while(Result::ok)
                    .filter_map(|l| serde_json::from_str::<Post>(&l).ok()?.created_at)
                    .filter_map(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .max()
            });
            newest.map_or(chrono::TimeDelta::zero(), |t| {
                chrono::Utc::now() - t.with_timezone(&chrono::Utc)
            })
        }))
    }

    /// Moves the posts' times by the `shift_to_now` offset, if any.
    fn shift(&self, posts: &mut [Post]) {
        let Some(offset) = self.offset() else { return };
        for p in posts {
            let moved = p
                .created_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| {
                    (t.with_timezone(&chrono::Utc) + offset)
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                });
            if moved.is_some() {
                p.created_at = moved;
            }
        }
    }

    fn err(&self, what: &str, e: io::Error) -> SourceError {
        SourceError::Transient(format!(
            "cannot {what} {}: {}",
            self.path.display(),
            e.kind()
        ))
    }

    fn read(&self, cursor: &Cursor) -> Result<Page, SourceError> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mut skipped = Skipped::default();
        let mut page = self.read_with(cursor, &mut held, &mut skipped);
        if let Ok(page) = &mut page {
            self.shift(&mut page.posts);
        }
        if skipped.long > 0 || skipped.bad > 0 {
            let (offset, error) = skipped.first.unwrap_or_default();
            tracing::warn!(source = %self.name, long_lines = skipped.long, bad_lines = skipped.bad, first_offset = offset, error = %error, "Skipped lines longer than max_bytes or not JSON posts.");
        }
        page
    }

    fn read_with(
        &self,
        cursor: &Cursor,
        held: &mut Vec<Held>,
        skipped: &mut Skipped,
    ) -> Result<Page, SourceError> {
        let current = match File::open(&self.path) {
            Ok(f) => {
                let meta = f.metadata().map_err(|e| self.err("stat", e))?;
                Some((FileId::of(&meta), meta.len(), f))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.err("open", e)),
        };
        let id = current.as_ref().map(|c| c.0);
        let len = current.as_ref().map_or(0, |c| c.1);
        let mut posts = Vec::new();
        let mut budget = self.max_bytes;
        let mut drained = None;
        let (off, skip) = match resume(cursor) {
            Resume::Start => (0, false),
            Resume::Offset(off) => (if off <= len { off } else { 0 }, false),
            Resume::At(p)
                if Some(p.id()) == id && current.as_ref().is_some_and(|c| p.fits(&c.2)) =>
            {
                (p.off, p.skip)
            }
            Resume::At(p) => {
                // Finish the file the cursor is in first, wherever it is now.
                let previous = if Some(p.id()) == id {
                    // Truncated: a copy made just before (copytruncate) holds the lines not read.
                    tracing::info!(source = %self.name, "The file was truncated or rewritten; reading it again from the start.");
                    // Its name starts as the file's own does (`posts.jsonl.1`, `posts-20261206`).
                    let stem = self.path.file_stem().unwrap_or_default().as_encoded_bytes();
                    self.sibling(
                        |name, m| name.as_encoded_bytes().starts_with(stem) && m.len() > p.off,
                        |f| p.fits(f),
                    )
                } else {
                    // Renamed or deleted, and maybe another file at the path: the one kept open,
                    // or after a restart the same inode in the folder.
                    match held.iter().position(|h| h.id == p.id()) {
                        Some(i) => Some(held.swap_remove(i).file),
                        None => self.sibling(|_, m| FileId::of(m) == p.id(), |_| true),
                    }
                    .filter(|f| p.fits(f))
                };
                match previous.and_then(|f| Some((FileId::of(&f.metadata().ok()?), f))) {
                    Some((from, file)) => {
                        let p = Position {
                            dev: from.dev,
                            ino: from.ino,
                            ..p
                        };
                        let chunk = self
                            .read_lines(&file, p.off, p.skip, budget, true, skipped)
                            .map_err(|e| self.err("read the previous file of", e))?;
                        budget = budget.saturating_sub(chunk.off - p.off);
                        posts.extend(chunk.posts);
                        if !chunk.drained || current.is_none() {
                            let position = Position::at(from, &file, chunk.off, chunk.skip);
                            *held = vec![Held { id: from, file }];
                            return Ok(page(posts, position));
                        }
                        tracing::info!(source = %self.name, "Read the rest of the previous file; following the new one from its start.");
                        drained = Some(Held { id: from, file });
                    }
                    None if current.is_some() && Some(p.id()) != id => {
                        tracing::warn!(source = %self.name, offset = p.off, "The file was replaced and the previous one is gone; its lines after the offset, if any, are lost. Reading the new one from its start.");
                    }
                    None => {}
                }
                (0, false)
            }
        };
        let Some((id, _, file)) = current else {
            return Err(self.err("open", io::ErrorKind::NotFound.into()));
        };
        let chunk = self
            .read_lines(&file, off, skip, budget, false, skipped)
            .map_err(|e| self.err("read", e))?;
        posts.extend(chunk.posts);
        let position = Position::at(id, &file, chunk.off, chunk.skip);
        *held = vec![Held { id, file }];
        held.extend(drained);
        Ok(page(posts, position))
    }

    /// A file of the path's folder, other than the path, whose metadata passes `meta` and whose
    /// open handle passes `file` (its identity is checked again once open).
    fn sibling(
        &self,
        meta: impl Fn(&std::ffi::OsStr, &std::fs::Metadata) -> bool,
        file: impl Fn(&File) -> bool,
    ) -> Option<File> {
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty());
        let name = self.path.file_name()?;
        let entries = std::fs::read_dir(dir.unwrap_or(Path::new("."))).ok()?;
        for entry in entries.take(MAX_SIBLINGS).flatten() {
            let other = entry.file_name();
            let Ok(m) = entry.metadata() else { continue };
            if other == name || !m.is_file() || !meta(&other, &m) {
                continue;
            }
            if let Ok(f) = File::open(entry.path()) {
                let same = f.metadata().is_ok_and(|n| FileId::of(&n) == FileId::of(&m));
                if same && file(&f) {
                    return Some(f);
                }
            }
        }
        None
    }

    /// Reads complete lines from `off`, at most `budget` bytes in memory at once. With `last`,
    /// an unfinished line at the end of the file counts as a line.
    fn read_lines(
        &self,
        file: &File,
        mut off: u64,
        mut skip: bool,
        budget: u64,
        last: bool,
        skipped: &mut Skipped,
    ) -> io::Result<Chunk> {
        let mut scanned = 0;
        loop {
            if std::mem::take(&mut skip) {
                let limit = SKIP_SCAN.saturating_sub(scanned);
                let (n, found) = skip_line(file, off, limit)?;
                off += n;
                scanned += n;
                if !found {
                    let eof = n < limit;
                    return Ok(Chunk {
                        posts: Vec::new(),
                        off,
                        skip: !(eof && last),
                        drained: eof,
                    });
                }
            }
            let buf = read_at_most(file, off, budget)?;
            let eof = (buf.len() as u64) < budget;
            let mut complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            if eof && last {
                complete = buf.len();
            }
            if complete == 0 && buf.len() as u64 == self.max_bytes && budget > 0 {
                // A line longer than max_bytes: skip it and read on.
                skipped.long += 1;
                skipped.note(off, || {
                    format!("line longer than max_bytes ({})", self.max_bytes)
                });
                off += buf.len() as u64;
                scanned += buf.len() as u64;
                skip = true;
                continue;
            }
            let posts = parse(&buf[..complete], &self.name, off, skipped);
            off += complete as u64;
            return Ok(Chunk {
                posts,
                off,
                skip: false,
                drained: eof && complete == buf.len(),
            });
        }
    }
}

fn page(posts: Vec<Post>, position: Position) -> Page {
    Page {
        posts,
        cursor: Cursor {
            position: Some(serde_json::to_string(&position).expect("plain struct")),
            ..Cursor::default()
        },
        wait: None,
    }
}

/// Parses lines that start at byte `base` of the file; a line that is not a JSON post is counted
/// in `skipped` and the lines after it are read. A post without an `id` gets `line-` and a hash of
/// its line, so the same line keeps its id wherever it is and another line never takes it.
pub fn parse(bytes: &[u8], source: &str, base: u64, skipped: &mut Skipped) -> Vec<Post> {
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
                    post.id = Some(format!("line-{}", hex16(&Sha256::digest(text))));
                }
                posts.push(post);
            }
            Err(e) => {
                skipped.bad += 1;
                skipped.note(start, || e.to_string());
            }
        }
    }
    posts
}

#[cfg(test)]
mod tests;
