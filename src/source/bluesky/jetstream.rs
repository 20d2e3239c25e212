//! The `bluesky` source in mode `jetstream`: new posts from the public Jetstream WebSocket.
//!
//! Jetstream (`/subscribe`, its v1 JSON wire) pushes one JSON event per message. The source
//! asks for `wantedCollections=app.bsky.feed.post` and keeps post *creates* in `langs` (the
//! server cannot filter languages); deletes, updates, identity and account events only move the
//! cursor. A push stream is fitted to the pull model without a second scheduler: the connection
//! lives in the source between polls, and one poll reads what has arrived (up to a batch), so
//! posts reach the writer in batches, one transaction each, and the cursor (the greatest
//! `time_us` read, as `{"time_us":…}`) moves only with the stored batch.
//!
//! Reconnecting is the scheduler's job like any retry: a lost connection, a close frame or a
//! silent one (no event for the fetcher's read timeout) is a transient poll error, shown in
//! `vigie sources` and backed off; the next poll connects again from the *stored* cursor minus
//! [`REWIND`], so no event is missed and the store's unique key drops the ones read twice. When
//! the store did not take the last batch (the cursor handed back is not the one this connection
//! reached), the connection is dropped and resumed the same way. Reading one event is
//! `event`'s, profiles (handles, followers) `profiles`'; matching and storing are the daemon's.
//!
//! The brand accounts' posts (`[daemon] brand_accounts`) are already in this stream, which
//! carries every account's posts: adding their DIDs to `wantedDids` would be wrong, since
//! Jetstream applies `wantedDids` and `wantedCollections` together (AND), so the connection would
//! carry the brand's posts only, and a second connection would carry nothing this one does not.
//! So the filter is on this side: the handles are resolved to DIDs once (`profiles::BrandDids`),
//! and a post by one of those DIDs is kept whatever its language, its author written `@handle`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::event::parse_event_with;
use super::profiles::{BrandDids, Profiles};
use super::record::POST_COLLECTION;
use crate::post::Post;
use crate::source::fetch::{redact_url, Fetcher};
use crate::source::{Cursor, Page, Source, SourceError};

/// How far before the stored cursor a new connection starts: Jetstream's `time_us` are not
/// strictly ordered across its ingest workers, so the events just before the greatest one read
/// may not all have been read yet.
pub const REWIND: Duration = Duration::from_secs(5);

/// Most events one poll reads; the rest wait in the socket for the next poll.
pub const MAX_EVENTS_PER_POLL: usize = 50_000;

/// Once events flow, a poll ends at the first gap this long (the batch is what has arrived)…
const LINGER: Duration = Duration::from_millis(50);

/// …or after this long, so a steady stream is still stored at every poll.
const BATCH_TIME: Duration = Duration::from_secs(2);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One Jetstream subscription.
pub struct JetstreamSource {
    name: String,
    endpoint: String,
    langs: Vec<String>,
    max_bytes: u64,
    /// Handles and follower counts for the posts that hit a rule.
    profiles: Profiles,
    /// The open connection and the cursor position it has reached (handed out last).
    conn: tokio::sync::Mutex<Option<(Socket, Option<String>)>>,
    /// Whether the last poll skipped malformed events (logged when this changes).
    malformed: AtomicBool,
    /// When the first connection without a stored cursor was opened (`time_us`): where a
    /// reconnection resumes until a batch is stored, so a drop during the first batch loses
    /// nothing either.
    first_connected: std::sync::Mutex<Option<i64>>,
    /// The brand accounts, their DIDs once resolved.
    brand: BrandDids,
}

impl JetstreamSource {
    /// The source for the Jetstream at `endpoint` (`wss://…/subscribe`), keeping posts in
    /// `langs` (primary subtags; all posts when empty); `service` serves profiles.
    pub fn new(
        name: String,
        endpoint: String,
        langs: Vec<String>,
        service: String,
        max_bytes: u64,
    ) -> JetstreamSource {
        JetstreamSource {
            profiles: Profiles::new(service, max_bytes),
            name,
            endpoint,
            langs: langs.iter().map(|l| super::record::primary(l)).collect(),
            max_bytes,
            conn: tokio::sync::Mutex::new(None),
            malformed: AtomicBool::new(false),
            first_connected: std::sync::Mutex::new(None),
            brand: BrandDids::default(),
        }
    }

    /// The source, also keeping the posts of the brand accounts `handles` in any language.
    pub fn with_brand_accounts(self, handles: &[String]) -> JetstreamSource {
        JetstreamSource {
            brand: BrandDids::new(handles),
            ..self
        }
    }

    /// Opens a subscription from `since` (a `time_us`) minus [`REWIND`], or from now.
    async fn connect(&self, fetch: &Fetcher, since: Option<i64>) -> Result<Socket, SourceError> {
        let shown = redact_url(&self.endpoint);
        let mut url = url::Url::parse(&self.endpoint)
            .map_err(|e| SourceError::Permanent(format!("invalid URL {shown}: {e}")))?;
        url.query_pairs_mut()
            .append_pair("wantedCollections", POST_COLLECTION);
        if let Some(t) = since {
            let from = t.saturating_sub(REWIND.as_micros() as i64).max(0);
            url.query_pairs_mut()
                .append_pair("cursor", &from.to_string());
        }
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| SourceError::Permanent(format!("invalid URL {shown}: {e}")))?;
        if let Ok(ua) = fetch.user_agent().parse() {
            request.headers_mut().insert("user-agent", ua);
        }
        let cap = usize::try_from(self.max_bytes).unwrap_or(usize::MAX);
        let config = WebSocketConfig::default()
            .max_message_size(Some(cap))
            .max_frame_size(Some(cap));
        let wait = fetch.read_timeout();
        let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
        match tokio::time::timeout(wait, connecting).await {
            Err(_) => Err(SourceError::Transient(format!(
                "timed out after {}s connecting to {shown}",
                wait.as_secs()
            ))),
            Ok(Err(e)) => Err(handshake_error(e, &shown)),
            Ok(Ok((socket, _))) => Ok(socket),
        }
    }

    /// Reads one batch: waits up to the read timeout for the first event, then takes what
    /// keeps arriving (see [`LINGER`], [`BATCH_TIME`], [`MAX_EVENTS_PER_POLL`], `max_bytes`).
    async fn read_batch(
        &self,
        socket: &mut Socket,
        silent_after: Duration,
        since: Option<i64>,
        brand: &HashMap<String, String>,
    ) -> Result<(Vec<Post>, Option<i64>), SourceError> {
        let started = Instant::now();
        let (mut posts, mut newest, mut events, mut bytes, mut bad) =
            (Vec::new(), since, 0usize, 0u64, 0usize);
        loop {
            let flowing = events > 0;
            if flowing
                && (started.elapsed() >= BATCH_TIME
                    || events >= MAX_EVENTS_PER_POLL
                    || bytes >= self.max_bytes)
            {
                break;
            }
            let wait = if flowing {
                LINGER
            } else {
                silent_after.saturating_sub(started.elapsed())
            };
            let text = match tokio::time::timeout(wait, socket.next()).await {
                Err(_) if flowing => break,
                Err(_) => {
                    return Err(SourceError::Transient(format!(
                        "silent: no event for {}s",
                        silent_after.as_secs()
                    )))
                }
                Ok(None) => return Err(closed("the server closed the connection")),
                Ok(Some(Err(e))) => return Err(closed(&format!("connection lost: {e}"))),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let why = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                    return Err(closed(&format!("the server closed the connection {why}")));
                }
                Ok(Some(Ok(Message::Text(text)))) => text,
                // Pings are answered by tungstenite; binary frames are not asked for.
                Ok(Some(Ok(_))) => continue,
            };
            events += 1;
            bytes += text.len() as u64;
            match parse_event_with(text.as_str(), &self.langs, brand) {
                Ok(event) => {
                    newest = newest.max(Some(event.time_us));
                    posts.extend(event.post);
                }
                Err(_) => bad += 1,
            }
        }
        let had_bad = bad > 0;
        if had_bad != self.malformed.swap(had_bad, Ordering::Relaxed) && had_bad {
            tracing::warn!(source = %self.name, skipped = bad, "Skipped Jetstream events that are not JSON events.");
        }
        Ok((posts, newest))
    }
}

#[async_trait]
impl Source for JetstreamSource {
    async fn poll(&self, fetch: &Fetcher, cursor: &Cursor) -> Result<Page, SourceError> {
        let since = time_us(cursor);
        let brand = self.brand.get(&self.name, &self.profiles, fetch).await;
        let mut conn = self.conn.lock().await;
        // The store did not take what this connection handed out last: resume from the cursor.
        if conn.as_ref().is_some_and(|(_, at)| *at != cursor.position) {
            *conn = None;
        }
        if conn.is_none() {
            let from = since.or_else(|| {
                // The first connection starts from now (no `cursor`), later ones from then.
                let mut first = self
                    .first_connected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let now = chrono::Utc::now().timestamp_micros();
                let previous = *first;
                *first = Some(previous.unwrap_or(now));
                previous
            });
            *conn = Some((self.connect(fetch, from).await?, cursor.position.clone()));
        }
        let (socket, at) = conn.as_mut().expect("connected above");
        match self
            .read_batch(socket, fetch.read_timeout(), since, &brand)
            .await
        {
            Ok((posts, newest)) => {
                let position = newest.map(|t| serde_json::json!({ "time_us": t }).to_string());
                *at = position.clone();
                Ok(Page {
                    posts,
                    cursor: Cursor {
                        position,
                        ..Cursor::default()
                    },
                    wait: None,
                })
            }
            Err(e) => {
                *conn = None;
                Err(e)
            }
        }
    }

    async fn enrich(&self, fetch: &Fetcher, posts: &mut [&mut Post]) {
        self.profiles.enrich(&self.name, fetch, None, posts).await;
    }
}

/// The stored cursor's `time_us`.
fn time_us(cursor: &Cursor) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(cursor.position.as_deref()?).ok()?;
    value.get("time_us")?.as_i64()
}

fn closed(why: &str) -> SourceError {
    SourceError::Transient(why.trim().to_string())
}

/// A failed WebSocket handshake, classified like an HTTP answer when it was one.
fn handshake_error(e: tungstenite::Error, shown: &str) -> SourceError {
    match e {
        tungstenite::Error::Http(response) => {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    crate::source::fetch::parse_retry_after(v, std::time::SystemTime::now())
                });
            let status = response.status().as_u16();
            crate::source::fetch::classify_status(status, retry_after).unwrap_or_else(|| {
                SourceError::Permanent(format!("HTTP {status} instead of a WebSocket"))
            })
        }
        tungstenite::Error::Url(e) => SourceError::Permanent(format!("invalid URL {shown}: {e}")),
        other => SourceError::Transient(format!("cannot connect to {shown}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bluesky/jetstream.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(str::to_string).collect()
    }

    /// A server that sends the fixture's events to each connection and records its URI.
    async fn server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use futures_util::SinkExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/subscribe", listener.local_addr().unwrap());
        let uris = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = uris.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                #[allow(clippy::result_large_err)]
                let record = move |req: &tungstenite::handshake::server::Request, resp| {
                    seen.lock().unwrap().push(req.uri().to_string());
                    Ok(resp)
                };
                let mut ws = tokio_tungstenite::accept_hdr_async(stream, record)
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    for line in fixture() {
                        ws.send(Message::text(line)).await.unwrap();
                    }
                    while let Some(Ok(_)) = ws.next().await {}
                });
            }
        });
        (url, uris)
    }

    #[tokio::test]
    async fn a_batch_the_store_did_not_take_is_read_again_from_the_stored_cursor() {
        let (url, uris) = server().await;
        let fetch = Fetcher::new(crate::source::fetch::FetchOptions::default()).unwrap();
        let source = JetstreamSource::new(
            "s".into(),
            url,
            vec!["fr".into()],
            "http://127.0.0.1:9".into(),
            1 << 20,
        );
        let stored = Cursor {
            position: Some("{\"time_us\":1783175880000000}".into()),
            ..Cursor::default()
        };
        let first = source.poll(&fetch, &stored).await.unwrap();
        assert_eq!(first.posts.len(), 4);
        // The greatest time_us read, though the events were not in order.
        assert_eq!(
            first.cursor.position.as_deref(),
            Some("{\"time_us\":1783175888412407}")
        );
        // The commit failed: the daemon hands the old cursor back. The source must not go on
        // from where its connection stands (those posts would be lost) but resume from it.
        let again = source.poll(&fetch, &stored).await.unwrap();
        assert_eq!(again.posts, first.posts);
        let uris = uris.lock().unwrap().clone();
        assert_eq!(uris.len(), 2, "{uris:?}");
        for uri in &uris {
            assert!(
                uri.ends_with("wantedCollections=app.bsky.feed.post&cursor=1783175875000000"),
                "5 s before the stored cursor: {uri}"
            );
        }
    }

    #[test]
    fn cursor_position_round_trip() {
        let cursor = Cursor {
            position: Some("{\"time_us\":1783175888090631}".into()),
            ..Cursor::default()
        };
        assert_eq!(time_us(&cursor), Some(1_783_175_888_090_631));
        assert_eq!(time_us(&Cursor::default()), None);
    }
}
