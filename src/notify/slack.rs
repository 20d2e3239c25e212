//! The `slack` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.
//!
//! A `text` fallback (notifications, old clients) and Block Kit `blocks`: the title and why,
//! the facts as section fields, one section per quoted post (matched words in bold). All text is mrkdwn escaped by
//! `render::slack_escape` (no `<url|text>`, `<!channel>` or `<@U1>` can come from a post) and
//! marked `verbatim` so Slack auto-links nothing; the only links are the post's own http(s) URL,
//! written by us as `<url|Open post>`, and a case alert's signed link (`<url|Mark as handled>`).

use serde_json::{json, Value};

use super::render::{self, Locale};
use super::Alert;

/// `kind = "slack"`: one secret `url` (see `http::ChatSettings`).
pub const KIND: super::Kind = super::Kind {
    def: super::http::chat_kind("slack"),
    build: |spec, locale, env| super::http::build_chat(super::http::Flavor::Slack, spec, locale, env),
};

/// Slack's limit on a section's text.
const SECTION_CHARS: usize = 3000;
/// Slack's limit on one section field.
const FIELD_CHARS: usize = 2000;

/// One mrkdwn text object that Slack must not auto-link.
fn mrkdwn(text: String, max: usize) -> Value {
    json!({ "type": "mrkdwn", "text": render::cut_markup(&text, max), "verbatim": true })
}

/// The JSON body POSTed to the webhook, in `loc`'s language and zone.
pub fn body(alert: &Alert, loc: &Locale) -> Value {
    let esc = render::slack_escape;
    let title = esc(&render::title(alert, loc));
    let why = esc(&render::why(alert, loc));
    let facts = render::facts(alert, loc);
    let mut blocks = vec![
        json!({ "type": "section", "text": mrkdwn(format!("*{title}*\n{why}"), SECTION_CHARS) }),
        json!({
            "type": "section",
            "fields": facts
                .iter()
                .take(10)
                .map(|(label, value)| {
                    mrkdwn(format!("*{}*\n{}", esc(label), esc(value)), FIELD_CHARS)
                })
                .collect::<Vec<_>>(),
        }),
    ];
    if let Some(link) = render::case_link(alert, loc) {
        let text = format!("<{}|{}>", link.url.replace('&', "&amp;"), esc(&link.label));
        blocks.push(json!({ "type": "section", "text": mrkdwn(text, SECTION_CHARS) }));
    }
    let posts = render::posts(alert, loc);
    if !posts.is_empty() {
        blocks.push(json!({ "type": "divider" }));
    }
    for p in posts {
        let mut text = format!("{}\n{}", esc(&p.byline(loc)), p.marked(esc, "*", "*"));
        if let Some(url) = &p.url {
            text.push_str(&format!(
                "\n<{}|{}>",
                url.replace('&', "&amp;"),
                esc(&loc.msg("open-post", &[]))
            ));
        }
        blocks.push(json!({ "type": "section", "text": mrkdwn(text, SECTION_CHARS) }));
    }
    json!({
        "text": render::cut_markup(&format!("[vigie] {title} — {why}"), SECTION_CHARS),
        "blocks": blocks,
    })
}
