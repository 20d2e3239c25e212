//! The README's command-and-output blocks, run and compared (issue 22 point 1), as `trycmd`
//! does for markdown: every ```` ```console ```` block of README.md is a list of `$ vigie …`
//! commands, each followed by what it prints (stdout, then stderr). In the expected text,
//! `[..]` stands for any part of one line (a time, a path) and a line `...` for any number of
//! lines. The commands run in a temp dir holding copies of `config/` and `rules/`, with
//! `TZ=UTC`, so that the shipped demo and rules are what the README shows. Blocks fenced
//! ```` ```text ```` are illustrations (errors of files the README does not ship, alert texts
//! still changing) and are not run.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::root;

/// One `$ vigie …` command of a block and the output the README shows for it.
struct Case {
    line: usize,
    args: Vec<String>,
    expected: Vec<String>,
}

/// The `console` blocks' cases, with the README line of each command.
fn cases(readme: &str) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    let mut in_block = false;
    for (i, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            in_block = !in_block && line.trim() == "```console";
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            let args = split(cmd);
            assert_eq!(
                args[0],
                "vigie",
                "README.md:{}: only vigie commands run",
                i + 1
            );
            out.push(Case {
                line: i + 1,
                args: args[1..].to_vec(),
                expected: Vec::new(),
            });
        } else if let Some(case) = out.last_mut() {
            case.expected.push(line.to_string());
        }
    }
    for case in &mut out {
        while case.expected.last().is_some_and(|l| l.is_empty()) {
            case.expected.pop();
        }
    }
    out
}

/// Splits a command line as a POSIX shell would for plain words and '…' / "…" quotes.
fn split(cmd: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in cmd.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    args.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        args.push(cur);
    }
    args
}

/// Whether `line` matches `pattern`, where `[..]` matches any run of characters.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether `lines` match `patterns`, where a pattern line `...` matches any number of lines.
fn lines_match(patterns: &[String], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p == "..." => {
            (0..=lines.len()).any(|skip| lines_match(rest, &lines[skip..]))
        }
        Some((p, rest)) => {
            !lines.is_empty() && line_matches(p, lines[0]) && lines_match(rest, &lines[1..])
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(&*name));
        } else if ty.is_file() && !name.starts_with("vigie.db") {
            std::fs::copy(entry.path(), to.join(&*name)).unwrap();
        }
    }
}

#[test]
fn readme_blocks_show_real_output() {
    let root = root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let cases = cases(&readme);
    assert!(
        cases.len() >= 5,
        "README.md has {} console commands",
        cases.len()
    );
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root.join("config"), &dir.path().join("config"));
    copy_tree(&root.join("rules"), &dir.path().join("rules"));
    let mut failures = Vec::new();
    for case in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .args(&case.args)
            .current_dir(dir.path())
            .env("TZ", "UTC")
            .env_remove("VIGIE_CONFIG")
            .env_remove("COLUMNS")
            .stdin(Stdio::null())
            .output()
            .expect("run vigie");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        if !lines_match(&case.expected, &lines) {
            failures.push(format!(
                "README.md:{}: $ vigie {}\n--- README shows:\n{}\n--- vigie printed (exit {}):\n{}",
                case.line,
                case.args.join(" "),
                case.expected.join("\n"),
                out.status.code().unwrap_or(-1),
                text.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn readme_patterns() {
    assert!(line_matches("a [..] c", "a bbb c"));
    assert!(line_matches("[..]Z", "2026-11-22T10:00:00Z"));
    assert!(!line_matches("a [..] c", "a bbb d"));
    assert!(line_matches("exact", "exact") && !line_matches("exact", "exact!"));
    let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(lines_match(&l(&["a", "...", "z"]), &["a", "b", "c", "z"]));
    assert!(lines_match(&l(&["a", "..."]), &["a"]));
    assert!(!lines_match(&l(&["a", "z"]), &["a", "b"]));
    assert_eq!(
        split(r#"match "l'objet" 'a b' c"#),
        ["match", "l'objet", "a b", "c"]
    );
}
