//! `vigie init [DIR]`: a commented starter config and rule file for one brand, from flags.
//!
//! It writes `vigie.toml` and `rules/<brand>.toml` (and an empty `posts.jsonl` when no feed is
//! given, so the config runs as it is), refuses to overwrite anything, checks what it wrote with
//! the same loader as `vigie check`, and prints the next three commands. Everything it writes is
//! ordinary config: the README explains every key.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::{load, Invalid};
use crate::matcher::query::Query;

/// Arguments of `vigie init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write into (created if needed) [default: the current folder].
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The brand watched, as people write it ("La Poste").
    #[arg(long, value_name = "NAME")]
    pub brand: String,
    /// Words and phrases to watch, comma-separated ("colis, retard*, objet cassé"); the brand's
    /// name is always watched.
    #[arg(long, value_name = "TERMS", value_delimiter = ',')]
    pub terms: Vec<String>,
    /// The brand's own account (@lisalaposte): written as `brand_accounts`, so its posts are
    /// never complaints and its replies answer cases; a mention of it alerts at once and opens
    /// a case to answer within 30 minutes.
    #[arg(long, value_name = "@HANDLE")]
    pub handle: Option<String>,
    /// An RSS/Atom feed to poll (a forum, a Mastodon tag, a Reddit search); without it, the
    /// config follows the local file posts.jsonl.
    #[arg(long, value_name = "URL")]
    pub feed: Option<String>,
}

/// Runs `vigie init`.
pub fn run(args: InitArgs) -> Result<()> {
    let invalid = |m: String| anyhow::Error::new(Invalid(format!("vigie init: {m}")));
    let brand = args.brand.trim();
    let slug = slug(brand);
    if slug.is_empty() {
        return Err(invalid(format!("--brand {brand:?} has no letter or digit")));
    }
    let mut terms = vec![query_term(brand)];
    for t in args
        .terms
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
    {
        terms.push(query_term(t));
    }
    terms.dedup();
    let query = terms.join(" OR ");
    Query::parse(&query).map_err(|e| invalid(format!("--terms: {e}\n{}", e.caret(&query))))?;
    let handle = args.handle.as_deref().map(|h| {
        let h = h.trim().trim_start_matches('@');
        format!("@{h}")
    });
    if let Some(h) = &handle {
        Query::parse(h).map_err(|e| invalid(format!("--handle: {e}")))?;
    }
    if let Some(url) = &args.feed {
        url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| invalid(format!("--feed {url:?} is not an http(s) URL")))?;
    }

    let config_path = args.dir.join("vigie.toml");
    let rules_path = args.dir.join("rules").join(format!("{slug}.toml"));
    let posts_path = args.dir.join("posts.jsonl");
    let mut files = vec![
        (
            config_path.clone(),
            config(brand, args.feed.as_deref(), handle.as_deref()),
        ),
        (
            rules_path,
            rules(brand, &slug, &query, &terms, handle.as_deref()),
        ),
    ];
    if args.feed.is_none() {
        files.push((posts_path, String::new()));
    }
    for (path, _) in &files {
        if path.exists() {
            return Err(invalid(format!(
                "{} exists; vigie init never overwrites (choose another DIR)",
                path.display()
            )));
        }
    }
    for (path, text) in &files {
        write(path, text)?;
    }
    // What was written passes `vigie check`'s loader, or this is a bug worth a loud error.
    load(&config_path)?;
    for (path, _) in &files {
        println!("wrote {}", path.display());
    }
    let cfg = shell_word(&config_path);
    let example = example_text(&terms[terms.len().min(2) - 1]);
    println!("\nNext:");
    println!("  vigie check --config {cfg}");
    println!(
        "  vigie match --config {cfg} {}",
        shell_word(Path::new(&example))
    );
    println!("  vigie run --config {cfg}");
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// `La Poste` → `la-poste`: the rule file's and the rules' names.
fn slug(brand: &str) -> String {
    let mut out = String::new();
    for c in brand.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// A term of the query: a word as it is, several words (or an operator word) as a phrase.
fn query_term(t: &str) -> String {
    let t = t.replace('"', "");
    let plain = t
        .chars()
        .all(|c| c.is_alphanumeric() || c == '*' || c == '-')
        && !matches!(t.as_str(), "OR" | "AND" | "NOT");
    if plain {
        t
    } else {
        format!("\"{t}\"")
    }
}

/// A sentence that a term matches, for `should_match` and the printed `vigie match`.
fn example_text(term: &str) -> String {
    let words = term.trim_matches('"').trim_end_matches('*');
    format!("Franchement, {words} : toujours rien depuis lundi")
}

/// `s` quoted for a POSIX shell when it needs to be.
fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A TOML string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn config(brand: &str, feed: Option<&str>, handle: Option<&str>) -> String {
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# vigie: watching {brand}. Written by `vigie init`; every key is in the README.\n\
         # Check it with `vigie check --config vigie.toml` after each change.\n\n\
         [daemon]\n\
         database = \"vigie.db\"            # beside this file\n\
         rules = [\"rules/*.toml\"]         # every rule file of rules/\n\
         # user_agent = \"vigie/0.1 (+mailto:you@example.org)\"   # say who you are to the sites you poll\n\
         # retention = \"90d\"               # keep posts and hits this long"
    );
    if let Some(h) = handle {
        let _ = writeln!(
            c,
            "brand_accounts = [{}]   # who answers for the brand: its replies answer cases\n\
             # timezone = \"Europe/Paris\"\n\
             # hours = \"mon-fri 08:00-20:00, sat 09:00-13:00\"   # the reply clock runs only then",
            toml_str(h)
        );
    }
    c.push('\n');
    match feed {
        Some(url) => {
            let _ = writeln!(
                c,
                "[[source]]                       # an RSS/Atom feed: a forum, a Mastodon tag, a Reddit search…\n\
                 name = \"feed\"                    # used in `vigie hits --source` and in the database\n\
                 kind = \"rss\"\n\
                 url = {}\n\
                 every = \"5m\"                     # how often to poll (backs off on errors)\n",
                toml_str(url)
            );
        }
        None => {
            let _ = writeln!(
                c,
                "[[source]]                       # a local file of JSON posts, one per line, followed as it grows:\n\
                 name = \"local\"                   # try `echo '{{\"text\": \"…\"}}' >> posts.jsonl` while vigie runs\n\
                 kind = \"jsonl\"\n\
                 path = \"posts.jsonl\"\n\
                 every = \"2s\"\n\
                 # Add an RSS/Atom feed (or run `vigie init --feed URL`):\n\
                 # [[source]]\n\
                 # name = \"forum\"\n\
                 # kind = \"rss\"\n\
                 # url = \"https://forum.example.org/latest.rss\"\n"
            );
        }
    }
    let _ = writeln!(
        c,
        "[[notifier]]                     # alerts printed on stdout; add email, webhook, slack… (README)\n\
         name = \"console\"\n\
         kind = \"console\""
    );
    c
}

fn rules(brand: &str, slug: &str, query: &str, terms: &[String], handle: Option<&str>) -> String {
    let mut r = String::new();
    let _ = writeln!(
        r,
        "# Rules for {brand}. Query language: words, prefix*, \"phrases\", #tags, @mentions,\n\
         # AND (or a space), OR, NOT / -, NEAR/n, ( ); case and accents do not matter.\n\
         # `vigie match --config vigie.toml \"some text\"` shows what a text hits.\n\n\
         [defaults]\n\
         notify = [\"console\"]\n\
         window = \"15m\"                  # alerts count hits in this sliding window\n"
    );
    let example = example_text(&terms[terms.len().min(2) - 1]);
    let _ = writeln!(
        r,
        "[[rule]]\n\
         name = {}\n\
         query = {}",
        toml_str(&format!("{slug}-mentions")),
        toml::Value::String(query.to_string())
    );
    let _ = writeln!(
        r,
        "alert = {{ spike = 3.0, min_count = 5 }}   # 3x the usual count, at least 5 hits\n\
         should_match = [{}]   # `vigie check` runs these examples",
        toml_str(&example)
    );
    if let Some(h) = handle {
        let _ = writeln!(
            r,
            "\n[[rule]]\n\
             name = {}\n\
             query = {}                   # someone speaks to the brand: answer quickly\n\
             alert = {{ each = true }}          # every hit alerts at once\n\
             reply_within = \"30m\"            # opens a case; reminds at 15 min (`vigie cases`)\n\
             should_match = [{}]",
            toml_str(&format!("{slug}-interpelle")),
            toml_str(h),
            toml_str(&format!("{h} mon colis n'est jamais arrivé"))
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_terms() {
        assert_eq!(slug("La Poste!"), "la-poste");
        assert_eq!(slug("  Énergie  Verte "), "énergie-verte");
        assert_eq!(query_term("colis"), "colis");
        assert_eq!(query_term("retard*"), "retard*");
        assert_eq!(query_term("objet cassé"), "\"objet cassé\"");
        assert_eq!(query_term("OR"), "\"OR\"");
    }
}
