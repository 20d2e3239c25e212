//! Alert → text, HTML and chat markup: the ONLY place where post text is escaped.
//!
//! Post text, author names, source names (and, to be safe, rule names, reasons and errors) are
//! untrusted. Every renderer takes them through [`untrusted`] ([`clean`]: control, bidi and
//! zero-width characters out, CR/LF folded to spaces; [`defang`]: no URL a platform would
//! auto-link; [`unmention`]: no `@here`, `<@U1>` or `@everyone`), cuts them, and then through
//! the escaping of its target ([`slack_escape`], [`markdown_escape`], HTML). Links are only ever
//! the post's own URL, checked by [`safe_url`]. The chat modules (`slack`, `mattermost`, `teams`,
//! `discord`) lay out what [`title`], [`facts`] and [`posts`] give them; they never put post text
//! anywhere themselves.

use std::fmt::Write as _;

use super::{Alert, AlertKind, SourceState};

/// How much of a post's text an alert quotes, in characters.
pub const EXCERPT_CHARS: usize = 280;
/// How much of an author or source name an alert shows.
const NAME_CHARS: usize = 64;
/// Longest URL rendered as a link.
const MAX_URL: usize = 2000;

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

/// A window length as configured: `30s`, `15m`, `1h`, `7d`.
pub fn fmt_window(secs: u64) -> String {
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A count or rate: `38`, `2.5`, `15.2`.
pub fn fmt_num(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// A time as shown in alerts: `2026-11-22 09:15 UTC`.
pub fn fmt_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The state of a `source` alert, as a word.
fn state_word(state: Option<SourceState>) -> &'static str {
    match state {
        Some(SourceState::Failing) => "failing",
        Some(SourceState::Silent) => "silent",
        Some(SourceState::Recovered) => "recovered",
        None => "unknown",
    }
}

/// One line saying what fired, free of markup (its names already [`untrusted`]).
pub fn title(alert: &Alert) -> String {
    let name = untrusted_excerpt(&alert.rule, NAME_CHARS);
    let window = fmt_window(alert.window_secs);
    match alert.kind {
        AlertKind::Spike => format!("Spike on {name}: {} hits in {window}", alert.count),
        AlertKind::Threshold => {
            format!(
                "Threshold reached on {name}: {} hits in {window}",
                alert.count
            )
        }
        AlertKind::Each => format!("New hit on {name}"),
        AlertKind::Source => match alert.source_state {
            Some(SourceState::Recovered) => format!("Source {name} recovered"),
            state => format!("Source {name} is {}", state_word(state)),
        },
    }
}

/// What fired and why, as (label, value) pairs; values are [`untrusted`] but not escaped.
pub fn facts(alert: &Alert) -> Vec<(&'static str, String)> {
    let window = fmt_window(alert.window_secs);
    let start = alert.window_start();
    let from = if start.date_naive() == alert.fired_at.date_naive() {
        start.format("%H:%M").to_string()
    } else {
        start.format("%Y-%m-%d %H:%M").to_string()
    };
    let span = format!("{window}, {from} to {}", fmt_time(alert.fired_at));
    let why = untrusted(&alert.reason);
    let time = fmt_time(alert.fired_at);
    if alert.kind == AlertKind::Source {
        return vec![
            ("Source", untrusted_excerpt(&alert.rule, NAME_CHARS)),
            ("Kind", alert.kind.as_str().into()),
            ("State", state_word(alert.source_state).into()),
            (
                "Error",
                alert
                    .error
                    .as_deref()
                    .map_or("none".into(), |e| untrusted_excerpt(e, 500)),
            ),
            ("Failures in a row", alert.count.to_string()),
            ("Why", why),
            ("Time", time),
        ];
    }
    let usual = if alert.baseline > 0.0 {
        fmt_num(alert.baseline)
    } else {
        "none".into()
    };
    vec![
        ("Rule", untrusted_excerpt(&alert.rule, NAME_CHARS)),
        ("Kind", alert.kind.as_str().into()),
        (
            "Count",
            format!(
                "{} in {window} (usual {usual}, bar {})",
                alert.count,
                fmt_num(alert.bar)
            ),
        ),
        (
            "Ratio",
            alert
                .ratio()
                .map_or("n/a (no baseline)".into(), |r| format!("{}×", fmt_num(r))),
        ),
        ("Window", span),
        ("Why", why),
        ("Time", time),
    ]
}

/// One quoted post, ready for a target's escaping: names and excerpt [`untrusted`] and cut,
/// `url` only when [`safe_url`] accepts it.
#[derive(Debug, Clone, PartialEq)]
pub struct PostView {
    /// The author, or `?`.
    pub author: String,
    /// The source's name.
    pub source: String,
    /// Up to [`EXCERPT_CHARS`] of the text.
    pub excerpt: String,
    /// The post's link, if it is a valid http(s) URL.
    pub url: Option<String>,
    /// `2026-11-22 09:14 UTC`, and the follower count when known.
    pub when: String,
}

/// The alert's posts, in order.
pub fn posts(alert: &Alert) -> Vec<PostView> {
    alert
        .posts
        .iter()
        .map(|p| PostView {
            author: untrusted_excerpt(p.author.as_deref().unwrap_or("?"), NAME_CHARS),
            source: untrusted_excerpt(&p.source, NAME_CHARS),
            excerpt: untrusted_excerpt(&p.text, EXCERPT_CHARS),
            url: p.url.as_deref().and_then(safe_url),
            when: match p.followers {
                Some(n) => format!("{}, {n} followers", fmt_time(p.created_at)),
                None => fmt_time(p.created_at),
            },
        })
        .collect()
}

/// The plain-text alert: link-free (not even the post's link), used by the console, email's
/// text part and chat fallbacks.
pub fn text(alert: &Alert) -> String {
    let mut out = format!("[vigie] {}\n", title(alert));
    for (label, value) in facts(alert) {
        let _ = writeln!(out, "{label}: {value}");
    }
    let posts = posts(alert);
    if !posts.is_empty() {
        out.push_str("\nTop posts:\n");
    }
    for (i, p) in posts.iter().enumerate() {
        let _ = writeln!(out, "{}. {} on {} ({})", i + 1, p.author, p.source, p.when);
        let _ = writeln!(out, "   {}", p.excerpt);
    }
    out
}

/// The HTML alert for email: a complete small document; `chart_cid` is the Content-ID of the
/// inline chart, if any.
pub fn html(alert: &Alert, chart_cid: Option<&str>) -> String {
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as esc};
    let title = title(alert);
    let mut out = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n\
         <body style=\"font-family:sans-serif\">\n<h2>{t}</h2>\n<table>\n",
        t = esc(&title)
    );
    for (label, value) in facts(alert) {
        let _ = writeln!(
            out,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            esc(label),
            esc(&value)
        );
    }
    out.push_str("</table>\n");
    if let Some(cid) = chart_cid {
        let alt = format!(
            "Hits per {} over the last 24 hours: {} now, usual {}, bar {}",
            fmt_window(alert.window_secs),
            alert.count,
            fmt_num(alert.baseline),
            fmt_num(alert.bar)
        );
        let _ = writeln!(
            out,
            "<p><img src=\"cid:{}\" alt=\"{}\"></p>",
            attr(cid),
            attr(&alt)
        );
    }
    let posts = posts(alert);
    if !posts.is_empty() {
        out.push_str("<h3>Top posts</h3>\n<ol>\n");
    }
    for p in &posts {
        let _ = write!(
            out,
            "<li><b>{}</b> on {} ({})<br>{}",
            esc(&p.author),
            esc(&p.source),
            esc(&p.when),
            esc(&p.excerpt)
        );
        if let Some(url) = &p.url {
            let _ = write!(
                out,
                "<br><a href=\"{}\" rel=\"noopener noreferrer\">Open post</a>",
                attr(url)
            );
        }
        out.push_str("</li>\n");
    }
    if !posts.is_empty() {
        out.push_str("</ol>\n");
    }
    out.push_str("</body></html>\n");
    out
}
