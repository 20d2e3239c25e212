//! `vigie preview SOURCE`: fetch one source once, show its posts and the rules they hit.
//!
//! Runs the source → normalise → match prefix of the pipeline and nothing else: no database,
//! no alert. For a kind that maps a platform's items by configuration (`json`), it also shows
//! the first item as received: above the table, as `raw` on that post's JSON line, and on
//! stderr before the error when the mapping fails.

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
    let preview = runtime.block_on(entry.source.preview(&fetcher, &Cursor::default()));
    let format = Format::or_default(args.format);
    let first = preview.first;
    let page = match preview.page {
        Ok(page) => page,
        Err(e) => {
            // The item the mapping failed on is what the user needs to fix it.
            if let Some(first) = &first {
                eprintln!("First item as received:\n{}", first.raw);
            }
            return Err(e).with_context(|| format!("source \"{}\"", entry.name));
        }
    };
    // The post the first item became, to show its raw JSON beside it.
    let first_post = first.as_ref().and_then(|f| f.post.as_ref().ok()).cloned();
    if let (Some(first), Some(post), Format::Table) = (&first, &first_post, format) {
        let show = |v: &Option<String>| v.as_deref().unwrap_or("-").to_string();
        println!(
            "First item as received:\n{}\nbecomes: id {}, author {}, created_at {}, url {}\n",
            first.raw,
            show(&post.id),
            show(&post.author),
            show(&post.created_at),
            show(&post.url)
        );
    }
    let mut rows = Vec::new();
    for mut post in page.posts {
        post.source = None;
        let is_first = first_post.as_ref() == Some(&post);
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
                if let (true, Some(first)) = (is_first, &first) {
                    obj["raw"] = serde_json::from_str(&first.raw).unwrap_or(json!(first.raw));
                }
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
