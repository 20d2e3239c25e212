//! The validated configuration: `Config` and `load(path)`.
//!
//! Loading is two steps (ARCHITECTURE "raw, then validated"): `raw` deserialises the TOML exactly
//! as written, with spans; `validate` turns it into the typed specs below and collects *every*
//! error as `file:line:col: message`. Rule files are read by `rules`. Nothing here touches the
//! network or the database, and secrets stay unresolved references until the pipeline is built.

pub mod duration;
pub mod rules;
pub mod secret;

use std::fmt;
use std::path::PathBuf;

pub use rules::{AlertSpec, Origin, RuleSpec};

/// One configuration error, located in the file that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config or rule file, as given or as found by a glob.
    pub file: PathBuf,
    /// 1-based line; 0 when the error concerns the file as a whole.
    pub line: usize,
    /// 1-based column (in characters).
    pub col: usize,
    /// Lowercase message naming the subject: `unknown key "evry", did you mean "every"?`.
    pub message: String,
    /// Extra lines printed under the message (a query with a caret under the column).
    pub detail: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col,
                self.message
            )?;
        }
        if let Some(detail) = &self.detail {
            write!(f, "\n{detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
