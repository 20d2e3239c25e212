//! The query commands' database: `--db FILE`, or the config's, always opened read-only, so
//! that `hits`, `stats`, `alerts` and `sources` never block or slow the running daemon.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::{load, output};
use crate::store::{Store, StoreError};

/// `--db FILE`, shared by the query commands that read hits and alerts.
#[derive(Debug, Args)]
pub struct DbArg {
    /// Read this database (a `replay --db` file, a copy) instead of the config's; no config is
    /// needed then.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
}

/// The database to read: `--db FILE`, else the config's, read-only.
/// Also chooses the zone of table times (see `output::set_zone`): with `--db` there is no
/// config, so the local zone unless `--utc`.
pub(crate) fn open(config: &Path, db: &DbArg, utc: bool) -> Result<Store> {
    match &db.db {
        Some(file) => {
            output::set_zone(None, utc);
            open_file(file)
        }
        None => {
            let config = load(config)?;
            output::set_zone(Some(&config), utc);
            open_store(&config)
        }
    }
}

/// The database of a loaded config, read-only.
pub(super) fn open_store(config: &crate::config::Config) -> Result<Store> {
    open_file(&config.daemon.database)
}

fn open_file(file: &Path) -> Result<Store> {
    match Store::open_read_only(file) {
        Ok(s) => Ok(s),
        Err(e @ StoreError::Missing(_)) => Err(anyhow::anyhow!("{e}")),
        Err(e) => Err(e.into()),
    }
}
