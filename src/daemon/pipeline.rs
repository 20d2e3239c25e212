//! `Pipeline::build(&Config)`: everything the daemon runs, built before it runs.
//!
//! Rules are compiled and sources built here, so that startup and (later) SIGHUP reload share
//! one path, and a config that cannot be built is refused before anything changes (Vector's
//! `ConfigBuilder → topology`). Polling, storing and scheduling are other modules' jobs.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::matcher::{CompileError, RuleSet};
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

/// The compiled rules and the built sources.
pub struct Pipeline {
    /// Every rule, compiled together.
    pub rules: Arc<RuleSet>,
    /// Every source, in config order.
    pub sources: Vec<SourceEntry>,
}

/// The config is valid but cannot be turned into a running pipeline.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A rule does not compile.
    #[error(transparent)]
    Rules(#[from] CompileError),
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
    /// Compiles the rules and builds every source.
    pub fn build(config: &Config) -> Result<Pipeline, BuildError> {
        let rules = Arc::new(RuleSet::compile(&config.rules)?);
        let mut sources = Vec::with_capacity(config.sources.len());
        for spec in &config.sources {
            let source = source::build(spec).map_err(|message| BuildError::Source {
                name: spec.name.clone(),
                message,
            })?;
            sources.push(SourceEntry {
                name: spec.name.clone(),
                kind: spec.kind.name(),
                every: spec.every,
                source,
            });
        }
        Ok(Pipeline { rules, sources })
    }
}
