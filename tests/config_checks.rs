//! `vigie check` refuses what `vigie run` would refuse (issue 21, points 14–16): passwords inside
//! URLs, secrets that cannot be read (warnings, errors with `--strict`), and wrong values for
//! every kind's keys, each with its exact `file:line:col` line, and never a secret's value.

use crate::util::{s, tree, vigie_env};

/// What `vigie check` printed, with the temp dir's path taken out of its lines.
struct Checked {
    code: i32,
    stdout: String,
    stderr: Vec<String>,
}

/// Runs `vigie check ARGS` on `vigie.toml` = "[daemon]\nrules = []\n\n" + `tables`, beside
/// `files`, with `env` set.
fn check(tables: &str, args: &[&str], env: &[(&str, &str)], files: &[(&str, &str)]) -> Checked {
    let config = format!("[daemon]\nrules = []\n\n{tables}");
    let mut all = vec![("vigie.toml", config.as_str())];
    all.extend_from_slice(files);
    let dir = tree(&all);
    let path = dir.path().join("vigie.toml");
    let mut argv = vec!["check", "--config", s(&path)];
    argv.extend_from_slice(args);
    let prefix = format!("{}/", dir.path().display());
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| (k, if v == "<dir>" { s(dir.path()) } else { v }))
        .collect();
    let r = vigie_env(&argv, "", &env);
    Checked {
        code: r.code,
        stdout: r.stdout.replace(&prefix, ""),
        stderr: r
            .stderr
            .replace(&prefix, "")
            .lines()
            .map(String::from)
            .collect(),
    }
}

/// Checks each of `cases` (tables, expected line) and asserts that every one exits 2 and
/// prints its line; reports all the misses at once.
fn refused<T: AsRef<str>>(cases: &[(T, &str)]) {
    let mut misses = Vec::new();
    for (tables, want) in cases {
        let r = check(tables.as_ref(), &[], &[], &[]);
        if r.code != 2 || !r.stderr.iter().any(|l| l == want) {
            misses.push(format!(
                "want  {want}\ngot   (exit {}) {:#?}\nfor\n{}",
                r.code,
                r.stderr,
                tables.as_ref()
            ));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n\n"));
}

const CONSOLE: &str = "[[notifier]]\nname = \"console\"\nkind = \"console\"\n";

#[test]
fn passwords_inside_urls_are_refused_with_a_hint_and_never_echoed() {
    let cases = [
        (
            "[[notifier]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtps://alerts:hunter2@smtp.example.org:465\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n",
            r#"vigie.toml:7:12: "smtp_url" must not hold a password (secrets never sit in clear in the file): leave the user in the URL and give the password in "password" ("${ENV_VAR}", password_file or credential)"#,
        ),
        (
            "[[source]]\nname = \"feed\"\nkind = \"rss\"\nurl = \"https://me:hunter2@forum.example.org/latest.rss\"\n",
            r#"vigie.toml:7:7: "url" must not hold a password (secrets never sit in clear in the file): kind "rss" takes no password"#,
        ),
        (
            "[[source]]\nname = \"m\"\nkind = \"mastodon\"\ninstance = \"https://me:hunter2@mastodon.social\"\n",
            r#"vigie.toml:7:12: "instance" must not hold a password (secrets never sit in clear in the file): give it in "token" ("${ENV_VAR}", token_file or credential)"#,
        ),
        (
            "[[source]]\nname = \"d\"\nkind = \"discourse\"\nurl = \"https://me:hunter2@forum.example.org\"\n",
            r#"vigie.toml:7:7: "url" must not hold a password (secrets never sit in clear in the file): give it in "api_key" ("${ENV_VAR}", api_key_file or credential)"#,
        ),
        (
            "[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://me:hunter2@crm.example.org/hook\"\n",
            r#"vigie.toml:7:7: "url" must not hold a password (secrets never sit in clear in the file): give the whole URL as a secret ("${ENV_VAR}", url_file)"#,
        ),
        (
            "[[notifier]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"https://me:hunter2@hooks.slack.com/services/T/B/X\"\n",
            r#"vigie.toml:7:7: "url" must not hold a password (secrets never sit in clear in the file): give the whole URL as a secret ("${ENV_VAR}", url_file or credential)"#,
        ),
    ];
    refused(&cases);
    for (tables, _) in cases {
        let r = check(tables, &[], &[], &[]);
        let all = r.stderr.join("\n") + &r.stdout;
        assert!(!all.contains("hunter2"), "the password leaked:\n{all}");
    }
    // A user alone in the URL is fine.
    let ok = "[[notifier]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtps://alerts%40example.org@smtp.example.org:465\"\npassword = \"${VIGIE_TEST_CC_PW}\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n";
    let r = check(ok, &["--strict"], &[("VIGIE_TEST_CC_PW", "pw")], &[]);
    assert_eq!(r.code, 0, "{:#?}", r.stderr);
}

/// Notifiers whose secrets come from the environment, a file and a credential.
const SECRETS: &str = r#"[[notifier]]
name = "mail"
kind = "email"
smtp_url = "smtps://alerts%40example.org@smtp.example.org:465"
credential = "smtp-password"
from = "Vigie <alerts@example.org>"
to = ["community@example.org"]

[[notifier]]
name = "hook"
kind = "webhook"
url = "${VIGIE_TEST_CC_HOOK_URL}"
secret_file = "whsec.txt"

[[source]]
name = "toots"
kind = "mastodon"
instance = "https://mastodon.social"
token = "${VIGIE_TEST_CC_UNSET_TOKEN}"
"#;

#[test]
fn check_resolves_secrets_as_run_does_warnings_by_default_errors_with_strict() {
    let env = [
        ("CREDENTIALS_DIRECTORY", "<dir>"),
        ("VIGIE_TEST_CC_HOOK_URL", "https://crm.example.org/hook"),
    ];
    let problems = [
        r#"vigie.toml:8:1: notifier "mail": secret "password": cannot read secret file smtp-password: entity not found"#,
        r#"vigie.toml:16:1: notifier "hook": secret "secret": cannot read secret file whsec.txt: entity not found"#,
        r#"vigie.toml:22:1: source "toots": secret "token": environment variable VIGIE_TEST_CC_UNSET_TOKEN is not set"#,
    ];
    // Without --strict: warnings, exit 0.
    let r = check(SECRETS, &[], &env, &[]);
    assert_eq!(r.code, 0, "{:#?}", r.stderr);
    let warnings: Vec<String> = problems
        .iter()
        .map(|p| p.replacen(": ", ": warning: ", 1))
        .collect();
    assert_eq!(r.stderr, warnings);
    assert!(
        r.stdout
            .starts_with("vigie.toml: ok, 3 warnings (an error with --strict)\n"),
        "{}",
        r.stdout
    );
    // With --strict (ExecStartPre=): the same lines as errors, exit 2.
    let r = check(SECRETS, &["--strict"], &env, &[]);
    assert_eq!(r.code, 2, "{:#?}", r.stderr);
    let mut want: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    want.push(
        "vigie: 3 errors in vigie.toml (--strict: `vigie run` would refuse to start here)".into(),
    );
    assert_eq!(r.stderr, want);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

#[test]
fn a_malformed_whsec_secret_fails_strict_check_without_printing_it() {
    let hook = "[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://crm.example.org/hook\"\nsecret = \"${VIGIE_TEST_CC_WHSEC}\"\n";
    let r = check(
        hook,
        &["--strict"],
        &[("VIGIE_TEST_CC_WHSEC", "whsec_hunter2-not-base64!")],
        &[],
    );
    assert_eq!(r.code, 2, "{:#?}", r.stderr);
    assert_eq!(
        r.stderr[0],
        r#"vigie.toml:8:1: notifier "hook": "secret" must be "whsec_" followed by base64"#
    );
    assert!(!r.stderr.join("\n").contains("hunter2"), "{:#?}", r.stderr);
    // A good key from a file passes --strict.
    let hook = hook.replace("secret = \"${VIGIE_TEST_CC_WHSEC}\"", "secret_file = \"k\"");
    let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n";
    let r = check(&hook, &["--strict"], &[], &[("k", key)]);
    assert_eq!(r.code, 0, "{:#?}", r.stderr);
    assert!(r.stderr.is_empty(), "{:#?}", r.stderr);
    assert!(r.stdout.starts_with("vigie.toml: ok\n"), "{}", r.stdout);
}

#[test]
fn every_source_kind_key_is_value_checked() {
    let cases = [
        // mastodon
        ("[[source]]\nname = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\nhashtags = \"notalist\"\n",
         r#"vigie.toml:8:12: "hashtags" must be a list of strings, not a string"#),
        ("[[source]]\nname = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\nhashtags = [\"colis\", 3]\n",
         r#"vigie.toml:8:22: "hashtags" must be a list of strings, not an integer"#),
        ("[[source]]\nname = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\nhashtags = [\"objet cassé\"]\n",
         r#"vigie.toml:8:13: "hashtags": "objet cassé" is not a hashtag (letters, digits and _)"#),
        ("[[source]]\nname = \"m\"\nkind = \"mastodon\"\ninstance = \"https://mastodon.social\"\ntimeline = \"home\"\n",
         r#"vigie.toml:8:12: "timeline" must be one of "local", "public", not "home""#),
        ("[[source]]\nname = \"m\"\nkind = \"mastodon\"\ninstance = \"mastodon.social\"\n",
         r#"vigie.toml:7:12: "instance" is not a valid URL: relative URL without a base"#),
        // bluesky
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"firehose\"\n",
         r#"vigie.toml:7:8: "mode" must be one of "search", "jetstream", not "firehose""#),
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"search\"\n",
         r#"vigie.toml:4:1: source of kind "bluesky" in mode "search" needs "query""#),
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"jetstream\"\nquery = \"colis\"\n",
         r#"vigie.toml:8:1: "query" is a key of mode "search", not of mode "jetstream""#),
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"jetstream\"\nlangs = \"fr\"\n",
         r#"vigie.toml:8:9: "langs" must be a list of strings, not a string"#),
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"jetstream\"\nendpoint = \"https://jetstream.example.org\"\n",
         r#"vigie.toml:8:12: "endpoint": scheme "https" is not one of ws, wss"#),
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"search\"\nquery = \"colis\"\nlang = \"français\"\n",
         r#"vigie.toml:9:8: "lang": "français" is not a language code like "fr" or "pt-BR""#),
        ("[[source]]\nname = \"b\"\nkind = \"bluesky\"\nmode = \"search\"\nquery = \"colis\"\nidentifier = \"me.bsky.social\"\n",
         r#"vigie.toml:9:1: "identifier" needs "app_password""#),
        // reddit
        ("[[source]]\nname = \"r\"\nkind = \"reddit\"\nsubreddits = [\"r/france\"]\n",
         r#"vigie.toml:7:15: "subreddits": "r/france" is not a subreddit name (2 to 21 letters, digits or _, without "r/")"#),
        ("[[source]]\nname = \"r\"\nkind = \"reddit\"\nsubreddits = []\n",
         r#"vigie.toml:7:1: "subreddits" is empty"#),
        ("[[source]]\nname = \"r\"\nkind = \"reddit\"\nsubreddits = [\"france\"]\nclient_secret = \"${S}\"\n",
         r#"vigie.toml:8:1: "client_secret" needs "client_id""#),
        // hackernews
        ("[[source]]\nname = \"hn\"\nkind = \"hackernews\"\nquery = \"posteo\"\ntags = [\"story\", \"stories\"]\n",
         r#"vigie.toml:8:18: "tags": "stories" is not one of story, comment, poll, pollopt, show_hn, ask_hn, front_page, author_NAME, story_ID"#),
        // discourse
        ("[[source]]\nname = \"d\"\nkind = \"discourse\"\nurl = \"https://forum.example.org\"\nmode = \"search\"\n",
         r#"vigie.toml:4:1: source of kind "discourse" in mode "search" needs "query""#),
        ("[[source]]\nname = \"d\"\nkind = \"discourse\"\nurl = \"https://forum.example.org\"\nmode = \"latest\"\n",
         r#"vigie.toml:8:8: "mode" must be one of "posts", "search", not "latest""#),
        ("[[source]]\nname = \"d\"\nkind = \"discourse\"\nurl = \"https://forum.example.org\"\napi_key = \"${K}\"\n",
         r#"vigie.toml:8:1: "api_key" needs "api_username""#),
        // x
        ("[[source]]\nname = \"x\"\nkind = \"x\"\nquery = \"posteo\"\nbearer_token = \"${T}\"\nmax_posts_per_day = \"5000\"\n",
         r#"vigie.toml:9:21: "max_posts_per_day" must be a whole number, not a string"#),
        ("[[source]]\nname = \"x\"\nkind = \"x\"\nquery = \"posteo\"\nbearer_token = \"${T}\"\nmax_posts_per_day = 0\n",
         r#"vigie.toml:9:21: "max_posts_per_day" must be at least 10, not 0"#),
        ("[[source]]\nname = \"x\"\nkind = \"x\"\nquery = \"posteo\"\nbearer_token = \"${T}\"\nmax_posts_per_day = 100\nmax_results = 500\n",
         r#"vigie.toml:10:15: "max_results" must be between 10 and 100, not 500"#),
        ("[[source]]\nname = \"x\"\nkind = \"x\"\nquery = \"\"\nbearer_token = \"${T}\"\nmax_posts_per_day = 100\n",
         r#"vigie.toml:7:9: "query" is empty"#),
        // facebook
        ("[[source]]\nname = \"f\"\nkind = \"facebook\"\npage_id = \"posteo/posts\"\naccess_token = \"${T}\"\n",
         r#"vigie.toml:7:11: "page_id": "posteo/posts" is not a page id or name"#),
        // json
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"data[*]\"\nfields = { text = \"/body\" }\n",
         r#"vigie.toml:8:9: "items": "data[*]" is not a JSONPath: it must start with "$", like "$.data[*]""#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[*]\"\nfields = { text = \"body\" }\n",
         r#"vigie.toml:9:19: "fields.text": "body" is neither a JSON Pointer ("/body") nor a template with pointers ("https://x/{/id}")"#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[*]\"\nfields = { txt = \"/body\" }\n",
         r#"vigie.toml:9:12: unknown key "txt", did you mean "text"?"#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[*]\"\nfields = { text = \"/body\" }\ntime_format = \"iso\"\n",
         r#"vigie.toml:10:15: "time_format" must be one of "rfc3339", "unix", "unix_ms", not "iso""#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[*]\"\nfields = { text = \"/body\" }\nnext = \"links.next\"\n",
         r#"vigie.toml:10:8: "next": "links.next" is neither a JSON Pointer ("/body") nor a template with pointers ("https://x/{/id}")"#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[*]\"\nfields = { text = \"/body\" }\nheaders = { \"Bad Name\" = \"x\" }\n",
         r#"vigie.toml:10:1: "headers": "Bad Name" is not a valid HTTP header name"#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[*]\"\nfields = { text = \"/body\" }\nheaders = { \"X-Api-Key\" = \"k3y\" }\n",
         r#"vigie.toml:10:1: "headers": the value of "X-Api-Key" is a credential and must not be written in clear: use "${ENV_VAR}""#),
        ("[[source]]\nname = \"j\"\nkind = \"json\"\nurl = \"https://x.example.org\"\nitems = \"$.data[?@.lang ==]\"\nfields = { text = \"/body\" }\n",
         r#"vigie.toml:8:9: "items": "$.data[?@.lang ==]" is not an RFC 9535 JSONPath: at position 15, in long-hand segment, expected closing ']'"#),
        // html
        ("[[source]]\nname = \"h\"\nkind = \"html\"\nurl = \"https://x.example.org\"\nitem = \"article[data-id\"\nselect = { text = \"p\" }\n",
         r#"vigie.toml:8:8: "item": "article[data-id" is not a CSS selector: unclosed "[" or "(""#),
        ("[[source]]\nname = \"h\"\nkind = \"html\"\nurl = \"https://x.example.org\"\nitem = \"article\"\nselect = { text = 3 }\n",
         r#"vigie.toml:9:19: "select.text" must be a CSS selector or { css = "…", attr = "…" }, not an integer"#),
        ("[[source]]\nname = \"h\"\nkind = \"html\"\nurl = \"https://x.example.org\"\nitem = \"article\"\nselect = { text = \"p\", url = { css = \"a\", atr = \"href\" } }\n",
         r#"vigie.toml:9:43: unknown key "atr", did you mean "attr"?"#),
        ("[[source]]\nname = \"h\"\nkind = \"html\"\nurl = \"https://x.example.org\"\nitem = \"article\"\nselect = { author = \".by\" }\n",
         r#"vigie.toml:9:10: [source.select] needs "text""#),
        // common keys
        ("[[source]]\nname = \"f\"\nkind = \"rss\"\nurl = \"https://x.example.org\"\nmax_bytes = 0\n",
         r#"vigie.toml:8:13: "max_bytes" must be at least 1, not 0"#),
        ("[[source]]\nname = 3\nkind = \"rss\"\nurl = \"https://x.example.org\"\n",
         r#"vigie.toml:5:8: "name" must be a string, not an integer"#),
    ];
    let cases: Vec<(String, &str)> = cases
        .iter()
        .map(|(t, w)| (format!("{t}\n{CONSOLE}"), *w))
        .collect();
    refused(&cases);
}

#[test]
fn every_notifier_kind_key_is_value_checked() {
    let cases = [
        ("[[notifier]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:25\"\nfrom = \"not an address\"\nto = [\"b@example.org\"]\n",
         r#"vigie.toml:8:8: "from": invalid address "not an address": Invalid input"#),
        ("[[notifier]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:25\"\nfrom = \"a@example.org\"\nto = []\n",
         r#"vigie.toml:9:1: "to" names no recipient"#),
        ("[[notifier]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:25\"\npassword = \"${P}\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n",
         r#"vigie.toml:8:1: a password is set but no username (in "smtp_url" or "username")"#),
        ("[[notifier]]\nname = \"mail\"\nkind = \"email\"\nsmtp_url = \"smtp://127.0.0.1:25\"\npassword = \"${P}\"\npassword_file = \"pw\"\nusername = \"me\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n",
         r#"vigie.toml:9:1: "password" and "password_file" both give the secret "password": keep one"#),
        ("[[notifier]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"https://crm.example.org/hook\"\nheaders = { \"X-Team\" = \"a\\nb\" }\n",
         r#"vigie.toml:8:1: "headers": the value of "X-Team" is not a valid HTTP header value"#),
        ("[[notifier]]\nname = \"chat\"\nkind = \"discord\"\nurl = \"ftp://discord.example.org/x\"\n",
         r#"vigie.toml:7:7: "url": scheme "ftp" is not one of http, https"#),
    ];
    refused(&cases);
}

#[test]
fn brand_accounts_take_handles_and_per_source_tables() {
    let run = |daemon: &str| {
        let config = format!("[daemon]\nrules = []\n{daemon}\n");
        let dir = tree(&[("vigie.toml", config.as_str())]);
        let path = dir.path().join("vigie.toml");
        let r = vigie_env(&["check", "--config", s(&path)], "", &[]);
        let prefix = format!("{}/", dir.path().display());
        (r.code, r.stderr.replace(&prefix, ""))
    };
    let (code, stderr) =
        run(r#"brand_accounts = ["@lisalaposte", { source = "x-*", handle = "@LaPoste_Aide" }]"#);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run(
        r#"brand_accounts = [{ source = "x-*" }, 3, { handle = "@a", sources = "x" }, { source = "[", handle = "@b" }]"#,
    );
    assert_eq!(code, 2, "{stderr}");
    for want in [
        r#"vigie.toml:3:19: brand_accounts needs "handle""#,
        r#"vigie.toml:3:39: "brand_accounts" entries must be a handle ("@brand") or { source = "x-*", handle = "@brand" }"#,
        r#"vigie.toml:3:59: unknown key "sources", did you mean "source"?"#,
    ] {
        assert!(
            stderr.lines().any(|l| l == want),
            "want {want}\ngot {stderr}"
        );
    }
    assert!(
        stderr.contains("brand_accounts: \"source\" is not a valid glob"),
        "{stderr}"
    );
}
