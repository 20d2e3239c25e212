//! The `mattermost` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.
//!
//! One markdown `text`. Mattermost notifies on a plain `@channel` and renders links, so post
//! text arrives here defanged and with its `@` neutralised (`render::untrusted`) and is
//! backslash-escaped by `render::markdown_escape`; the only link is the post's own http(s) URL.

use serde_json::{json, Value};

use super::{render, Alert};

/// Mattermost's limit on a post's text.
const TEXT_CHARS: usize = 16_383;

/// The JSON body POSTed to the webhook.
pub fn body(alert: &Alert) -> Value {
    json!({ "username": "vigie", "text": markdown(alert, true, TEXT_CHARS) })
}

/// The alert as markdown (also Discord's embed description), with the title as a heading when
/// `heading`, cut to `max` characters.
pub(super) fn markdown(alert: &Alert, heading: bool, max: usize) -> String {
    let esc = render::markdown_escape;
    let mut out = String::new();
    if heading {
        out = format!("#### {}\n", esc(&render::title(alert)));
    }
    for (label, value) in render::facts(alert) {
        out.push_str(&format!("**{label}:** {}\n", esc(&value)));
    }
    let posts = render::posts(alert);
    if !posts.is_empty() {
        out.push_str("\n**Top posts**\n");
    }
    for (i, p) in posts.iter().enumerate() {
        out.push_str(&format!(
            "{}. **{}** on {} ({})\n    {}",
            i + 1,
            esc(&p.author),
            esc(&p.source),
            esc(&p.when),
            esc(&p.excerpt)
        ));
        if let Some(url) = &p.url {
            out.push_str(&format!(" [Open post]({url})"));
        }
        out.push('\n');
    }
    render::cut_markup(&out, max)
}
