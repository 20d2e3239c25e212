//! The posts of a replayed file in event-time order, streamed with bounded memory.
//!
//! SPEC §2 lets a replayed file list its posts in any order, but most exports are already in
//! time order. [`Input::scan`] reads the file once, counting the posts and the skipped lines
//! and checking the order; [`Input::ordered`] then reads it again in order: straight through
//! when it already is, else by an external sort — runs of at most [`SORT_BUFFER`] posts (or
//! [`RUN_BYTES`] of lines) sorted in memory and written to a private folder under the temp dir,
//! then merged. A file that fits in one run is sorted in memory. Stdin is spooled to that
//! folder first, since it can be read only once. The order is the one replay always had: by
//! creation time (to the nanosecond), then by line, posts grouped by the second afterwards.
//! Matching, committing and printing are `replay`'s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, SubsecRound, Utc};

use crate::post::{decode_lossy, Post};
use crate::store::parse_time;

/// Posts sorted in memory at once when the file is not in time order (`--sort-buffer`).
pub const SORT_BUFFER: usize = 100_000;

/// Bytes of lines a run holds at most, whatever its number of posts.
const RUN_BYTES: usize = 64 << 20;

/// A post with its creation time, cut to the second as the store keeps it.
pub type Timed = (DateTime<Utc>, Post);

/// What one line holds (returned and matched at once, never stored: its size is no matter).
#[allow(clippy::large_enum_variant)]
enum Line {
    /// Nothing but white space: neither a post nor skipped.
    Blank,
    /// Not a post replay can use (no id, created_at or text, or not JSON).
    Skipped,
    /// A post and its exact creation time.
    Post(DateTime<Utc>, Post),
}

/// Reads one line as the replay has always read it.
fn parse(bytes: &[u8]) -> Line {
    let line = decode_lossy(bytes);
    if line.trim().is_empty() {
        return Line::Blank;
    }
    let post: Option<Post> = serde_json::from_str(&line).ok();
    match post.and_then(|p| {
        let at = parse_time(p.created_at.as_deref()?)?;
        p.id.as_ref()?;
        Some((at, p))
    }) {
        Some((at, p)) => Line::Post(at, p),
        None => Line::Skipped,
    }
}

/// The sort key: creation time (seconds, nanoseconds), then the line's rank in the file.
type Key = (i64, u32, u64);

fn key(at: DateTime<Utc>, rank: u64) -> Key {
    (at.timestamp(), at.timestamp_subsec_nanos(), rank)
}

/// What the first pass found.
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    /// Posts replay will use.
    pub posts: u64,
    /// Lines skipped (not blank, not a usable post).
    pub skipped: u64,
    /// Whether the posts are already in time order.
    pub sorted: bool,
}

/// A private folder under the temp dir (`TMPDIR`), removed with everything in it on drop.
struct Spool {
    dir: PathBuf,
}

impl Spool {
    fn new() -> io::Result<Spool> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let nanos = Utc::now().timestamp_subsec_nanos();
        let mut attempt = 0u32;
        loop {
            let dir = base.join(format!(
                "vigie-replay-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            // Only this user reads the posts spooled there.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Spool { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The replayed file, or stdin spooled to a file.
pub struct Input {
    path: PathBuf,
    /// What `path` is called in messages.
    name: String,
    /// The folder holding the spooled stdin and the sorted runs, made when first needed.
    spool: Option<Spool>,
}

impl Input {
    /// The file to replay; `-` spools stdin first.
    pub fn open(file: &Path) -> Result<Input> {
        let name = file.display().to_string();
        if file != Path::new("-") {
            File::open(file).with_context(|| format!("cannot read {name}"))?;
            return Ok(Input {
                path: file.to_path_buf(),
                name,
                spool: None,
            });
        }
        let spool = Spool::new().context("cannot create a folder in the temp dir")?;
        let path = spool.dir.join("stdin.jsonl");
        let mut out = BufWriter::new(
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?,
        );
        io::copy(&mut io::stdin().lock(), &mut out)
            .and_then(|_| out.flush())
            .with_context(|| format!("cannot spool stdin to {}", path.display()))?;
        Ok(Input {
            path,
            name: "stdin".into(),
            spool: Some(spool),
        })
    }

    fn lines(&self) -> Result<Lines> {
        let file = File::open(&self.path).with_context(|| format!("cannot read {}", self.name))?;
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 20, file),
            buf: Vec::new(),
            name: self.name.clone(),
        })
    }

    /// The first pass: posts, skipped lines, and whether the posts are in time order.
    pub fn scan(&self) -> Result<Scan> {
        let mut scan = Scan {
            posts: 0,
            skipped: 0,
            sorted: true,
        };
        let mut last: Option<(i64, u32)> = None;
        let mut lines = self.lines()?;
        while let Some(bytes) = lines.next_line()? {
            match parse(bytes) {
                Line::Blank => {}
                Line::Skipped => scan.skipped += 1,
                Line::Post(at, _) => {
                    scan.posts += 1;
                    let k = (at.timestamp(), at.timestamp_subsec_nanos());
                    scan.sorted &= last.is_none_or(|l| l <= k);
                    last = Some(k);
                }
            }
        }
        Ok(scan)
    }

    /// The posts in time order, and how many sorted runs that took (0: none needed). At most
    /// `buffer` posts are held in memory for sorting.
    pub fn ordered(&mut self, scan: &Scan, buffer: usize) -> Result<(Ordered, usize)> {
        let mut lines = self.lines()?;
        if scan.sorted {
            return Ok((Ordered::Straight(lines), 0));
        }
        let buffer = buffer.max(1);
        let mut run: Vec<(Key, Vec<u8>)> = Vec::new();
        let mut bytes = 0;
        let mut files = Vec::new();
        let mut rank = 0u64;
        while let Some(line) = lines.next_line()? {
            rank += 1;
            let Line::Post(at, _) = parse(line) else {
                continue;
            };
            bytes += line.len();
            run.push((key(at, rank), line.to_vec()));
            if run.len() >= buffer || bytes >= RUN_BYTES {
                files.push(self.write_run(&mut run, files.len())?);
                bytes = 0;
            }
        }
        if files.is_empty() {
            // One run: sorted in memory, nothing written.
            run.sort_unstable_by_key(|(k, _)| *k);
            let posts = run.into_iter().map(|(_, line)| line).collect::<Vec<_>>();
            return Ok((Ordered::Memory(posts.into_iter()), 1));
        }
        if !run.is_empty() {
            files.push(self.write_run(&mut run, files.len())?);
        }
        let count = files.len();
        let mut merge = Merge {
            runs: Vec::new(),
            heap: BinaryHeap::new(),
        };
        for path in files {
            let file =
                File::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
            merge.runs.push(Lines {
                reader: BufReader::with_capacity(64 << 10, file),
                buf: Vec::new(),
                name: path.display().to_string(),
            });
            let i = merge.runs.len() - 1;
            merge.refill(i)?;
        }
        Ok((Ordered::Merge(merge), count))
    }

    /// Sorts `run` and writes it as run file number `n` (each line: its key, a tab, the
    /// post's line), leaving `run` empty.
    fn write_run(&mut self, run: &mut Vec<(Key, Vec<u8>)>, n: usize) -> Result<PathBuf> {
        if self.spool.is_none() {
            self.spool = Some(Spool::new().context("cannot create a folder in the temp dir")?);
        }
        let dir = &self.spool.as_ref().expect("made above").dir;
        let path = dir.join(format!("run-{n}"));
        let fail = || format!("cannot write {}", path.display());
        let mut out = BufWriter::new(File::create(&path).with_context(fail)?);
        run.sort_unstable_by_key(|(k, _)| *k);
        for ((s, ns, rank), line) in run.drain(..) {
            write!(out, "{s} {ns} {rank}\t").with_context(fail)?;
            out.write_all(&line).with_context(fail)?;
            out.write_all(b"\n").with_context(fail)?;
        }
        out.flush().with_context(fail)?;
        Ok(path)
    }
}

/// A file's lines (without their `\n`), one buffer reused.
pub struct Lines {
    reader: BufReader<File>,
    buf: Vec<u8>,
    name: String,
}

impl Lines {
    fn next_line(&mut self) -> Result<Option<&[u8]>> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .with_context(|| format!("cannot read {}", self.name))?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        Ok(Some(&self.buf))
    }
}

/// The k-way merge of sorted runs: each run's next line, smallest key first.
pub struct Merge {
    runs: Vec<Lines>,
    /// (key, run) of each run's current line, which `current` holds.
    heap: BinaryHeap<Reverse<(Key, usize)>>,
}

impl Merge {
    /// Reads run `i`'s next line into the heap (nothing when it is done).
    fn refill(&mut self, i: usize) -> Result<()> {
        let Some(line) = self.runs[i].next_line()? else {
            return Ok(());
        };
        let tab = line.iter().position(|&b| b == b'\t');
        let k = tab.and_then(|t| {
            let head = std::str::from_utf8(&line[..t]).ok()?;
            let mut it = head.split(' ').map(str::parse::<i64>);
            Some((
                it.next()?.ok()?,
                it.next()?.ok()? as u32,
                it.next()?.ok()? as u64,
            ))
        });
        let k = k.with_context(|| format!("{} is damaged", self.runs[i].name))?;
        self.heap.push(Reverse((k, i)));
        Ok(())
    }

    fn next(&mut self) -> Result<Option<Timed>> {
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let line = &self.runs[i].buf;
        let tab = line.iter().position(|&b| b == b'\t').unwrap_or(0);
        let post = match parse(&line[tab + 1..]) {
            Line::Post(at, p) => (at.trunc_subsecs(0), p),
            _ => anyhow::bail!("{} is damaged", self.runs[i].name),
        };
        self.refill(i)?;
        Ok(Some(post))
    }
}

/// The posts in time order, from one of the three ways of getting them.
pub enum Ordered {
    /// The file was in order: read again, straight through.
    Straight(Lines),
    /// One run, sorted in memory.
    Memory(std::vec::IntoIter<Vec<u8>>),
    /// Several runs on disk, merged.
    Merge(Merge),
}

impl Ordered {
    /// The next post (its time cut to the second), `None` at the end.
    pub fn next_post(&mut self) -> Result<Option<Timed>> {
        loop {
            let line = match self {
                Ordered::Straight(lines) => match lines.next_line()? {
                    Some(l) => parse(l),
                    None => return Ok(None),
                },
                Ordered::Memory(it) => match it.next() {
                    Some(l) => parse(&l),
                    None => return Ok(None),
                },
                Ordered::Merge(m) => return m.next(),
            };
            if let Line::Post(at, p) = line {
                return Ok(Some((at.trunc_subsecs(0), p)));
            }
        }
    }
}
