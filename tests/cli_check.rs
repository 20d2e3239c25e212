//! `vigie check`: every error with file:line:col and exit 2; the shipped configs pass.

use crate::util::{s, shipped_tree, tree, vigie};

const BROKEN_CONFIG: &str = r#"[daemon]
rules = ["rules/*.toml"]

[[source]]
name = "a"
kind = "jsonl"
path = "posts.jsonl"

[[source]]
name = "b"
kind = "rss"
url = "https://example.org/feed.rss"
evry = "2m"

[[source]]
name = "c"
kind = "rsss"
url = "https://example.org/feed.rss"

[[notifier]]
name = "console"
kind = "console"
"#;

const BROKEN_RULES: &str = r#"[defaults]
notify = ["console"]

[[rule]]
name = "livraison"
query = '(colis OR lettre'

[[rule]]
name = "casse"
query = '"objet cassé"'

[[rule]]
name = "casse"
query = 'casse'
"#;

#[test]
fn check_reports_every_error_with_file_line_col_and_exits_2() {
    let dir = tree(&[
        ("vigie.toml", BROKEN_CONFIG),
        ("rules/r.toml", BROKEN_RULES),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let r = vigie(&["check", "--config", s(&cfg)], "");
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    let want = [
        "vigie.toml:13:1: unknown key \"evry\", did you mean \"every\"?",
        "vigie.toml:17:8: unknown source kind \"rsss\", did you mean \"rss\"?",
        "r.toml:6:26: query: expected ')' at column 17",
        "r.toml:13:8: duplicate rule name \"casse\"",
    ];
    for w in want {
        assert!(r.stderr.contains(w), "missing {w:?} in:\n{}", r.stderr);
    }
    // The query error shows the query with a caret under the column.
    assert!(
        r.stderr
            .contains("    (colis OR lettre\n                    ^"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn check_runs_rule_examples() {
    let rules = r#"[[rule]]
name = "casse"
query = '"objet cassé"'
notify = ["console"]
should_match = ["l'objet CASSE", "objet très cassé"]
should_not_match = ["objet-cassé"]
"#;
    let config = "[daemon]\nrules = [\"rules/*.toml\"]\n[[notifier]]\nname = \"console\"\nkind = \"console\"\n";
    let dir = tree(&[("vigie.toml", config), ("rules/r.toml", rules)]);
    let r = vigie(
        &["check", "--config", s(&dir.path().join("vigie.toml"))],
        "",
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(":5:34: rule \"casse\" should match \"objet très cassé\", but it does not"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(":6:21: rule \"casse\" should not match \"objet-cassé\", but it does"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_passes_on_the_shipped_config_without_network_or_database() {
    // A copy of the shipped files: a demo run may have left config/vigie.db in the checkout.
    let dir = shipped_tree();
    let cfg = dir.path().join("config/vigie.toml");
    let r = vigie(&["check", "--config", s(&cfg)], "");
    assert_eq!(r.code, 0, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.contains("config/vigie.toml: ok"), "{}", r.stdout);
    assert!(r.stdout.contains("demo (jsonl)"), "{}", r.stdout);
    let left: Vec<_> = std::fs::read_dir(dir.path().join("config"))
        .expect("config")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vigie.db"))
        .collect();
    assert!(
        left.is_empty(),
        "check must not create the database: {left:?}"
    );
}

#[test]
fn check_passes_on_every_example_config() {
    let dir = shipped_tree();
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir.path().join("config/examples"))
        .expect("config/examples")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "toml") {
            n += 1;
            let r = vigie(&["check", "--config", s(&p)], "");
            assert_eq!(r.code, 0, "{}:\n{}{}", p.display(), r.stdout, r.stderr);
        }
    }
    assert!(
        n >= 17,
        "one example per source and notifier kind, found {n}"
    );
}

#[test]
fn missing_config_file_is_exit_2_naming_the_file() {
    let r = vigie(&["check", "--config", "/nonexistent/vigie.toml"], "");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/vigie.toml"), "{}", r.stderr);
}
