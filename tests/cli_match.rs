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
exclude_authors = ["@laposte"]

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
fn input_format_forces_text_or_json() {
    // Issue 25: a text line that starts with `{` was always taken for a JSON post.
    let dir = setup();
    let cfg = dir.path().join("vigie.toml");
    let input = concat!(
        "{\"text\": \"bonjour\", \"author\": \"lettre en retard\"}\n",
        "{lettre} en retard\n",
    );
    let rules_of = |stdout: &str| -> Vec<serde_json::Value> {
        stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("json line")["rules"].clone()
            })
            .collect()
    };
    let run = |format: &str| {
        vigie(
            &[
                "match",
                "--config",
                s(&cfg),
                "--format",
                "json",
                "--input-format",
                format,
            ],
            input,
        )
    };
    let none = serde_json::json!([]);
    let livraison = serde_json::json!(["livraison"]);

    // auto (the default): the post's text is "bonjour"; the other line is not a post, and the
    // warning says how to force text.
    let r = vigie(&["match", "--config", s(&cfg), "--format", "json"], input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(rules_of(&r.stdout), [none.clone(), livraison.clone()]);
    assert!(r.stderr.contains("line 2: not a JSON post"), "{}", r.stderr);
    assert!(r.stderr.contains("--input-format text"), "{}", r.stderr);
    assert_eq!(run("auto").stdout, r.stdout);

    // text: both lines are text, with no warning.
    let r = run("text");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(rules_of(&r.stdout), [livraison.clone(), livraison.clone()]);
    assert_eq!(r.stderr, "");
    let r = vigie(
        &[
            "match",
            "--config",
            s(&cfg),
            "--input-format",
            "text",
            "{lettre} en retard",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("livraison"), "{}", r.stdout);
    assert_eq!(r.stderr, "");

    // json: the line that is not a post is an error that says how to force text.
    let r = run("json");
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stderr.contains("line 2: not a JSON post"), "{}", r.stderr);
    assert!(r.stderr.contains("--input-format text"), "{}", r.stderr);
}

#[test]
fn a_plain_line_after_a_json_post_has_no_author() {
    // The brand's own post is excluded; the plain line after it, read into the same buffer,
    // must not keep its author, and the next JSON post must not keep the plain line's text.
    let dir = setup();
    let cfg = dir.path().join("vigie.toml");
    let input = concat!(
        "{\"text\": \"colis en retard\", \"author\": \"@laposte\"}\n",
        "colis en retard\n",
        "{\"text\": \"objet cassé\", \"author\": \"@alice\"}\n",
    );
    let r = vigie(&["match", "--config", s(&cfg), "--format", "json"], input);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rules: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line")["rules"].clone())
        .collect();
    assert_eq!(
        rules,
        [
            serde_json::json!([]),
            serde_json::json!(["livraison"]),
            serde_json::json!(["casse"])
        ]
    );
}

#[test]
fn match_without_config_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("missing.toml");
    let r = vigie(&["match", "--config", s(&cfg), "colis"], "");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing.toml"), "{}", r.stderr);
}

#[test]
fn simd_and_portable_tokenizers_give_the_same_matches() {
    // The shipped rules over 3,000 varied posts, once as the CPU allows (AVX-512 or AVX2 where
    // it has them), once with `VIGIE_NO_AVX512` (AVX2 where the CPU has it) and once with
    // `VIGIE_NO_AVX2` (the portable code): the same JSON, line for line. Fragments cover what
    // each step treats apart: accents, curly apostrophes, URLs, emoji, hashtags, mentions,
    // words of more than 16 bytes, upper case.
    let parts = [
        "Mon",
        "COLIS",
        "colis",
        "n’est",
        "pas",
        "arrivé",
        "reçu",
        "RETARD",
        "retardé",
        "#colis",
        "@LaPoste",
        "https://laposte.fr/suivi?id=1",
        "www.x.fr",
        "😡",
        "«",
        "»",
        "objet",
        "cassé",
        "CASSÉ",
        "réclamation",
        "remboursement",
        "lettre",
        "recommandée",
        "anticonstitutionnellement",
        "j’ai",
        "l'objet",
        "…",
        "ŒUVRE",
        "abîmé",
        "plainte",
        "livreur",
        "jamais",
        "@Chronopost",
        "x#y",
        "12",
        "Télécharger",
        "déçu",
    ];
    let mut state = 0x0056_4947_4945u64;
    let mut input = String::new();
    for _ in 0..3_000 {
        let words = 3 + (state % 30) as usize;
        for k in 0..words {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            if k > 0 {
                input.push(if state >> 62 == 0 { ',' } else { ' ' });
            }
            input.push_str(parts[(state >> 33) as usize % parts.len()]);
        }
        input.push('\n');
    }
    let args = ["match", "--config", "config/vigie.toml", "--format", "json"];
    let native = crate::util::vigie(&args, &input);
    let avx2 = crate::util::vigie_env(&args, &input, &[("VIGIE_NO_AVX512", "1")]);
    let portable = crate::util::vigie_env(&args, &input, &[("VIGIE_NO_AVX2", "1")]);
    assert_eq!(
        (native.code, avx2.code, portable.code),
        (0, 0, 0),
        "{}",
        native.stderr
    );
    assert_eq!(native.stdout.lines().count(), 3_000);
    let hits = native
        .stdout
        .lines()
        .filter(|l| !l.contains("\"rules\":[]"))
        .count();
    assert!(hits > 1_000, "{hits} posts hit a rule");
    assert!(
        native.stdout == avx2.stdout,
        "native and VIGIE_NO_AVX512 outputs differ"
    );
    assert!(
        native.stdout == portable.stdout,
        "native and portable outputs differ"
    );
}

/// Issue 22 points 10 and 11: underscored mentions, and quotes from the parts that hold.
const TAGS_AND_QUOTES: &str = r#"
[defaults]
notify = ["console"]

[[rule]]
name = "marque"
query = '@posteo'

[[rule]]
name = "aide"
query = '@posteo_aide'

[[rule]]
name = "mot"
query = 'posteo'

[[rule]]
name = "casse"
query = '"objet cassé" OR (colis NEAR/3 cassé*)'
"#;

/// `vigie match --format json` on one text: the rules hit, and each hit's (term, quote).
fn match_json(cfg: &std::path::Path, text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let r = vigie(&["match", "--config", s(cfg), "--format", "json", text], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one json line");
    let matches = v["matches"].as_array().expect("matches");
    v["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|rule| {
            let quotes = matches
                .iter()
                .filter(|m| m["rule"] == *rule)
                .map(|m| {
                    let get = |k: &str| m[k].as_str().expect(k).to_string();
                    (get("term"), get("text"))
                })
                .collect();
            (rule.as_str().expect("rule").to_string(), quotes)
        })
        .collect()
}

/// Rules hit, each with its (term, quote) pairs.
type Expected<'a> = &'a [(&'a str, &'a [(&'a str, &'a str)])];

fn owned(rules: Expected) -> Vec<(String, Vec<(String, String)>)> {
    rules
        .iter()
        .map(|(r, q)| {
            let q = q.iter().map(|(t, x)| (t.to_string(), x.to_string()));
            (r.to_string(), q.collect())
        })
        .collect()
}

#[test]
fn match_reads_an_underscored_mention_as_one_mention() {
    // SPEC §4: a mention's body runs over letters, digits and underscores; `@posteo` does not
    // match `@posteo_aide`, the plain word `posteo` matches its part.
    let dir = tree(&[("vigie.toml", CONFIG), ("rules/r.toml", TAGS_AND_QUOTES)]);
    let cfg = dir.path().join("vigie.toml");
    let cases: &[(&str, Expected)] = &[
        (
            "merci @Posteo_Aide !",
            &[
                ("aide", &[("@posteo_aide", "Posteo_Aide")]),
                ("mot", &[("posteo", "Posteo")]),
            ],
        ),
        (
            "merci ＠posteo＿aide",
            &[
                ("aide", &[("@posteo_aide", "posteo＿aide")]),
                ("mot", &[("posteo", "posteo")]),
            ],
        ),
        (
            "merci @posteo aide",
            &[
                ("marque", &[("@posteo", "posteo")]),
                ("mot", &[("posteo", "posteo")]),
            ],
        ),
        (
            "merci @posteo_aide_bis",
            &[("mot", &[("posteo", "posteo")])],
        ),
    ];
    for &(text, want) in cases {
        assert_eq!(match_json(&cfg, text), owned(want), "{text:?}");
    }
}

#[test]
fn match_quotes_only_the_parts_of_the_rule_that_hold() {
    // SPEC §4: through the phrase alone, `"objet cassé" OR (colis NEAR/3 cassé*)` quotes the
    // phrase, not `colis` nor `cassé*`.
    let dir = tree(&[("vigie.toml", CONFIG), ("rules/r.toml", TAGS_AND_QUOTES)]);
    let cfg = dir.path().join("vigie.toml");
    let cases: &[(&str, Expected)] = &[
        (
            "Mon colis est arrivé hier soir, et l'objet CASSÉ.",
            &[("casse", &[("\"objet cassé\"", "objet CASSÉ")])],
        ),
        (
            "colis cassé",
            &[("casse", &[("colis", "colis"), ("cassé*", "cassé")])],
        ),
        (
            "colis : objet cassé",
            &[(
                "casse",
                &[
                    ("colis", "colis"),
                    ("\"objet cassé\"", "objet cassé"),
                    ("cassé*", "cassé"),
                ],
            )],
        ),
    ];
    for &(text, want) in cases {
        assert_eq!(match_json(&cfg, text), owned(want), "{text:?}");
    }
}

#[test]
fn stats_by_term_counts_only_the_parts_that_hold() {
    // What a hit stores is what `match` quotes: `stats --by term` does not count `colis` for
    // posts that matched through the phrase alone.
    let config = "[daemon]\ndatabase = \"hits.db\"\nrules = [\"rules/*.toml\"]\n\n\
                  [[notifier]]\nname = \"console\"\nkind = \"console\"\n";
    let post = |id: &str, text: &str| {
        serde_json::json!({"id": id, "source": "forum", "text": text,
                           "created_at": "2026-11-20T10:00:00Z"})
        .to_string()
    };
    let posts = [
        post("1", "Mon colis est arrivé hier soir, et l'objet cassé."),
        post(
            "2",
            "Objet cassé encore une fois, et mon colis arrivé bien trop tard.",
        ),
        post("3", "colis cassé"),
        post("4", "merci @posteo_aide"),
    ]
    .join("\n");
    let dir = tree(&[
        ("vigie.toml", config),
        ("rules/r.toml", TAGS_AND_QUOTES),
        ("posts.jsonl", &posts),
    ]);
    let cfg = dir.path().join("vigie.toml");
    let db = dir.path().join("hits.db");
    let file = dir.path().join("posts.jsonl");
    let r = vigie(
        &["replay", s(&file), "--config", s(&cfg), "--db", s(&db)],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = vigie(
        &[
            "stats",
            "--config",
            s(&cfg),
            "--since",
            "2026-11-20T00:00:00Z",
            "--until",
            "2026-11-21T00:00:00Z",
            "--every",
            "1d",
            "--by",
            "term",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rows: Vec<(String, u64)> = r
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            (
                v["term"].as_str().unwrap().into(),
                v["count"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    let want: Vec<(String, u64)> = [
        ("\"objet cassé\"", 2),
        ("@posteo_aide", 1),
        ("cassé*", 1),
        ("colis", 1),
        ("posteo", 1),
    ]
    .iter()
    .map(|&(t, n)| (t.into(), n))
    .collect();
    assert_eq!(rows, want, "{}", r.stdout);
}
