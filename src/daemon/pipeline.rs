//! `Pipeline::build(&Config)`: everything the daemon runs, built before it runs.
//!
//! Rules are compiled, sources built and notifiers built (secrets read) here, so that startup
//! and (later) SIGHUP reload share one path, and a config that cannot be built is refused
//! before anything changes (Vector's `ConfigBuilder → topology`). Polling, storing and scheduling are other modules' jobs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, SourceSpec};
use crate::matcher::{CompileError, RuleSet};
use crate::notify::{self, Notifier};
use crate::source::{self, Source};

/// One source, ready to poll.
pub struct SourceEntry {
    /// Its configured name.
    pub name: String,
    /// Its kind, as written in the config (`rss`, `jsonl`…).
    pub kind: &'static str,
    /// Poll interval.
    pub every: Duration,
    /// The source itself.
    pub source: Box<dyn Source>,
}

impl SourceEntry {
    /// Builds one source: what `vigie preview` needs, without the other sources' or the
    /// notifiers' secrets.
    pub fn build(spec: &SourceSpec) -> Result<SourceEntry, BuildError> {
        let source = source::build(spec).map_err(|message| BuildError::Source {
            name: spec.name.clone(),
            message,
        })?;
        Ok(SourceEntry {
            name: spec.name.clone(),
            kind: spec.kind.name(),
            every: spec.every,
            source,
        })
    }
}

/// The compiled rules, the built sources and notifiers.
pub struct Pipeline {
    /// Every rule, compiled together.
    pub rules: Arc<RuleSet>,
    /// Every source, in config order.
    pub sources: Vec<SourceEntry>,
    /// Every notifier, by name, with its secrets read.
    pub notifiers: HashMap<String, Arc<dyn Notifier>>,
}

/// The config is valid but cannot be turned into a running pipeline.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A rule does not compile.
    #[error(transparent)]
    Rules(#[from] CompileError),
    /// A notifier cannot be built (a secret cannot be read, an address is invalid).
    #[error(transparent)]
    Notifier(#[from] notify::BuildError),
    /// A source cannot be built.
    #[error("source \"{name}\": {message}")]
    Source {
        /// The source's name.
        name: String,
        /// Why.
        message: String,
    },
}

impl Pipeline {
    /// Compiles the rules and builds every source and notifier, reading secrets from the
    /// process environment.
    pub fn build(config: &Config) -> Result<Pipeline, BuildError> {
        Pipeline::build_with_env(config, &|k| std::env::var(k).ok())
    }

    /// `build` with the environment as an argument.
    pub fn build_with_env(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Pipeline, BuildError> {
        let rules = Arc::new(RuleSet::compile(&config.rules)?);
        let sources = config
            .sources
            .iter()
            .map(SourceEntry::build)
            .collect::<Result<Vec<_>, _>>()?;
        let mut notifiers = HashMap::new();
        let locale =
            notify::render::Locale::new(config.daemon.language, config.daemon.alert_zone());
        for spec in &config.notifiers {
            let n: Arc<dyn Notifier> = Arc::from(notify::build(spec, &locale, env)?);
            notifiers.insert(spec.name.clone(), n);
        }
        Ok(Pipeline {
            rules,
            sources,
            notifiers,
        })
    }
}
