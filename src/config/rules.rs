//! Rule files: globs, `[defaults]`, `[[rule]]` → `Rule` (SPEC §4).
//!
//! The globs of `[daemon] rules` are expanded against the config's folder and sorted; each file
//! is read like the main file (`raw`), `[defaults]` fill what a rule leaves out, and queries and
//! regexes are parsed here so that their errors point at the character inside the rule file.
//! What a rule matches is the matcher's own type (`matcher::RuleSpec`, built here); how it
//! alerts stays here. Running a rule's examples needs the compiled matcher, so it is
//! `vigie check`'s job.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::de::DeTable;

use super::raw::{array_of_tables, At, File, Reader};
use super::validate::Main;
use super::ConfigError;
use crate::matcher::query::Query;
use crate::matcher::RuleSpec;

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

/// One validated rule: what it matches (the matcher's [`RuleSpec`]) and how it alerts.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name, query, regexes, sources and excluded authors: what `RuleSet::compile` takes.
    pub spec: RuleSpec,
    /// The alert kind, if any.
    pub alert: Option<AlertSpec>,
    /// Counting window.
    pub window: Duration,
    /// Quiet period after a threshold or spike alert.
    pub cooldown: Duration,
    /// Notifier names.
    pub notify: Vec<String>,
    /// The reply promise (`reply_within`, SPEC §5.1): each thread the rule hits opens a case
    /// that must be answered within this much open time.
    pub reply_within: Option<Duration>,
    /// Where a breached case goes (`escalate`); empty: to `notify`.
    pub escalate: Vec<String>,
    /// Texts the rule must match, with where each was written.
    pub should_match: Vec<(String, Origin)>,
    /// Texts the rule must not match, with where each was written.
    pub should_not_match: Vec<(String, Origin)>,
    /// Where the `[[rule]]` table starts.
    pub origin: Origin,
}

const RULE_KEYS: &[&str] = &[
    "name",
    "query",
    "regex",
    "sources",
    "exclude_authors",
    "alert",
    "window",
    "cooldown",
    "notify",
    "reply_within",
    "escalate",
    "should_match",
    "should_not_match",
];
const DEFAULT_KEYS: &[&str] = &[
    "notify",
    "escalate",
    "window",
    "cooldown",
    "alert",
    "sources",
    "exclude_authors",
];
const ALERT_KEYS: &[&str] = &[
    "each",
    "min_followers",
    "threshold",
    "spike",
    "min_count",
    "p",
    "baseline",
    "learn",
];

/// What `[defaults]` and a rule may both say.
#[derive(Default, Clone)]
struct Shared {
    notify: Option<Vec<At<String>>>,
    escalate: Option<Vec<At<String>>>,
    window: Option<Duration>,
    cooldown: Option<Duration>,
    alert: Option<Option<AlertSpec>>,
    sources: Option<Vec<String>>,
    exclude_authors: Option<Vec<String>>,
}

fn shared(r: &mut Reader<'_, '_, '_>) -> Shared {
    Shared {
        notify: r.strings("notify"),
        escalate: r.strings("escalate"),
        window: r.duration("window").map(|(d, _)| d),
        cooldown: r.duration("cooldown").map(|(d, _)| d),
        alert: r.table("alert").map(|(t, at)| alert(r, t, at)),
        sources: r.strings("sources").map(|v| {
            let mut out = Vec::new();
            for (g, span) in v {
                if let Err(e) = globset::Glob::new(&g) {
                    r.error(span.start, format!("sources: invalid glob \"{g}\": {e}"));
                }
                out.push(g);
            }
            out
        }),
        exclude_authors: r
            .strings("exclude_authors")
            .map(|v| v.into_iter().map(|(s, _)| s).collect()),
    }
}

fn alert(r: &mut Reader<'_, '_, '_>, t: &DeTable<'_>, at: usize) -> Option<AlertSpec> {
    let file = r.file();
    let mut a = Reader::new(file, t, at, r.errors);
    let each = a.bool("each");
    let min_followers = a.u64("min_followers").map(|(n, _)| n);
    let threshold = a.u64("threshold");
    let spike = a.f64("spike");
    let min_count = a.u64("min_count").map_or(5, |(n, _)| n);
    let p = a.f64("p").map_or(0.001, |(p, _)| p);
    let baseline = a
        .duration("baseline")
        .map_or(Duration::from_secs(7 * 86_400), |(d, _)| d);
    let learn = a
        .duration("learn")
        .map_or(Duration::from_secs(86_400), |(d, _)| d);
    let kinds = [each.is_some(), threshold.is_some(), spike.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        a.error(
            at,
            "alert needs exactly one of each = true, threshold = N, spike = X",
        );
    }
    if let Some((x, span)) = &spike {
        if *x <= 1.0 {
            a.error(
                span.start,
                "\"spike\" must be greater than 1 (a ratio over the usual count)",
            );
        }
    }
    if !(0.0..1.0).contains(&p) || p == 0.0 {
        a.error(at, "\"p\" must be between 0 and 1");
    }
    a.finish(ALERT_KEYS);
    if let Some((true, _)) = each {
        return Some(AlertSpec::Each { min_followers });
    }
    if let Some((count, _)) = threshold {
        return Some(AlertSpec::Threshold { count });
    }
    spike.map(|(factor, _)| AlertSpec::Spike {
        factor,
        min_count,
        p,
        baseline,
        learn,
    })
}

/// The position, in the file, of the character at 1-based `column` of a string value written
/// at `span`: exact for single-line strings without escapes, else the string's start.
pub(super) fn column_in_file(
    file: &File,
    span: &std::ops::Range<usize>,
    value: &str,
    column: usize,
) -> usize {
    let raw = file.text.get(span.clone()).unwrap_or("");
    let quote = raw.chars().next().unwrap_or('"');
    if raw.len() == value.len() + 2
        && raw[1..raw.len() - 1] == *value
        && (quote == '\'' || quote == '"')
    {
        let offset: usize = value
            .chars()
            .take(column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        span.start + 1 + offset
    } else {
        span.start
    }
}

fn origin(file: &File, at: usize) -> Origin {
    let (line, col) = file.position(at);
    Origin {
        file: file.path.clone(),
        line,
        col,
    }
}

/// Expands the rule globs and reads every rule file.
pub fn load(
    main_file: &File,
    main: &Main,
    errors: &mut Vec<ConfigError>,
) -> (Vec<Rule>, Vec<PathBuf>) {
    let files = rule_files(main_file, &main.daemon.rules, errors);
    let mut names = Names {
        notifiers: main.notifiers.iter().map(|n| n.name.as_str()).collect(),
        rules: HashMap::new(),
    };
    let mut rules = Vec::new();
    for path in &files {
        if let Some(file) = read(path, errors) {
            read_rules(&file, &mut names, &mut rules, errors);
        }
    }
    (rules, files)
}

/// The names a rule may refer to, and those of the rules read so far (with where each was
/// written), which no later rule may take.
struct Names<'m> {
    notifiers: HashSet<&'m str>,
    rules: HashMap<String, Origin>,
}

impl Names<'_> {
    /// Reports each name of `notify` (or `escalate`: `key`) that names no notifier.
    fn check_notify(&self, r: &mut Reader<'_, '_, '_>, key: &str, notify: &[At<String>]) {
        for (n, span) in notify {
            if !self.notifiers.contains(n.as_str()) {
                r.error(span.start, format!("{key}: no notifier named \"{n}\""));
            }
        }
    }

    /// Takes a rule's name, or reports where a rule first took it.
    fn claim(&mut self, r: &mut Reader<'_, '_, '_>, (n, span): &At<String>) {
        match self.rules.get(n) {
            Some(first) => r.error(
                span.start,
                format!(
                    "duplicate rule name \"{n}\" (first at {}:{}:{})",
                    first.file.display(),
                    first.line,
                    first.col
                ),
            ),
            None => {
                self.rules.insert(n.clone(), origin(r.file(), span.start));
            }
        }
    }
}

/// The files that `[daemon] rules` globs name, relative to the config's folder: sorted, each
/// once. A glob that is invalid or matches no file is an error.
fn rule_files(main_file: &File, globs: &[String], errors: &mut Vec<ConfigError>) -> Vec<PathBuf> {
    let dir = main_file
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut files = Vec::new();
    for pattern in globs {
        let full = dir.join(pattern);
        let found: Vec<PathBuf> = match glob::glob(&full.to_string_lossy()) {
            Ok(paths) => paths.flatten().collect(),
            Err(e) => {
                errors.push(main_file.error(0, format!("rules: invalid glob \"{pattern}\": {e}")));
                continue;
            }
        };
        if found.is_empty() {
            errors.push(ConfigError {
                file: main_file.path.clone(),
                line: 0,
                col: 0,
                message: format!("rules: \"{pattern}\" matches no file"),
                detail: None,
            });
        }
        files.extend(found);
    }
    files.sort();
    files.dedup();
    files
}

/// A rule file's text, or an error for the file as a whole.
fn read(path: &Path, errors: &mut Vec<ConfigError>) -> Option<File> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(File::new(path, text)),
        Err(e) => {
            errors.push(ConfigError {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
                message: format!("cannot read the rule file: {e}"),
                detail: None,
            });
            None
        }
    }
}

/// Every `[[rule]]` of one file, with its `[defaults]` filled in, onto `rules`.
fn read_rules(
    file: &File,
    names: &mut Names<'_>,
    rules: &mut Vec<Rule>,
    errors: &mut Vec<ConfigError>,
) {
    let doc = match file.parse() {
        Ok(d) => d,
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    let doc = doc.get_ref();
    let defaults = defaults(file, doc, errors);
    for (t, at) in array_of_tables(file, doc, "rule", errors) {
        rules.extend(rule(file, t, at, &defaults, names, errors));
    }
}

/// The file's `[defaults]` (empty when it has none); checks that it holds nothing else but
/// `[[rule]]` tables.
fn defaults(file: &File, doc: &DeTable<'_>, errors: &mut Vec<ConfigError>) -> Shared {
    let defaults_table = {
        let mut top = Reader::new(file, doc, 0, errors);
        let t = top.table("defaults");
        top.raw("rule");
        top.finish(&["defaults", "rule"]);
        t
    };
    defaults_table.map_or_else(Shared::default, |(t, at)| {
        let mut r = Reader::new(file, t, at, errors);
        let d = shared(&mut r);
        r.finish(DEFAULT_KEYS);
        d
    })
}

/// One `[[rule]]` table at `at`, or `None` when it has no name (the error is reported).
fn rule(
    file: &File,
    t: &DeTable<'_>,
    at: usize,
    defaults: &Shared,
    names: &mut Names<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<Rule> {
    let mut r = Reader::new(file, t, at, errors);
    let name = r.required("name", "[[rule]]");
    let query = query(&mut r);
    let regex = regexes(&mut r);
    if !r.has("query") && !r.has("regex") {
        r.error(at, "a rule needs a query, a regex, or both");
    }
    let own = shared(&mut r);
    let should_match = examples(&mut r, "should_match");
    let should_not_match = examples(&mut r, "should_not_match");
    let notify = own
        .notify
        .clone()
        .or(defaults.notify.clone())
        .unwrap_or_default();
    names.check_notify(&mut r, "notify", &notify);
    let escalate = own
        .escalate
        .clone()
        .or(defaults.escalate.clone())
        .unwrap_or_default();
    names.check_notify(&mut r, "escalate", &escalate);
    let reply_within = reply_within(&mut r);
    if let Some(name) = &name {
        names.claim(&mut r, name);
    }
    r.finish(RULE_KEYS);
    let (name, _) = name?;
    Some(Rule {
        spec: RuleSpec {
            name,
            query,
            regex,
            sources: own.sources.or(defaults.sources.clone()).unwrap_or_default(),
            exclude_authors: own
                .exclude_authors
                .or(defaults.exclude_authors.clone())
                .unwrap_or_default(),
        },
        alert: own.alert.or(defaults.alert.clone()).flatten(),
        window: own
            .window
            .or(defaults.window)
            .unwrap_or(Duration::from_secs(15 * 60)),
        cooldown: own
            .cooldown
            .or(defaults.cooldown)
            .unwrap_or(Duration::from_secs(3600)),
        notify: notify.into_iter().map(|(n, _)| n).collect(),
        reply_within,
        escalate: escalate.into_iter().map(|(n, _)| n).collect(),
        should_match,
        should_not_match,
        origin: origin(file, at),
    })
}

/// The rule's `reply_within`: a duration of at least one second.
fn reply_within(r: &mut Reader<'_, '_, '_>) -> Option<Duration> {
    let (d, span) = r.duration("reply_within")?;
    if d < Duration::from_secs(1) {
        r.error(
            span.start,
            "\"reply_within\" must be at least one second (\"30m\": the time the brand promises to answer in)",
        );
        return None;
    }
    Some(d)
}

/// The rule's `query`, parsed; an error points at the character inside the rule file, with
/// the query and a caret under it.
fn query(r: &mut Reader<'_, '_, '_>) -> Option<Query> {
    let file = r.file();
    r.string("query")
        .and_then(|(q, span)| match Query::parse(&q) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                let pos = column_in_file(file, &span, &q, e.column);
                let mut err = file.error(pos, format!("query: {e}"));
                err.detail = Some(e.caret(&q));
                r.errors.push(err);
                None
            }
        })
}

/// The rule's `regex` list, compiled; each invalid one is reported with the last line of the
/// regex crate's message.
fn regexes(r: &mut Reader<'_, '_, '_>) -> Vec<Regex> {
    r.strings("regex")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(src, span)| match Regex::new(&src) {
            Ok(re) => Some(re),
            Err(e) => {
                let msg = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .to_string();
                r.error(span.start, format!("regex: {msg}"));
                None
            }
        })
        .collect()
}

/// `should_match` or `should_not_match`: the texts, each with where it was written.
fn examples(r: &mut Reader<'_, '_, '_>, key: &str) -> Vec<(String, Origin)> {
    let file = r.file();
    r.strings(key)
        .unwrap_or_default()
        .into_iter()
        .map(|(s, span)| (s, origin(file, span.start)))
        .collect()
}
