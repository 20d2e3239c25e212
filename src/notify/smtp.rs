//! One SMTP session with timeouts that mean what they say: connect, greeting, whole send.
//!
//! lettre's transport bounds only the TCP connect (its async client reads the greeting and
//! every reply without a limit) and pools connections, so a server that accepts the connection
//! and never greets held a send until the dispatcher's own timeout. This file drives lettre's
//! public connection API instead, one connection per mail (alerts are few): the TCP connection
//! within [`CONNECT_TIMEOUT`], the server's greeting and its answer to EHLO (after the TLS
//! handshake for `smtps://`) within [`GREETING_TIMEOUT`] more, and the whole session (STARTTLS,
//! AUTH, MAIL, RCPT, DATA) within [`SEND_TIMEOUT`] of its start. `smtp_url` is read as
//! lettre's `from_url` reads it (same schemes, `?tls=`, default ports and EHLO name), so the
//! config means what it meant. Building the mail and classifying errors is `email`'s job.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// How long the TCP connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long, after the TCP connection, the server may take to greet and answer EHLO.
pub const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one whole session may take, from connecting to the server's answer to the data.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection is encrypted.
#[derive(Clone)]
enum Tls {
    /// `smtp://` without `?tls=`: plain text.
    None,
    /// `?tls=opportunistic`: STARTTLS when the server offers it.
    Opportunistic(TlsParameters),
    /// `?tls=required`: STARTTLS or nothing.
    Required(TlsParameters),
    /// `smtps://`: TLS from the first byte.
    Wrapper(TlsParameters),
}

/// Where and how to send: parsed once, when the notifier is built.
#[derive(Clone)]
pub struct Server {
    host: String,
    port: u16,
    tls: Tls,
    hello: ClientId,
    credentials: Option<Credentials>,
}

/// Why a session failed.
#[derive(Debug)]
pub enum SessionError {
    /// A limit of this file was hit; the message says which.
    Timeout(String),
    /// lettre reported an error (an SMTP reply, I/O, TLS, a client-side refusal).
    Smtp(lettre::transport::smtp::Error),
}

impl Server {
    /// Reads `url` (already free of user and password) as lettre's `from_url` does.
    pub fn parse(url: &str, credentials: Option<Credentials>) -> Result<Server, String> {
        let url = url::Url::parse(url).map_err(|e| format!("\"smtp_url\": {e}"))?;
        let host = url
            .host_str()
            .ok_or("\"smtp_url\" names no host")?
            .trim_matches(['[', ']'])
            .to_string();
        let tls_param = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let params =
            || TlsParameters::new(host.clone()).map_err(|e| format!("\"smtp_url\": TLS: {e}"));
        let (tls, default_port) = match (url.scheme(), tls_param.as_deref()) {
            ("smtp", None) => (Tls::None, 25),
            ("smtp", Some("required")) => (Tls::Required(params()?), 587),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic(params()?), 587),
            ("smtps", _) => (Tls::Wrapper(params()?), 465),
            (scheme, tls) => {
                return Err(format!(
                    "\"smtp_url\": unknown scheme {scheme:?} or tls parameter {tls:?} \
                     (smtp://, smtp://…?tls=required, smtp://…?tls=opportunistic, smtps://)"
                ))
            }
        };
        // As lettre: the path names the EHLO domain.
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(Server {
            host,
            port: url.port().unwrap_or(default_port),
            tls,
            hello,
            credentials,
        })
    }

    /// Sends `data` to the envelope's recipients in one session, within [`SEND_TIMEOUT`].
    pub async fn send(&self, envelope: &Envelope, data: &[u8]) -> Result<(), SessionError> {
        let session = async {
            let mut conn = self.connect().await?;
            let sent = self.deliver(&mut conn, envelope, data).await;
            // The server has answered the data: end politely, but never let QUIT decide.
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), conn.abort()).await;
            });
            sent.map_err(SessionError::Smtp)
        };
        tokio::time::timeout(SEND_TIMEOUT, session)
            .await
            .unwrap_or_else(|_| {
                Err(SessionError::Timeout(format!(
                    "smtp: the session did not end within {}s",
                    SEND_TIMEOUT.as_secs()
                )))
            })
    }

    /// Connects, reads the greeting and says EHLO, each within its limit.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SessionError> {
        let wrapper = match &self.tls {
            Tls::Wrapper(p) => Some(p.clone()),
            _ => None,
        };
        // lettre applies its timeout to the TCP connect only; the outer one, longer by the
        // greeting's allowance, can therefore only fire once the connection is up.
        let connect = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(CONNECT_TIMEOUT),
            &self.hello,
            wrapper,
            None,
        );
        let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT + GREETING_TIMEOUT, connect).await
        {
            Ok(conn) => conn.map_err(SessionError::Smtp)?,
            Err(_) => {
                return Err(SessionError::Timeout(format!(
                    "smtp: the server accepted the connection but did not greet within {}s",
                    GREETING_TIMEOUT.as_secs()
                )))
            }
        };
        let starttls = match &self.tls {
            Tls::Required(p) => Some(p),
            Tls::Opportunistic(p) if conn.can_starttls() => Some(p),
            _ => None,
        };
        if let Some(p) = starttls {
            conn.starttls(p.clone(), &self.hello)
                .await
                .map_err(SessionError::Smtp)?;
        }
        Ok(conn)
    }

    /// AUTH when configured, then the mail.
    async fn deliver(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        data: &[u8],
    ) -> Result<(), lettre::transport::smtp::Error> {
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        conn.send(envelope, data).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encryption mode, port and EHLO name `url` gives, or the error.
    fn read(url: &str) -> Result<(&'static str, u16, String), String> {
        let s = Server::parse(url, None)?;
        let mode = match s.tls {
            Tls::None => "plain",
            Tls::Opportunistic(_) => "opportunistic",
            Tls::Required(_) => "starttls",
            Tls::Wrapper(_) => "implicit",
        };
        let hello = match s.hello.to_string() {
            h if h == ClientId::default().to_string() => "<default>".into(),
            h => h,
        };
        Ok((mode, s.port, hello))
    }

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let ok = |m, p, h: &str| Ok((m, p, h.to_string()));
        assert_eq!(
            read("smtp://127.0.0.1:2525"),
            ok("plain", 2525, "<default>")
        );
        assert_eq!(
            read("smtp://mail.example.org"),
            ok("plain", 25, "<default>")
        );
        assert_eq!(
            read("smtp://mail.example.org?tls=required"),
            ok("starttls", 587, "<default>")
        );
        assert_eq!(
            read("smtp://mail.example.org:2587?tls=opportunistic"),
            ok("opportunistic", 2587, "<default>")
        );
        assert_eq!(
            read("smtps://mail.example.org/vigie.example.org"),
            ok("implicit", 465, "vigie.example.org")
        );
        assert!(read("smtp://x?tls=bogus").unwrap_err().contains("smtp_url"));
        assert!(read("smtp://x?tls=none").is_err());
        let mut s = Server::parse("smtp://[::1]:25", None).unwrap();
        assert_eq!(s.host, "::1");
        s.host.clear();
        assert!(read("http://x").is_err());
    }

    #[test]
    fn limits_nest() {
        // The greeting limit fires only after lettre's own connect limit, and both within the
        // whole session's, itself within what the dispatcher allows any send.
        assert!(CONNECT_TIMEOUT + GREETING_TIMEOUT < SEND_TIMEOUT);
        assert!(SEND_TIMEOUT <= crate::notify::MAX_SEND);
        assert!(crate::notify::http::TIMEOUT <= crate::notify::MAX_SEND);
    }
}
