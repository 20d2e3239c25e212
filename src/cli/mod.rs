//! The command line (SPEC §2): the clap `Cli`, and `run`, which hands each subcommand to its
//! module. Each subcommand runs a prefix of the pipeline: `check` loads the config, `match`
//! loads it and runs the matcher. `anyhow` is allowed here and in `main.rs` only; an invalid
//! config or rule set is reported as [`Invalid`], which `main` maps to exit code 2.

mod alerts;
mod cases;
mod check;
mod db;
mod hits;
mod init;
mod match_cmd;
pub mod output;
mod preview;
mod replay;
mod run;
mod sources;
mod stats;
mod tune;

use std::fmt;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{self, Config};

/// vigie watches social networks, review sites and forums for posts that contain your watch
/// terms, stores every hit in SQLite and alerts your community managers.
#[derive(Debug, Parser)]
#[command(name = "vigie", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    /// Config file [default: $VIGIE_CONFIG, else /etc/vigie/vigie.toml, else ./vigie.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon in the foreground: poll, match, store hits, send alerts; logs to stderr.
    Run(run::RunArgs),
    /// Validate the config and every rule file, and run every rule's examples.
    ///
    /// Prints a summary (sources, rules, notifiers) and exits 0, or prints every error as
    /// file:line:col and exits 2. Never touches the network or the database. Secrets are read
    /// as `vigie run` reads them; one that cannot be read is a warning, or an error with
    /// --strict.
    Check(check::CheckArgs),
    /// Dry-run the rules on TEXT, or on each line of stdin (plain text or a JSON post).
    ///
    /// Prints which rules match, with the matched words and their word positions.
    Match(match_cmd::MatchArgs),
    /// Fetch one source once and print its posts with the rules they hit; stores nothing.
    Preview(preview::PreviewArgs),
    /// List stored hits, newest first.
    Hits(hits::HitsArgs),
    /// Hits per rule (or source, term, author) in each time bucket, with a sparkline per row.
    ///
    /// Buckets are --every long (default 1h) and aligned on UTC, from --since (default 24h ago)
    /// to --until (default now). Table: one row per key, busiest first, with its total, its
    /// busiest bucket and a sparkline; json and csv: one row per key and bucket, empty buckets
    /// included.
    Stats(stats::StatsArgs),
    /// One row per source: last poll, status, last error, items seen, hits, next poll (empty
    /// until its first poll).
    Sources(sources::SourcesArgs),
    /// Backtest: feed posts from FILE through the rules and the alert logic in event time.
    ///
    /// Prints the hits per rule and every alert that would have fired (`--format json`: one
    /// alert per line). Sends nothing; uses a throw-away database unless --db is given.
    Replay(replay::ReplayArgs),
    /// Try one rule as a spike rule over a grid of spike, min_count and window settings on a
    /// file of posts; with --target, propose the setting to paste.
    Tune(tune::TuneArgs),
    /// Alert history: when, rule, kind, count vs usual, delivery status per notifier.
    Alerts(alerts::AlertsArgs),
    /// Reply-clock cases, open first then by oldest deadline; `cases ack ID --by NAME` marks
    /// one answered by hand.
    Cases(cases::CasesArgs),
    /// Write a commented starter config and rule file for a brand into DIR, then print the
    /// next commands to run.
    Init(init::InitArgs),
}

/// An invalid config, rule file or command-line value: exit code 2.
#[derive(Debug)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let path = config_path(
        cli.config.as_deref(),
        |k| std::env::var(k).ok(),
        |p| p.exists(),
    );
    match cli.command {
        Command::Check(args) => check::run(&path, args),
        Command::Match(args) => match_cmd::run(&path, args),
        Command::Run(args) => run::run(&path, args),
        Command::Preview(args) => preview::run(&path, args),
        Command::Hits(args) => hits::run(&path, args),
        Command::Sources(args) => sources::run(&path, args),
        Command::Stats(args) => stats::run(&path, args),
        Command::Replay(args) => replay::run(&path, args),
        Command::Tune(args) => tune::run(&path, args),
        Command::Alerts(args) => alerts::run(&path, args),
        Command::Cases(args) => cases::run(&path, args),
        Command::Init(args) => init::run(args),
    }
}

/// `--config`, else `$VIGIE_CONFIG`, else `/etc/vigie/vigie.toml` if it exists, else
/// `./vigie.toml`.
pub fn config_path(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = env("VIGIE_CONFIG").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let etc = Path::new("/etc/vigie/vigie.toml");
    if exists(etc) {
        return etc.to_path_buf();
    }
    PathBuf::from("vigie.toml")
}

/// Loads the config, turning errors into an [`Invalid`] that lists every one of them.
pub(crate) fn load(path: &Path) -> anyhow::Result<Config> {
    config::load(path, &crate::daemon::pipeline::kinds()).map_err(|errors| invalid(path, &errors))
}

/// The [`Invalid`] error listing every one of `errors`, then their count.
pub(crate) fn invalid(path: &Path, errors: &[config::ConfigError]) -> anyhow::Error {
    let mut msg: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let n = errors.len();
    msg.push(format!(
        "vigie: {n} error{} in {}",
        if n == 1 { "" } else { "s" },
        path.display()
    ));
    anyhow::Error::new(Invalid(msg.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_path_precedence() {
        let none = |_: &str| None;
        let env = |_: &str| Some("/env/vigie.toml".to_string());
        let flag = Path::new("/flag.toml");
        assert_eq!(config_path(Some(flag), env, |_| true), flag);
        assert_eq!(
            config_path(None, env, |_| true),
            Path::new("/env/vigie.toml")
        );
        assert_eq!(
            config_path(None, none, |_| true),
            Path::new("/etc/vigie/vigie.toml")
        );
        assert_eq!(config_path(None, none, |_| false), Path::new("vigie.toml"));
    }

    /// Issue 24, point 6: one command per file, `cli/<command>.rs` with its own `run`, so a
    /// command is found where its name says (`match` is `match_cmd.rs`, a keyword).
    #[test]
    fn each_command_has_its_own_file() {
        use clap::CommandFactory;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        let mut missing = Vec::new();
        let commands: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .filter(|n| n != "help")
            .collect();
        assert!(commands.len() >= 10, "{commands:?}");
        for name in &commands {
            let file = dir.join(match name.as_str() {
                "match" => "match_cmd.rs".to_string(),
                n => format!("{n}.rs"),
            });
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if !text.contains("pub fn run(") {
                missing.push(format!("{name}: no `pub fn run(` in {}", file.display()));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
