//! Notifiers: one trait, one registry, one `Alert` type that every kind renders.
//!
//! An [`Alert`] is what `detect` decided and `store` recorded: it is stored as JSON in the
//! `alerts` row, so the dispatcher can rebuild it after a restart and every notifier renders
//! exactly what was decided. A notifier delivers one alert once and classifies its failure
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
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::secret::{Secret, SecretRef};
use crate::config::{KindDef, NotifierSpec};

/// What kind of alert fired (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// One hit of a critical rule.
    Each,
    /// The window's count reached the rule's threshold.
    Threshold,
    /// The window's count is far above the usual count.
    Spike,
    /// A source failed or went silent, or recovered (`rule` holds the source's name).
    Source,
}

impl AlertKind {
    /// The kind as stored and shown (`each`, `threshold`, `spike`, `source`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Each => "each",
            AlertKind::Threshold => "threshold",
            AlertKind::Spike => "spike",
            AlertKind::Source => "source",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<AlertKind> {
        Some(match s {
            "each" => AlertKind::Each,
            "threshold" => AlertKind::Threshold,
            "spike" => AlertKind::Spike,
            "source" => AlertKind::Source,
            _ => return None,
        })
    }
}

/// One post quoted in an alert. Every field but `created_at` is untrusted text from the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertPost {
    /// The configured source name.
    pub source: String,
    /// The author's handle, if known.
    pub author: Option<String>,
    /// The author's display name, if the source gives one (`Alice Martin`).
    #[serde(default)]
    pub author_name: Option<String>,
    /// The post's text, whole (renderers cut it to their own limits).
    pub text: String,
    /// The post's link on its platform, if any (only http(s) links are ever rendered as links).
    pub url: Option<String>,
    /// Event time.
    pub created_at: DateTime<Utc>,
    /// The author's follower count, if known.
    pub followers: Option<u64>,
    /// The post's engagement (likes + reposts + replies), if known.
    #[serde(default)]
    pub engagement: Option<u64>,
    /// The words of the text the rule matched, as written in it (shown in bold).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<String>,
}

/// The counts behind an alert's chart: the rule's hits per window over the last 24 hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Series {
    /// Start of the first bucket.
    pub start: DateTime<Utc>,
    /// Width of each bucket, in seconds (the rule's window).
    pub bucket_secs: u64,
    /// Hits per bucket, oldest first; the last bucket ends at the alert's time.
    pub counts: Vec<u64>,
}

/// Whether a `source` alert says the source broke or came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Polls have failed for `source_alert_after`.
    Failing,
    /// No new post for three times the usual gap.
    Silent,
    /// Working again.
    Recovered,
}

impl SourceState {
    /// The state as stored and shown (`failing`, `silent`, `recovered`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Failing => "failing",
            SourceState::Silent => "silent",
            SourceState::Recovered => "recovered",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<SourceState> {
        Some(match s {
            "failing" => SourceState::Failing,
            "silent" => SourceState::Silent,
            "recovered" => SourceState::Recovered,
            _ => return None,
        })
    }
}

/// One alert, as decided by `detect`, recorded by `store` and rendered by each notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The `alerts` row id (0 before it is stored, as in `replay`).
    pub id: i64,
    /// The rule's name, or the source's name for a `source` alert.
    pub rule: String,
    /// What fired.
    pub kind: AlertKind,
    /// Event time of the decision.
    pub fired_at: DateTime<Utc>,
    /// The counting window: `fired_at - window` to `fired_at`.
    pub window_secs: u64,
    /// Hits in the window (for `each`: 1; for `source`: failures in a row, or 0).
    pub count: u64,
    /// The usual count for such a window (0 when none applies).
    pub baseline: f64,
    /// The count that had to be reached: the threshold, or `max(spike × baseline, min_count)`.
    pub bar: f64,
    /// One sentence on why it fired, free of post text, in English for logs and machines:
    /// `38 hits in 15m, usual 2.1 (18×)` (people read `render::why`, in their language).
    pub reason: String,
    /// Up to 5 posts, most followed authors first.
    pub posts: Vec<AlertPost>,
    /// The last 24 hours of the rule, for charts (empty for `source` and `each`).
    pub series: Series,
    /// For `source` alerts: what happened to the source.
    pub source_state: Option<SourceState>,
    /// For `source` alerts: the last error, already free of secrets.
    pub error: Option<String>,
}

impl Alert {
    /// `count / baseline`, when a baseline exists.
    pub fn ratio(&self) -> Option<f64> {
        (self.baseline > 0.0).then(|| self.count as f64 / self.baseline)
    }

    /// The window's start.
    pub fn window_start(&self) -> DateTime<Utc> {
        self.fired_at - chrono::Duration::seconds(self.window_secs as i64)
    }
}

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
