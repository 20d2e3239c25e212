//! The `teams` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.
//!
//! Teams Workflows webhooks accept Adaptive Cards only: one `message` with one card attachment.
//! TextBlocks render a markdown subset, so every text is backslash-escaped by `render`; the
//! post links are `Action.OpenUrl` buttons, and only for http(s) URLs.

use serde_json::{json, Value};

use super::render::{self, Locale};
use super::Alert;

/// `kind = "teams"`: one secret `url` (see `http::ChatSettings`).
pub const KIND: super::Kind = super::Kind {
    def: super::http::chat_kind("teams"),
    build: |spec, locale, env| super::http::build_chat(super::http::Flavor::Teams, spec, locale, env),
};

/// Longest text of one TextBlock; with at most 5 posts the card stays well under Teams' ~28 KB.
const BLOCK_CHARS: usize = 2000;

/// A wrapped TextBlock of already-escaped markdown.
fn block(text: &str) -> Value {
    json!({ "type": "TextBlock", "text": render::cut_markup(text, BLOCK_CHARS), "wrap": true })
}

/// The JSON body POSTed to the webhook, in `loc`'s language and zone.
pub fn body(alert: &Alert, loc: &Locale) -> Value {
    let esc = render::markdown_escape;
    let mut title = block(&esc(&render::title(alert, loc)));
    title["size"] = json!("Large");
    title["weight"] = json!("Bolder");
    let why = block(&esc(&render::why(alert, loc)));
    let facts: Vec<Value> = render::facts(alert, loc)
        .iter()
        .map(|(label, value)| json!({ "title": label, "value": render::cut_markup(&esc(value), BLOCK_CHARS) }))
        .collect();
    let mut body = vec![title, why, json!({ "type": "FactSet", "facts": facts })];
    let mut actions = Vec::new();
    if let Some(link) = render::case_link(alert, loc) {
        actions.push(json!({ "type": "Action.OpenUrl", "title": link.label, "url": link.url, "style": "positive" }));
    }
    let posts = render::posts(alert, loc);
    if !posts.is_empty() {
        let mut head = block(&esc(&loc.msg("top-posts", &[])));
        head["weight"] = json!("Bolder");
        head["separator"] = json!(true);
        body.push(head);
    }
    for (i, p) in posts.iter().enumerate() {
        let mut who = block(&format!("{}. {}", i + 1, esc(&p.byline(loc))));
        who["spacing"] = json!("Medium");
        who["isSubtle"] = json!(true);
        body.push(who);
        body.push(block(&p.marked(esc, "**", "**")));
        if let Some(url) = &p.url {
            let open = format!("{} {}", loc.msg("open-post", &[]), i + 1);
            actions.push(json!({ "type": "Action.OpenUrl", "title": open, "url": url }));
        }
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "lang": loc.language.tag(),
        "body": body,
        "msteams": { "width": "Full" },
    });
    if !actions.is_empty() {
        card["actions"] = json!(actions);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}
