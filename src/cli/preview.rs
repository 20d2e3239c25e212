//! `vigie preview SOURCE`: fetch one source once, show its posts and the rules they hit.
//!
//! Runs the source → normalise → match prefix of the pipeline and nothing else: no database,
//! no alert.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{json, Value};

use super::output::{self, Format};
use super::{load, Invalid};
use crate::daemon::pipeline::{BuildError, SourceEntry};
use crate::matcher::RuleSet;
use crate::source::fetch::{FetchOptions, Fetcher};
use crate::source::Cursor;

/// Arguments of `vigie preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The source's name in the config.
    pub source: String,
    /// Show the text whole instead of cutting it to the terminal's width.
    #[arg(long)]
    pub wide: bool,
    /// Output format [default: table on a terminal, json otherwise]. json: one post per line
    /// with the rules it hits; csv: id, created_at, author, author_name, url, rules (space
    /// separated), text.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Runs `vigie preview`.
pub fn run(config: &Path, args: PreviewArgs) -> Result<()> {
    let config = load(config)?;
    output::set_zone(Some(&config), false);
    let Some(index) = config.sources.iter().position(|s| s.name == args.source) else {
        let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
        return Err(Invalid(format!(
            "vigie: no source named \"{}\" (sources: {})",
            args.source,
            names.join(", ")
        ))
        .into());
    };
    // Only this source and the rules: another source's or a notifier's missing secret is no
    // reason to refuse a preview.
    let rules = RuleSet::compile(config.rule_specs()).map_err(BuildError::from)?;
    let entry = SourceEntry::build(&config.sources[index], &|k| std::env::var(k).ok())?;
    let fetcher = Fetcher::new(FetchOptions {
        user_agent: config.daemon.user_agent.clone(),
        timeout: config.daemon.http_timeout,
        ..FetchOptions::default()
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let page = runtime
        .block_on(entry.source.poll(&fetcher, &Cursor::default()))
        .with_context(|| format!("source \"{}\"", entry.name))?;
    let format = Format::or_default(args.format);
    let mut rows = Vec::new();
    for mut post in page.posts {
        post.source = Some(entry.name.clone());
        let rules: Vec<String> = rules
            .matches(&post)
            .iter()
            .map(|h| h.rule.to_string())
            .collect();
        let who = match (&post.author_name, &post.author) {
            (Some(name), Some(author)) => Some(format!("{name} ({author})")),
            (name, author) => name.clone().or(author.clone()),
        };
        rows.push(match format {
            Format::Table => vec![
                output::local_cell(post.created_at.as_deref()),
                json!(who),
                json!(rules.join(", ")),
                json!(post.text),
            ],
            Format::Csv => vec![
                json!(post.id),
                json!(post.created_at),
                json!(post.author),
                json!(post.author_name),
                json!(post.url),
                json!(rules.join(" ")),
                json!(post.text),
            ],
            Format::Json => {
                let mut obj = serde_json::to_value(&post)?;
                obj["rules"] = json!(rules);
                vec![obj]
            }
        });
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match format {
        Format::Table => {
            let cols = [
                output::time_column("created_at"),
                "author".into(),
                "rules".into(),
                "text".into(),
            ];
            output::write_fit(&mut out, format, &cols, &rows, output::fit_width(args.wide))?;
        }
        Format::Csv => {
            let cols = [
                "id",
                "created_at",
                "author",
                "author_name",
                "url",
                "rules",
                "text",
            ];
            output::write(&mut out, format, &cols, &rows)?;
        }
        Format::Json => {
            for row in &rows {
                if let Some(Value::Object(obj)) = row.first() {
                    serde_json::to_writer(&mut out, obj)?;
                    writeln!(out)?;
                }
            }
        }
    }
    Ok(out.flush()?)
}
