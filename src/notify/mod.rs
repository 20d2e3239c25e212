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
//! `send` builds it, sends it and classifies the answer. Each kind is one file that also owns
//! its keys, their checks, its settings and its `build`; `kinds!` below is the one list of them.

pub mod chart;
pub mod http;
pub mod render;
pub mod smtp;

use std::time::Duration;

use async_trait::async_trait;

use crate::config::secret::{Secret, SecretRef};
use crate::config::{KindDef, NotifierSpec};
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

/// The environment, as an argument (`std::env::var` in production).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One notifier kind: what the config knows of it, and how to build it.
pub struct Kind {
    /// Its keys, their checks and its settings (`config::kind`).
    pub def: KindDef,
    /// Builds the notifier from a spec of this kind, reading its secrets from `env`; `locale`
    /// is the language and zone people read alerts in.
    pub build: BuildFn,
}

/// How a kind builds its notifier from a spec, a locale and the environment.
pub type BuildFn =
    fn(&NotifierSpec, &render::Locale, Env<'_>) -> Result<Box<dyn Notifier>, BuildError>;

/// Declares each kind's module and lists their [`Kind`]s, in one place: a kind missing here does
/// not exist (the config refuses it with the list of kinds).
macro_rules! kinds {
    ($($kind:ident),* $(,)?) => {
        $(pub mod $kind;)*

        /// Every notifier kind, in the order `vigie check` lists them.
        pub const KINDS: &[&Kind] = &[$(&$kind::KIND),*];

        /// What the config knows of every notifier kind.
        pub const DEFS: &[&KindDef] = &[$(&$kind::KIND.def),*];
    };
}

kinds! {
    email,
    webhook,
    slack,
    mattermost,
    teams,
    discord,
    console,
}

impl BuildError {
    /// A build error of the notifier `spec`.
    pub fn new(spec: &NotifierSpec, message: impl Into<String>) -> BuildError {
        BuildError {
            name: spec.name.clone(),
            message: message.into(),
        }
    }
}

/// The settings of `spec` as its kind's struct; a mismatch is an internal error (a spec built by
/// hand with another kind's settings), reported, never a panic.
pub fn settings<T: 'static>(spec: &NotifierSpec) -> Result<&T, BuildError> {
    spec.settings.get::<T>().ok_or_else(|| {
        BuildError::new(
            spec,
            format!(
                "internal error: the settings of kind \"{}\" are not {}",
                spec.kind,
                std::any::type_name::<T>()
            ),
        )
    })
}

/// Reads the secret `r` of the notifier `spec` (the error names the reference, not the value).
pub fn secret(spec: &NotifierSpec, r: &SecretRef, env: Env<'_>) -> Result<Secret, BuildError> {
    r.resolve(env)
        .map_err(|e| BuildError::new(spec, e.to_string()))
}

/// Builds one notifier through its kind in [`KINDS`]. Secrets are resolved here, with the
/// environment as an argument; `locale` is the language and zone people read alerts in.
pub fn build(
    spec: &NotifierSpec,
    locale: &render::Locale,
    env: Env<'_>,
) -> Result<Box<dyn Notifier>, BuildError> {
    let kind = KINDS
        .iter()
        .find(|k| k.def.name == spec.kind)
        .ok_or_else(|| {
            BuildError::new(
                spec,
                format!("internal error: no notifier kind \"{}\"", spec.kind),
            )
        })?;
    (kind.build)(spec, locale, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    /// A spec built by hand with another kind's settings, or with a kind the list lacks, is an
    /// error from `build`, never a panic (nor a console notifier).
    #[test]
    fn a_spec_that_does_not_fit_its_kind_is_an_internal_error() {
        let spec = |kind: &'static str, settings| NotifierSpec {
            name: "n".into(),
            kind,
            settings,
            at: 0,
        };
        let locale = render::Locale::default();
        let chat = || {
            Settings::new(http::ChatSettings {
                url: SecretRef::from_value("https://h.org/x"),
            })
        };
        let err = build(&spec("email", chat()), &locale, &|_| None)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("notifier \"n\": internal error: the settings of kind \"email\""),
            "{err}"
        );
        let err = build(&spec("pager", chat()), &locale, &|_| None)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "notifier \"n\": internal error: no notifier kind \"pager\""
        );
        assert!(build(&spec("slack", chat()), &locale, &|_| None).is_ok());
    }
}
