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
    let rules =
        RuleSet::compile(&config.rules).map_err(|e| Invalid(format!("{}: {e}", path.display())))?;
    let mut errors = Vec::new();
    let mut examples = 0;
    let mut found = Vec::new();
    let mut scratch = Default::default();
    for (i, spec) in config.rules.iter().enumerate() {
        let cases = spec
            .should_match
            .iter()
            .map(|e| (e, true))
            .chain(spec.should_not_match.iter().map(|e| (e, false)));
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
                        spec.name,
                        if want { " not" } else { "" }
                    ),
                ));
            }
        }
    }
    let problems = environment(&config, &|k| std::env::var(k).ok());
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
    for p in &problems {
        eprintln!("{}", warning(p));
    }
    if problems.is_empty() {
        println!("{}: ok", path.display());
    } else {
        let n = problems.len();
        println!(
            "{}: ok, {n} warning{} (an error with --strict)",
            path.display(),
            plural(n)
        );
    }
    let sources: Vec<String> = config
        .sources
        .iter()
        .map(|s| format!("{} ({})", s.name, s.kind.name()))
        .collect();
    let notifiers: Vec<String> = config
        .notifiers
        .iter()
        .map(|n| format!("{} ({})", n.name, n.kind.name()))
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
        if let Err(message) = source::build(spec) {
            problems.push(error(&table(&owner), format!("{owner}: {message}")));
        }
    }
    for spec in &config.notifiers {
        let owner = format!("notifier \"{}\"", spec.name);
        if unreadable.contains(owner.as_str()) {
            continue;
        }
        let locale = notify::render::Locale::new(config.daemon.language, config.daemon.timezone);
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
