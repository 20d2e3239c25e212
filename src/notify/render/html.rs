//! The HTML alert for email, made to survive real mail clients.
//!
//! Clients strip `<style>` blocks and `<head>` rules (Gmail, Outlook), so every style is inline;
//! the layout is one table at most 600 px wide, which every client centres and none widens;
//! every block sets both its text and its background colour, so a client that darkens the page
//! darkens all of it and text never ends up dark on dark; the chart sits on its own white card
//! with a border, which reads on a light or a dark page. What the alert says is `render`'s
//! ([`title`], [`why`], [`facts`], [`posts`]); this file lays it out and escapes it.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as esc};

use super::{case_link, chart_alt, facts, posts, title, why, Locale};
use crate::detect::Alert;

/// The widest the email gets, in CSS pixels.
pub const MAX_WIDTH: u32 = 600;
/// Padding inside the email's frame, in CSS pixels.
const PAD: u32 = 16;

/// Text colour: near black, on the white page.
const INK: &str = "#1f1f1f";
/// Secondary text (labels, bylines): grey that still has 7:1 contrast on white.
const MUTED: &str = "#555555";
/// The page and every block's background.
const PAPER: &str = "#ffffff";
/// Rules and the chart's frame.
const LINE: &str = "#d0d0d0";
/// Links: a blue that keeps its contrast when a client inverts the page.
const LINK: &str = "#0b57d0";

/// The inline chart: its `cid:` and its size in pixels.
#[derive(Debug, Clone, Copy)]
pub struct ChartRef<'a> {
    /// The Content-ID of the inline image.
    pub cid: &'a str,
    /// Width in pixels (at most [`MAX_WIDTH`] less the padding).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The HTML alert: a complete small document; `chart` is the inline chart, if any.
pub fn html(alert: &Alert, loc: &Locale, chart: Option<ChartRef<'_>>) -> String {
    let title = title(alert, loc);
    let font = "font-family:Arial,Helvetica,sans-serif";
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light\">\
         <meta name=\"supported-color-schemes\" content=\"light\">\
         <title>{t}</title></head>\n\
         <body style=\"margin:0;padding:0;background-color:{PAPER};color:{INK};\">\n\
         <table role=\"presentation\" width=\"{MAX_WIDTH}\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"width:100%;max-width:{MAX_WIDTH}px;margin:0 auto;\
         border-collapse:collapse;background-color:{PAPER};color:{INK};{font};font-size:15px;\
         line-height:1.45;\">\n<tr><td style=\"padding:{PAD}px;background-color:{PAPER};\
         color:{INK};\">\n\
         <h1 style=\"margin:0 0 8px 0;font-size:20px;line-height:1.3;color:{INK};{font};\">{t}</h1>\n\
         <p style=\"margin:0 0 16px 0;color:{INK};\">{why}</p>\n\
         <table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
         style=\"border-collapse:collapse;margin:0 0 16px 0;\">\n",
        lang = loc.language.tag(),
        t = esc(&title),
        why = esc(&why(alert, loc)),
    );
    for (label, value) in facts(alert, loc) {
        let _ = writeln!(
            out,
            "<tr><td style=\"padding:2px 12px 2px 0;color:{MUTED};vertical-align:top;\
             white-space:nowrap;\">{}</td><td style=\"padding:2px 0;color:{INK};\">{}</td></tr>",
            esc(&label),
            esc(&value)
        );
    }
    out.push_str("</table>\n");
    if let Some(link) = case_link(alert, loc) {
        // A link styled as a button (mail clients drop forms and scripts): it opens the
        // listener's page, whose own button does the change.
        let _ = writeln!(
            out,
            "<p style=\"margin:0 0 16px 0;\"><a href=\"{}\" rel=\"noopener noreferrer\" \
             style=\"display:inline-block;padding:10px 18px;background-color:{LINK};\
             color:#ffffff;font-weight:bold;text-decoration:none;border-radius:4px;{font};\">{}</a></p>",
            attr(&link.url),
            esc(&link.label)
        );
    }
    if let Some(c) = chart {
        let _ = writeln!(
            out,
            "<img src=\"cid:{}\" width=\"{w}\" height=\"{h}\" alt=\"{}\" \
             style=\"display:block;width:100%;max-width:{w}px;height:auto;border:1px solid {LINE};\
             background-color:#ffffff;margin:0 0 16px 0;\">",
            attr(c.cid),
            attr(&chart_alt(alert, loc)),
            w = c.width.min(MAX_WIDTH - 2 * PAD - 2),
            h = c.height,
        );
    }
    let posts = posts(alert, loc);
    if !posts.is_empty() {
        let _ = writeln!(
            out,
            "<h2 style=\"margin:0 0 4px 0;font-size:17px;color:{INK};{font};\">{}</h2>",
            esc(&loc.msg("top-posts", &[]))
        );
    }
    for p in &posts {
        let _ = write!(
            out,
            "<div style=\"padding:8px 0;border-top:1px solid {LINE};color:{INK};\">\
             <p style=\"margin:0;color:{MUTED};font-size:13px;\">{}</p>\
             <p style=\"margin:4px 0 0 0;color:{INK};\">{}</p>",
            esc(&p.byline(loc)),
            p.marked(|s| esc(s).into_owned(), "<strong>", "</strong>"),
        );
        if let Some(url) = &p.url {
            let _ = write!(
                out,
                "<p style=\"margin:4px 0 0 0;\"><a href=\"{}\" rel=\"noopener noreferrer\" \
                 style=\"color:{LINK};\">{}</a></p>",
                attr(url),
                esc(&loc.msg("open-post", &[]))
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</td></tr></table>\n</body></html>\n");
    out
}
