//! The `webhook` notifier: the alert as documented JSON, signed per Standard Webhooks.
//!
//! Headers `webhook-id` (the delivery's stable id, so a receiver can drop a retried
//! duplicate), `webhook-timestamp` (Unix seconds) and, when a `whsec_…` secret is set,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use async_trait::async_trait;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::render::{self, Locale};
use super::{http, Alert, DeliveryError, Notifier};
use crate::config::raw::Reader;
use crate::config::secret::{self, Secret, SecretRef};
use crate::config::{values, KindDef, Settings};

/// The JSON body: the alert as stored (its fields are documented in the README), language-
/// neutral, plus `summary`: the one-sentence why in `loc`'s language, for a receiver that
/// shows it to people as it is.
pub fn body(alert: &Alert, loc: &Locale) -> Value {
    let mut v = serde_json::to_value(alert).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("ratio".into(), serde_json::json!(alert.ratio()));
        m.insert(
            "window_start".into(),
            serde_json::json!(alert.window_start()),
        );
        m.insert("summary".into(), serde_json::json!(render::why(alert, loc)));
    }
    v
}

/// The `webhook-signature` value for `body`, signed with the decoded `whsec_` key.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{sig}")
}

/// Decodes a `whsec_…` secret into its key bytes.
pub fn decode_secret(secret: &Secret) -> Result<Vec<u8>, String> {
    let s = secret.expose();
    let b64 = s.strip_prefix("whsec_").unwrap_or(s);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "\"secret\" must be \"whsec_\" followed by base64".to_string())
}

/// `kind = "webhook"`: signed JSON (Standard Webhooks).
pub const KIND: super::Kind = super::Kind {
    def: KindDef {
        name: "webhook",
        required: &["url"],
        optional: &["secret", "headers"],
        secrets: &["secret", "url"],
        read,
    },
    build: |spec, locale, env| {
        let s: &WebhookSettings = super::settings(spec)?;
        let key = s
            .secret
            .as_ref()
            .map(|k| super::secret(spec, k, env))
            .transpose()?;
        let url = super::secret(spec, &s.url, env)?;
        let hook = Webhook::new(url, key, s.headers.clone(), *locale)
            .map_err(|e| super::BuildError::new(spec, e))?;
        Ok(Box::new(hook))
    },
};

/// A `webhook` notifier's settings. Secrets stay references until it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Where to POST.
    pub url: SecretRef,
    /// `whsec_…`: signs each request when set.
    pub secret: Option<SecretRef>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

/// Extra request headers; the URL and secret are checked by `config::validate`.
fn read(r: &mut Reader<'_, '_, '_>, dir: &std::path::Path) -> Settings {
    values::headers(r);
    Settings::new(WebhookSettings {
        url: secret::reference(r, "url", false, dir)
            .unwrap_or(SecretRef::Literal(Default::default())),
        secret: secret::reference(r, "secret", true, dir),
        headers: r.string_table("headers").unwrap_or_default(),
    })
}

/// POSTs signed alerts to one URL.
pub struct Webhook {
    url: Secret,
    key: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
    locale: Locale,
    client: reqwest::Client,
}

impl Webhook {
    /// A webhook notifier; fails if the secret is not a valid `whsec_` key.
    pub fn new(
        url: Secret,
        secret: Option<Secret>,
        headers: Vec<(String, String)>,
        locale: Locale,
    ) -> Result<Webhook, String> {
        let key = secret.as_ref().map(decode_secret).transpose()?;
        Ok(Webhook {
            url,
            key,
            headers,
            locale,
            client: http::client(),
        })
    }
}

#[async_trait]
impl Notifier for Webhook {
    async fn send(&self, alert: &Alert, delivery_id: &str) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&body(alert, &self.locale)).unwrap_or_default();
        let ts = chrono::Utc::now().timestamp();
        let mut headers = self.headers.clone();
        headers.push(("webhook-id".into(), delivery_id.to_string()));
        headers.push(("webhook-timestamp".into(), ts.to_string()));
        if let Some(key) = &self.key {
            headers.push((
                "webhook-signature".into(),
                sign(key, delivery_id, ts, &body),
            ));
        }
        http::post_json(&self.client, &self.url, body, &headers).await
    }
}
