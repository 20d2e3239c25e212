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
//!
//! The escaping primitives live in `escape`; this file lays out an alert with them.

mod escape;

use std::fmt::Write as _;

pub use escape::*;

use super::{Alert, AlertKind, SourceState};

/// How much of a post's text an alert quotes, in characters.
pub const EXCERPT_CHARS: usize = 280;
/// How much of an author or source name an alert shows.
const NAME_CHARS: usize = 64;
/// Longest URL rendered as a link.
pub(crate) const MAX_URL: usize = 2000;

/// A window length as configured: `30s`, `15m`, `1h`, `7d`.
pub fn fmt_window(secs: u64) -> String {
    crate::detect::human(std::time::Duration::from_secs(secs))
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
    state.map_or("unknown", SourceState::as_str)
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
