//! The `email` notifier: multipart text + HTML with the chart inline, over SMTP (lettre).

use async_trait::async_trait;

use super::{Alert, DeliveryError, Notifier};
use crate::config::secret::{Secret, SecretRef};
use crate::config::EmailSpec;

/// Sends alerts by email.
pub struct Email {
    _spec: EmailSpec,
    _password: Option<Secret>,
}

impl Email {
    /// Builds the SMTP transport; `secret` resolves the password reference.
    pub fn new(
        spec: &EmailSpec,
        secret: &dyn Fn(&SecretRef) -> Result<Secret, super::BuildError>,
    ) -> Result<Email, String> {
        let password = spec
            .password
            .as_ref()
            .map(secret)
            .transpose()
            .map_err(|e| e.message)?;
        Ok(Email {
            _spec: spec.clone(),
            _password: password,
        })
    }
}

#[async_trait]
impl Notifier for Email {
    async fn send(&self, _alert: &Alert, _delivery_id: &str) -> Result<(), DeliveryError> {
        Err(DeliveryError::Permanent {
            reason: "email is not wired yet".into(),
        })
    }
}
