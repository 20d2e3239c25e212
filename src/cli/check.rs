//! `vigie check`: load the config and the rules, run every rule's examples, resolve the
//! secrets, print a summary.
//!
//! The config module reports syntax and validation errors; this module adds what needs the
//! compiled matcher (each rule's `should_match` / `should_not_match` examples) and what only
//! this machine's environment can tell: every secret is resolved by the code `vigie run` uses
//! (`SecretRef::resolve`), every source and notifier is built by `source::build` /
//! `notify::build` (a malformed `whsec_` key, a kind this version cannot poll). Those are
//! warnings, or errors with `--strict` (what `ExecStartPre=` runs, in the daemon's own
//! environment). Secret values are never printed. It never touches the network or the
//! database.
//!
//! It also warns about rules that are valid but cannot do what their author meant
//! ([`rule_warnings`]): characters a term drops (`"train 🚆"` is `train`), `NEAR/0`, a query that
//! is only a negation, a zero window or threshold, `sources` globs that match no configured
//! source. Those stay warnings with `--strict`: they never change the exit code.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Result;
use clap::Args;

use super::{load, Invalid};
use crate::config::{Config, ConfigError, Origin};
use crate::matcher::RuleSet;
use crate::notify;
use crate::post::Post;
use crate::source;

/// `vigie check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Fail (exit 2) also on what `vigie run` would refuse in this environment: a secret that
    /// cannot be read (`${VAR}` unset, a missing *_file, a credential without
    /// $CREDENTIALS_DIRECTORY), a malformed whsec_ key, a source kind this version cannot poll.
    /// Without it these are warnings. For systemd's ExecStartPre=.
    #[arg(long)]
    pub strict: bool,
}

/// Runs `vigie check`.
pub fn run(path: &Path, args: CheckArgs) -> Result<()> {
    let config = load(path)?;
    let rules = RuleSet::compile(config.rule_specs())
        .map_err(|e| Invalid(format!("{}: {e}", path.display())))?;
    let mut errors = Vec::new();
    let mut examples = 0;
    let mut found = Vec::new();
    let mut scratch = Default::default();
    for (i, rule) in config.rules.iter().enumerate() {
        let cases = rule
            .should_match
            .iter()
            .map(|e| (e, true))
            .chain(rule.should_not_match.iter().map(|e| (e, false)));
        for ((text, origin), want) in cases {
            examples += 1;
            rules.matched_rules(&Post::from_text(text.as_str()), &mut scratch, &mut found);
            if found.contains(&i) != want {
                let verb = if want {
                    "should match"
                } else {
                    "should not match"
                };
                errors.push(error(
                    origin,
                    format!(
                        "rule \"{}\" {verb} {text:?}, but it does{}",
                        rule.spec.name,
                        if want { " not" } else { "" }
                    ),
                ));
            }
        }
    }
    let problems = environment(&config, &|k| std::env::var(k).ok());
    let lints = rule_warnings(&config);
    let strict = if args.strict { &problems[..] } else { &[] };
    if !errors.is_empty() || !strict.is_empty() {
        let mut lines: Vec<String> = errors.iter().chain(strict).map(|e| e.to_string()).collect();
        if !errors.is_empty() {
            let n = errors.len();
            lines.push(format!("vigie: {n} rule example{} failed", plural(n)));
        }
        if !strict.is_empty() {
            let n = strict.len();
            lines.push(format!(
                "vigie: {n} error{} in {} (--strict: `vigie run` would refuse to start here)",
                plural(n),
                path.display()
            ));
        }
        return Err(Invalid(lines.join("\n")).into());
    }
    let mut warnings: Vec<&ConfigError> = problems.iter().chain(&lints).collect();
    warnings.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    for p in &warnings {
        eprintln!("{}", warning(p));
    }
    let n = warnings.len();
    let status = match (problems.len(), lints.len()) {
        (0, 0) => "ok".to_string(),
        (0, _) => format!("ok, {n} warning{}", plural(n)),
        (p, 0) => format!("ok, {p} warning{} (an error with --strict)", plural(p)),
        (p, _) => format!("ok, {n} warnings ({p} an error with --strict)"),
    };
    println!("{}: {status}", path.display());
    let sources: Vec<String> = config
        .sources
        .iter()
        .map(|s| format!("{} ({})", s.name, s.kind))
        .collect();
    let notifiers: Vec<String> = config
        .notifiers
        .iter()
        .map(|n| format!("{} ({})", n.name, n.kind))
        .collect();
    println!(
        "  {} source{}: {}",
        sources.len(),
        plural(sources.len()),
        sources.join(", ")
    );
    println!(
        "  {} rule{} in {} file{}, {} example{} checked",
        config.rules.len(),
        plural(config.rules.len()),
        config.rule_files.len(),
        plural(config.rule_files.len()),
        examples,
        plural(examples)
    );
    println!(
        "  {} notifier{}: {}",
        notifiers.len(),
        plural(notifiers.len()),
        notifiers.join(", ")
    );
    Ok(())
}

/// What `vigie run` would refuse in this environment although the files are valid: secrets
/// that cannot be read, sources and notifiers that cannot be built.
fn environment(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    let mut unreadable = HashSet::new();
    for site in &config.secrets {
        if let Err(e) = site.reference.resolve(env) {
            unreadable.insert(site.owner.as_str());
            problems.push(error(
                &site.origin,
                format!("{}: secret \"{}\": {e}", site.owner, site.key),
            ));
        }
    }
    let table = |owner: &str| {
        config
            .tables
            .iter()
            .find(|(o, _)| o == owner)
            .map(|(_, origin)| origin.clone())
            .unwrap_or_else(|| Origin {
                file: config.path.clone(),
                ..Origin::default()
            })
    };
    for spec in &config.sources {
        let owner = format!("source \"{}\"", spec.name);
        if let Err(message) = source::build(spec, env) {
            problems.push(error(&table(&owner), format!("{owner}: {message}")));
        }
    }
    for spec in &config.notifiers {
        let owner = format!("notifier \"{}\"", spec.name);
        if unreadable.contains(owner.as_str()) {
            continue;
        }
        let locale =
            notify::render::Locale::new(config.daemon.language, config.daemon.alert_zone());
        if let Err(e) = notify::build(spec, &locale, env) {
            // Pointed at the secret the message names (`"secret" must be "whsec_"…`), if any.
            let at = config
                .secrets
                .iter()
                .find(|s| s.owner == owner && e.message.contains(&format!("\"{}\"", s.key)))
                .map_or_else(|| table(&owner), |s| s.origin.clone());
            problems.push(error(&at, e.to_string()));
        }
    }
    problems.sort_by_key(|p| (p.line, p.col));
    problems
}

/// Rules that are valid but cannot do what their author meant. Never errors.
fn rule_warnings(config: &Config) -> Vec<ConfigError> {
    use crate::config::AlertSpec;
    use crate::matcher::query::Expr;
    let mut out = Vec::new();
    for rule in &config.rules {
        let mut warn = |message: String| {
            out.push(error(
                &rule.origin,
                format!("rule \"{}\": {message}", rule.spec.name),
            ));
        };
        if let Some(q) = &rule.spec.query {
            let mut terms = Vec::new();
            let mut near0 = false;
            walk(&q.expr, &mut |e| match e {
                Expr::Term(t) => terms.push(t.raw.clone()),
                Expr::Near(_, _, 0) => near0 = true,
                _ => {}
            });
            for raw in terms {
                let dropped: String = raw.chars().filter(|&c| is_dropped(c)).collect();
                if !dropped.is_empty() {
                    warn(format!(
                        "{raw}: {dropped:?} is not part of any word and is ignored (words are letters and digits)"
                    ));
                }
            }
            if near0 {
                warn("NEAR/0 holds only where both sides are the same word; NEAR/1 means next to each other".into());
            }
            if only_negation(&q.expr) {
                warn(format!(
                    "the query {:?} is only a negation: it matches every post that lacks its terms",
                    q.text
                ));
            }
        }
        if rule.window.is_zero() {
            warn(
                "window = \"0s\": no hit is ever counted in the window, so it never alerts".into(),
            );
        }
        if let Some(AlertSpec::Threshold { count: 0 }) = rule.alert {
            warn("threshold = 0 is reached without any hit; 1 alerts on the first".into());
        }
        // A literal name that names no source is a typo; a glob may wait for sources to come,
        // unless no glob of the rule matches any source: then the rule never fires.
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        let mut any = rule.spec.sources.is_empty();
        for glob in &rule.spec.sources {
            let Ok(m) = globset::Glob::new(glob).map(|g| g.compile_matcher()) else {
                continue;
            };
            let matched = names.iter().any(|n| m.is_match(n));
            any |= matched;
            if !matched && !glob.contains(['*', '?', '[']) {
                let near = names
                    .iter()
                    .min_by_key(|n| strsim::levenshtein(n, glob))
                    .filter(|n| strsim::levenshtein(n, glob) <= 3)
                    .map_or(String::new(), |n| format!(", did you mean \"{n}\"?"));
                warn(format!("sources: no source named \"{glob}\"{near}"));
            }
        }
        if !any {
            warn(format!(
                "sources: {:?} match no configured source ({}), so the rule never fires",
                rule.spec.sources,
                names.join(", ")
            ));
        }
    }
    out
}

/// Calls `f` on `e` and every expression inside it.
fn walk(e: &crate::matcher::query::Expr, f: &mut dyn FnMut(&crate::matcher::query::Expr)) {
    use crate::matcher::query::Expr;
    f(e);
    match e {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| walk(p, f)),
        Expr::Not(inner) => walk(inner, f),
        Expr::Near(a, b, _) => {
            walk(a, f);
            walk(b, f);
        }
        Expr::Term(_) => {}
    }
}

/// Whether a query holds only negations (`NOT x`, `-a -b`).
fn only_negation(e: &crate::matcher::query::Expr) -> bool {
    use crate::matcher::query::Expr;
    match e {
        Expr::Not(_) => true,
        Expr::And(parts) => parts.iter().all(only_negation),
        _ => false,
    }
}

/// A character of a query term that matching drops: not a letter, digit or combining mark,
/// not white space, and not the punctuation that writes the query (quotes, `#`, `@`, `*`) or
/// separates words as the author expects (apostrophes, hyphens).
fn is_dropped(c: char) -> bool {
    !(c.is_alphanumeric()
        || c.is_whitespace()
        || c.is_ascii_punctuation()
        || unicode_normalization::char::is_combining_mark(c)
        || matches!(c, '’' | '‘' | '«' | '»' | '“' | '”' | '–' | '—' | '…' | '·'))
}

/// `file:line:col: warning: message`.
fn warning(e: &ConfigError) -> String {
    if e.line == 0 {
        format!("{}: warning: {}", e.file.display(), e.message)
    } else {
        format!(
            "{}:{}:{}: warning: {}",
            e.file.display(),
            e.line,
            e.col,
            e.message
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn error(origin: &Origin, message: String) -> ConfigError {
    ConfigError {
        file: origin.file.clone(),
        line: origin.line,
        col: origin.col,
        message,
        detail: None,
    }
}
