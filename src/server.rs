//! HTTP endpoints: `/metrics` (pre-rendered bytes, gzip when accepted), `/healthz`, `/ready`,
//! and `/`, a small page listing the sources. Nothing here calls upstream.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::refresh::Exporter;

/// Content type of the Prometheus text format 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves until `shutdown` completes, then lets open connections finish (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    exporter: Arc<Exporter>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let exporter = exporter.clone();
        let service = hyper::service::service_fn(move |req| {
            let exporter = exporter.clone();
            async move { Ok::<_, Infallible>(handle(&exporter, &req)) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10s; closing");
        }
    }
    Ok(())
}

/// Answers one request.
pub fn handle(exporter: &Exporter, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    route(
        exporter,
        req.method(),
        req.uri().path(),
        req.headers().get(header::ACCEPT_ENCODING),
    )
}

fn route(
    exporter: &Exporter,
    method: &Method,
    path: &str,
    accept_encoding: Option<&HeaderValue>,
) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut response = match path {
        "/metrics" => metrics(exporter, accept_encoding),
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/ready" => ready(exporter),
        "/" => html(landing_page(exporter)),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /ready or /\n",
        ),
    };
    if method == Method::HEAD {
        *response.body_mut() = Full::new(Bytes::new());
    }
    response
}

fn metrics(exporter: &Exporter, accept_encoding: Option<&HeaderValue>) -> Response<Full<Bytes>> {
    let rendered = exporter.rendered();
    let gzip = accept_encoding
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let body = if gzip {
        rendered.gzip.clone()
    } else {
        rendered.text.clone()
    };
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(METRICS_CONTENT_TYPE),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
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

fn ready(exporter: &Exporter) -> Response<Full<Bytes>> {
    let waiting: Vec<&str> = exporter
        .sources
        .iter()
        .filter(|s| !s.state().attempted)
        .map(|s| s.name.as_str())
        .collect();
    if waiting.is_empty() {
        text(StatusCode::OK, "ready\n")
    } else {
        text(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("waiting for the first refresh of: {}\n", waiting.join(", ")),
        )
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn html(body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Escapes text for HTML (error messages come from upstream servers).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn when(t: Option<SystemTime>, now: SystemTime) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let ago = now.duration_since(t).unwrap_or_default();
            let ago = Duration::from_secs(ago.as_secs());
            format!(
                "{} ({} ago)",
                humantime::format_rfc3339_seconds(t),
                humantime::format_duration(ago)
            )
        }
    }
}

fn landing_page(exporter: &Exporter) -> String {
    let now = SystemTime::now();
    let mut rows = String::new();
    for s in &exporter.sources {
        let st = s.state();
        let (class, state) = match (st.attempted, st.up) {
            (false, _) => ("pending", "waiting for first refresh"),
            (true, true) => ("up", "up"),
            (true, false) => ("down", "down"),
        };
        let (devices, targets) = st
            .snapshot
            .as_ref()
            .map_or((0, 0), |s| (s.devices.len(), s.targets.len()));
        let _ = writeln!(
            rows,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{state}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{devices}</td><td>{targets}</td><td>{}</td></tr>",
            esc(&s.name),
            s.system,
            esc(&s.url),
            when(st.last_attempt, now),
            when(st.last_success, now),
            st.last_duration
                .map(|d| format!("{:.3}s", d.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            st.last_error.as_deref().map(esc).unwrap_or_default(),
        );
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>backup_exporter</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         tr.up td:nth-child(4){{color:#080}}tr.down td:nth-child(4){{color:#b00;font-weight:bold}}\
         tr.pending td:nth-child(4){{color:#888}}</style></head><body>\n\
         <h1>backup_exporter {}</h1>\n\
         <p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · <a href=\"/ready\">/ready</a></p>\n\
         <table><tr><th>source</th><th>system</th><th>url</th><th>state</th><th>last refresh</th>\
         <th>last success</th><th>duration</th><th>devices</th><th>targets</th><th>last error</th></tr>\n\
         {rows}</table>\n</body></html>\n",
        env!("CARGO_PKG_VERSION")
    )
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

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }
}
