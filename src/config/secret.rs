//! Secrets: a type that never prints, and references resolved only when the pipeline is built.
//!
//! A secret is written as `"${ENV_VAR}"`, as `<key>_file = "path"`, or (under systemd) as
//! `credential = "name"`, read from `$CREDENTIALS_DIRECTORY/name`. Validation only records the
//! reference (and, in a [`SecretSite`], where it is written); reading it is `resolve`'s job, with
//! the environment as an argument, called when the pipeline is built and by `vigie check`, so both
//! read secrets the same way and a secret never reaches a log or an error.

use std::fmt;
use std::path::{Path, PathBuf};

use super::kind::{KindDef, CLEAR_OK};
use super::raw::Reader;

/// A secret value: `Debug` and `Display` print `<secret>`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (an HTTP header, an SMTP login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// Written in the file (allowed only for webhook URLs).
    Literal(Secret),
    /// `"${NAME}"`.
    Env(String),
    /// `<key>_file = "path"`, resolved against the config's folder.
    File(PathBuf),
    /// `credential = "name"`: `$CREDENTIALS_DIRECTORY/name`.
    Credential(String),
}

/// A secret reference with where it is written, so that `vigie check` can resolve it the way
/// the pipeline will and point at the key when that fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSite {
    /// Whose secret: `source "x"` or `notifier "y"`.
    pub owner: String,
    /// The secret's key (`password`), whichever way it is written.
    pub key: &'static str,
    /// Where it comes from.
    pub reference: SecretRef,
    /// Where the key that holds the reference is written.
    pub origin: super::Origin,
}

/// A secret could not be read. The message names the reference, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// The file cannot be read.
    #[error("cannot read secret file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No `$CREDENTIALS_DIRECTORY` (not started by systemd with `LoadCredential=`).
    #[error("credential {0}: $CREDENTIALS_DIRECTORY is not set (LoadCredential= in the unit)")]
    NoCredentials(String),
}

impl SecretRef {
    /// Reads a value as written in the config: `"${VAR}"` is an environment reference.
    pub fn from_value(value: &str) -> SecretRef {
        match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            Some(name) if !name.is_empty() => SecretRef::Env(name.to_string()),
            _ => SecretRef::Literal(Secret::new(value)),
        }
    }

    /// Resolves the reference; `env` reads the environment.
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, SecretError> {
        let read = |path: PathBuf| {
            std::fs::read_to_string(&path)
                .map(|s| Secret::new(s.strip_suffix('\n').unwrap_or(&s).to_string()))
                .map_err(|e| SecretError::File {
                    path,
                    reason: e.kind().to_string(),
                })
        };
        match self {
            SecretRef::Literal(s) => Ok(s.clone()),
            SecretRef::Env(name) => env(name)
                .map(Secret::new)
                .ok_or_else(|| SecretError::MissingEnv(name.clone())),
            SecretRef::File(path) => read(path.clone()),
            SecretRef::Credential(name) => match env("CREDENTIALS_DIRECTORY") {
                Some(dir) => read(PathBuf::from(dir).join(name)),
                None => Err(SecretError::NoCredentials(name.clone())),
            },
        }
    }
}

/// Reads the secret keys of `kind` from its table: refuses secrets written in clear (but URLs)
/// and a secret given two ways, and records where each reference is written in `sites` (`owner`
/// is `source "x"` or `notifier "y"`, absent when the table has no valid name).
pub fn read(
    r: &mut Reader<'_, '_, '_>,
    kind: &KindDef,
    owner: Option<String>,
    dir: &Path,
    sites: &mut Vec<SecretSite>,
) {
    for (i, key) in kind.secrets.iter().enumerate() {
        if let Some((value, span)) = r.string(key) {
            if let SecretRef::Literal(_) = SecretRef::from_value(&value) {
                if !CLEAR_OK.contains(key) {
                    let alt = if i == 0 { ", or credential" } else { "" };
                    r.error(
                        span.start,
                        format!("secret \"{key}\" must not be written in clear: use \"${{ENV_VAR}}\", {key}_file{alt}"),
                    );
                }
            }
        }
        if let Some((p, span)) = r.string(&format!("{key}_file")) {
            if p.is_empty() {
                r.error(span.start, format!("\"{key}_file\" is empty"));
            }
        }
        // Where it is written, in the order `reference` prefers.
        let mut ways = vec![key.to_string(), format!("{key}_file")];
        if i == 0 {
            ways.push("credential".to_string());
        }
        let written: Vec<(&String, usize)> = ways
            .iter()
            .filter_map(|k| r.key_at(k).map(|at| (k, at)))
            .collect();
        if let [(a, _), (b, at), ..] = written[..] {
            r.error(
                at,
                format!("\"{a}\" and \"{b}\" both give the secret \"{key}\": keep one"),
            );
        }
        if let (Some(owner), Some(&(_, written_at))) = (&owner, written.first()) {
            if let Some(reference) = reference(r, key, i == 0, dir) {
                if !matches!(reference, SecretRef::Literal(_)) {
                    sites.push(SecretSite {
                        owner: owner.clone(),
                        key,
                        reference,
                        origin: r.file().origin(written_at),
                    });
                }
            }
        }
    }
    if !kind.secrets.is_empty() {
        r.string("credential");
    }
}

/// Where the secret `key` comes from: the key itself (`"${VAR}"` or, for URLs, clear text),
/// `<key>_file` (relative to the config), or, for a kind's first secret, `credential`.
pub fn reference(
    r: &mut Reader<'_, '_, '_>,
    key: &str,
    first: bool,
    dir: &Path,
) -> Option<SecretRef> {
    if let Some((v, _)) = r.string(key) {
        return Some(SecretRef::from_value(&v));
    }
    if let Some((p, _)) = r.string(&format!("{key}_file")) {
        return Some(SecretRef::File(dir.join(p)));
    }
    if first {
        if let Some((c, _)) = r.string("credential") {
            return Some(SecretRef::Credential(c));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "<secret> <secret>");
        let r = SecretRef::from_value("hunter2");
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn resolves_env_file_and_credential() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "s3cret\n").unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let env = move |k: &str| match k {
            "SMTP_PASSWORD" => Some("from-env".to_string()),
            "CREDENTIALS_DIRECTORY" => Some(d.clone()),
            _ => None,
        };
        let get = |r: SecretRef| r.resolve(&env).map(|s| s.expose().to_string());
        assert_eq!(
            get(SecretRef::from_value("${SMTP_PASSWORD}")),
            Ok("from-env".into())
        );
        assert_eq!(
            get(SecretRef::File(dir.path().join("pw"))),
            Ok("s3cret".into())
        );
        assert_eq!(get(SecretRef::Credential("pw".into())), Ok("s3cret".into()));
        assert_eq!(
            get(SecretRef::from_value("${NOPE}")),
            Err(SecretError::MissingEnv("NOPE".into()))
        );
    }
}
