//! The crate's shape, checked by reading its own sources (tests only): imports run one way
//! between the top-level modules, the store only stores and queries, one name per idea, and
//! every runtime dependency is one the product uses.
//!
//! These are the rules of ARCHITECTURE.md that the compiler cannot see. Each test reads the
//! files under `src/` (and `Cargo.toml`) and names the offending file and line.

use std::path::{Path, PathBuf};

/// The layers, top first ("→" reads "may use"): `cli → daemon → store, notify → detect →
/// source → config → matcher → normalize, post, cases`. A module may use the layers below its own;
/// modules of one layer (`store` and `notify`, `normalize` and `post`) may not use each other.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["daemon"],
    &["store", "notify"],
    &["detect"],
    &["source"],
    &["config"],
    &["matcher"],
    &["normalize", "post", "cases"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read src").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The top-level module a file of `src/` belongs to (`src/store/write.rs` → `store`,
/// `src/detect.rs` → `detect`); `None` for the crate root files.
fn top_module(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main" | "shape")).then(|| name.to_string())
}

/// The top-level modules a line names through `crate::`: `crate::notify::Alert` and
/// `crate::{detect, post::Post}` alike.
fn crate_paths(line: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each comma-separated item at the group's top level.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.push(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

/// Whether `word` occurs in `line` not as the end of a longer name (`Alert {` but not
/// `RuleAlert {`).
fn has_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        !line[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Every `(from, to, where)` edge between two different top-level modules.
fn edges() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in rust_files(&src()) {
        let Some(from) = top_module(&p) else {
            continue;
        };
        let text = std::fs::read_to_string(&p).expect("read source");
        for (n, line) in text.lines().enumerate() {
            for to in crate_paths(line) {
                if to != from {
                    let at = format!("{}:{}: {}", p.display(), n + 1, line.trim());
                    out.push((from.clone(), to, at));
                }
            }
        }
    }
    out
}

#[test]
fn crate_paths_reads_plain_and_grouped_imports() {
    let table: [(&str, &[&str]); 5] = [
        ("use crate::notify::{Alert, AlertKind};", &["notify"]),
        (
            "use crate::{detect::{self, Alert}, post::Post};",
            &["detect", "post"],
        ),
        ("    (crate::daemon::retry::rand01() * 2.0)", &["daemon"]),
        (
            "/// [`x`](crate::source::SourceError) and crate::store",
            &["source", "store"],
        ),
        ("use super::Alert;", &[]),
    ];
    for (line, want) in table {
        assert_eq!(crate_paths(line), want, "{line}");
    }
}

/// Issue 24, point 2: no module reaches up to a module above it (or across to its sibling),
/// comments and doc links included, as `grep -rhoE "crate::[a-z_]+" src/<module>` sees them.
#[test]
fn imports_run_one_way() {
    let all = edges();
    assert!(
        all.iter().any(|(f, t, _)| f == "daemon" && t == "store"),
        "the scan finds no edge at all: {} edges",
        all.len()
    );
    let mut wrong = Vec::new();
    for (from, to, at) in &all {
        let (Some(f), Some(t)) = (layer(from), layer(to)) else {
            wrong.push(format!(
                "{from} → {to}: a module missing from LAYERS\n    {at}"
            ));
            continue;
        };
        if t <= f {
            wrong.push(format!("{from} → {to}\n    {at}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run up (or across) the layers {LAYERS:?}:\n{}",
        wrong.join("\n")
    );
}

/// Issue 24, point 6: the store stores and queries; assembling the alert from what it queried
/// is `detect`'s (`Alert::each`, `Alert::window`, `Alert::source`).
#[test]
fn the_store_builds_no_alert_value() {
    let mut found = Vec::new();
    for p in rust_files(&src().join("store")) {
        let text = std::fs::read_to_string(&p).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if ["Alert {", "Series {", "SourceCondition::Failing =>"]
                .iter()
                .any(|w| has_word(code, w))
            {
                found.push(format!("{}:{}: {}", p.display(), n + 1, code));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the store assembles alerts:\n{}",
        found.join("\n")
    );
}

/// Issue 24, point 3: three unrelated types were called `SourceState`. The alert's says what
/// happened to a source (`detect::SourceCondition`), the store's what the scheduler resumes
/// from (`store::SavedSource`), the daemon's what a running source has reached
/// (`daemon::reload::Progress`): none is left.
#[test]
fn no_type_is_called_source_state() {
    let defined: Vec<String> = rust_files(&src())
        .into_iter()
        .filter(|p| !p.ends_with("shape.rs"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).expect("read source");
            text.lines().any(|l| {
                let l = l.trim_start();
                ["struct SourceState", "enum SourceState", "type SourceState"]
                    .iter()
                    .any(|d| l.contains(d) && !l.starts_with("//"))
            })
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(defined.is_empty(), "SourceState defined in {defined:?}");
}

/// Issue 24, point 7: every crate of `[dependencies]` is named by the product's code
/// (`src/`); one that only the benchmarks or tests use belongs in `[dev-dependencies]`.
#[test]
fn runtime_dependencies_are_used_by_the_product() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("read Cargo.toml");
    let deps: Vec<String> = manifest
        .lines()
        .skip_while(|l| l.trim() != "[dependencies]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| {
            let name = l.split('=').next()?.trim();
            (!name.is_empty() && !name.starts_with('#')).then(|| name.replace('-', "_"))
        })
        .collect();
    assert!(deps.len() > 10, "{deps:?}");
    let code: String = rust_files(&src())
        .iter()
        .filter(|p| !p.ends_with("shape.rs"))
        .map(|p| std::fs::read_to_string(p).expect("read source"))
        .collect();
    let unused: Vec<&String> = deps
        .iter()
        .filter(|d| {
            !(code.contains(&format!("{d}::"))
                || code.contains(&format!("{d}!"))
                || code.contains(&format!("use {d}")))
        })
        .collect();
    assert!(
        unused.is_empty(),
        "runtime dependencies that src/ never names: {unused:?}"
    );
}
