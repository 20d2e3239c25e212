//! The posts of a replayed file in event-time order, streamed with bounded memory.
//!
//! SPEC §2 lets a replayed file list its posts in any order, but most exports are already in
//! time order. [`Input::scan`] reads the file once at a glance (two fields of each line, nothing
//! copied), checking the order; [`Input::ordered`] then reads it again in order: straight through
//! when it already is, else by an external sort — runs of at most [`SORT_BUFFER`] posts (or
//! [`RUN_BYTES`] of lines) sorted in memory and written to a private folder under the temp dir,
//! then merged. A file that fits in one run is sorted in memory. Stdin is spooled to that
//! folder first, since it can be read only once. The order is the one replay always had: by
//! creation time (to the nanosecond), then by line, posts grouped by the second afterwards.
//! Each post is read whole once, as it comes out in order; the lines it skips are counted
//! then. Matching, committing and printing are `replay`'s.

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

/// What a first look at one line finds, without reading the post: much cheaper than
/// [`parse`] (nothing is copied), and never more strict. A line it takes for a post may still
/// fail [`parse`] (an `id` that is not a string…): the last read skips and counts it then.
enum Glance {
    /// Nothing but white space.
    Blank,
    /// Not JSON, or no `id`, or no `created_at` in RFC 3339.
    Skipped,
    /// Looks like a post created at this time.
    Post(DateTime<Utc>),
}

/// The two fields a first look reads; every other is skipped unread.
#[derive(serde::Deserialize)]
struct Shape<'a> {
    #[serde(default)]
    id: Option<serde::de::IgnoredAny>,
    #[serde(default, borrow)]
    created_at: Option<std::borrow::Cow<'a, str>>,
}

fn glance(bytes: &[u8]) -> Glance {
    let line = decode_lossy(bytes);
    if line.trim().is_empty() {
        return Glance::Blank;
    }
    match serde_json::from_str::<Shape>(&line) {
        Ok(Shape {
            id: Some(_),
            created_at: Some(at),
        }) => parse_time(&at).map_or(Glance::Skipped, Glance::Post),
        _ => Glance::Skipped,
    }
}

/// The sort key: creation time (seconds, nanoseconds), then the line's rank in the file.
type Key = (i64, u32, u64);

fn key(at: DateTime<Utc>, rank: u64) -> Key {
    (at.timestamp(), at.timestamp_subsec_nanos(), rank)
}

/// What the first pass found, at a glance ([`glance`]).
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    /// Lines that look like posts: the posts replay will use, or a few more.
    pub posts: u64,
    /// Whether the posts are already in time order (the lines that look like posts are, and
    /// the posts are among them).
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

    /// The first pass, at a glance: about how many posts, and whether they are in time order.
    pub fn scan(&self) -> Result<Scan> {
        let mut scan = Scan {
            posts: 0,
            sorted: true,
        };
        let mut last: Option<(i64, u32)> = None;
        let mut lines = self.lines()?;
        while let Some(bytes) = lines.next_line()? {
            match glance(bytes) {
                Glance::Blank | Glance::Skipped => {}
                Glance::Post(at) => {
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
            return Ok((Ordered::new(Way::Straight(lines), 0), 0));
        }
        let mut skipped = 0;
        let buffer = buffer.max(1);
        let mut run: Vec<(Key, Vec<u8>)> = Vec::new();
        let mut bytes = 0;
        let mut files = Vec::new();
        let mut rank = 0u64;
        // Each full run is sorted and written on a second thread while this one reads the
        // next: one run at a time in flight, so at most two runs are held.
        std::thread::scope(|scope| -> Result<()> {
            let mut writing: Option<std::thread::ScopedJoinHandle<'_, Result<PathBuf>>> = None;
            while let Some(line) = lines.next_line()? {
                rank += 1;
                let at = match glance(line) {
                    Glance::Post(at) => at,
                    Glance::Skipped => {
                        skipped += 1;
                        continue;
                    }
                    Glance::Blank => continue,
                };
                bytes += line.len();
                run.push((key(at, rank), line.to_vec()));
                if run.len() >= buffer || bytes >= RUN_BYTES {
                    if let Some(w) = writing.take() {
                        files.push(joined(w)?);
                    }
                    let path = self.run_path(files.len())?;
                    let full = std::mem::take(&mut run);
                    writing = Some(scope.spawn(move || write_run(full, path)));
                    bytes = 0;
                }
            }
            if let Some(w) = writing.take() {
                files.push(joined(w)?);
            }
            Ok(())
        })?;
        if files.is_empty() {
            // One run: sorted in memory, nothing written.
            run.sort_unstable_by_key(|(k, _)| *k);
            let posts = run.into_iter().map(|(_, line)| line).collect::<Vec<_>>();
            return Ok((Ordered::new(Way::Memory(posts.into_iter()), skipped), 1));
        }
        if !run.is_empty() {
            let path = self.run_path(files.len())?;
            files.push(write_run(run, path)?);
        }
        let count = files.len();
        let mut merge = Merge {
            runs: Vec::new(),
            current: Vec::new(),
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
        Ok((Ordered::new(Way::Merge(merge), skipped), count))
    }

    /// Where run file number `n` goes, in the private folder (made when first needed).
    fn run_path(&mut self, n: usize) -> Result<PathBuf> {
        if self.spool.is_none() {
            self.spool = Some(Spool::new().context("cannot create a folder in the temp dir")?);
        }
        let dir = &self.spool.as_ref().expect("made above").dir;
        Ok(dir.join(format!("run-{n}")))
    }
}

/// Sorts `run` and writes it to `path` (each line: its key, a tab, the post's line).
fn write_run(mut run: Vec<(Key, Vec<u8>)>, path: PathBuf) -> Result<PathBuf> {
    let fail = || format!("cannot write {}", path.display());
    let mut out = BufWriter::new(File::create(&path).with_context(fail)?);
    run.sort_unstable_by_key(|(k, _)| *k);
    for ((s, ns, rank), line) in run {
        write!(out, "{s} {ns} {rank}\t").with_context(fail)?;
        out.write_all(&line).with_context(fail)?;
        out.write_all(b"\n").with_context(fail)?;
    }
    out.flush().with_context(fail)?;
    Ok(path)
}

/// The path a run's thread wrote, or its error.
fn joined(w: std::thread::ScopedJoinHandle<'_, Result<PathBuf>>) -> Result<PathBuf> {
    w.join()
        .map_err(|_| anyhow::anyhow!("the thread sorting the posts stopped"))?
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
    /// The line [`Merge::next`] returned last.
    current: Vec<u8>,
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

    /// The next line, without its key.
    fn next(&mut self) -> Result<Option<&[u8]>> {
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        // The run's line moves to `current` while the run reads its next one.
        std::mem::swap(&mut self.current, &mut self.runs[i].buf);
        self.refill(i)?;
        let tab = self.current.iter().position(|&b| b == b'\t').unwrap_or(0);
        Ok(Some(&self.current[tab + 1..]))
    }
}

/// The posts in time order, and the lines skipped on the way.
pub struct Ordered {
    way: Way,
    /// Lines skipped: by the first look while sorting, then by the last read.
    skipped: u64,
}

/// The three ways of getting the posts in order.
enum Way {
    /// The file was in order: read again, straight through.
    Straight(Lines),
    /// One run, sorted in memory.
    Memory(std::vec::IntoIter<Vec<u8>>),
    /// Several runs on disk, merged.
    Merge(Merge),
}

impl Ordered {
    fn new(way: Way, skipped: u64) -> Ordered {
        Ordered { way, skipped }
    }

    /// The next post (its time cut to the second), `None` at the end.
    pub fn next_post(&mut self) -> Result<Option<Timed>> {
        loop {
            let line = match &mut self.way {
                Way::Straight(lines) => match lines.next_line()? {
                    Some(l) => parse(l),
                    None => return Ok(None),
                },
                Way::Memory(it) => match it.next() {
                    Some(l) => parse(&l),
                    None => return Ok(None),
                },
                Way::Merge(m) => match m.next()? {
                    Some(l) => parse(l),
                    None => return Ok(None),
                },
            };
            match line {
                Line::Post(at, p) => return Ok(Some((at.trunc_subsecs(0), p))),
                Line::Skipped => self.skipped += 1,
                Line::Blank => {}
            }
        }
    }

    /// Lines that were not posts replay can use (not blank, no `id`, `created_at` or `text`,
    /// or not JSON), so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}
