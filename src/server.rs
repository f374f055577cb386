//! HTTP endpoints: `/metrics` (pre-rendered bytes, gzip when accepted), `/healthz`, `/ready`,
//! and `/`, a small page listing the sources. Nothing here calls upstream.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::refresh::{from_unix, Exporter};

/// A response body: a few chunks of bytes already in memory (`/metrics` hands out the data
/// part and the self-metrics part of the exposition without copying them together).
#[derive(Debug, Default)]
pub struct Body {
    chunks: std::collections::VecDeque<Bytes>,
    remaining: u64,
}

impl Body {
    pub fn empty() -> Body {
        Body::default()
    }

    pub fn chunks(chunks: impl IntoIterator<Item = Bytes>) -> Body {
        let chunks: std::collections::VecDeque<Bytes> =
            chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let remaining = chunks.iter().map(|c| c.len() as u64).sum();
        Body { chunks, remaining }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::chunks([b])
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        std::task::Poll::Ready(this.chunks.pop_front().map(|c| {
            this.remaining -= c.len() as u64;
            Ok(hyper::body::Frame::data(c))
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::SizeHint::with_exact(self.remaining)
    }
}

/// Content type of the Prometheus text format 0.0.4.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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
    crate::web::listener::serve(listener, exporter, options, shutdown).await
}

/// Answers one request behind the web configuration: without the right credentials a 401,
/// else [`handle`]'s answer; the configured headers on either.
pub async fn handle_protected(
    exporter: &Exporter,
    web: &crate::web::WebConfig,
    req: &Request<Incoming>,
) -> Response<Body> {
    let mut response = if web.authorized(req.headers()).await {
        handle(exporter, req)
    } else {
        crate::web::unauthorized()
    };
    web.add_headers(&mut response);
    response
}

/// Answers one request.
pub fn handle(exporter: &Exporter, req: &Request<Incoming>) -> Response<Body> {
    route(
        exporter,
        req.method(),
        req.uri().path(),
        req.uri().query(),
        req.headers().get(header::ACCEPT_ENCODING),
    )
}

fn route(
    exporter: &Exporter,
    method: &Method,
    path: &str,
    query: Option<&str>,
    accept_encoding: Option<&HeaderValue>,
) -> Response<Body> {
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
        "/device" => device_page(exporter, query.unwrap_or("")),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /ready, /device?source=...&device_id=... or /\n",
        ),
    };
    if method == Method::HEAD {
        *response.body_mut() = Body::empty();
    }
    response
}

fn metrics(exporter: &Exporter, accept_encoding: Option<&HeaderValue>) -> Response<Body> {
    let rendered = exporter.rendered();
    let gzip = accept_encoding
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let chunks = if gzip {
        rendered.gzip_chunks()
    } else {
        rendered.text_chunks()
    };
    let mut r = Response::new(Body::chunks(chunks));
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

fn ready(exporter: &Exporter) -> Response<Body> {
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

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn html(body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::from(body)));
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

const STYLE: &str = "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
     td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
     tr.up td:nth-child(4){color:#080}tr.down td:nth-child(4){color:#b00;font-weight:bold}\
     tr.pending td:nth-child(4){color:#888}tr.firing td:first-child{color:#b00;font-weight:bold}\
     tr.pending td:first-child{color:#888}</style>";

/// `/device?source=...&device_id=...` without the exporter's address: relative links.
fn device_link(source: &str, device_id: &str, text: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("source", source)
        .append_pair("device_id", device_id)
        .finish();
    format!("<a href=\"device?{}\">{}</a>", esc(&query), esc(text))
}

/// The alerts firing or pending now (`filter` picks some by labels), as table rows.
fn alert_rows(
    exporter: &Exporter,
    now: SystemTime,
    filter: impl Fn(&crate::alerting::state::Alert) -> bool,
) -> (String, usize) {
    let mut alerts: Vec<crate::alerting::state::Alert> = exporter.with_alerts(|t| {
        t.alerts()
            .filter(|a| a.resolved_at.is_none() && filter(a))
            .cloned()
            .collect()
    });
    alerts.sort_by(|a, b| {
        (a.pending(), a.rule.name, &a.labels).cmp(&(b.pending(), b.rule.name, &b.labels))
    });
    let mut rows = String::new();
    for a in &alerts {
        let (state, since) = match a.fired_at {
            Some(t) => ("firing", t),
            None => ("pending", a.active_since),
        };
        let device = match &a.page {
            crate::alerting::rules::Page::Device { source, device_id } => {
                device_link(source, device_id, &a.device)
            }
            crate::alerting::rules::Page::Alerts => esc(a.label("mount_point")),
        };
        let _ = writeln!(
            rows,
            "<tr class=\"{state}\"><td>{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{device}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            a.rule.name,
            a.rule.severity,
            esc(a.label("source")),
            esc(a.label("target")),
            when(Some(from_unix(since)), now),
            esc(&a.summary),
        );
    }
    (rows, alerts.len())
}

const ALERT_HEADER: &str = "<tr><th>state</th><th>alert</th><th>severity</th><th>source</th>\
     <th>device / store</th><th>target</th><th>since</th><th>summary</th></tr>";

fn alerts_section(exporter: &Exporter, now: SystemTime) -> String {
    let (rows, n) = alert_rows(exporter, now, |_| true);
    let sent = match exporter.alertmanagers() {
        Some(urls) => format!(
            "sent to Alertmanager at {}",
            urls.iter().map(|u| esc(u)).collect::<Vec<_>>().join(", ")
        ),
        None => "not sent anywhere: no <code>[alertmanager]</code> section configured (the \
                 rules in <code>alerts/</code> raise the same alerts in Prometheus)"
            .into(),
    };
    let table = if n == 0 {
        "<p>None: every backup the rules look at is healthy.</p>".to_owned()
    } else {
        format!("<table>{ALERT_HEADER}\n{rows}</table>")
    };
    format!(
        "<h2 id=\"alerts\">Alerts ({n})</h2>\n<p>The bundled rules' backup alerts, evaluated \
         by the exporter; {sent}.</p>\n{table}\n"
    )
}

fn device_page(exporter: &Exporter, query: &str) -> Response<Body> {
    let mut source = None;
    let mut device_id = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "source" => source = Some(v.into_owned()),
            "device_id" => device_id = Some(v.into_owned()),
            _ => {}
        }
    }
    let (Some(source), Some(device_id)) = (source, device_id) else {
        return text(
            StatusCode::BAD_REQUEST,
            "give the device as /device?source=NAME&device_id=ID\n",
        );
    };
    let Some(entry) = exporter.sources.iter().find(|s| s.name == source) else {
        return text(
            StatusCode::NOT_FOUND,
            &format!("no source named {source:?} is configured\n"),
        );
    };
    let state = entry.state();
    let snapshot = state.snapshot.as_deref();
    let device = snapshot.and_then(|s| s.devices.iter().find(|d| d.id == device_id));
    let targets: Vec<&crate::sources::BackupTarget> = snapshot
        .map(|s| {
            s.targets
                .iter()
                .filter(|t| t.device_id == device_id)
                .collect()
        })
        .unwrap_or_default();
    if device.is_none() && targets.is_empty() {
        return text(
            StatusCode::NOT_FOUND,
            &format!(
                "source {source:?} has no device with id {device_id:?} in its last good refresh\n"
            ),
        );
    }
    let now = SystemTime::now();
    let name = device
        .map(|d| d.name.as_str())
        .or(targets.first().map(|t| t.device.as_str()))
        .unwrap_or("");
    let mut facts = String::new();
    if let Some(d) = device {
        for (k, v) in &d.info {
            let _ = write!(facts, "<tr><th>{k}</th><td>{}</td></tr>", esc(v));
        }
        if let Some(c) = d.connected {
            let _ = write!(
                facts,
                "<tr><th>connected</th><td>{}</td></tr>",
                if c { "yes" } else { "no" }
            );
        }
        if let Some(t) = d.last_connected {
            let _ = write!(
                facts,
                "<tr><th>last connected</th><td>{}</td></tr>",
                when(Some(from_unix(t)), now)
            );
        }
    }
    let seconds = |s: Option<f64>| {
        s.map_or_else(
            || "none".to_owned(),
            |s| humantime::format_duration(Duration::from_secs(s.max(0.0) as u64)).to_string(),
        )
    };
    let mut rows = String::new();
    for t in &targets {
        let at = |v: Option<f64>| match v {
            Some(v) => when(Some(from_unix(v)), now),
            None => "never".into(),
        };
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.target),
            at(t.last_success),
            seconds(t.stale_threshold),
            at(t.last_activity),
            match t.last_run_failed {
                Some(true) => "failed",
                Some(false) => "succeeded",
                None => "-",
            },
            esc(&t.alert_states.join(", ")),
            t.completion_ratio
                .map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", r * 100.0)),
        );
    }
    let (alerts, n) = alert_rows(exporter, now, |a| {
        a.label("source") == source && a.label("device_id") == device_id
    });
    let alerts = if n == 0 {
        "<p>None.</p>".to_owned()
    } else {
        format!("<table>{ALERT_HEADER}\n{alerts}</table>")
    };
    html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{} - backup_exporter</title>{STYLE}</head><body>\n\
         <p><a href=\"./\">backup_exporter</a> · {} source {}</p>\n\
         <h1>{}</h1>\n<p>device id {}</p>\n<table>{facts}</table>\n\
         <h2>Alerts ({n})</h2>\n{alerts}\n\
         <h2>Backups</h2>\n<table><tr><th>target</th><th>last success</th><th>stale threshold</th>\
         <th>last activity</th><th>last run</th><th>alert states</th><th>complete</th></tr>\n{rows}</table>\n\
         <p>As of the source's last good refresh, {}.</p>\n</body></html>\n",
        esc(name),
        entry.system,
        esc(&source),
        esc(name),
        esc(&device_id),
        when(state.last_success, now),
    ))
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
         {STYLE}</head><body>\n\
         <h1>backup_exporter {}</h1>\n\
         <p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · <a href=\"/ready\">/ready</a></p>\n\
         <table><tr><th>source</th><th>system</th><th>url</th><th>state</th><th>last refresh</th>\
         <th>last success</th><th>duration</th><th>devices</th><th>targets</th><th>last error</th></tr>\n\
         {rows}</table>\n{}</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        alerts_section(exporter, now),
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
