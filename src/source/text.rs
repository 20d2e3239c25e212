//! HTML → plain text, for every source that receives HTML (feed content, forum posts).
//!
//! `html2text` parses with html5ever, which survives the broken markup found in the wild, and
//! decodes every HTML entity (`r&eacute;clamation` → `réclamation`). Block elements and `<br>`
//! become line breaks, so `<p>colis</p><p>retard</p>` stays two words; `<script>` and `<style>`
//! are dropped. Tables (layout tables, as in App Store reviews) are read cell after cell, without
//! drawn borders, so two columns never interleave their lines. The result is what the matcher
//! and the alerts see; escaping it again for an email or a chat message is the notifiers' job.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Lines wider than this are never wrapped.
const NO_WRAP: usize = 100_000;

/// The plain text of an HTML fragment; plain text passes through with entities decoded.
pub fn html_to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return tidy(html);
    }
    let rendered = catch_unwind(AssertUnwindSafe(|| {
        html2text::config::with_decorator(html2text::render::TrivialDecorator::new())
            .allow_width_overflow()
            .no_link_wrapping()
            .raw_mode(true)
            .string_from_read(html.as_bytes(), NO_WRAP)
    }));
    match rendered {
        Ok(Ok(text)) => tidy(&text),
        // Never lose a post over its markup: fall back to the entity-decoded source.
        _ => tidy(&html_escape::decode_html_entities(html)),
    }
}

/// Trims lines and drops runs of blank lines.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank {
                out.push('\n');
            }
        }
        out.push_str(line.trim_start());
        blank = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_plain_text() {
        let cases = [
            ("r&eacute;clamation", "réclamation"),
            ("<p>colis</p><p>retard</p>", "colis\n\nretard"),
            ("un<br>deux", "un\ndeux"),
            (
                "<b>objet</b> <i>cassé</i> &amp; perdu",
                "objet cassé & perdu",
            ),
            (
                "l&rsquo;objet&nbsp;cass&#233; &#x1F621;",
                "l’objet\u{a0}cassé 😡",
            ),
            ("<script>alert(1)</script>texte", "texte"),
            ("<style>p{}</style><div>a</div>", "a"),
            ("texte  simple ", "texte  simple"),
            ("<a href=\"https://x.fr\">lien</a>", "lien"),
            ("<p>non fermé <b>gras", "non fermé gras"),
            // Layout tables (App Store reviews' HTML) are their cells' text, without rules.
            (
                "<table><tr><td><b>Titre</b></td><td>colis</td></tr><tr><td>perdu</td></tr></table>",
                "Titre\ncolis\nperdu",
            ),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), want, "{html:?}");
        }
    }
}
