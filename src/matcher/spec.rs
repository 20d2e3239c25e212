//! `RuleSpec`: what the matcher needs to know of a rule (its name and what it matches).
//!
//! The matcher sits below the config (`config → matcher`): `config::rules` reads a `[[rule]]`
//! table, builds this part of it, and keeps the rest (alert, window, cooldown, notifiers,
//! examples, where it was written) in its own `config::Rule` around it. Tests, benches and the
//! fuzz targets build a `RuleSpec` directly with [`RuleSpec::with_query`].

use regex::Regex;

use super::query::{Query, QueryError};

/// What one rule matches, as `RuleSet::compile` takes it.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Unique across all rule files.
    pub name: String,
    /// The parsed query, if the rule has one.
    pub query: Option<Query>,
    /// Regular expressions run on the NFKC text, ANDed with the query.
    pub regex: Vec<Regex>,
    /// Source-name globs; empty means every source.
    pub sources: Vec<String>,
    /// Authors whose posts never hit this rule (compared case-insensitively, leading `@` ignored).
    pub exclude_authors: Vec<String>,
}

impl RuleSpec {
    /// A rule with a query and nothing else, for tests and benchmarks.
    pub fn with_query(name: &str, query: &str) -> Result<RuleSpec, QueryError> {
        Ok(RuleSpec {
            name: name.to_string(),
            query: Some(Query::parse(query)?),
            regex: Vec::new(),
            sources: Vec::new(),
            exclude_authors: Vec::new(),
        })
    }
}
