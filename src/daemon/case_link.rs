//! The signed one-click link that marks a case handled (SPEC §5.1): its key, signing, checking.
//!
//! A link is `{base}/cases/{id}/ack?by={by}&exp={unix}&sig={sig}`: `base` is `[daemon]
//! public_url` (default `http://{listen}`), `by` the notifier that carried the alert (recorded
//! as who answered), `exp` when the link stops working (Unix seconds, [`LIFETIME`] after the
//! sending), and `sig` the unpadded base64url HMAC-SHA256 of `vigie case-ack v1`, the case id,
//! `by` and `exp`, one per line, under a 32-byte key. So a link names one action on one case for
//! one sender until one time, and changing any of them breaks it; checking compares in constant
//! time (`Mac::verify_slice`). The fields stay readable in the URL, so a person can see which
//! case a link closes and until when; nothing secret is in it.
//!
//! The key is generated at the daemon's first start (32 bytes from the kernel's random source,
//! `/dev/urandom`) into `case-link.key` beside the database, hex, mode 0600, and read back at
//! every start: links survive restarts, and deleting the file (then restarting) revokes every
//! link sent. It is never logged. Each delivery signs its own link (`dispatch`); the listener
//! checks it (`http`); acking is `store::cases_query`'s.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a link works after it is sent.
pub const LIFETIME: chrono::Duration = chrono::Duration::days(7);

/// The key file's name, beside the database.
pub const KEY_FILE: &str = "case-link.key";

/// Bytes of key.
const KEY_LEN: usize = 32;

/// What the signature covers first: the action and the scheme's version.
const ACTION: &str = "vigie case-ack v1";

/// The key could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading, creating or writing the key file failed.
    #[error("case link key {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file holds something else than 64 hex digits.
    #[error("case link key {0}: expected 64 hex digits (delete the file to make a new key; links already sent stop working)")]
    Malformed(String),
}

/// Why a link was refused (the page says only that it is not valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A field is missing or unreadable.
    Malformed,
    /// The signature does not match the fields.
    BadSignature,
    /// It was valid until `exp`.
    Expired,
}

/// The fields of a link, as read from its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The case.
    pub case_id: i64,
    /// Who the link was sent through (recorded as who answered).
    pub by: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The signature as written.
    pub sig: String,
}

/// Signs and checks case links with one key.
pub struct CaseLinks {
    key: Vec<u8>,
    /// `public_url` or `http://{listen}`, without a trailing `/`.
    base: String,
}

impl std::fmt::Debug for CaseLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseLinks")
            .field("key", &"<secret>")
            .field("base", &self.base)
            .finish()
    }
}

/// The key file beside `database`.
pub fn key_path(database: &Path) -> PathBuf {
    database
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(KEY_FILE)
}

/// Reads the key at `path`, creating it (0600, whatever the umask) when there is none.
pub fn load_or_create_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            let mut key = [0u8; KEY_LEN];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut r| r.read_exact(&mut key))
                .map_err(io)?;
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            file.write_all(format!("{hex}\n").as_bytes())
                .and_then(|_| file.sync_all())
                .map_err(io)?;
            Ok(key.to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(io)?;
            decode_hex(text.trim()).ok_or_else(|| KeyError::Malformed(path.display().to_string()))
        }
        Err(e) => Err(io(e)),
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 2 * KEY_LEN || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

impl CaseLinks {
    /// Links under `key`, starting with `base` (`public_url`, or `http://{listen}`).
    pub fn new(key: Vec<u8>, base: &str) -> CaseLinks {
        CaseLinks {
            key,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The links of a daemon with this `listen` and `public_url` on `database`: `None` without
    /// a listener (nobody could follow a link); the key is read or created beside the database.
    pub fn for_daemon(
        listen: Option<&str>,
        public_url: Option<&str>,
        database: &Path,
    ) -> Result<Option<CaseLinks>, KeyError> {
        let Some(listen) = listen else {
            return Ok(None);
        };
        let base = public_url.map_or_else(|| format!("http://{listen}"), str::to_string);
        let key = load_or_create_key(&key_path(database))?;
        Ok(Some(CaseLinks::new(key, &base)))
    }

    /// The path prefix of `public_url` (`/vigie` for `https://example.org/vigie`), which the
    /// listener strips when a proxy passes it on.
    pub fn base_path(&self) -> String {
        url::Url::parse(&self.base)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default()
    }

    fn mac(&self, case_id: i64, by: &str, exp: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{ACTION}\n{case_id}\n{by}\n{exp}").as_bytes());
        mac
    }

    /// The signature of a link.
    pub fn sign(&self, case_id: i64, by: &str, exp: i64) -> String {
        let bytes = self.mac(case_id, by, exp).finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The link that lets `by` mark case `case_id` handled until `exp`.
    pub fn url(&self, case_id: i64, by: &str, exp: DateTime<Utc>) -> String {
        let exp = exp.timestamp();
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("by", by)
            .append_pair("exp", &exp.to_string())
            .append_pair("sig", &self.sign(case_id, by, exp))
            .finish();
        format!("{}/cases/{case_id}/ack?{query}", self.base)
    }

    /// Checks a link's fields at `now`: its signature first (constant time), then its expiry.
    pub fn verify(&self, t: &Token, now: DateTime<Utc>) -> Result<(), Refused> {
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&t.sig)
            .map_err(|_| Refused::Malformed)?;
        self.mac(t.case_id, &t.by, t.exp)
            .verify_slice(&sig)
            .map_err(|_| Refused::BadSignature)?;
        if now.timestamp() > t.exp {
            return Err(Refused::Expired);
        }
        Ok(())
    }
}

/// Reads the case id from a path `/cases/{id}/ack` and the fields from its query.
pub fn parse(path: &str, query: Option<&str>) -> Option<Token> {
    let id = path.strip_prefix("/cases/")?.strip_suffix("/ack")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let case_id: i64 = id.parse().ok()?;
    let (mut by, mut exp, mut sig) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match k.as_ref() {
            "by" => &mut by,
            "exp" => &mut exp,
            "sig" => &mut sig,
            _ => continue,
        };
        if slot.is_some() {
            // A field given twice is not a link we wrote.
            return None;
        }
        *slot = Some(v.into_owned());
    }
    Some(Token {
        case_id,
        by: by.filter(|b| !b.is_empty())?,
        exp: exp?.parse().ok()?,
        sig: sig?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> CaseLinks {
        CaseLinks::new(vec![7u8; 32], "https://vigie.example.org/ops/")
    }

    fn token(url: &str) -> Token {
        let u = url::Url::parse(url).unwrap();
        let path = u.path().strip_prefix("/ops").unwrap().to_string();
        parse(&path, u.query()).unwrap()
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_not_once_altered() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let l = links();
        let url = l.url(42, "cm email", now + LIFETIME);
        assert!(url.starts_with("https://vigie.example.org/ops/cases/42/ack?by=cm+email&exp="));
        let t = token(&url);
        assert_eq!((t.case_id, t.by.as_str()), (42, "cm email"));
        assert_eq!(l.verify(&t, now), Ok(()));
        assert_eq!(l.verify(&t, now + LIFETIME), Ok(()));
        let later = now + LIFETIME + chrono::Duration::seconds(1);
        assert_eq!(l.verify(&t, later), Err(Refused::Expired));
        // Any field changed: refused.
        for altered in [
            Token {
                case_id: 43,
                ..t.clone()
            },
            Token {
                by: "mallory".into(),
                ..t.clone()
            },
            Token {
                exp: t.exp + 3600,
                ..t.clone()
            },
            Token {
                sig: format!("A{}", &t.sig[1..]),
                ..t.clone()
            },
        ] {
            assert_eq!(
                l.verify(&altered, now),
                Err(Refused::BadSignature),
                "{altered:?}"
            );
        }
        // Another key: refused.
        let other = CaseLinks::new(vec![8u8; 32], "https://vigie.example.org/ops");
        assert_eq!(other.verify(&t, now), Err(Refused::BadSignature));
        assert_eq!(l.base_path(), "/ops");
    }

    #[test]
    fn only_well_formed_paths_and_queries_parse() {
        assert!(parse("/cases/7/ack", Some("by=a&exp=1&sig=x")).is_some());
        assert!(parse("/cases/7/ack", Some("by=a&exp=1")).is_none());
        assert!(parse("/cases/7/ack", Some("by=a&by=b&exp=1&sig=x")).is_none());
        assert!(parse("/cases/-7/ack", Some("by=a&exp=1&sig=x")).is_none());
        assert!(parse("/cases/7/close", Some("by=a&exp=1&sig=x")).is_none());
        assert!(parse("/cases//ack", Some("by=a&exp=1&sig=x")).is_none());
    }

    #[test]
    fn the_key_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_path(&dir.path().join("vigie.db"));
        let key = load_or_create_key(&path).unwrap();
        assert_eq!(key.len(), 32);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create_key(&path).unwrap(), key);
        std::fs::write(&path, "not hex\n").unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(KeyError::Malformed(_))
        ));
    }
}
