//! Which file a `jsonl` cursor points into, and where: the [`Position`] stored in
//! `Cursor::position`, the file's identity, the fingerprint of its first bytes, and the reads
//! that do not hold more than asked in memory. What to do when the file changed is `jsonl.rs`'s.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::source::Cursor;

/// How many first bytes of the file the fingerprint covers.
pub(super) const HEAD: u64 = 1024;

/// A file's identity: the same path may name another file after a rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId {
    pub(super) dev: u64,
    pub(super) ino: u64,
}

impl FileId {
    pub(super) fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// Where a poll resumes, stored as compact JSON in `Cursor::position`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Position {
    /// The file's device.
    pub(super) dev: u64,
    /// The file's inode.
    pub(super) ino: u64,
    /// The byte just past the last line read.
    pub(super) off: u64,
    /// How many first bytes `fp` covers: `min(off, 1024)`.
    pub(super) head: u64,
    /// SHA-256 (first 16 bytes, hex) of the file's first `head` bytes.
    pub(super) fp: String,
    /// `off` is inside a line longer than `max_bytes`: skip to its end first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) skip: bool,
}

/// What a stored cursor says.
pub(super) enum Resume {
    Start,
    /// A bare offset, as earlier versions stored it.
    Offset(u64),
    At(Position),
}

/// Reads the stored cursor; one it cannot read starts the file over.
pub(super) fn resume(cursor: &Cursor) -> Resume {
    match cursor.position.as_deref() {
        None => Resume::Start,
        Some(p) => match (serde_json::from_str::<Position>(p), p.parse::<u64>()) {
            (Ok(pos), _) => Resume::At(pos),
            (_, Ok(off)) => Resume::Offset(off),
            _ => Resume::Start,
        },
    }
}

impl Position {
    pub(super) fn id(&self) -> FileId {
        FileId {
            dev: self.dev,
            ino: self.ino,
        }
    }

    /// Whether `file` reaches the offset and starts with the bytes the fingerprint covers.
    pub(super) fn fits(&self, file: &File) -> bool {
        file.metadata().is_ok_and(|m| m.len() >= self.off)
            && fingerprint(file, self.head).is_ok_and(|fp| fp == self.fp)
    }

    pub(super) fn at(id: FileId, file: &File, off: u64, skip: bool) -> Position {
        let head = off.min(HEAD);
        Position {
            dev: id.dev,
            ino: id.ino,
            off,
            head,
            // The bytes before `off` were just read, so reading their first part again works.
            fp: fingerprint(file, head).unwrap_or_default(),
            skip,
        }
    }
}

/// SHA-256 of the file's first `head` bytes (16 bytes, hex); an error if it is shorter.
pub(super) fn fingerprint(file: &File, head: u64) -> io::Result<String> {
    let bytes = read_at_most(file, 0, head)?;
    if (bytes.len() as u64) < head {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(hex16(&Sha256::digest(&bytes)))
}

pub(super) fn hex16(digest: &[u8]) -> String {
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Up to `n` bytes from `off` (fewer only at the end of the file).
pub(super) fn read_at_most(file: &File, off: u64, n: u64) -> io::Result<Vec<u8>> {
    // No bigger than what the file holds now: `n` is `max_bytes` (10 MB by default), and a
    // zeroed buffer that size per poll, with glibc reusing freed heap for it, kept the daemon
    // at ~200 MB with 100 small sources.
    let n = n.min(file.metadata()?.len().saturating_sub(off));
    let mut buf = vec![0; n as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], off + got as u64) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Bytes from `off` up to and including the next newline, looking at most `limit` bytes:
/// `(bytes passed, whether the newline was found)`.
pub(super) fn skip_line(file: &File, off: u64, limit: u64) -> io::Result<(u64, bool)> {
    let mut buf = vec![0; 64 * 1024];
    let mut passed = 0;
    while passed < limit {
        let want = (limit - passed).min(buf.len() as u64) as usize;
        let n = match file.read_at(&mut buf[..want], off + passed) {
            Ok(0) => return Ok((passed, false)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok((passed + i as u64 + 1, true));
        }
        passed += n as u64;
    }
    Ok((passed, false))
}
