//! `vigie match`: dry-run the rules on a text, on stdin lines or on a file of posts.
//!
//! Runs the `normalize` + `matcher` prefix of the pipeline and nothing else. By default
//! (`--input-format auto`) a line is a JSON post (SPEC §7) when it starts with `{`, plain text
//! otherwise; a line that looks like JSON but is not a post is reported on stderr, with the flag
//! that forces text, and matched as plain text, so nothing is silently lost. `--input-format
//! text` takes every line as text (text that starts with `{`), `json` every line as a post (a
//! line that is not one is an error). Invalid UTF-8 is replaced, not fatal. `--count` prints how many posts each rule hits, like
//! `grep -c`, and skips quoting the matches, so it can time the matcher on a large archive.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::{load, output};
use crate::matcher::{Hits, RuleSet, Scratch};
use crate::post::{decode_lossy, Post};

/// Output format of `vigie match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatchFormat {
    /// For people: each matching input, then each rule with its matched words.
    Table,
    /// JSON lines: one object per input line, `{"rules": [...], "matches": [...]}`.
    Json,
}

/// How `vigie match` reads its input lines (and TEXT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// A JSON post when the line starts with `{` (after spaces), plain text otherwise.
    Auto,
    /// Every line is plain text, even one that starts with `{`.
    Text,
    /// Every line is a JSON post; a line that is not one is an error.
    Json,
}

/// Arguments of `vigie match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The text to match; without it, each line of stdin (or of --input) is one post.
    pub text: Option<String>,
    /// Read posts from FILE instead of stdin (one plain text or JSON post per line).
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub input: Option<PathBuf>,
    /// Print only how many posts each rule hits (like `grep -c`).
    #[arg(long)]
    pub count: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: MatchFormat,
    /// How to read each line (and TEXT): `auto` takes a line that starts with `{` for a JSON
    /// post, `text` takes every line as plain text, `json` every line as a JSON post.
    #[arg(long, value_enum, default_value = "auto", value_name = "FORMAT")]
    pub input_format: InputFormat,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    line: u64,
    rules: Vec<&'a str>,
    matches: Vec<JsonMatch<'a>>,
}

#[derive(Serialize)]
struct JsonMatch<'a> {
    rule: &'a str,
    term: &'a str,
    text: &'a str,
    position: Option<u32>,
    start: usize,
    end: usize,
}

#[derive(Serialize)]
struct JsonCount<'a> {
    rule: &'a str,
    count: u64,
}

/// Runs `vigie match`.
pub fn run(config: &Path, args: MatchArgs) -> Result<()> {
    let config = load(config)?;
    let rules = RuleSet::compile(config.rule_specs()).map_err(|e| super::Invalid(e.to_string()))?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if let Some(text) = &args.text {
        let mut post = Post::default();
        read_post(text, 1, args.input_format, &mut post)?;
        let hits = rules.matches(&post);
        match args.format {
            MatchFormat::Json => write_json(&mut out, 1, &post.text, &hits)?,
            MatchFormat::Table if hits.is_empty() => writeln!(out, "no rule matches")?,
            MatchFormat::Table => write_table(&mut out, None, &post.text, &hits)?,
        }
        return Ok(out.flush()?);
    }
    // A bar for a file, unless it would mix with a table printed on the same terminal.
    let mut bar = indicatif::ProgressBar::hidden();
    let reader: Box<dyn Read> = match &args.input {
        Some(p) => {
            let file = File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            let len = file.metadata().map_or(0, |m| m.len());
            let shown = args.count || !io::stdout().is_terminal();
            bar = output::progress(len, "bytes", shown);
            Box::new(bar.wrap_read(file))
        }
        None => Box::new(io::stdin().lock()),
    };
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut counts = vec![0u64; rules.len()];
    let mut posts = 0u64;
    let mut buf = Vec::new();
    let mut scratch = Scratch::default();
    let mut found = Vec::new();
    let mut hits = Hits::default();
    let mut post = Post::default();
    loop {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .context("cannot read input")?
            == 0
        {
            break;
        }
        posts += 1;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = decode_lossy(&buf);
        read_post(&line, posts, args.input_format, &mut post)?;
        if args.count {
            rules.matched_rules(&post, &mut scratch, &mut found);
            for &r in &found {
                counts[r] += 1;
            }
            continue;
        }
        rules.matches_into(&post, &mut scratch, &mut hits);
        match args.format {
            MatchFormat::Json => write_json(&mut out, posts, &post.text, &hits)?,
            MatchFormat::Table if hits.is_empty() => {}
            MatchFormat::Table => write_table(&mut out, Some(posts), &post.text, &hits)?,
        }
    }
    bar.finish_and_clear();
    if args.count {
        for (name, count) in rules.names().zip(&counts) {
            match args.format {
                MatchFormat::Json => {
                    serde_json::to_writer(
                        &mut out,
                        &JsonCount {
                            rule: name,
                            count: *count,
                        },
                    )?;
                    writeln!(out)?;
                }
                MatchFormat::Table => writeln!(out, "{count:>10}  {name}")?,
            }
        }
        if args.format == MatchFormat::Table {
            writeln!(out, "{posts:>10}  posts read")?;
        }
    }
    Ok(out.flush()?)
}

/// Reads line `n` into `post` as `format` says. A plain line reuses the last post's text
/// buffer, so reading one allocates nothing. Fails only on a line that `--input-format json`
/// says is a post and is not one.
fn read_post(line: &str, n: u64, format: InputFormat, post: &mut Post) -> Result<()> {
    let json = match format {
        InputFormat::Auto => line.trim_start().starts_with('{'),
        InputFormat::Text => false,
        InputFormat::Json => true,
    };
    if json {
        match serde_json::from_str::<Post>(line) {
            Ok(json) => {
                *post = json;
                return Ok(());
            }
            Err(e) if format == InputFormat::Json => anyhow::bail!(
                "line {n}: not a JSON post ({e}); --input-format text matches every line as \
                 plain text"
            ),
            Err(e) => eprintln!(
                "vigie: line {n}: not a JSON post ({e}); matched as plain text \
                 (--input-format text takes every line as text)"
            ),
        }
    }
    let mut text = std::mem::take(&mut post.text);
    text.clear();
    text.push_str(line);
    *post = Post {
        text,
        ..Post::default()
    };
    Ok(())
}

fn write_json(out: &mut impl Write, line: u64, text: &str, hits: &Hits) -> Result<()> {
    let obj = JsonLine {
        line,
        rules: hits.iter().map(|h| h.rule).collect(),
        matches: hits
            .iter()
            .flat_map(|h| {
                h.matched().map(move |m| JsonMatch {
                    rule: h.rule,
                    term: m.term,
                    text: m.text(text),
                    position: m.position,
                    start: m.start,
                    end: m.end,
                })
            })
            .collect(),
    };
    serde_json::to_writer(&mut *out, &obj)?;
    writeln!(out)?;
    Ok(())
}

fn write_table(out: &mut impl Write, line: Option<u64>, text: &str, hits: &Hits) -> Result<()> {
    let shown: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match line {
        Some(n) => writeln!(out, "{n}: {shown}")?,
        None => writeln!(out, "{shown}")?,
    }
    let width = hits
        .iter()
        .map(|h| h.rule.chars().count())
        .max()
        .unwrap_or(0);
    for h in hits.iter() {
        let words: Vec<String> = h
            .matched()
            .map(|m| match m.position {
                Some(p) => format!("{:?} ({}, word {p})", m.text(text), m.term),
                None => format!("{:?} ({}, byte {})", m.text(text), m.term, m.start),
            })
            .collect();
        writeln!(out, "    {:width$}  {}", h.rule, words.join(", "))?;
    }
    Ok(())
}
