//! The main config file: `[daemon]`, `[[source]]`, `[[notifier]]` → typed specs.
//!
//! Every problem becomes a located [`ConfigError`]; validation goes on after an error so that
//! one run of `vigie check` shows them all. The kinds are handed in ([`Kinds`]); each says which
//! keys it takes and reads their values into its settings ([`KindDef::read`]); this file checks
//! what kinds share (the kind itself, with suggestions; required keys, URLs and the passwords
//! they must not hold; secret keys through `secret::read`; unknown keys). Rule files are
//! `rules`' job; secrets stay references (`secret`), recorded with where they are written, until
//! the pipeline is built or `vigie check` resolves them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeTable;

use super::kind::{KindDef, Kinds, NOTIFIER_COMMON, SOURCE_COMMON};
use super::raw::{array_of_tables, suggest, File, Reader};
use super::secret::{self, SecretSite};
use super::{ConfigError, DaemonConfig, Language, NotifierSpec, Origin, SourceSpec};

/// Default poll interval.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(300);
/// Default body cap per poll (10 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// Everything read from the main file.
pub struct Main {
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[[source]]`.
    pub sources: Vec<SourceSpec>,
    /// `[[notifier]]`.
    pub notifiers: Vec<NotifierSpec>,
    /// Every secret reference of every source and notifier, with where it is written.
    pub secrets: Vec<SecretSite>,
    /// Where each source and notifier table starts, by owner (`source "demo"`).
    pub tables: Vec<(String, Origin)>,
}

/// Validates the main file's document.
pub fn main(
    file: &File,
    doc: &DeTable<'_>,
    env: &dyn Fn(&str) -> Option<String>,
    kinds: &Kinds<'_>,
    errors: &mut Vec<ConfigError>,
) -> Main {
    let dir = file.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let daemon_table = {
        let mut top = Reader::new(file, doc, 0, errors);
        let t = top.table("daemon");
        top.raw("source");
        top.raw("notifier");
        top.finish(&["daemon", "source", "notifier"]);
        t
    };
    let daemon = daemon(file, daemon_table, &dir, env, errors);
    let mut secrets = Vec::new();
    let mut sources = array_of_tables(file, doc, "source", errors)
        .into_iter()
        .filter_map(|(t, at)| source(file, t, at, &dir, kinds.sources, &mut secrets, errors))
        .collect::<Vec<_>>();
    for s in &mut sources {
        s.brand_accounts = super::brand::handles_for(&daemon.brand_accounts, &s.name);
    }
    let notifiers = array_of_tables(file, doc, "notifier", errors)
        .into_iter()
        .filter_map(|(t, at)| notifier(file, t, at, &dir, kinds.notifiers, &mut secrets, errors))
        .collect::<Vec<_>>();
    let tables = sources
        .iter()
        .map(|s| (format!("source \"{}\"", s.name), s.at))
        .chain(
            notifiers
                .iter()
                .map(|n| (format!("notifier \"{}\"", n.name), n.at)),
        )
        .map(|(owner, at)| (owner, file.origin(at)))
        .collect();
    unique(
        file,
        sources.iter().map(|s| (&s.name, s.at)),
        "source",
        errors,
    );
    unique(
        file,
        notifiers.iter().map(|n| (&n.name, n.at)),
        "notifier",
        errors,
    );
    for (name, at) in &daemon.admin_notify_at {
        if !notifiers.iter().any(|n| &n.name == name) {
            errors.push(file.error(*at, format!("admin_notify: no notifier named \"{name}\"")));
        }
    }
    Main {
        daemon,
        sources,
        notifiers,
        secrets,
        tables,
    }
}

fn unique<'a>(
    file: &File,
    names: impl Iterator<Item = (&'a String, usize)>,
    what: &str,
    errors: &mut Vec<ConfigError>,
) {
    let mut seen = HashSet::new();
    for (name, at) in names {
        if !seen.insert(name.clone()) {
            errors.push(file.error(at, format!("duplicate {what} name \"{name}\"")));
        }
    }
}

fn daemon(
    file: &File,
    table: Option<(&DeTable<'_>, usize)>,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> DaemonConfig {
    let empty = DeTable::default();
    let (t, at) = table.unwrap_or((&empty, 0));
    let mut r = Reader::new(file, t, at, errors);
    let database = match r.string("database") {
        Some((p, _)) => dir.join(p),
        None => default_database(dir, env),
    };
    let rules = r
        .strings("rules")
        .map(|v| v.into_iter().map(|(s, _)| s).collect())
        .unwrap_or_else(|| vec!["rules/*.toml".to_string()]);
    let user_agent = r
        .string("user_agent")
        .map(|(s, _)| s)
        .unwrap_or_else(|| format!("vigie/{}", env!("CARGO_PKG_VERSION")));
    let listen = r.string("listen").map(|(s, _)| s);
    let public_url = public_url(&mut r, listen.is_some());
    let retention = r.duration("retention").map(|(d, _)| d);
    let source_alert_after = r
        .duration("source_alert_after")
        .map_or(Duration::from_secs(1800), |(d, _)| d);
    let admin_notify_at: Vec<(String, usize)> = r
        .strings("admin_notify")
        .unwrap_or_default()
        .into_iter()
        .map(|(s, span)| (s, span.start))
        .collect();
    let max_concurrent_polls = r
        .u64("max_concurrent_polls")
        .map_or(8, |(n, _)| n.max(1) as usize);
    let http_timeout = r
        .duration("http_timeout")
        .map_or(Duration::from_secs(60), |(d, _)| d);
    let tags: Vec<&str> = Language::ALL.iter().map(|(tag, _)| *tag).collect();
    let language = r
        .one_of("language", &tags)
        .and_then(|(tag, _)| Language::ALL.iter().find(|(t, _)| *t == tag))
        .map_or(Language::default(), |(_, l)| *l);
    let timezone = r.string("timezone").map(|(name, span)| {
        name.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
            let hint = suggest(&name, names)
                .map(|s| format!(", did you mean \"{s}\"?"))
                .unwrap_or_default();
            r.error(
                span.start,
                format!(
                    "\"timezone\" must be an IANA time zone name such as \"Europe/Paris\" or \"UTC\", not \"{name}\"{hint}"
                ),
            );
            chrono_tz::UTC
        })
    });
    let brand_accounts = super::brand::read(&mut r);
    let hours = hours(&mut r);
    let holidays = holidays(&mut r);
    r.finish(&[
        "brand_accounts",
        "hours",
        "holidays",
        "database",
        "rules",
        "user_agent",
        "listen",
        "public_url",
        "retention",
        "source_alert_after",
        "admin_notify",
        "max_concurrent_polls",
        "http_timeout",
        "language",
        "timezone",
    ]);
    DaemonConfig {
        database,
        rules,
        user_agent,
        listen,
        public_url,
        retention,
        source_alert_after,
        admin_notify: admin_notify_at.iter().map(|(s, _)| s.clone()).collect(),
        admin_notify_at,
        max_concurrent_polls,
        http_timeout,
        language,
        timezone,
        brand_accounts,
        hours,
        holidays,
    }
}

/// `public_url`: an absolute http(s) URL without query or fragment, only beside `listen` (the
/// listener it names serves the one-click case links).
fn public_url(r: &mut Reader<'_, '_, '_>, listen: bool) -> Option<String> {
    let (text, span) = r.string("public_url")?;
    let url = url::Url::parse(&text).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host_str().is_some_and(|h| !h.is_empty())
            && u.query().is_none()
            && u.fragment().is_none()
            && u.username().is_empty()
            && u.password().is_none()
    });
    if url.is_none() {
        r.error(
            span.start,
            format!("\"public_url\" must be an http(s) URL without query or credentials, such as \"https://vigie.example.org\", not \"{text}\""),
        );
        return None;
    }
    if !listen {
        r.error(
            span.start,
            "\"public_url\" names the listener of \"listen\", which is not set",
        );
    }
    Some(text.trim_end_matches('/').to_string())
}

/// `[daemon] hours`: business hours, an error at the character that is wrong.
fn hours(r: &mut Reader<'_, '_, '_>) -> crate::cases::Hours {
    let Some((text, span)) = r.string("hours") else {
        return crate::cases::Hours::always();
    };
    match crate::cases::Hours::parse(&text) {
        Ok(h) => h,
        Err(e) => {
            let at = super::rules::column_in_file(r.file(), &span, &text, e.offset + 1);
            r.error(at, e.message);
            crate::cases::Hours::always()
        }
    }
}

/// `[daemon] holidays`: local dates (`"2026-12-25"`), each checked where it is written.
fn holidays(r: &mut Reader<'_, '_, '_>) -> Vec<chrono::NaiveDate> {
    let mut out = Vec::new();
    for (text, span) in r.strings("holidays").unwrap_or_default() {
        match chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
            Ok(d) => out.push(d),
            Err(_) => r.error(
                span.start,
                format!("holidays: \"{text}\" is not a date such as \"2026-12-25\""),
            ),
        }
    }
    out
}

/// Reads `kind`, finds it in `table`, and checks the table's keys against it.
fn kind_of<'k>(
    r: &mut Reader<'_, '_, '_>,
    what: &str,
    table: &[&'k KindDef],
    common: &[&str],
) -> Option<&'k KindDef> {
    let at = r.at;
    let Some((name, span)) = r.string("kind") else {
        if !r.has("kind") {
            r.error(at, format!("{what} needs \"kind\""));
        }
        return None;
    };
    let Some(kind) = table.iter().copied().find(|k| k.name == name) else {
        let msg = match suggest(&name, table.iter().map(|k| k.name)) {
            Some(s) => format!("unknown {what} kind \"{name}\", did you mean \"{s}\"?"),
            None => format!(
                "unknown {what} kind \"{name}\" (kinds: {})",
                table.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
            ),
        };
        r.error(span.start, msg);
        return None;
    };
    // Keys of other kinds get a precise message; the rest are left to `finish`.
    let own: Vec<String> = kind.keys().collect();
    for (key, span) in r.keys() {
        if common.contains(&key.as_str()) || own.contains(&key) {
            continue;
        }
        if table.iter().any(|k| k.keys().any(|x| x == key)) {
            r.raw(&key);
            r.error(
                span.start,
                format!("\"{key}\" is not a key of kind \"{}\"", kind.name),
            );
        }
    }
    Some(kind)
}

/// Checks required keys, secrets and URLs of a kind, and records where each secret is written
/// (`owner` is `source "x"` or `notifier "y"`).
fn kind_keys(
    r: &mut Reader<'_, '_, '_>,
    kind: &KindDef,
    what: &str,
    owner: Option<String>,
    dir: &Path,
    sites: &mut Vec<SecretSite>,
) {
    let at = r.at;
    for key in kind.required {
        let is_secret = kind.secrets.contains(key);
        let present = r.has(key)
            || (is_secret && r.has(&format!("{key}_file")))
            || (kind.secrets.first() == Some(key) && r.has("credential"));
        if !present {
            r.error(
                at,
                format!("{what} of kind \"{}\" needs \"{key}\"", kind.name),
            );
        }
    }
    secret::read(r, kind, owner, dir, sites);
    for key in [
        "url", "instance", "base_url", "service", "endpoint", "smtp_url",
    ] {
        if !kind.keys().any(|k| k == key) {
            continue;
        }
        let Some((value, span)) = r.string(key) else {
            continue;
        };
        if value.starts_with("${") {
            continue;
        }
        let schemes: &[&str] = match key {
            "smtp_url" => &["smtp", "smtps"],
            "endpoint" => &["ws", "wss"],
            _ => &["http", "https"],
        };
        match url::Url::parse(&value) {
            Ok(u) if u.password().is_some() => {
                let hint = password_hint(kind, key);
                r.error(
                    span.start,
                    format!("\"{key}\" must not hold a password (secrets never sit in clear in the file): {hint}"),
                );
            }
            Ok(u) if schemes.contains(&u.scheme()) => {}
            Ok(u) => r.error(
                span.start,
                format!(
                    "\"{key}\": scheme \"{}\" is not one of {}",
                    u.scheme(),
                    schemes.join(", ")
                ),
            ),
            Err(e) => r.error(span.start, format!("\"{key}\" is not a valid URL: {e}")),
        }
    }
}

/// What to write instead of a password inside the URL `key` of `kind`.
fn password_hint(kind: &KindDef, key: &str) -> String {
    let ways = |secret: &str, first: bool| {
        let cred = if first { " or credential" } else { "" };
        format!("\"${{ENV_VAR}}\", {secret}_file{cred}")
    };
    if key == "smtp_url" {
        return format!(
            "leave the user in the URL and give the password in \"password\" ({})",
            ways("password", true)
        );
    }
    if let Some(i) = kind.secrets.iter().position(|s| *s == key) {
        return format!("give the whole URL as a secret ({})", ways(key, i == 0));
    }
    match kind.secrets.first() {
        Some(secret) => format!("give it in \"{secret}\" ({})", ways(secret, true)),
        None => format!("kind \"{}\" takes no password", kind.name),
    }
}

fn source(
    file: &File,
    t: &DeTable<'_>,
    at: usize,
    dir: &Path,
    kinds: &[&KindDef],
    sites: &mut Vec<SecretSite>,
    errors: &mut Vec<ConfigError>,
) -> Option<SourceSpec> {
    let mut r = Reader::new(file, t, at, errors);
    let name = r.required("name", "[[source]]");
    let kind = kind_of(&mut r, "source", kinds, SOURCE_COMMON);
    let every = r.duration("every").map_or(DEFAULT_EVERY, |(d, _)| d);
    let max_bytes = r
        .u64_in("max_bytes", 1, u64::MAX)
        .map_or(DEFAULT_MAX_BYTES, |(n, _)| n);
    let owner = name.as_ref().map(|(n, _)| format!("source \"{n}\""));
    let settings = kind.map(|k| read_kind(&mut r, k, "source", owner, dir, sites));
    if every.is_zero() {
        r.error(at, "\"every\" must be longer than 0s");
    }
    finish(r, SOURCE_COMMON, kind, kinds);
    Some(SourceSpec {
        name: name?.0,
        every,
        max_bytes,
        kind: kind?.name,
        settings: settings?,
        at,
        brand_accounts: Vec::new(),
    })
}

fn notifier(
    file: &File,
    t: &DeTable<'_>,
    at: usize,
    dir: &Path,
    kinds: &[&KindDef],
    sites: &mut Vec<SecretSite>,
    errors: &mut Vec<ConfigError>,
) -> Option<NotifierSpec> {
    let mut r = Reader::new(file, t, at, errors);
    let name = r.required("name", "[[notifier]]");
    let kind = kind_of(&mut r, "notifier", kinds, NOTIFIER_COMMON);
    let owner = name.as_ref().map(|(n, _)| format!("notifier \"{n}\""));
    let settings = kind.map(|k| read_kind(&mut r, k, "notifier", owner, dir, sites));
    finish(r, NOTIFIER_COMMON, kind, kinds);
    Some(NotifierSpec {
        name: name?.0,
        kind: kind?.name,
        settings: settings?,
        at,
    })
}

/// Checks what every kind shares (`kind_keys`), then lets the kind read its own keys.
fn read_kind(
    r: &mut Reader<'_, '_, '_>,
    kind: &KindDef,
    what: &str,
    owner: Option<String>,
    dir: &Path,
    sites: &mut Vec<SecretSite>,
) -> super::Settings {
    kind_keys(r, kind, what, owner, dir, sites);
    (kind.read)(r, dir)
}

/// Reports unknown keys. Every key of the table's kind counts as read (a kind need not read a
/// key it does not use yet); with an unknown kind, only keys that no kind takes are reported.
fn finish(mut r: Reader<'_, '_, '_>, common: &[&str], kind: Option<&KindDef>, kinds: &[&KindDef]) {
    let mut known: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    match kind {
        Some(k) => {
            for key in k.keys() {
                r.raw(&key);
                known.push(key);
            }
        }
        None => {
            for key in kinds.iter().flat_map(|k| k.keys()) {
                r.raw(&key);
            }
        }
    }
    let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
    r.finish(&known);
}

/// The database when the config names none: `$STATE_DIRECTORY/vigie.db` under systemd; for the
/// system config (`/etc/vigie`) in a shell without it, the unit's own (`StateDirectory=vigie`),
/// so that ops running `vigie hits` read the service's database; else `vigie.db` beside the
/// config.
pub(crate) fn default_database(dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match env("STATE_DIRECTORY").filter(|s| !s.is_empty()) {
        // systemd may list several directories, separated by ':'.
        Some(state) => PathBuf::from(state.split(':').next().unwrap_or(&state)).join("vigie.db"),
        None if dir == Path::new(SYSTEM_CONFIG_DIR) => {
            PathBuf::from(UNIT_STATE_DIR).join("vigie.db")
        }
        None => dir.join("vigie.db"),
    }
}

/// Where the packaged config lives (`ConfigurationDirectory=vigie`).
pub const SYSTEM_CONFIG_DIR: &str = "/etc/vigie";
/// The unit's state directory (`StateDirectory=vigie`).
pub const UNIT_STATE_DIR: &str = "/var/lib/vigie";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_database_follows_systemd_then_the_system_config() {
        let none = |_: &str| None;
        let state = |k: &str| (k == "STATE_DIRECTORY").then(|| "/var/lib/vigie:/x".to_string());
        let etc = Path::new("/etc/vigie");
        assert_eq!(
            default_database(etc, &state),
            Path::new("/var/lib/vigie/vigie.db")
        );
        assert_eq!(
            default_database(etc, &none),
            Path::new("/var/lib/vigie/vigie.db")
        );
        assert_eq!(
            default_database(Path::new("/home/me/demo"), &none),
            Path::new("/home/me/demo/vigie.db")
        );
        assert_eq!(
            default_database(Path::new("/srv/x"), &state),
            Path::new("/var/lib/vigie/vigie.db")
        );
    }
}
