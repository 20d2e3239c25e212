//! The `listen` listener: `/metrics` (Prometheus) and `/health`, on the daemon's runtime.
//!
//! Only started when `[daemon] listen` is set. hyper serves HTTP/1.1 on the tasks of the
//! daemon's tokio runtime (no second runtime, no framework). `/metrics` encodes the registry
//! that `metrics` builds (on a blocking thread: part of it is read from SQLite); `/health` is
//! 200 with `{"status":"ok"}` while [`Liveness`] holds, 503 with the reason otherwise. What the
//! numbers mean is `metrics`'s; what "progress" means is `systemd`'s.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use super::systemd::Liveness;

/// What the handlers read.
pub struct State {
    /// Every metric.
    pub registry: Registry,
    /// The loops' progress.
    pub liveness: Liveness,
}

/// Accepts connections on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot accept an HTTP connection.");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        ));
    }
    Ok(match req.uri().path() {
        "/metrics" => {
            let encoded = tokio::task::spawn_blocking(move || {
                let mut out = String::new();
                prometheus_client::encoding::text::encode(&mut out, &state.registry).map(|_| out)
            })
            .await;
            match encoded {
                Ok(Ok(text)) => reply(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    text,
                ),
                _ => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    "cannot encode the metrics\n".into(),
                ),
            }
        }
        "/health" => match state.liveness.health() {
            Ok(()) => reply(
                StatusCode::OK,
                "application/json",
                "{\"status\":\"ok\"}\n".into(),
            ),
            Err(reason) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "application/json",
                serde_json::json!({"status": "stuck", "reason": reason}).to_string() + "\n",
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    })
}
