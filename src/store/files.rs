//! The files beside the database: their modes, and the lock that keeps one daemon per database.
//!
//! Post text is personal data, so the folder vigie creates for the database is `0750` and the
//! database file `0640`, whatever the umask: the file is created here with that mode (and
//! `chmod`ed, since the umask masks the mode given to `open`) before SQLite opens it. SQLite then
//! gives its `-wal` and `-shm` files the database file's mode. The group (SPEC §8: ops join the
//! `vigie` group) can read; nobody else can.
//!
//! The lock is an exclusive `flock` on `<database>.lock`, taken by `vigie run` before the
//! migrations and held until the process ends (the kernel releases it on any exit, `kill -9`
//! included, so a stale lock file is harmless). It holds the owner's pid, which the refused
//! daemon names. The query commands never take it: they read while the daemon runs. `flock` comes
//! from std (`File::try_lock`, Rust 1.89), so no crate is needed. The lock is advisory: it
//! stops a second vigie, not `sqlite3`.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Mode of the database, its `-wal` and `-shm` files and the lock file.
pub const FILE_MODE: u32 = 0o640;
/// Mode of the folder vigie creates for the database.
pub const DIR_MODE: u32 = 0o750;

/// The lock held by the daemon: released when dropped or when the process ends.
#[derive(Debug)]
pub struct DbLock {
    _file: File,
    path: PathBuf,
}

impl DbLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `<database>.lock`, beside the database.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Whether `db` names a file: SQLite's `:memory:` (the throw-away database of `vigie replay`)
/// and the empty path (a temporary database) have no file, folder or lock.
pub fn on_disk(db: &Path) -> bool {
    !db.as_os_str().is_empty() && db != Path::new(":memory:")
}

/// Creates the database's folder (each missing level `0750`) if it does not exist yet; a
/// folder that exists keeps its mode (it may be the operator's own).
pub fn create_folder(db: &Path) -> Result<(), StoreError> {
    if !on_disk(db) {
        return Ok(());
    }
    let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        at = d.parent();
    }
    for d in missing.iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => set_mode(d, DIR_MODE)?,
            // Created by someone else meanwhile: theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(d, "cannot create", e)),
        }
    }
    Ok(())
}

/// Creates the database file `0640` if it does not exist yet, so that SQLite (which copies
/// its mode to `-wal` and `-shm`) never creates it under the umask.
pub fn create_database(db: &Path) -> Result<(), StoreError> {
    if !on_disk(db) {
        return Ok(());
    }
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(db)
    {
        Ok(file) => file
            .set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(|e| io(db, "cannot set the mode of", e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(db, "cannot create", e)),
    }
}

/// Takes the daemon's lock on `db`, or says which process holds it.
pub fn lock(db: &Path) -> Result<DbLock, StoreError> {
    create_folder(db)?;
    let path = lock_path(db);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(|e| io(&path, "cannot open", e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked {
                pid: holder_pid(&mut file),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(&path, "cannot lock", e)),
    }
    let written = file
        .set_permissions(Permissions::from_mode(FILE_MODE))
        .and_then(|()| file.set_len(0))
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    written.map_err(|e| io(&path, "cannot write", e))?;
    Ok(DbLock { _file: file, path })
}

/// The pid the lock's holder wrote. A holder that has just taken the lock may not have written
/// it yet: look again for up to a second before calling it unknown.
fn holder_pid(file: &mut File) -> Option<u32> {
    for _ in 0..50 {
        let mut text = String::new();
        let read = file.rewind().and_then(|()| file.read_to_string(&mut text));
        if let Some(pid) = read.ok().and_then(|_| text.trim().parse().ok()) {
            return Some(pid);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    None
}

fn set_mode(path: &Path, mode: u32) -> Result<(), StoreError> {
    std::fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| io(path, "cannot set the mode of", e))
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Files(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_files_stay_when_the_last_writer_closes() {
        // A reader in the group cannot create them in the 0750 folder once the daemon stopped.
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("vigie.db");
        drop(super::super::Store::open(&db).unwrap());
        for side in ["vigie.db-wal", "vigie.db-shm"] {
            let meta = std::fs::metadata(dir.path().join(side));
            assert!(meta.is_ok(), "{side} was removed at close");
            assert_eq!(
                meta.unwrap().permissions().mode() & 0o777,
                FILE_MODE,
                "{side}"
            );
        }
    }

    #[test]
    fn only_real_paths_get_files() {
        for (path, file) in [
            (":memory:", false),
            ("", false),
            ("vigie.db", true),
            ("state/:memory:", true),
        ] {
            assert_eq!(on_disk(Path::new(path)), file, "{path:?}");
        }
    }

    #[test]
    fn a_second_lock_on_one_database_is_refused_with_the_owners_pid() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a/b/vigie.db");
        let held = lock(&db).unwrap();
        assert_eq!(held.path(), dir.path().join("a/b/vigie.db.lock"));
        let err = lock(&db).unwrap_err();
        let want = format!(
            "another vigie (pid {}) is running on this database",
            std::process::id()
        );
        assert_eq!(err.to_string(), want);
        drop(held);
        lock(&db).expect("free again once the holder let go");
        for d in [dir.path().join("a"), dir.path().join("a/b")] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, DIR_MODE, "{}", d.display());
        }
    }
}
