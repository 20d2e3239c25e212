//! The `mattermost` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.
//!
//! One markdown `text`. Mattermost notifies on a plain `@channel` and renders links, so post
//! text arrives here defanged and with its `@` neutralised (`render::untrusted`) and is
//! backslash-escaped by `render::markdown_escape`; the only links are the post's own http(s) URL
//! and a case alert's signed "Mark as handled" link (`render::case_link`).

use serde_json::{json, Value};

use super::render::{self, Locale};
use super::Alert;

/// `kind = "mattermost"`: one secret `url` (see `http::ChatSettings`).
pub const KIND: super::Kind = super::Kind {
    def: super::http::chat_kind("mattermost"),
    build: |spec, locale, env| super::http::build_chat(super::http::Flavor::Mattermost, spec, locale, env),
};

/// Mattermost's limit on a post's text.
const TEXT_CHARS: usize = 16_383;

/// The JSON body POSTed to the webhook, in `loc`'s language and zone.
pub fn body(alert: &Alert, loc: &Locale) -> Value {
    json!({ "username": "vigie", "text": markdown(alert, loc, true, TEXT_CHARS) })
}

/// The alert as markdown (also Discord's embed description), with the title as a heading when
/// `heading`, cut to `max` characters.
pub(super) fn markdown(alert: &Alert, loc: &Locale, heading: bool, max: usize) -> String {
    let esc = render::markdown_escape;
    let mut out = String::new();
    if heading {
        out = format!("#### {}\n", esc(&render::title(alert, loc)));
    }
    out.push_str(&format!("{}\n\n", esc(&render::why(alert, loc))));
    for (label, value) in render::facts(alert, loc) {
        out.push_str(&format!(
            "**{}**{} {}\n",
            esc(&label),
            loc.msg("colon", &[]),
            esc(&value)
        ));
    }
    if let Some(link) = render::case_link(alert, loc) {
        out.push_str(&format!("\n**[{}]({})**\n", esc(&link.label), link.url));
    }
    let posts = render::posts(alert, loc);
    if !posts.is_empty() {
        out.push_str(&format!("\n**{}**\n", esc(&loc.msg("top-posts", &[]))));
    }
    for (i, p) in posts.iter().enumerate() {
        out.push_str(&format!(
            "{}. {}\n    {}",
            i + 1,
            esc(&p.byline(loc)),
            p.marked(esc, "**", "**")
        ));
        if let Some(url) = &p.url {
            out.push_str(&format!(" [{}]({url})", esc(&loc.msg("open-post", &[]))));
        }
        out.push('\n');
    }
    render::cut_markup(&out, max)
}
