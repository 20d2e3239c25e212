//! `vigie run`: logging set up, config loaded, then the daemon in the foreground.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

use super::invalid;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for journald or a log shipper).
    Json,
}

/// Arguments of `vigie run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Log format on stderr; the level comes from RUST_LOG (default: info).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(config: &Path, args: RunArgs) -> Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    match crate::daemon::run(config) {
        Err(crate::daemon::DaemonError::Config(errors)) => Err(invalid(config, &errors)),
        other => Ok(other?),
    }
}
