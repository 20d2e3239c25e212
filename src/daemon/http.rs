//! The `listen` listener: `/metrics` (Prometheus), `/health` and the one-click case links, on
//! the daemon's runtime.
//!
//! Only started when `[daemon] listen` is set. hyper serves HTTP/1.1 on the tasks of the
//! daemon's tokio runtime (no second runtime, no framework). `/metrics` encodes the registry
//! that `metrics` builds (on a blocking thread: part of it is read from SQLite); `/health` is
//! 200 with `{"status":"ok"}` while [`Liveness`] holds, 503 with the reason otherwise. What the
//! numbers mean is `metrics`'s; what "progress" means is `systemd`'s.
//!
//! `/cases/{id}/ack?by=…&exp=…&sig=…` (SPEC §5.1) is the only route that changes anything, and
//! only on a POST with a valid link ([`case_link`](super::case_link) checks it): a GET shows
//! the case and a "Mark as handled" button that POSTs the same link, because mail gateways and
//! chat unfurlers fetch every link they see, and that must never close a case. The POST acks
//! the case (`store::cases_query::ack_case`, the code of `vigie cases ack`) and says who and
//! when; a second use changes nothing and says who did it first. An altered, forged or expired
//! link gets a 403 page and changes nothing.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use super::case_link::{self, CaseLinks};
use super::systemd::Liveness;
use crate::notify::render::{untrusted_excerpt, Arg, Locale};
use crate::store::cases_query::{ack_case, Acked, CaseError, CaseRow};
use crate::store::{parse_time, Store};

/// What the handlers read.
pub struct State {
    /// Every metric.
    pub registry: Registry,
    /// The loops' progress.
    pub liveness: Liveness,
    /// The case links' routes, when links are signed.
    pub cases: Option<CaseRoutes>,
}

/// What the case-link pages need.
pub struct CaseRoutes {
    /// Checks the links.
    pub links: Arc<CaseLinks>,
    /// The database, opened per request (read-only for a GET, read-write for the ack).
    pub database: std::path::PathBuf,
    /// The pages' language and the zone of their times.
    pub locale: Locale,
    /// Business hours, to count an ack's response time as a brand reply's.
    pub clock: crate::cases::Clock,
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
    if let Some(routes) = &state.cases {
        let path = req.uri().path();
        let base = routes.links.base_path();
        let path = path.strip_prefix(base.as_str()).unwrap_or(path);
        if path.starts_with("/cases/") {
            let (method, path, query) = (
                req.method().clone(),
                path.to_string(),
                req.uri().query().map(str::to_string),
            );
            return Ok(case_route(&method, &path, query.as_deref(), routes).await);
        }
    }
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

/// The pages' one style sheet. The pages carry no `style` attribute and no script, so the
/// content security policy allows this sheet alone, by its hash ([`style_hash`]).
const STYLE: &str = "body{font-family:Arial,Helvetica,sans-serif;max-width:600px;margin:24px auto;\
padding:0 16px;color:#1f1f1f;background:#ffffff;line-height:1.45}h1{font-size:20px}\
table{border-collapse:collapse;margin:0 0 12px 0}td{padding:2px 12px 2px 0}td.l{color:#555555}\
blockquote{margin:0 0 16px 0;padding:8px 12px;border-left:3px solid #d0d0d0}\
button{font-size:16px;padding:10px 18px;background:#0b57d0;color:#ffffff;border:0;\
border-radius:4px;cursor:pointer}";

/// The CSP source of [`STYLE`]: `'sha256-…'`.
fn style_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(STYLE.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    })
}

/// An HTML page with the headers a page behind a secret link needs: not cached, not framed
/// (a hidden frame cannot click its button), its URL never sent as a referrer, nothing loaded
/// or run but its own style sheet.
fn page(status: StatusCode, loc: &Locale, title: &str, body: &str) -> Response<Full<Bytes>> {
    use html_escape::encode_text as esc;
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{t}</title>\
         <style>{STYLE}</style></head>\n<body>\n<h1>{t}</h1>\n{body}</body></html>\n",
        lang = loc.language.tag(),
        t = esc(title),
    );
    let mut r = reply(status, "text/html; charset=utf-8", html);
    let csp = format!(
        "default-src 'none'; style-src {}; form-action 'self'; frame-ancestors 'none'",
        style_hash()
    );
    let headers = r.headers_mut();
    for (name, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        headers.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    if let Ok(v) = hyper::header::HeaderValue::from_str(&csp) {
        headers.insert("content-security-policy", v);
    }
    r
}

/// A page of one paragraph.
fn message(status: StatusCode, loc: &Locale, title: &str, text: &str) -> Response<Full<Bytes>> {
    let body = format!("<p>{}</p>\n", html_escape::encode_text(text));
    page(status, loc, title, &body)
}

/// The facts of a case, as an HTML table (every value escaped).
fn case_facts(c: &CaseRow, loc: &Locale) -> String {
    use html_escape::encode_text as esc;
    let when = |s: &str| parse_time(s).map_or_else(|| s.to_string(), |t| loc.date_time(t));
    let mut rows = vec![
        (loc.msg("fact-rule", &[]), untrusted_excerpt(&c.rule, 64)),
        (
            loc.msg("fact-source", &[]),
            untrusted_excerpt(&c.source, 64),
        ),
    ];
    if let Some(author) = &c.author {
        rows.push((loc.msg("case-author", &[]), untrusted_excerpt(author, 64)));
    }
    rows.push((loc.msg("fact-time", &[]), when(&c.opened_at)));
    let mut out = String::from("<table>\n");
    for (label, value) in rows {
        out.push_str(&format!(
            "<tr><td class=\"l\">{}</td><td>{}</td></tr>\n",
            esc(&label),
            esc(&value)
        ));
    }
    out.push_str("</table>\n");
    if let Some(text) = &c.text {
        out.push_str(&format!(
            "<blockquote>{}</blockquote>\n",
            esc(&untrusted_excerpt(text, 280))
        ));
    }
    out
}

/// The page of an answered case: "Handled by X on <date>" (message `id`) and its facts.
fn handled(c: &CaseRow, loc: &Locale, title: &str, id: &str) -> Response<Full<Bytes>> {
    let by = c
        .answered_by
        .as_deref()
        .map(|b| untrusted_excerpt(b, 64))
        .unwrap_or_default();
    let when = c
        .answered_at
        .as_deref()
        .and_then(parse_time)
        .map(|t| loc.date_time(t))
        .unwrap_or_default();
    let text = loc.msg(id, &[("by", Arg::from(&by)), ("when", Arg::from(&when))]);
    let body = format!(
        "<p>{}</p>\n{}",
        html_escape::encode_text(&text),
        case_facts(c, loc)
    );
    page(StatusCode::OK, loc, title, &body)
}

/// A case page with only a message: the case is gone (404), or the database could not be
/// read or written (503).
fn case_message(status: StatusCode, loc: &Locale, title: &str) -> Response<Full<Bytes>> {
    let id = if status == StatusCode::NOT_FOUND {
        "case-page-missing"
    } else {
        "case-page-error"
    };
    message(status, loc, title, &loc.msg(id, &[]))
}

/// `/cases/{id}/ack`: the link's page (GET) or its ack (POST), for a valid link only.
async fn case_route(
    method: &Method,
    path: &str,
    query: Option<&str>,
    routes: &CaseRoutes,
) -> Response<Full<Bytes>> {
    let loc = &routes.locale;
    let invalid = || {
        let title = loc.msg("case-ack", &[]);
        message(
            StatusCode::FORBIDDEN,
            loc,
            &title,
            &loc.msg("case-page-invalid", &[]),
        )
    };
    if method != Method::GET && method != Method::POST {
        let mut r = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET or POST only\n".into(),
        );
        r.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static("GET, POST"),
        );
        return r;
    }
    let Some(token) = case_link::parse(path, query) else {
        return invalid();
    };
    if let Err(why) = routes.links.verify(&token, chrono::Utc::now()) {
        tracing::info!(case = token.case_id, reason = ?why, "Case link refused.");
        return invalid();
    }
    let title = loc.msg("case-page-title", &[("id", Arg::Num(token.case_id as f64))]);
    let db = routes.database.clone();
    let id = token.case_id;
    if method == Method::GET {
        let read = tokio::task::spawn_blocking(move || {
            Store::open_read_only(&db)
                .map_err(CaseError::from)?
                .case(id)
        })
        .await;
        return match read {
            Ok(Ok(Some(c))) if c.answered_at.is_some() => {
                handled(&c, loc, &title, "case-page-already")
            }
            Ok(Ok(Some(c))) => {
                let due =
                    parse_time(&c.due_at).map_or_else(|| c.due_at.clone(), |t| loc.date_time(t));
                let text = loc.msg("case-page-open", &[("due", Arg::from(&due))]);
                // No `action`: the form posts to this very URL, link fields included.
                let body = format!(
                    "<p>{}</p>\n{}<form method=\"post\"><button type=\"submit\">{}</button></form>\n",
                    html_escape::encode_text(&text),
                    case_facts(&c, loc),
                    html_escape::encode_text(&loc.msg("case-ack", &[])),
                );
                page(StatusCode::OK, loc, &title, &body)
            }
            Ok(Ok(None)) => case_message(StatusCode::NOT_FOUND, loc, &title),
            Ok(Err(e)) => {
                tracing::warn!(case = id, error = %e, "Cannot read a case for its link.");
                case_message(StatusCode::SERVICE_UNAVAILABLE, loc, &title)
            }
            Err(_) => case_message(StatusCode::SERVICE_UNAVAILABLE, loc, &title),
        };
    }
    let by = token.by.clone();
    let clock = routes.clock.clone();
    let acked = tokio::task::spawn_blocking(move || {
        ack_case(
            &db,
            id,
            &by,
            Some("one-click link"),
            chrono::Utc::now(),
            &clock,
        )
    })
    .await;
    match acked {
        Ok(Ok(Acked::Done { case, cancelled })) => {
            tracing::info!(case = id, by = %token.by, cancelled, "Case marked handled through its link.");
            handled(&case, loc, &title, "case-page-done")
        }
        Ok(Ok(Acked::Already(case))) => handled(&case, loc, &title, "case-page-already"),
        Ok(Err(CaseError::NotFound(_))) => case_message(StatusCode::NOT_FOUND, loc, &title),
        Ok(Err(e)) => {
            tracing::warn!(case = id, error = %e, "Cannot mark a case handled through its link.");
            case_message(StatusCode::SERVICE_UNAVAILABLE, loc, &title)
        }
        Err(_) => case_message(StatusCode::SERVICE_UNAVAILABLE, loc, &title),
    }
}
