//! `vigie run`: logging set up, config loaded, then the daemon in the foreground.
//!
//! Logs go to stderr in one of three shapes: human lines (colours on a terminal), JSON lines
//! (`--log-format json`), or, when stderr is the journal (systemd sets `JOURNAL_STREAM` to the
//! device and inode of the stream it gives us), human lines without timestamps or colours (the
//! journal adds its own) and with a `<N>` syslog priority prefix that journald turns into the
//! entry's priority (`journalctl -p warning` then works).

use std::fmt;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::Result;
use clap::{Args, ValueEnum};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
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
    let journal = journal_stream(std::env::var("JOURNAL_STREAM").ok().as_deref());
    match args.log_format {
        LogFormat::Text if journal => {
            let lines = tracing_subscriber::fmt::format()
                .without_time()
                .with_ansi(false);
            builder
                .with_ansi(false)
                .event_format(Priority(lines))
                .init()
        }
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    match crate::daemon::run(config) {
        Err(crate::daemon::DaemonError::Config(errors)) => Err(invalid(config, &errors)),
        other => Ok(other?),
    }
}

/// Whether stderr is the journal: `JOURNAL_STREAM` (`DEVICE:INODE`) names the stream that
/// stderr is (a child whose stderr was redirected inherits the variable but not the stream).
fn journal_stream(var: Option<&str>) -> bool {
    let Some((dev, ino)) = var.and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}

/// A log line format with the `<N>` syslog priority of the event's level in front.
struct Priority<F>(F);

impl<S, N, F> FormatEvent<S, N> for Priority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// The syslog priority of a level: err, warning, info, debug.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}
