//! The validated configuration: `Config` and `load(path, kinds)`.
//!
//! Loading is two steps (ARCHITECTURE "raw, then validated"): `raw` reads the TOML with spans;
//! `validate` (main file) and `rules` (rule files) turn it into the typed specs below and
//! collect *every* error as `file:line:col: message`. Nothing here touches the network or the
//! database, and secrets stay unresolved references (`secret`) until the pipeline is built.
//!
//! The config names no source or notifier kind: the kinds it accepts are handed to [`load`]
//! ([`Kinds`], assembled by `daemon::pipeline::kinds`), each read by its own file into settings
//! that stay opaque here ([`Settings`]). So `config` imports neither `source` nor `notify`.

pub mod brand;
pub mod duration;
pub mod kind;
pub mod raw;
pub mod rules;
pub mod secret;
pub mod syntax;
pub mod validate;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use brand::BrandAccount;
pub use kind::{KindDef, Kinds, Settings};
pub use rules::{AlertSpec, Origin, Rule};
pub use secret::{SecretRef, SecretSite};

/// One configuration error, located in the file that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config or rule file, as given or as found by a glob.
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// Lowercase message naming the subject: `unknown key "evry", did you mean "every"?`.
    pub message: String,
    /// Extra lines printed under the message (a query with a caret under the column).
    pub detail: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col,
                self.message
            )?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\n{detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// `[daemon]`.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The SQLite file (default `$STATE_DIRECTORY/vigie.db`; for `/etc/vigie/vigie.toml` outside
    /// systemd, the unit's `/var/lib/vigie/vigie.db`; else `vigie.db` beside the config).
    pub database: PathBuf,
    /// Rule file globs, relative to the config's folder.
    pub rules: Vec<String>,
    /// The HTTP User-Agent.
    pub user_agent: String,
    /// `host:port` for /health and /metrics.
    pub listen: Option<String>,
    /// The listener's address as people's browsers reach it (`public_url`, behind a reverse
    /// proxy), the base of the one-click case links; default `http://{listen}`.
    pub public_url: Option<String>,
    /// How long posts and hits are kept.
    pub retention: Option<Duration>,
    /// How long a source may fail before a `source` alert.
    pub source_alert_after: Duration,
    /// Notifiers for `source` alerts.
    pub admin_notify: Vec<String>,
    /// `admin_notify` names with where each was written (byte offsets).
    pub admin_notify_at: Vec<(String, usize)>,
    /// Polls running at once.
    pub max_concurrent_polls: usize,
    /// Longest time one HTTP fetch may take, body included.
    pub http_timeout: Duration,
    /// The language of alert texts (`language`, default English).
    pub language: Language,
    /// The IANA zone of the times people read (`timezone`), if written: alerts then use it
    /// (else UTC, [`DaemonConfig::alert_zone`]), and query tables too (else the local zone of
    /// whoever runs the command).
    pub timezone: Option<chrono_tz::Tz>,
    /// Who answers for the brand (`brand_accounts`, SPEC §5.1): their posts are the brand's
    /// replies, never complaints.
    pub brand_accounts: Vec<BrandAccount>,
    /// Business hours (`hours`, in `timezone`; default: always open): the reply clock runs
    /// only while open.
    pub hours: crate::cases::Hours,
    /// Whole local days closed (`holidays`).
    pub holidays: Vec<chrono::NaiveDate>,
}

impl DaemonConfig {
    /// The reply clock: `hours` and `holidays` in `timezone` (SPEC §5.1).
    pub fn clock(&self) -> crate::cases::Clock {
        crate::cases::Clock::new(
            self.hours.clone(),
            self.holidays.iter().copied(),
            self.alert_zone(),
        )
    }

    /// The zone of the times in alerts: `timezone`, default UTC.
    pub fn alert_zone(&self) -> chrono_tz::Tz {
        self.timezone.unwrap_or(chrono_tz::UTC)
    }
}

/// The language alerts are written in (`[daemon] language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// `en`.
    #[default]
    English,
    /// `fr`.
    French,
}

impl Language {
    /// Every language, by its `language` value.
    pub const ALL: [(&'static str, Language); 2] =
        [("en", Language::English), ("fr", Language::French)];

    /// The `language` value (`en`, `fr`), also the BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::French => "fr",
        }
    }
}

/// One `[[source]]`.
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Unique name.
    pub name: String,
    /// Poll interval.
    pub every: Duration,
    /// Body cap per poll.
    pub max_bytes: u64,
    /// The kind, as written in the config (`rss`, `jsonl`…).
    pub kind: &'static str,
    /// The kind's own settings (`source::rss::RssSettings`…).
    pub settings: Settings,
    /// Byte offset of the table in the config file.
    pub at: usize,
    /// The `[daemon] brand_accounts` handles that apply to this source, as written: the source
    /// fetches their posts where it can (their replies answer cases, SPEC §5.1).
    pub brand_accounts: Vec<String>,
}

/// One `[[notifier]]`.
#[derive(Debug, Clone)]
pub struct NotifierSpec {
    /// Unique name.
    pub name: String,
    /// The kind, as written in the config (`email`, `slack`…).
    pub kind: &'static str,
    /// The kind's own settings (`notify::email::EmailSettings`…); secrets stay references
    /// until the notifier is built.
    pub settings: Settings,
    /// Byte offset of the table in the config file.
    pub at: usize,
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The main file.
    pub path: PathBuf,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// Sources, in file order.
    pub sources: Vec<SourceSpec>,
    /// Notifiers, in file order.
    pub notifiers: Vec<NotifierSpec>,
    /// Rules from every rule file, in file then table order.
    pub rules: Vec<Rule>,
    /// The rule files found by the globs, sorted.
    pub rule_files: Vec<PathBuf>,
    /// Every secret reference, with where it is written (`vigie check` resolves them).
    pub secrets: Vec<SecretSite>,
    /// Where each source and notifier table starts, by owner (`source "demo"`).
    pub tables: Vec<(String, Origin)>,
}

impl Config {
    /// What every rule matches, in order: the input of `RuleSet::compile`.
    pub fn rule_specs(&self) -> impl Iterator<Item = &crate::matcher::RuleSpec> {
        self.rules.iter().map(|r| &r.spec)
    }
}

/// Loads and validates `path` and its rule files, reading the process environment; `kinds` are
/// the source and notifier kinds it accepts.
pub fn load(path: &Path, kinds: &Kinds<'_>) -> Result<Config, Vec<ConfigError>> {
    load_with_env(path, &|k| std::env::var(k).ok(), kinds)
}

/// `load` with the environment as an argument.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    kinds: &Kinds<'_>,
) -> Result<Config, Vec<ConfigError>> {
    let whole = |message: String| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        col: 0,
        message,
        detail: None,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![whole(format!("cannot read the config file: {e}"))])?;
    let file = raw::File::new(path, text);
    let doc = file.parse().map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let main = validate::main(&file, doc.get_ref(), env, kinds, &mut errors);
    let (rules, rule_files) = rules::load(&file, &main, &mut errors);
    if !errors.is_empty() {
        // Whole-file errors (line 0) of a file come first, then by position.
        errors.sort_by(|a, b| {
            (&a.file, a.line, a.col, &a.message).cmp(&(&b.file, b.line, b.col, &b.message))
        });
        // A key read twice (by the generic checks and by its kind's) is reported once.
        errors.dedup();
        return Err(errors);
    }
    Ok(Config {
        path: path.to_path_buf(),
        daemon: main.daemon,
        sources: main.sources,
        notifiers: main.notifiers,
        rules,
        rule_files,
        secrets: main.secrets,
        tables: main.tables,
    })
}
