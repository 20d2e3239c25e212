//! The `console` notifier: prints each alert on stdout, for the demo and for `journalctl`.

use std::io::Write;
use std::sync::Mutex;

use async_trait::async_trait;

use super::render::{self, Locale};
use super::{Alert, DeliveryError, Kind, Notifier};
use crate::config::{KindDef, Settings};

/// `kind = "console"`: no keys.
pub const KIND: Kind = Kind {
    def: KindDef {
        name: "console",
        required: &[],
        optional: &[],
        secrets: &[],
        read: |_, _| Settings::new(ConsoleSettings),
    },
    build: |spec, locale, _| {
        super::settings::<ConsoleSettings>(spec)?;
        Ok(Box::new(Console::stdout(*locale)))
    },
};

/// The `console` notifier's settings: none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings;

/// Writes alerts as plain text (`render::text`, in the configured language), one block per alert.
pub struct Console {
    out: Mutex<Box<dyn Write + Send>>,
    locale: Locale,
}

impl Console {
    /// Prints to the process's stdout.
    pub fn stdout(locale: Locale) -> Console {
        Console {
            out: Mutex::new(Box::new(std::io::stdout())),
            locale,
        }
    }
}

#[async_trait]
impl Notifier for Console {
    async fn send(&self, alert: &Alert, _delivery_id: &str) -> Result<(), DeliveryError> {
        let text = render::text(alert, &self.locale);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| DeliveryError::Transient {
                reason: format!("cannot write to stdout: {e}"),
                retry_after: None,
            })
    }
}
