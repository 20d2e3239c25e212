//! The `email` notifier: multipart text + HTML with the chart inline, over SMTP (lettre).
//!
//! [`message`] is the pure body builder (what golden tests pin): the subject names kind, rule
//! and count, `Message-ID` is `<delivery_id@vigie>` so a retried delivery is recognisably the
//! same mail, and the HTML part carries the 24-hour chart as an inline `cid:chart` image.
//! Escaping post text is `render`'s job; drawing the chart is `chart`'s; retrying is
//! `daemon::dispatch`'s; one SMTP session with its timeouts is `smtp`'s. This file reads the
//! settings, sends once, and classifies the answer (SMTP 5xx and client-side refusals are
//! permanent; everything else, timeouts included, is worth another try).
//!
//! The server is parsed in [`Email::new`], so a bad URL or address fails at build time, before
//! a reload swaps pipelines.

use std::time::SystemTime;

use async_trait::async_trait;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::Message;

use super::render::{self, ChartRef, Locale};
use super::smtp::{Server, SessionError};
use super::{chart, Alert, DeliveryError, Notifier};
use crate::config::raw::Reader;
use crate::config::secret::{self, Secret, SecretRef};
use crate::config::{values, KindDef, Settings};

/// The Content-ID of the inline chart (`<chart>` on the wire, `cid:chart` in the HTML).
pub const CHART_CID: &str = "chart";

/// `kind = "email"`: SMTP.
pub const KIND: super::Kind = super::Kind {
    def: KindDef {
        name: "email",
        required: &["smtp_url", "from", "to"],
        optional: &["username", "password"],
        secrets: &["password"],
        read,
    },
    build: |spec, locale, env| {
        let s: &EmailSettings = super::settings(spec)?;
        let email = Email::new(s, *locale, &|r| super::secret(spec, r, env))
            .map_err(|e| super::BuildError::new(spec, e))?;
        Ok(Box::new(email))
    },
};

/// An `email` notifier's settings. The password stays a reference until it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// `smtp://host[:port]`, `smtp://…?tls=required` or `smtps://host[:port]`; may hold the user.
    pub smtp_url: String,
    /// The SMTP login, if not in the URL.
    pub username: Option<String>,
    /// The SMTP password.
    pub password: Option<SecretRef>,
    /// The `From:` address (`Name <addr>`).
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
}

fn read(r: &mut Reader<'_, '_, '_>, dir: &std::path::Path) -> Settings {
    check(r);
    Settings::new(EmailSettings {
        smtp_url: values::text(r, "smtp_url"),
        username: values::opt_text(r, "username"),
        password: secret::reference(r, "password", true, dir),
        from: values::text(r, "from"),
        to: r
            .strings("to")
            .map(|v| v.into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default(),
    })
}

/// Addresses, and a login that has both its halves.
fn check(r: &mut Reader<'_, '_, '_>) {
    if let Some((addr, span)) = r.non_empty("from") {
        values::mailbox(r, "from", &addr, span.start);
    }
    if let Some(to) = r.strings("to") {
        if to.is_empty() {
            let at = r.key_at("to").unwrap_or(r.at);
            r.error(at, "\"to\" names no recipient");
        }
        for (addr, span) in to {
            values::mailbox(r, "to", &addr, span.start);
        }
    }
    r.non_empty("username");
    // A password inside the URL is refused by `validate`; then the pair is not in question.
    let url = r
        .string("smtp_url")
        .and_then(|(u, span)| Some((url::Url::parse(&u).ok()?, span.start)));
    if url.as_ref().is_some_and(|(u, _)| u.password().is_some()) {
        return;
    }
    let url_user = url.and_then(|(u, at)| (!u.username().is_empty()).then_some(at));
    let user_at = r.key_at("username").or(url_user);
    let password_at = ["password", "password_file", "credential"]
        .iter()
        .find_map(|k| r.key_at(k));
    match (user_at, password_at) {
        (Some(at), None) => r.error(
            at,
            "a username is set (in \"smtp_url\" or \"username\") but no \"password\" (or password_file, credential)",
        ),
        (None, Some(at)) => r.error(
            at,
            "a password is set but no username (in \"smtp_url\" or \"username\")",
        ),
        _ => {}
    }
}

/// Sends alerts by email.
pub struct Email {
    /// Where and how to send, credentials included.
    server: Server,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The language and zone of the mail.
    locale: Locale,
    /// Kept only to scrub it from error messages, should a server ever echo it.
    password: Option<Secret>,
}

impl Email {
    /// Builds the SMTP transport; `secret` resolves the password reference.
    ///
    /// Fails on an unusable `smtp_url`, an invalid `from` or `to` address, no recipient, or a
    /// login without a password (and the reverse). Messages never hold the password.
    pub fn new(
        spec: &EmailSettings,
        locale: Locale,
        secret: &dyn Fn(&SecretRef) -> Result<Secret, super::BuildError>,
    ) -> Result<Email, String> {
        let password = spec
            .password
            .as_ref()
            .map(secret)
            .transpose()
            .map_err(|e| e.message)?;
        let (url, url_user, url_password) = split_credentials(&spec.smtp_url)?;
        let user = url_user.or_else(|| spec.username.clone());
        // A password written in the URL is honoured only when no `password` key is set.
        let password = password.or(url_password);
        let credentials = match (&user, &password) {
            (Some(user), Some(pw)) => Some(Credentials::new(user.clone(), pw.expose().to_string())),
            (Some(_), None) => {
                return Err("a username is set but no password".to_string());
            }
            (None, Some(_)) => {
                return Err(
                    "a password is set but no username (in \"smtp_url\" or \"username\")"
                        .to_string(),
                );
            }
            (None, None) => None,
        };
        let server = Server::parse(&url, credentials)?;
        let from = spec
            .from
            .parse::<Mailbox>()
            .map_err(|e| format!("\"from\": invalid address {:?}: {e}", spec.from))?;
        if spec.to.is_empty() {
            return Err("\"to\" names no recipient".to_string());
        }
        let to = spec
            .to
            .iter()
            .map(|t| {
                t.parse::<Mailbox>()
                    .map_err(|e| format!("\"to\": invalid address {t:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Email {
            server,
            from,
            to,
            locale,
            password: password.filter(|p| !p.expose().is_empty()),
        })
    }

    /// Turns a lettre error into a delivery error free of the password.
    fn classify(&self, e: &lettre::transport::smtp::Error) -> DeliveryError {
        let mut reason = format!("smtp: {e}");
        if let Some(pw) = &self.password {
            reason = reason.replace(pw.expose(), "<secret>");
        }
        classify(e, reason)
    }
}

/// Splits `user[:password]@` off an SMTP URL: the URL without them, the percent-decoded user and
/// password. Errors never quote the URL, which may hold the password.
fn split_credentials(smtp_url: &str) -> Result<(String, Option<String>, Option<Secret>), String> {
    let mut url =
        url::Url::parse(smtp_url).map_err(|e| format!("\"smtp_url\" is not a URL: {e}"))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "\"smtp_url\" must start with smtp:// or smtps://, not {}://",
            url.scheme()
        ));
    }
    let user = (!url.username().is_empty()).then(|| decode(url.username()));
    let password = url.password().map(|p| Secret::new(decode(p)));
    // Clearing cannot fail on smtp(s) URLs, which always have a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url.into(), user, password))
}

/// Decodes `%XX` escapes (as the URL parser leaves them in user and password).
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// SMTP 5xx and client-side refusals (no usable auth mechanism, no STARTTLS where required)
/// are permanent; 4xx, refused connections, timeouts, TLS and I/O errors are transient.
fn classify(e: &lettre::transport::smtp::Error, reason: String) -> DeliveryError {
    if e.is_permanent() || e.is_client() {
        DeliveryError::Permanent { reason }
    } else {
        DeliveryError::Transient {
            reason,
            retry_after: None,
        }
    }
}

/// The subject: `[vigie] ` and the alert's title in the language ("Seuil atteint sur « retard »
/// : 6 publications en 15 min"). Only the rule's or source's name comes from the config; no
/// post text ever reaches the subject.
pub fn subject(alert: &Alert, loc: &Locale) -> String {
    format!("[vigie] {}", render::title(alert, loc))
}

/// `delivery_id` reduced to characters safe in a Message-ID and a MIME boundary.
fn safe_id(delivery_id: &str) -> String {
    let id: String = delivery_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(48)
        .collect();
    if id.is_empty() {
        "x".to_string()
    } else {
        id
    }
}

/// A text part, always quoted-printable: QP turns every `=` into `=3D`, so the `=_`-prefixed
/// boundaries below can never occur in a body, whatever a post says.
fn text_part(content_type: ContentType, body: String) -> SinglePart {
    SinglePart::builder()
        .header(content_type)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(body)
}

/// The whole mail, deterministic for one alert and delivery id (golden-testable): `Date` is the
/// alert's time and the MIME boundaries derive from `delivery_id`.
///
/// `multipart/alternative` of `render::text` and a `multipart/related` holding `render::html`
/// with the chart inline (`Content-ID: <chart>`); without counts there is no chart, and the HTML
/// part stands alone.
///
/// # Panics
///
/// If `to` is empty (a mail needs a recipient; [`Email::new`] refuses an empty `to`).
pub fn message(
    alert: &Alert,
    loc: &Locale,
    delivery_id: &str,
    from: &Mailbox,
    to: &[Mailbox],
) -> Message {
    let id = safe_id(delivery_id);
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(subject(alert, loc))
        .message_id(Some(format!("<{id}@vigie>")))
        .date(SystemTime::from(alert.fired_at))
        .user_agent(format!("vigie/{}", env!("CARGO_PKG_VERSION")));
    for mailbox in to {
        builder = builder.to(mailbox.clone());
    }
    let text = text_part(ContentType::TEXT_PLAIN, render::text(alert, loc));
    let alternative = MultiPart::alternative()
        .boundary(format!("=_vigie_alt_{id}"))
        .singlepart(text);
    let body = if alert.series.counts.is_empty() {
        alternative.singlepart(text_part(
            ContentType::TEXT_HTML,
            render::html(alert, loc, None),
        ))
    } else {
        let png = chart::png(alert, loc);
        let image = Attachment::new_inline(CHART_CID.to_string()).body(
            png,
            ContentType::parse("image/png").expect("image/png is a MIME type"),
        );
        let chart = ChartRef {
            cid: CHART_CID,
            width: chart::WIDTH,
            height: chart::HEIGHT,
        };
        let html = text_part(
            ContentType::TEXT_HTML,
            render::html(alert, loc, Some(chart)),
        );
        alternative.multipart(
            MultiPart::related()
                .boundary(format!("=_vigie_rel_{id}"))
                .singlepart(html)
                .singlepart(image),
        )
    };
    builder
        .multipart(body)
        .expect("a mail with a From and at least one To")
}

#[async_trait]
impl Notifier for Email {
    async fn send(&self, alert: &Alert, delivery_id: &str) -> Result<(), DeliveryError> {
        let mail = message(alert, &self.locale, delivery_id, &self.from, &self.to);
        match self.server.send(mail.envelope(), &mail.formatted()).await {
            Ok(()) => Ok(()),
            Err(SessionError::Smtp(e)) => Err(self.classify(&e)),
            Err(SessionError::Timeout(reason)) => Err(DeliveryError::Transient {
                reason,
                retry_after: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::Language;
    use crate::detect::{AlertKind, AlertPost, Series, SourceCondition};

    fn alert(kind: AlertKind, counts: Vec<u64>) -> Alert {
        let fired_at = chrono::Utc.with_ymd_and_hms(2025, 3, 4, 9, 15, 0).unwrap();
        Alert {
            id: 12,
            rule: "livraison-retard".into(),
            kind,
            fired_at,
            window_secs: 900,
            count: 38,
            baseline: 2.5,
            bar: 7.5,
            reason: "38 hits in 15m, usual 2.5 (15×)".into(),
            posts: vec![AlertPost {
                source: "forum".into(),
                author: Some("@a".into()),
                author_name: None,
                text: "--=_vigie_alt_msg_12 <script>alert(1)</script> = é".into(),
                url: None,
                created_at: fired_at,
                followers: None,
                engagement: None,
                matched: Vec::new(),
            }],
            series: Series {
                start: fired_at - chrono::Duration::hours(24),
                bucket_secs: 900,
                counts,
            },
            source_state: None,
            error: None,
            case: None,
        }
    }

    fn boxes() -> (Mailbox, Vec<Mailbox>) {
        (
            "Vigie <alerts@example.org>".parse().unwrap(),
            vec!["community@example.org".parse().unwrap()],
        )
    }

    fn spec(url: &str) -> EmailSettings {
        EmailSettings {
            smtp_url: url.into(),
            username: None,
            password: None,
            from: "Vigie <alerts@example.org>".into(),
            to: vec!["community@example.org".into()],
        }
    }

    fn no_secret(_: &SecretRef) -> Result<Secret, crate::notify::BuildError> {
        Ok(Secret::new("hunter2"))
    }

    #[test]
    fn subjects_are_the_title_in_the_language() {
        let fr = Locale::new(Language::French, chrono_tz::Europe::Paris);
        let en = Locale::default();
        let cases = [
            (
                AlertKind::Spike,
                "[vigie] Pic sur «\u{202f}livraison-retard\u{202f}»\u{a0}: 38 publications en 15 min",
                "[vigie] Spike on “livraison-retard”: 38 posts in 15 min",
            ),
            (
                AlertKind::Threshold,
                "[vigie] Seuil atteint sur «\u{202f}livraison-retard\u{202f}»\u{a0}: 38 publications en 15 min",
                "[vigie] Threshold reached on “livraison-retard”: 38 posts in 15 min",
            ),
            (
                AlertKind::Each,
                "[vigie] Publication critique sur «\u{202f}livraison-retard\u{202f}»",
                "[vigie] Critical post on “livraison-retard”",
            ),
        ];
        for (kind, want_fr, want_en) in cases {
            assert_eq!(subject(&alert(kind, vec![]), &fr), want_fr);
            assert_eq!(subject(&alert(kind, vec![]), &en), want_en);
        }
        let mut a = alert(AlertKind::Source, vec![]);
        a.source_state = Some(SourceCondition::Silent);
        assert_eq!(
            subject(&a, &en),
            "[vigie] Source “livraison-retard” has gone silent"
        );
    }

    #[test]
    fn message_is_deterministic_and_boundaries_never_occur_in_bodies() {
        let (from, to) = boxes();
        let a = alert(AlertKind::Spike, vec![1, 2, 38]);
        let one = message(&a, &Locale::default(), "msg_12", &from, &to).formatted();
        let two = message(&a, &Locale::default(), "msg_12", &from, &to).formatted();
        assert_eq!(one, two);
        let s = String::from_utf8(one).unwrap();
        assert!(s.contains("Message-ID: <msg_12@vigie>\r\n"), "{s}");
        assert!(s.contains("Content-ID: <chart>\r\n"), "{s}");
        // Each boundary appears only as delimiters: in the header, between parts, at the end.
        assert_eq!(s.matches("=_vigie_alt_msg_12").count(), 4, "{s}");
        assert_eq!(s.matches("=_vigie_rel_msg_12").count(), 4, "{s}");
        // The post's fake boundary is quoted-printable encoded.
        assert!(s.contains("--=3D_vigie_alt_msg_12"), "{s}");
    }

    #[test]
    fn message_without_counts_has_no_chart() {
        let (from, to) = boxes();
        let s = String::from_utf8(
            message(
                &alert(AlertKind::Each, vec![]),
                &Locale::default(),
                "d 1>",
                &from,
                &to,
            )
            .formatted(),
        )
        .unwrap();
        assert!(!s.contains("image/png"), "{s}");
        assert!(!s.contains("multipart/related"), "{s}");
        assert!(s.contains("Message-ID: <d-1-@vigie>\r\n"), "{s}");
    }

    #[test]
    fn new_validates_url_addresses_and_credentials() {
        let ok = |s: EmailSettings| Email::new(&s, Locale::default(), &no_secret).map(|_| ());
        assert_eq!(ok(spec("smtp://127.0.0.1:2525")), Ok(()));
        assert_eq!(ok(spec("smtp://mail.example.org:587?tls=required")), Ok(()));
        assert_eq!(ok(spec("smtps://mail.example.org")), Ok(()));
        let err = |s: EmailSettings| {
            Email::new(&s, Locale::default(), &no_secret)
                .map(|_| ())
                .unwrap_err()
        };
        assert!(err(spec("http://x")).contains("smtp://"));
        assert!(err(spec("smtp://x?tls=bogus")).contains("smtp_url"));
        let mut s = spec("smtp://x");
        s.from = "not an address".into();
        assert!(err(s).contains("\"from\""));
        let mut s = spec("smtp://x");
        s.to = vec!["a@b".into(), "@@".into()];
        assert!(err(s).contains("\"to\""));
        let mut s = spec("smtp://x");
        s.to.clear();
        assert!(err(s).contains("\"to\""));
        let mut s = spec("smtp://x");
        s.password = Some(SecretRef::Env("PW".into()));
        let e = err(s.clone());
        assert!(e.contains("no username") && !e.contains("hunter2"), "{e}");
        s.username = Some("me".into());
        assert_eq!(ok(s), Ok(()));
        let e = err(spec("smtp://me@x"));
        assert!(e.contains("no password"), "{e}");
        // A password in the URL never shows in an error.
        let e = err(spec("smtp://me:hunter2@x?tls=bogus"));
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn url_credentials_are_percent_decoded_and_removed() {
        let (url, user, pw) =
            split_credentials("smtps://alerts%40example.org:p%2Bw+d@smtp.example.org:465").unwrap();
        assert_eq!(url, "smtps://smtp.example.org:465");
        assert_eq!(user.as_deref(), Some("alerts@example.org"));
        assert_eq!(pw.unwrap().expose(), "p+w+d");
    }
}
