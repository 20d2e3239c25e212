//! Rule files: globs, `[defaults]`, `[[rule]]` → `RuleSpec` (SPEC §4).

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use crate::matcher::query::Query;

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// The rule file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// How a rule alerts (SPEC §5).
#[derive(Debug, Clone, PartialEq)]
pub enum AlertSpec {
    /// Every hit, at once.
    Each {
        /// Only authors with at least this many followers.
        min_followers: Option<u64>,
    },
    /// The count in the sliding window reaches `count`.
    Threshold {
        /// N.
        count: u64,
    },
    /// The window's count is `factor`× the usual, at least `min_count`, with Poisson tail below `p`.
    Spike {
        /// Ratio over the baseline.
        factor: f64,
        /// Floor on the window count.
        min_count: u64,
        /// Poisson tail probability bar.
        p: f64,
        /// Trailing period for the baseline.
        baseline: Duration,
        /// History needed before the first spike alert.
        learn: Duration,
    },
}

/// One validated rule.
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
    /// The alert kind, if any.
    pub alert: Option<AlertSpec>,
    /// Counting window.
    pub window: Duration,
    /// Quiet period after a threshold or spike alert.
    pub cooldown: Duration,
    /// Notifier names.
    pub notify: Vec<String>,
    /// Texts the rule must match, with where each was written.
    pub should_match: Vec<(String, Origin)>,
    /// Texts the rule must not match, with where each was written.
    pub should_not_match: Vec<(String, Origin)>,
    /// Where the `[[rule]]` table starts.
    pub origin: Origin,
}

impl RuleSpec {
    /// A rule with a query and nothing else, for tests and benchmarks.
    pub fn with_query(
        name: &str,
        query: &str,
    ) -> Result<RuleSpec, crate::matcher::query::QueryError> {
        Ok(RuleSpec {
            name: name.to_string(),
            query: Some(Query::parse(query)?),
            regex: Vec::new(),
            sources: Vec::new(),
            exclude_authors: Vec::new(),
            alert: None,
            window: Duration::from_secs(15 * 60),
            cooldown: Duration::from_secs(3600),
            notify: Vec::new(),
            should_match: Vec::new(),
            should_not_match: Vec::new(),
            origin: Origin::default(),
        })
    }
}
