//! Alert → text, HTML and chat markup: the ONLY place where post text is escaped.
//!
//! Post text, author names and source names are untrusted. Every renderer here takes them
//! through [`clean`] (control, bidi and zero-width characters out, CR/LF folded to spaces)
//! and then through the escaping of its target. Notifiers call these functions; they never
//! put post text anywhere themselves.

use super::Alert;

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

/// Bidi controls and zero-width characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}' | '\u{00AD}')
}

/// [`clean`], then cut to at most `max` characters, ending with `…` when cut.
pub fn excerpt(s: &str, max: usize) -> String {
    let s = clean(s);
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The plain-text alert: link-free, used by the console, email's text part and chat fallbacks.
pub fn text(alert: &Alert) -> String {
    let mut out = format!(
        "[vigie] {} {}: {}\n",
        alert.kind.as_str(),
        clean(&alert.rule),
        alert.reason
    );
    for p in &alert.posts {
        out.push_str(&format!(
            "- {} on {}: {}\n",
            clean(p.author.as_deref().unwrap_or("?")),
            clean(&p.source),
            excerpt(&p.text, 280)
        ));
    }
    out
}

/// The HTML alert for email; `chart_cid` is the Content-ID of the inline chart, if any.
pub fn html(alert: &Alert, chart_cid: Option<&str>) -> String {
    let mut out = format!(
        "<html><body><h2>{}</h2><p>{}</p>",
        html_escape::encode_text(&clean(&alert.rule)),
        html_escape::encode_text(&alert.reason)
    );
    if let Some(cid) = chart_cid {
        out.push_str(&format!(
            "<p><img src=\"cid:{cid}\" alt=\"hits over the last 24 hours\"></p>"
        ));
    }
    out.push_str("</body></html>");
    out
}
