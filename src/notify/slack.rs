//! The `slack` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.
//!
//! A `text` fallback (notifications, old clients) and Block Kit `blocks`: the title and reason,
//! the facts as section fields, one section per quoted post. All text is mrkdwn escaped by
//! `render::slack_escape` (no `<url|text>`, `<!channel>` or `<@U1>` can come from a post) and
//! marked `verbatim` so Slack auto-links nothing; the only link is the post's own http(s) URL,
//! written by us as `<url|Open post>`.

use serde_json::{json, Value};

use super::{render, Alert};

/// Slack's limit on a section's text.
const SECTION_CHARS: usize = 3000;
/// Slack's limit on one section field.
const FIELD_CHARS: usize = 2000;

/// One mrkdwn text object that Slack must not auto-link.
fn mrkdwn(text: String, max: usize) -> Value {
    json!({ "type": "mrkdwn", "text": render::cut_markup(&text, max), "verbatim": true })
}

/// The JSON body POSTed to the webhook.
pub fn body(alert: &Alert) -> Value {
    let esc = render::slack_escape;
    let title = esc(&render::title(alert));
    let facts = render::facts(alert);
    let why = facts
        .iter()
        .find(|(label, _)| *label == "Why")
        .map(|(_, v)| esc(v))
        .unwrap_or_default();
    let mut blocks = vec![
        json!({ "type": "section", "text": mrkdwn(format!("*{title}*\n{why}"), SECTION_CHARS) }),
        json!({
            "type": "section",
            "fields": facts
                .iter()
                .filter(|(label, _)| *label != "Why")
                .take(10)
                .map(|(label, value)| mrkdwn(format!("*{label}*\n{}", esc(value)), FIELD_CHARS))
                .collect::<Vec<_>>(),
        }),
    ];
    let posts = render::posts(alert);
    if !posts.is_empty() {
        blocks.push(json!({ "type": "divider" }));
    }
    for p in posts {
        let mut text = format!(
            "*{}* on {} ({})\n{}",
            esc(&p.author),
            esc(&p.source),
            esc(&p.when),
            esc(&p.excerpt)
        );
        if let Some(url) = &p.url {
            text.push_str(&format!("\n<{}|Open post>", url.replace('&', "&amp;")));
        }
        blocks.push(json!({ "type": "section", "text": mrkdwn(text, SECTION_CHARS) }));
    }
    json!({
        "text": render::cut_markup(&format!("[vigie] {title} — {why}"), SECTION_CHARS),
        "blocks": blocks,
    })
}
