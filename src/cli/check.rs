//! `vigie check`: load the config and the rules, run every rule's examples, print a summary.
//!
//! The config module reports syntax and validation errors; this module adds the one check that
//! needs the compiled matcher: each rule's `should_match` / `should_not_match` examples. It
//! never touches the network or the database.

use std::path::Path;

use anyhow::Result;

use super::{load, Invalid};
use crate::config::{ConfigError, Origin};
use crate::matcher::RuleSet;
use crate::post::Post;

/// Runs `vigie check`.
pub fn run(path: &Path) -> Result<()> {
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
    if !errors.is_empty() {
        let n = errors.len();
        let mut lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        lines.push(format!(
            "vigie: {n} rule example{} failed",
            if n == 1 { "" } else { "s" }
        ));
        return Err(Invalid(lines.join("\n")).into());
    }
    println!("{}: ok", path.display());
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
