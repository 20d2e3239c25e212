//! `Pipeline::build(&Config)`: everything the daemon runs, built before it runs.
//!
//! Rules are compiled, sources built and notifiers built (secrets read) here, so that startup
//! and (later) SIGHUP reload share one path, and a config that cannot be built is refused
//! before anything changes (Vector's `ConfigBuilder → topology`). Polling, storing and scheduling are other modules' jobs.
//!
//! [`kinds`] hands the config the source and notifier kinds (`source::KINDS`, `notify::KINDS`):
//! this is the one place above both that assembles them, so `config` stays below them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, Kinds, SourceSpec};
use crate::matcher::{CompileError, RuleSet};
use crate::notify::{self, Notifier};
use crate::source::{self, Source};

/// The source and notifier kinds this build knows, for `config::load`.
pub fn kinds() -> Kinds<'static> {
    Kinds {
        sources: source::DEFS,
        notifiers: notify::DEFS,
    }
}

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
    pub fn build(
        spec: &SourceSpec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SourceEntry, BuildError> {
        let source = source::build(spec, env).map_err(|message| BuildError::Source {
            name: spec.name.clone(),
            message,
        })?;
        Ok(SourceEntry {
            name: spec.name.clone(),
            kind: spec.kind,
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
        let rules = Arc::new(RuleSet::compile(config.rule_specs())?);
        let sources = config
            .sources
            .iter()
            .map(|spec| SourceEntry::build(spec, env))
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

#[cfg(test)]
mod tests {
    // Moved from `config::values`, where the kinds are no longer visible.
    /// A minimal valid table for each kind, without its `[[…]]` header, `name` and `kind`.
    fn base(kind: &str, key: &str) -> &'static str {
        match kind {
            "rss" => "url = \"https://x.org/f\"",
            "jsonl" => "path = \"p.jsonl\"",
            "mastodon" => "instance = \"https://m.social\"",
            "bluesky" if ["endpoint", "langs"].contains(&key) => "mode = \"jetstream\"",
            "bluesky" => "mode = \"search\"\nquery = \"q\"",
            "reddit" => "subreddits = [\"france\"]",
            "hackernews" => "query = \"q\"",
            "discourse" => "url = \"https://f.org\"",
            "x" => "query = \"q\"\nbearer_token = \"${T}\"\nmax_posts_per_day = 10",
            "facebook" => "page_id = \"1\"\naccess_token = \"${T}\"",
            "json" => "url = \"https://x.org\"\nitems = \"$[*]\"\nfields = { text = \"/t\" }",
            "html" => "url = \"https://x.org\"\nitem = \"p\"\nselect = { text = \"p\" }",
            "email" => "smtp_url = \"smtp://h\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]",
            "console" => "",
            _ => "url = \"https://h.org/x\"",
        }
    }

    /// Every key of every kind, set to `true` (or a string, for the one boolean key), is
    /// refused at its line.
    #[test]
    fn every_key_of_every_kind_is_type_checked() {
        use crate::config::kind::{NOTIFIER_COMMON, SOURCE_COMMON};
        let all = super::kinds();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        let tables = [
            ("source", all.sources, SOURCE_COMMON),
            ("notifier", all.notifiers, NOTIFIER_COMMON),
        ];
        let mut checked = 0;
        for (table, kinds, common) in tables {
            for kind in kinds {
                let keys = common
                    .iter()
                    .filter(|k| **k != "kind")
                    .map(|k| k.to_string())
                    .chain(kind.keys());
                for key in keys {
                    let base: String = base(kind.name, &key)
                        .lines()
                        .filter(|l| !l.starts_with(&format!("{key} ")))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    let name = if key == "name" { "" } else { "name = \"n\"\n" };
                    // The one boolean key (jsonl's demo-only `shift_to_now`) gets a string.
                    let wrong = if key == "shift_to_now" {
                        "\"yes\""
                    } else {
                        "true"
                    };
                    let text = format!(
                        "[daemon]\nrules = []\n[[{table}]]\n{name}kind = \"{}\"\n{base}{key} = {wrong}\n",
                        kind.name
                    );
                    let line = text.lines().count();
                    std::fs::write(&path, &text).unwrap();
                    let errors =
                        crate::config::load_with_env(&path, &|_| None, &all).expect_err(&text);
                    let want = format!("\"{key}\" must be");
                    assert!(
                        errors
                            .iter()
                            .any(|e| e.line == line && e.message.starts_with(&want)),
                        "{}: {key} = true not refused as a type error:\n{text}\n{errors:#?}",
                        kind.name
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 80, "{checked}");
    }

    /// Every kind of the lists reads settings that its own `build` accepts: a source builds or
    /// says this version cannot poll it yet, a notifier builds; never an internal error (a
    /// `read` and a `build` that disagree on the settings struct).
    #[test]
    fn every_kind_builds_from_the_settings_its_read_returns() {
        let all = super::kinds();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigie.toml");
        let env = |k: &str| (k == "T").then(|| "token".to_string());
        let locale = crate::notify::render::Locale::default();
        let mut built = 0;
        for (table, kinds) in [("source", all.sources), ("notifier", all.notifiers)] {
            for kind in kinds {
                let text = format!(
                    "[daemon]\nrules = []\n[[{table}]]\nname = \"n\"\nkind = \"{}\"\n{}\n",
                    kind.name,
                    base(kind.name, "")
                );
                std::fs::write(&path, &text).unwrap();
                let config = crate::config::load_with_env(&path, &env, &all)
                    .unwrap_or_else(|e| panic!("{text}\n{e:#?}"));
                if let Some(spec) = config.sources.first() {
                    assert_eq!(spec.kind, kind.name);
                    if let Err(e) = crate::source::build(spec, &env) {
                        assert!(e.contains("cannot be polled by this version yet"), "{e}");
                    }
                }
                if let Some(spec) = config.notifiers.first() {
                    assert_eq!(spec.kind, kind.name);
                    if let Err(e) = crate::notify::build(spec, &locale, &env) {
                        panic!("{}: {e}", kind.name);
                    }
                }
                built += 1;
            }
        }
        assert!(built >= 18, "{built}");
    }
}
