//! The one HTTP POST that webhook and chat notifiers share, and its classification.
//!
//! The URL of a chat webhook *is* its secret (the token sits in the path), so it stays a
//! [`Secret`] and never appears in an error: errors name the notifier's kind and the cause only.
//! Classification is the fetcher's (`source::fetch::classify`): 5xx, 408, 429 and transport errors are transient
//! (with `Retry-After` when given), other 4xx permanent. Building the body is each kind's job.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde_json::Value;

use super::render::Locale;
use super::{discord, mattermost, slack, teams, Alert, DeliveryError, Notifier};
use crate::config::raw::Reader;
use crate::config::secret::{self, Secret, SecretRef};
use crate::config::{KindDef, NotifierSpec, Settings};
use crate::source::fetch::{classify, parse_retry_after};
use crate::source::SourceError;

/// How long the TCP (and TLS) connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one whole request may take, from connecting to the answer's status and headers.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The HTTP client notifiers share: rustls, a connect and a whole-request timeout, no redirects
/// (a webhook that redirects is misconfigured, and following it could send the alert
/// somewhere else).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("vigie/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// POSTs `body` as JSON to `url` with `headers`, and classifies the outcome.
pub async fn post_json(
    client: &reqwest::Client,
    url: &Secret,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> Result<(), DeliveryError> {
    let mut req = client
        .post(url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.body(body).send().await.map_err(|e| {
        // Say which limit was hit: the connection, or the whole request.
        let reason = match (e.is_timeout(), e.is_connect()) {
            (true, true) => format!("could not connect within {}s", CONNECT_TIMEOUT.as_secs()),
            (true, false) => format!("no answer within {}s", TIMEOUT.as_secs()),
            _ => return from_source(classify::classify_reqwest(&e)),
        };
        DeliveryError::Transient {
            reason,
            retry_after: None,
        }
    })?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    match classify::classify_status(status, retry_after) {
        None if status == 304 => Err(DeliveryError::Permanent {
            reason: "HTTP 304".into(),
        }),
        None => Ok(()),
        Some(e) => Err(from_source(e)),
    }
}

/// Maps the shared classification onto delivery errors.
fn from_source(e: SourceError) -> DeliveryError {
    match e {
        SourceError::RateLimited { retry_after } => DeliveryError::Transient {
            reason: "rate limited (HTTP 429)".into(),
            retry_after,
        },
        SourceError::Transient(reason) => DeliveryError::Transient {
            reason,
            retry_after: None,
        },
        SourceError::Permanent(reason) => DeliveryError::Permanent { reason },
    }
}

/// Which chat platform a [`Chat`] notifier posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Slack incoming webhook.
    Slack,
    /// Mattermost incoming webhook.
    Mattermost,
    /// Teams Workflows webhook.
    Teams,
    /// Discord webhook.
    Discord,
}

impl Flavor {
    /// The payload for this platform.
    pub fn body(self, alert: &Alert, locale: &Locale) -> Value {
        match self {
            Flavor::Slack => slack::body(alert, locale),
            Flavor::Mattermost => mattermost::body(alert, locale),
            Flavor::Teams => teams::body(alert, locale),
            Flavor::Discord => discord::body(alert, locale),
        }
    }
}

/// The settings of a chat webhook kind (`slack`, `mattermost`, `teams`, `discord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSettings {
    /// The webhook URL (its path is the token: a secret, also accepted in clear).
    pub url: SecretRef,
}

/// The config's view of a chat webhook kind named `name`: one secret `url`.
pub const fn chat_kind(name: &'static str) -> KindDef {
    KindDef {
        name,
        required: &["url"],
        optional: &[],
        secrets: &["url"],
        read: read_chat,
    }
}

/// A chat kind's settings: its URL, checked (scheme, no password) by `config::validate`.
fn read_chat(r: &mut Reader<'_, '_, '_>, dir: &std::path::Path) -> Settings {
    Settings::new(ChatSettings {
        url: secret::reference(r, "url", true, dir)
            .unwrap_or(SecretRef::Literal(Default::default())),
    })
}

/// Builds the chat notifier of `flavor` for `spec`.
pub fn build_chat(
    flavor: Flavor,
    spec: &NotifierSpec,
    locale: &Locale,
    env: super::Env<'_>,
) -> Result<Box<dyn Notifier>, super::BuildError> {
    let s: &ChatSettings = super::settings(spec)?;
    let url = super::secret(spec, &s.url, env)?;
    Ok(Box::new(Chat::new(flavor, url, *locale)))
}

/// A chat webhook notifier: the platform's body, POSTed to its secret URL.
pub struct Chat {
    flavor: Flavor,
    url: Secret,
    locale: Locale,
    client: reqwest::Client,
}

impl Chat {
    /// A notifier posting to `url`, writing for `locale`.
    pub fn new(flavor: Flavor, url: Secret, locale: Locale) -> Chat {
        Chat {
            flavor,
            url,
            locale,
            client: client(),
        }
    }
}

#[async_trait]
impl Notifier for Chat {
    async fn send(&self, alert: &Alert, _delivery_id: &str) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&self.flavor.body(alert, &self.locale)).unwrap_or_default();
        post_json(&self.client, &self.url, body, &[]).await
    }
}
