//! HTTP endpoints: `/metrics` (or the configured `telemetry_path`; bytes prepared once per
//! refresh: gzip when accepted, else inflated as they are sent; OpenMetrics when the scraper
//! prefers it), `/healthz`, `/ready`; `/` and `/device` are the pages of [`crate::pages`];
//! `/-/reload`, the lifecycle endpoint ([`Lifecycle`]). Nothing here calls upstream. Every
//! response carries
//! `X-Content-Type-Options: nosniff`, and no error response repeats any part of the request.

use std::future::{Future, Ready};
use std::sync::Arc;

use futures_util::future::{BoxFuture, Either};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::openmetrics::{self, Format};
use crate::refresh::{Exporter, Rendered};
pub use crate::response::{add_common_headers, text, Body};

/// Content type of the Prometheus text format 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = openmetrics::TEXT_CONTENT_TYPE;

/// Serves until `shutdown` completes, then lets open connections finish (up to 10 s): plain
/// HTTP, no authentication, the default connection cap.
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(
        listener,
        exporter,
        crate::web::WebOptions::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with the web configuration (TLS, basic auth, headers) and connection options.
pub async fn serve_with(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    options: crate::web::WebOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_on(vec![listener], exporter, options, Lifecycle::Off, shutdown).await
}

/// [`serve_with`] on several listeners at once (the same endpoints, web configuration and
/// connection cap on each), with the lifecycle endpoint.
pub async fn serve_on(
    listeners: Vec<TcpListener>,
    exporter: Arc<Exporter>,
    options: crate::web::WebOptions,
    lifecycle: Lifecycle,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let handler = move |req: &Request<Incoming>| handle(&exporter, &lifecycle, req);
    crate::web::listener::serve(listeners, handler, options, shutdown).await
}

/// The path of the lifecycle endpoint that reloads the configuration.
pub const RELOAD_PATH: &str = "/-/reload";

/// Reads the configuration again; the error says why it was refused.
pub type Reload = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// `POST` or `PUT /-/reload`, as Prometheus has it: off unless asked for
/// (`--web.enable-lifecycle`), since anyone who reaches the endpoint could otherwise make the
/// exporter read its files again, and log in to every backup server again, as often as they
/// like. Off, it answers 403; SIGHUP reloads either way.
#[derive(Clone, Default)]
pub enum Lifecycle {
    #[default]
    Off,
    On(Reload),
}

/// The answer to a request: at once, or once a reload ended.
pub type Answer = Either<Ready<Response<Body>>, BoxFuture<'static, Response<Body>>>;

/// Answers one request.
pub fn handle(exporter: &Arc<Exporter>, lifecycle: &Lifecycle, req: &Request<Incoming>) -> Answer {
    if req.uri().path() == RELOAD_PATH {
        return reload(lifecycle, req.method());
    }
    Either::Left(std::future::ready(route(
        exporter,
        req.method(),
        req.uri().path(),
        req.uri().query(),
        req.headers(),
    )))
}

/// `/-/reload`: 405 but for POST and PUT, 403 when the lifecycle endpoint is off, else the
/// reload's outcome: 200, or 500 with the reason the configuration was refused.
fn reload(lifecycle: &Lifecycle, method: &Method) -> Answer {
    let finish = |mut r: Response<Body>| {
        add_common_headers(&mut r);
        r
    };
    if method != Method::POST && method != Method::PUT {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only POST or PUT\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, PUT"));
        return Either::Left(std::future::ready(finish(r)));
    }
    let Lifecycle::On(reload) = lifecycle else {
        return Either::Left(std::future::ready(finish(text(
            StatusCode::FORBIDDEN,
            "the lifecycle endpoint is off: start the exporter with --web.enable-lifecycle \
             (enable_lifecycle = true), or send it SIGHUP\n",
        ))));
    };
    let reload = reload();
    Either::Right(Box::pin(async move {
        finish(match reload.await {
            Ok(()) => text(StatusCode::OK, "configuration reloaded\n"),
            Err(e) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!(
                    "failed to reload the configuration; the running one stays in force: {e}\n"
                ),
            ),
        })
    }))
}

/// Answers a request by its method, path, query and headers (`Accept-Encoding`, and `Accept`
/// for `/metrics`).
pub fn route(
    exporter: &Arc<Exporter>,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &header::HeaderMap,
) -> Response<Body> {
    let mut response = if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        r
    } else {
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip);
        let mut r = match path {
            _ if path == exporter.telemetry_path => {
                let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
                metrics(exporter, openmetrics::negotiate(accept), gzip)
            }
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/ready" => ready(exporter),
            "/" => crate::pages::status(exporter, gzip),
            "/device" => crate::pages::device_page(exporter, query.unwrap_or("")),
            _ => text(
                StatusCode::NOT_FOUND,
                &format!(
                    "not found: try {}, /healthz, /ready, /device?source=...&device_id=... or /\n",
                    exporter.telemetry_path
                ),
            ),
        };
        if method == Method::HEAD {
            *r.body_mut() = Body::empty();
        }
        r
    };
    add_common_headers(&mut response);
    response
}

fn metrics(exporter: &Exporter, format: Format, gzip: bool) -> Response<Body> {
    let rendered = exporter.rendered();
    // The process metrics of this moment end the body (and `# EOF` an OpenMetrics one).
    let mut process = Vec::with_capacity(2048);
    crate::selfmetrics::encode_process(&mut process);
    let live = Rendered::live(format, process);
    // The plain text is the gzip stream inflated a chunk at a time as it is sent: no plain
    // copy is kept.
    let body = if gzip {
        Body::chunks(rendered.gzip_chunks(format, &live))
    } else {
        Body::made(
            rendered.text_len(format, live.len()),
            rendered.text_chunks(format, live),
        )
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Accept"),
    );
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip` or `*` with a non-zero quality).
pub fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if !(coding.eq_ignore_ascii_case("gzip") || coding == "*") {
            return false;
        }
        parts.all(|p| {
            let p = p.trim();
            match p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                Some(q) => q.trim().parse::<f32>().is_ok_and(|q| q > 0.0),
                None => true,
            }
        })
    })
}

fn ready(exporter: &Exporter) -> Response<Body> {
    let sources = exporter.sources();
    let waiting: Vec<_> = sources.iter().filter(|s| !s.state().attempted).collect();
    if waiting.is_empty() {
        return text(StatusCode::OK, "ready\n");
    }
    let names: Vec<&str> = waiting.iter().map(|s| s.name.as_str()).collect();
    let mut body = format!("waiting for the first refresh of: {}\n", names.join(", "));
    // How far each has read: `hq: refreshing: 12 of 40 pages of /api/v1/Computer`.
    for s in waiting {
        if let Some(progress) = s.progress() {
            body.push_str(&format!("{}: {progress}\n", s.name));
        }
    }
    text(StatusCode::SERVICE_UNAVAILABLE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("identity, gzip ; q=1.0"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip;q=0.0, identity"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("x-gzip2"));
    }
}
