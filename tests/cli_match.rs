//! `vigie match`: table, JSON lines, stdin, `--input`, `--count`, and bad input lines.

use crate::util::{s, tree, vigie};

const CONFIG: &str = r#"
[daemon]
rules = ["rules/*.toml"]

[[notifier]]
name = "console"
kind = "console"
"#;

const RULES: &str = r#"
[defaults]
notify = ["console"]

[[rule]]
name = "livraison"
query = '(colis OR lettre) AND (retard* OR "pas reçu")'

[[rule]]
name = "casse"
query = '"objet cassé" OR #casse'
"#;

fn setup() -> tempfile::TempDir {
    tree(&[("vigie.toml", CONFIG), ("rules/r.toml", RULES)])
}

#[test]
fn match_text_prints_rules_words_and_positions() {
    let dir = setup();
    let cfg = dir.path().join("vigie.toml");
    let r = vigie(
        &[
            "match",
            "--config",
            s(&cfg),
            "Mon COLIS n'est pas reçu, l'objet CASSÉ",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    crate::eq_golden!(
        "Mon COLIS n'est pas reçu, l'objet CASSÉ\n    livraison  \"COLIS\" (colis, word 1), \"pas reçu\" (\"pas reçu\", word 4)\n    casse      \"objet CASSÉ\" (\"objet cassé\", word 7)\n",
        r.stdout
    );
    let r = vigie(&["match", "--config", s(&cfg), "rien à voir"], "");
    assert_eq!((r.code, r.stdout.as_str()), (0, "no rule matches\n"));
}

#[test]
fn match_stdin_json_gives_one_object_per_line() {
    let dir = setup();
    let cfg = dir.path().join("vigie.toml");
    let input = "lettre en retard\nbonjour\n{\"text\": \"#casse\", \"author\": \"@bob\"}\n";
    let r = vigie(&["match", "--config", s(&cfg), "--format", "json"], input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["rules"], serde_json::json!(["livraison"]));
    assert_eq!(lines[0]["matches"][0]["text"], "lettre");
    assert_eq!(lines[0]["matches"][1]["term"], "retard*");
    assert_eq!(lines[0]["matches"][1]["position"], 2);
    assert_eq!(lines[1]["rules"], serde_json::json!([]));
    assert_eq!(lines[2]["rules"], serde_json::json!(["casse"]));
}

#[test]
fn match_count_counts_posts_per_rule_like_grep_c() {
    let dir = setup();
    let cfg = dir.path().join("vigie.toml");
    let input = dir.path().join("posts.txt");
    // Invalid UTF-8 and a broken JSON line are reported or replaced, never fatal.
    let mut data =
        b"colis en retard\nlettre pas recu, objet casse\n\xff\xfe colis retard\n".to_vec();
    data.extend_from_slice(b"{\"text\": \"colis retard\"\n#casse\nrien\n");
    std::fs::write(&input, data).expect("write posts");
    let r = vigie(
        &[
            "match",
            "--config",
            s(&cfg),
            "--count",
            "--input",
            s(&input),
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    crate::eq_golden!(
        "         4  livraison\n         2  casse\n         6  posts read\n",
        r.stdout
    );
    assert!(r.stderr.contains("line 4: not a JSON post"), "{}", r.stderr);
}

#[test]
fn match_without_config_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("missing.toml");
    let r = vigie(&["match", "--config", s(&cfg), "colis"], "");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.toml"), "{}", r.stderr);
}
