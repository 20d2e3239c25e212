//! The `mattermost` notifier's payload (pure, pinned by golden tests); sending is `http`'s job.

use serde_json::{json, Value};

use super::{render, Alert};

/// The JSON body POSTed to the webhook.
pub fn body(alert: &Alert) -> Value {
    json!({ "text": render::text(alert) })
}
