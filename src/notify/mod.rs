//! Notifiers: one trait, one registry, and every kind renders the same `detect::Alert`.
//!
//! An [`Alert`] is what `detect` decided and `store` recorded: it is stored as JSON in the
//! `alerts` row, so the dispatcher can rebuild it after a restart and every notifier renders
//! exactly what was decided. Its type is `detect`'s, so that the store records it without
//! knowing the notifiers. A notifier delivers one alert once and classifies its failure
//! ([`DeliveryError`]); it never retries, waits or deduplicates: retrying is
//! `daemon::dispatch`'s job (alertmanager's `Notifier` vs `RetryStage`). Escaping untrusted
//! post text is `render`'s job, and only `render`'s.
//!
//! Each kind keeps a pure `body(&Alert)` that golden tests pin (gatus `buildRequestBody`);
//! `send` builds it, sends it and classifies the answer.

pub mod chart;
pub mod console;
pub mod discord;
pub mod email;
pub mod http;
pub mod mattermost;
pub mod render;
pub mod slack;
pub mod smtp;
pub mod teams;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;

use crate::config::{NotifierKind, NotifierSpec};
// What every kind renders; the types are `detect`'s (alerts belong with the decision).
use crate::detect::{Alert, AlertKind, AlertPost, SourceCondition};

/// The longest one send may take, whatever the kind: every kind enforces its own connect,
/// greeting and whole-send timeouts within it (HTTP 20 s, SMTP 30 s), and the dispatcher's
/// shutdown grace is longer, so a send in flight at shutdown ends with a known outcome.
pub const MAX_SEND: Duration = Duration::from_secs(30);

/// Why a delivery failed, and whether it is worth trying again. Messages never hold a secret
/// (webhook URLs and passwords are left out).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (5xx, 429, timeouts, connection refused, SMTP 4xx).
    #[error("{reason}")]
    Transient {
        /// What went wrong.
        reason: String,
        /// When the receiver asked us to come back, if it did.
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help (4xx other than 408/429, SMTP 5xx, a refused address).
    #[error("{reason}")]
    Permanent {
        /// What went wrong.
        reason: String,
    },
}

/// Delivers one alert once and says whether a failure is worth retrying.
///
/// A trait object rather than an enum so each kind stays in its own file with its own client;
/// `async_trait` because a native `async fn` in a trait is not dyn-compatible.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Sends `alert`; `delivery_id` is stable across retries (`webhook-id`, `Message-ID`).
    async fn send(&self, alert: &Alert, delivery_id: &str) -> Result<(), DeliveryError>;
}

/// A notifier could not be built (a secret cannot be read, a URL is unusable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notifier \"{name}\": {message}")]
pub struct BuildError {
    /// The notifier's name.
    pub name: String,
    /// Why, without the secret.
    pub message: String,
}

/// Builds one notifier: the one exhaustive `match` on kind. Secrets are resolved here, with
/// the environment as an argument; `locale` is the language and zone people read alerts in.
pub fn build(
    spec: &NotifierSpec,
    locale: &render::Locale,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Box<dyn Notifier>, BuildError> {
    let fail = |message: String| BuildError {
        name: spec.name.clone(),
        message,
    };
    let secret =
        |r: &crate::config::secret::SecretRef| r.resolve(env).map_err(|e| fail(e.to_string()));
    let chat =
        |flavor, url| -> Box<dyn Notifier> { Box::new(http::Chat::new(flavor, url, *locale)) };
    Ok(match &spec.kind {
        NotifierKind::Console => Box::new(console::Console::stdout(*locale)),
        NotifierKind::Email(e) => Box::new(email::Email::new(e, *locale, &secret).map_err(fail)?),
        NotifierKind::Webhook {
            url,
            secret: key,
            headers,
        } => {
            let key = key.as_ref().map(&secret).transpose()?;
            Box::new(
                webhook::Webhook::new(secret(url)?, key, headers.clone(), *locale).map_err(fail)?,
            )
        }
        NotifierKind::Slack { url } => chat(http::Flavor::Slack, secret(url)?),
        NotifierKind::Mattermost { url } => chat(http::Flavor::Mattermost, secret(url)?),
        NotifierKind::Teams { url } => chat(http::Flavor::Teams, secret(url)?),
        NotifierKind::Discord { url } => chat(http::Flavor::Discord, secret(url)?),
    })
}
