//! Escaping primitives for untrusted text: cleaning, cutting, defanging, unmentioning,
//! Slack and markdown escaping, and the one check that makes a URL a safe link target.

use std::fmt::Write as _;

use super::MAX_URL;

/// Removes control, bidi-override and zero-width characters and folds whitespace runs
/// (CR and LF included) into one space.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Bidi controls, zero-width and other invisible formatting characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}'
        | '\u{180E}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// [`clean`], then cut to at most `max` characters, ending with `…` when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    cut(&clean(s), max)
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cuts already-escaped markup to at most `max` characters without leaving half an escape
/// (`&am`, a lone `\`) or half a link (`<https://…`, `[label](https://…`) at the end.
pub fn cut_markup(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    let tail_from = out.len().saturating_sub(10);
    if let Some(amp) = out.rfind('&').filter(|&i| i >= tail_from) {
        if !out[amp..].contains(';') {
            out.truncate(amp);
        }
    }
    if let Some(lt) = out.rfind('<') {
        if !out[lt..].contains('>') {
            out.truncate(lt);
        }
    }
    if let Some(open) = out.rfind("](") {
        if !out[open..].contains(')') && !escaped_at(&out, open) {
            out.truncate(out[..open].rfind('[').unwrap_or(open));
        }
    }
    if out.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1 {
        out.pop();
    }
    out.push('…');
    out
}

/// Whether the byte at `i` is preceded by an odd number of backslashes.
fn escaped_at(s: &str, i: usize) -> bool {
    s[..i].chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Rewrites URLs and URL-like text so that no platform turns them into links:
/// `https://x.fr` → `hxxps[:]//x[.]fr`, `javascript:` → `javascript[:]`, `www.a.com` →
/// `www[.]a[.]com`. Meant for text that is already [`clean`].
pub fn defang(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        let slashes = |j: usize| chars.get(j + 1) == Some(&'/') && chars.get(j + 2) == Some(&'/');
        if is_scheme_char(chars[i]) {
            let start = i;
            while i < chars.len() && is_scheme_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after = chars.get(i + 1).copied();
            if chars.get(i) == Some(&':')
                && (slashes(i)
                    || dangerous_scheme(&word, after.is_some_and(|c| !c.is_whitespace())))
            {
                match word.to_ascii_lowercase().as_str() {
                    "http" => out.push_str("hxxp"),
                    "https" => out.push_str("hxxps"),
                    _ => out.push_str(&word),
                }
                out.push_str("[:]");
                i += 1;
            } else {
                out.push_str(&word);
            }
        } else if chars[i] == ':' && slashes(i) {
            out.push_str("[:]");
            i += 1;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    // Domain-like dots: a letter or digit, a dot, then two letters (`evil.com`, not `2.5`).
    let chars: Vec<char> = out.chars().collect();
    let mut done = String::with_capacity(out.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let domain_dot = c == '.'
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|c| c.is_alphabetic())
            && chars.get(i + 2).is_some_and(|c| c.is_alphabetic());
        if domain_dot {
            done.push_str("[.]");
        } else {
            done.push(c);
        }
    }
    done
}

/// Characters of a URL scheme (RFC 3986).
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Schemes that open an app or a file without `//`, defanged when glued to what follows.
#[rustfmt::skip]
const APP_SCHEMES: [&str; 18] = [
    "file", "mailto", "tel", "sms", "blob", "about", "intent", "ftp", "ws", "wss", "callto",
    "skype", "slack", "discord", "msteams", "mattermost", "steam", "irc",
];

/// Schemes that run code or open an app without `//`. Script schemes always count; the
/// others only when something follows the colon directly (`tel:+33…`, not `Hôtel: `).
fn dangerous_scheme(word: &str, glued: bool) -> bool {
    let w = word.to_ascii_lowercase();
    ["javascript", "vbscript", "livescript"]
        .iter()
        .any(|s| w.ends_with(s))
        || w == "data"
        || (glued && APP_SCHEMES.contains(&w.as_str()))
}

/// Neutralises mentions everywhere: `@` becomes the fullwidth `＠` (U+FF20), so `@here`,
/// `@channel`, `@everyone`, `<!channel>`'s look-alikes and `<@U123>` notify nobody.
pub fn unmention(s: &str) -> String {
    s.replace('@', "\u{FF20}")
}

/// What every untrusted string goes through before its target's escaping:
/// [`clean`], [`defang`], [`unmention`].
pub fn untrusted(s: &str) -> String {
    unmention(&defang(&clean(s)))
}

/// [`untrusted`], cut to `max` characters.
pub fn untrusted_excerpt(s: &str, max: usize) -> String {
    cut(&untrusted(s), max)
}

/// Slack mrkdwn escaping: `&`, `<`, `>` as entities, so no `<url|text>`, `<!channel>` or
/// `<@U1>` can be formed.
pub fn slack_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Markdown escaping for Mattermost, Discord and Teams: a backslash before every character
/// that can start formatting or a link (`\ * _ ~ ` [ ] ( ) < > # | !`).
pub fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The post link as it may be rendered: only `http://` or `https://` (any case), parsed and
/// re-serialised (ASCII host), with `< > | ( ) [ ] " ' \` `` ` `` and spaces percent-encoded so
/// it cannot close a Slack or markdown link. `None` for anything else.
pub fn safe_url(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let head: String = raw.chars().take(8).collect::<String>().to_ascii_lowercase();
    if !(head.starts_with("http://") || head.starts_with("https://")) || raw.len() > MAX_URL {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let mut out = String::with_capacity(url.as_str().len());
    for c in url.as_str().chars() {
        if matches!(
            c,
            '<' | '>' | '|' | '(' | ')' | '[' | ']' | '"' | '\'' | '\\' | '`' | ' '
        ) || !c.is_ascii_graphic()
        {
            let _ = write!(out, "%{:02X}", c as u32 & 0xFF);
        } else {
            out.push(c);
        }
    }
    Some(out)
}
