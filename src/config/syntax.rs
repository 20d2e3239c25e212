//! The syntax of the small languages config values are written in: JSON Pointers (and URL
//! templates embedding them), the JSONPath subset `items` takes, CSS selectors. Pure string
//! checks whose errors quote the value and say what is wrong; `values` locates them. They catch
//! typos (a missing `$` or `/`, an unclosed bracket), not every construct a library would refuse.

/// A JSON Pointer (RFC 6901): `/` then tokens; `~` only as `~0`/`~1`.
pub fn pointer(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!(
            "\"{p}\" is not a JSON Pointer: it must start with \"/\", like \"/id\""
        ));
    }
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "\"{p}\" is not a JSON Pointer: \"~\" must be written \"~0\" (and \"/\" inside a name \"~1\")"
            ));
        }
    }
    Ok(())
}

/// A JSON Pointer, or a template embedding pointers in braces: `"https://x/{/id}"`.
pub fn pointer_or_template(v: &str) -> Result<(), String> {
    if v.starts_with('/') {
        return pointer(v);
    }
    let mut rest = v;
    let mut found = false;
    while let Some(open) = rest.find('{') {
        let Some(len) = rest[open..].find('}') else {
            return Err(format!("\"{v}\": \"{{\" without \"}}\""));
        };
        pointer(&rest[open + 1..open + len])?;
        found = true;
        rest = &rest[open + len + 1..];
    }
    if found {
        Ok(())
    } else {
        Err(format!(
            "\"{v}\" is neither a JSON Pointer (\"/body\") nor a template with pointers (\"https://x/{{/id}}\")"
        ))
    }
}

/// The JSONPath syntax `items` takes: `$`, then `.name`, `['name']`, `[n]`, `[*]` or `.*` steps.
pub fn json_path(p: &str) -> Result<(), String> {
    let Some(mut rest) = p.strip_prefix('$') else {
        return Err(format!(
            "\"{p}\" is not a JSONPath: it must start with \"$\", like \"$.data[*]\""
        ));
    };
    let bad = || format!("\"{p}\" is not a JSONPath like \"$.data[*]\" or \"$['items'][*]\"");
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("..").or_else(|| rest.strip_prefix('.')) {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty()
                || !(name == "*"
                    || name
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$'))
            {
                return Err(bad());
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            // Any selector (`*`, 'name', 0, -1, 0:5, 0,2, ?(@.x > 1)) up to the matching `]`.
            let end = closing(r).ok_or_else(bad)?;
            if r[..end].trim().is_empty() {
                return Err(bad());
            }
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    Ok(())
}

/// Where the `]` that closes an already opened `[` is in `s`, past nested brackets and quotes.
fn closing(s: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') if depth == 0 => return Some(i),
            (None, ']') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A CSS selector, checked for what a typo breaks: balanced brackets, parentheses and quotes,
/// and no combinator at either end.
pub fn selector(s: &str) -> Result<(), String> {
    let t = s.trim();
    let bad = |why: &str| Err(format!("\"{s}\" is not a CSS selector: {why}"));
    if t.starts_with(['>', '+', '~', ',']) || t.ends_with(['>', '+', '~', ',']) {
        return bad("it starts or ends with a combinator");
    }
    let mut stack = Vec::new();
    let mut quote = None;
    for c in t.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(') => stack.push(c),
            (None, ']') if stack.pop() != Some('[') => return bad("unbalanced \"]\""),
            (None, ')') if stack.pop() != Some('(') => return bad("unbalanced \")\""),
            _ => {}
        }
    }
    if quote.is_some() {
        return bad("unclosed quote");
    }
    if !stack.is_empty() {
        return bad("unclosed \"[\" or \"(\"");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_and_templates() {
        assert!(pointer("/a/b~0c~1d").is_ok());
        assert!(pointer("a").is_err());
        assert!(pointer("/a~2").is_err());
        assert!(pointer_or_template("https://x/{/id}?p={/page}").is_ok());
        assert!(pointer_or_template("body").is_err());
        assert!(pointer_or_template("https://x/{id}").is_err());
        assert!(pointer_or_template("https://x/{/id").is_err());
    }

    #[test]
    fn json_paths() {
        for ok in [
            "$",
            "$.data[*]",
            "$['items'][*]",
            "$.a.b[0]",
            "$..post",
            "$.*",
            "$.data[?(@.lang == 'fr')]",
            "$.a[0:5]",
            "$.a[\"x]y\"]",
        ] {
            assert!(json_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "data[*]",
            "$.data[",
            "$.",
            "$.a b",
            "$[]",
            "$.a[?(@.b[0)]",
            "",
        ] {
            assert!(json_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selectors() {
        for ok in [
            "article.review",
            "a[href^='/p']",
            "li:not(.ad) > p",
            "div, span",
        ] {
            assert!(selector(ok).is_ok(), "{ok}");
        }
        for bad in ["> p", "a[href", "li:not(.ad", "a[title='x]", "p +"] {
            assert!(selector(bad).is_err(), "{bad}");
        }
    }
}
