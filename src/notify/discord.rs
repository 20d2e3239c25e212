//! The `discord` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.
//!
//! A short `content` line and one embed holding the facts and the posts as markdown (escaped by
//! `render`). `allowed_mentions: {"parse": []}` is always set, so even a mention that got
//! through would notify nobody.

use serde_json::{json, Value};

use super::render::{self, Locale};
use super::{mattermost, Alert, AlertKind};

/// `kind = "discord"`: one secret `url` (see `http::ChatSettings`).
pub const KIND: super::Kind = super::Kind {
    def: super::http::chat_kind("discord"),
    build: |spec, locale, env| super::http::build_chat(super::http::Flavor::Discord, spec, locale, env),
};

/// Discord's limit on `content`.
const CONTENT_CHARS: usize = 2000;
/// Discord's limit on an embed's description.
const DESCRIPTION_CHARS: usize = 4096;
/// Discord's limit on an embed's title.
const TITLE_CHARS: usize = 256;

/// The JSON body POSTed to the webhook, in `loc`'s language and zone.
pub fn body(alert: &Alert, loc: &Locale) -> Value {
    let title = render::markdown_escape(&render::title(alert, loc));
    let color = match alert.kind {
        AlertKind::Source => 0x00F3_9C12,
        AlertKind::Each => 0x0034_98DB,
        AlertKind::Threshold | AlertKind::Spike => 0x00E7_4C3C,
        AlertKind::Reminder => 0x00F1_C40F,
        AlertKind::Breach => 0x0099_2D22,
    };
    json!({
        "username": "vigie",
        "content": render::cut_markup(&format!("**vigie** · {title}"), CONTENT_CHARS),
        "embeds": [{
            "title": render::cut_markup(&title, TITLE_CHARS),
            "description": mattermost::markdown(alert, loc, false, DESCRIPTION_CHARS),
            "color": color,
            "timestamp": alert.fired_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }],
        "allowed_mentions": { "parse": [] },
    })
}
