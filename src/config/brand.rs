//! `[daemon] brand_accounts` (SPEC §5.1): who answers for the brand, per platform.
//!
//! Each entry is a handle (`"@lisalaposte"`: every source) or a table naming the sources it
//! applies to by glob (`{ source = "x-*", handle = "@lisalaposte" }`), for platforms where the
//! brand's handle differs. Sources receive the handles that apply to them
//! ([`SourceSpec::brand_accounts`](super::SourceSpec)) so that they can fetch the brand's own
//! posts (its replies); the store treats posts by these authors as the brand's answers, never as
//! complaints. Handles compare as [`same_handle`] says.

use toml::de::DeValue;

use super::raw::Reader;

/// One `brand_accounts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandAccount {
    /// The handle as written (`@lisalaposte`, `lisalaposte@mastodon.social`).
    pub handle: String,
    /// The source names it applies to (a glob), or every source.
    pub source: Option<String>,
}

impl BrandAccount {
    /// Whether this account speaks for the brand on `source`.
    pub fn applies_to(&self, source: &str) -> bool {
        match &self.source {
            None => true,
            Some(glob) => globset::Glob::new(glob)
                .map(|g| g.compile_matcher().is_match(source))
                .unwrap_or(false),
        }
    }
}

/// The handles of `accounts` that apply to `source`, as written.
pub fn handles_for(accounts: &[BrandAccount], source: &str) -> Vec<String> {
    accounts
        .iter()
        .filter(|a| a.applies_to(source))
        .map(|a| a.handle.clone())
        .collect()
}

/// Whether two handles name the same account: case-insensitive, with or without the leading
/// `@`, and a Mastodon handle without its server (`@lisalaposte`) equals the same name with one
/// (`lisalaposte@mastodon.social`). Two handles that both name a server must name the same one.
pub fn same_handle(a: &str, b: &str) -> bool {
    let split = |h: &str| {
        let h = h.trim().trim_start_matches('@').to_lowercase();
        match h.split_once('@') {
            Some((user, server)) => (user.to_string(), Some(server.to_string())),
            None => (h, None),
        }
    };
    let (ua, sa) = split(a);
    let (ub, sb) = split(b);
    !ua.is_empty()
        && ua == ub
        && match (sa, sb) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// Reads `brand_accounts` from `[daemon]`: a list of handles and `{ source, handle }` tables.
pub fn read(r: &mut Reader<'_, '_, '_>) -> Vec<BrandAccount> {
    const KEY: &str = "brand_accounts";
    let Some(v) = r.raw(KEY) else {
        return Vec::new();
    };
    let file = r.file();
    let DeValue::Array(items) = v.get_ref() else {
        r.error(
            v.span().start,
            format!("\"{KEY}\" must be a list of handles or {{ source, handle }} tables"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        let at = item.span().start;
        match item.get_ref() {
            DeValue::String(s) if !s.trim().trim_start_matches('@').is_empty() => {
                out.push(BrandAccount {
                    handle: s.to_string(),
                    source: None,
                })
            }
            DeValue::Table(t) => {
                let mut sub = Reader::new(file, t, at, r.errors);
                let handle = sub.required("handle", KEY);
                let source = sub.string("source");
                if let Some((glob, span)) = &source {
                    if let Err(e) = globset::Glob::new(glob) {
                        sub.error(span.start, format!("{KEY}: \"source\" is not a valid glob: {e}"));
                    }
                }
                sub.finish(&["handle", "source"]);
                if let Some((handle, _)) = handle {
                    out.push(BrandAccount {
                        handle,
                        source: source.map(|(s, _)| s),
                    });
                }
            }
            _ => r.error(
                at,
                format!("\"{KEY}\" entries must be a handle (\"@brand\") or {{ source = \"x-*\", handle = \"@brand\" }}"),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_compare_without_at_case_or_missing_server() {
        assert!(same_handle("@LisaLaPoste", "lisalaposte"));
        assert!(same_handle("@lisalaposte", "lisalaposte@mastodon.social"));
        assert!(same_handle(
            "lisalaposte@mastodon.social",
            "@LisaLaPoste@Mastodon.Social"
        ));
        assert!(!same_handle(
            "lisalaposte@mastodon.social",
            "lisalaposte@piaille.fr"
        ));
        assert!(!same_handle("@lisa", "@lisalaposte"));
        assert!(!same_handle("@", "@"));
    }

    #[test]
    fn per_source_entries_apply_by_glob() {
        let accounts = vec![
            BrandAccount {
                handle: "@lisalaposte".into(),
                source: None,
            },
            BrandAccount {
                handle: "@LaPoste_Aide".into(),
                source: Some("x-*".into()),
            },
        ];
        assert_eq!(handles_for(&accounts, "mastodon-fr"), ["@lisalaposte"]);
        assert_eq!(
            handles_for(&accounts, "x-fr"),
            ["@lisalaposte", "@LaPoste_Aide"]
        );
    }
}
