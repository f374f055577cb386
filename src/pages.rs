//! The HTML pages: `/`, the status page (sources and alerts), and
//! `/device?source=...&device_id=...`, one device.
//!
//! Neither may cost the server in proportion to the fleet per request, nor grow with it:
//!
//! - `/` is rendered at most once per change of what it shows (a refresh ended, the alerts
//!   changed: [`Exporter::page_generation`]; a refresh reading on, at most once a second:
//!   [`crate::refresh::PROGRESS_SHOWN_WITHIN`]), on a blocking thread, one render at a time;
//!   requests that find the page out of date wait for that one render. The page is kept as
//!   bytes, plain and gzip. Every table shows at most [`MAX_ROWS`] rows, worst first, and says
//!   how many it left out and where they are, so the page stays tens of KB at any fleet size.
//! - `/device` finds the device through an index of each snapshot (`refresh::DeviceIndex`,
//!   built once per refresh) and its alerts through the alert tracker's index by device.
//!
//! Times on `/` are absolute: the page may be served for an hour when nothing changes. Every
//! duration on the pages is written one way, as the alert texts write theirs ([`duration`]).
//!
//! Every link is relative (`metrics`, `device?...`, `./`): the pages work behind a reverse
//! proxy that serves the exporter under a path (`/backup/`, `/backup/device`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::alerting::humanize::humanize_duration;
use crate::alerting::rules::Page;
use crate::alerting::state::Alert;
use crate::refresh::{CachedPage, Exporter, SourceState};
use crate::response::{text, Body};
use crate::shard::Shard;
use crate::sources::{BackupTarget, Device};
use crate::time::from_unix;

/// The most rows any table of a page shows.
pub const MAX_ROWS: usize = 100;

/// `GET /`: the cached page, or (when out of date) a body that waits for the render.
pub fn status(exporter: &Arc<Exporter>, gzip: bool) -> Response<Body> {
    let current = exporter
        .status_page
        .current(exporter.page_generation(), exporter.progress_changes());
    let body = match current {
        Some(page) => Body::from(page.body(gzip)),
        None => {
            let exporter = exporter.clone();
            Body::later(async move { latest(exporter).await.body(gzip) })
        }
    };
    let mut r = html_response(body);
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// The up-to-date page: the cached one, or the one the render in flight (or a new render, when
/// none is) makes. At most one render runs; it finishes and stores its page even when the
/// request that started it has gone.
pub async fn latest(exporter: Arc<Exporter>) -> Arc<CachedPage> {
    let lock = exporter.status_page.begin_render().await;
    // Read before the state the render reads: a change during the render makes this page out
    // of date at once.
    let generation = exporter.page_generation();
    let progress = exporter.progress_changes();
    if let Some(page) = exporter.status_page.current(generation, progress) {
        return page;
    }
    let renderer = exporter.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let page = Arc::new(CachedPage::new(
            generation,
            progress,
            status_page(StatusView::of(&renderer)),
        ));
        renderer.status_page.store(page.clone());
        drop(lock);
        page
    })
    .await;
    match rendered {
        Ok(page) => page,
        Err(e) => {
            tracing::error!(error = %e, "the status page could not be rendered");
            Arc::new(CachedPage::new(
                generation,
                progress,
                "<!doctype html>\n<p>The status page could not be rendered; the exporter's log \
                 says why.</p>\n"
                    .into(),
            ))
        }
    }
}

/// What `/` shows, taken from the exporter in one go.
pub struct StatusView {
    pub sources: Vec<SourceLine>,
    /// The alerts firing or pending.
    pub alerts: Vec<Alert>,
    /// The Alertmanager URLs the bridge sends to (`None`: no bridge).
    pub alertmanagers: Option<Vec<String>>,
    /// Whose devices the page shows (one shard: every device).
    pub shard: Shard,
    /// Where the exposition is served, for the links to it.
    pub telemetry_path: String,
    pub now: SystemTime,
}

/// One source's row.
pub struct SourceLine {
    pub name: String,
    pub system: &'static str,
    pub url: String,
    pub state: SourceState,
    /// How far its refresh in flight has read, when one is
    /// (`refreshing: 12 of 40 pages of /api/v1/Computer`).
    pub progress: Option<String>,
}

impl StatusView {
    pub fn of(exporter: &Exporter) -> StatusView {
        StatusView {
            sources: exporter
                .sources()
                .iter()
                .map(|s| SourceLine {
                    name: s.name.clone(),
                    system: s.system,
                    url: s.url.clone(),
                    state: s.state(),
                    progress: s.progress(),
                })
                .collect(),
            alerts: exporter.with_alerts(|t| {
                t.alerts()
                    .filter(|a| a.resolved_at.is_none())
                    .cloned()
                    .collect()
            }),
            alertmanagers: exporter.alertmanagers(),
            shard: exporter.shard,
            telemetry_path: exporter.telemetry_path.clone(),
            now: SystemTime::now(),
        }
    }
}

/// What a sharded exporter shows (nothing when there is one shard).
fn shard_line(shard: Shard) -> String {
    if !shard.is_sharded() {
        return String::new();
    }
    format!(
        "<p>This exporter is {shard}: its devices, targets and alerts are those whose \
         <code>device_id</code> hash falls to it{}; the other shards' are on the other \
         replicas.</p>\n",
        if shard.writes_fleet_wide() {
            ", and it writes the fleet-wide families (stores, orgs, servers)"
        } else {
            ""
        }
    )
}

fn html_response(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Escapes text for HTML (error messages come from upstream servers).
pub fn esc(s: &str) -> String {
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

/// A duration of `seconds`, as the alert texts (Prometheus' `humanizeDuration`) write theirs:
/// `5d 0h 2m 10s`, `1h 0m 0s`, `1m 1s`, `1.5s`, `532ms`. The pages write every duration with
/// it, so a row never mixes two styles (an alert's summary beside its age).
pub fn duration(seconds: f64) -> String {
    humanize_duration(seconds)
}

/// A time and how long ago it was, in whole seconds (for pages rendered per request).
fn when(t: Option<SystemTime>, now: SystemTime) -> String {
    match t {
        None => "never".into(),
        Some(t) => {
            let ago = now.duration_since(t).unwrap_or_default();
            format!(
                "{} ({} ago)",
                humantime::format_rfc3339_seconds(t),
                duration(ago.as_secs() as f64)
            )
        }
    }
}

/// A time alone (for the cached page).
fn at(t: Option<SystemTime>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| humantime::format_rfc3339_seconds(t).to_string(),
    )
}

/// A count with thin groups: 19 900 → "19 900".
fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The line under a table that shows `shown` of `total` rows, saying where the rest are;
/// empty when nothing was left out.
fn more_line(total: usize, shown: usize, what: &str, rest: &str) -> String {
    if total <= shown {
        return String::new();
    }
    format!(
        "<p class=\"more\">and {} more {what} not listed ({} shown, worst first): {rest}</p>\n",
        count(total - shown),
        count(shown)
    )
}

const STYLE: &str = "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
     td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}\
     tr.up td:nth-child(4){color:#080}tr.down td:nth-child(4){color:#b00;font-weight:bold}\
     tr.pending td:nth-child(4){color:#888}tr.firing td:first-child{color:#b00;font-weight:bold}\
     tr.pending td:first-child{color:#888}p.more{font-style:italic}</style>";

/// `/device?source=...&device_id=...` without the exporter's address: relative links.
fn device_link(source: &str, device_id: &str, text: &str) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("source", source)
        .append_pair("device_id", device_id)
        .finish();
    format!("<a href=\"device?{}\">{}</a>", esc(&query), esc(text))
}

/// Since when an alert's condition holds: when it began where the rule's inputs tell (a stale
/// backup: when its threshold passed, before the exporter may have seen it), else when the
/// exporter first saw it hold.
fn since(a: &Alert) -> f64 {
    a.began.unwrap_or(a.active_since).min(a.active_since)
}

/// How bad an alert is, smallest first: firing before pending, critical before warning, then
/// the oldest condition first.
fn worst_first(a: &Alert, b: &Alert) -> std::cmp::Ordering {
    fn severity(s: &str) -> u8 {
        match s {
            "critical" => 0,
            "warning" => 1,
            _ => 2,
        }
    }
    (a.pending(), severity(a.rule.severity))
        .cmp(&(b.pending(), severity(b.rule.severity)))
        .then(since(a).total_cmp(&since(b)))
        .then_with(|| a.rule.name.cmp(b.rule.name))
        .then_with(|| a.labels.cmp(&b.labels))
}

/// The worst `n` of `items`, sorted, without sorting the rest.
fn worst<T>(items: &mut Vec<T>, n: usize, cmp: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if items.len() > n && n > 0 {
        items.select_nth_unstable_by(n - 1, &cmp);
    }
    items.truncate(n);
    items.sort_by(cmp);
}

/// The rows of the alerts table, the worst [`MAX_ROWS`] of `alerts`; `time` shows a time.
fn alert_rows(alerts: &mut Vec<Alert>, time: impl Fn(f64) -> String) -> String {
    worst(alerts, MAX_ROWS, worst_first);
    let mut rows = String::new();
    for a in alerts.iter() {
        let state = if a.pending() { "pending" } else { "firing" };
        let since = since(a);
        let device = match &a.page {
            Page::Device { source, device_id } => device_link(source, device_id, &a.device),
            Page::Alerts => esc(a.label("mount_point")),
        };
        let _ = writeln!(
            rows,
            "<tr class=\"{state}\"><td>{state}</td><td>{}</td><td>{}</td><td>{}</td><td>{device}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            a.rule.name,
            a.rule.severity,
            esc(a.label("source")),
            esc(a.label("target")),
            time(since),
            esc(&a.summary),
        );
    }
    rows
}

const ALERT_HEADER: &str = "<tr><th>state</th><th>alert</th><th>severity</th><th>source</th>\
     <th>device / store</th><th>target</th><th>since</th><th>summary</th></tr>";

/// Where the alerts left out of a table are; `metrics`: the link to the exposition.
fn more_alerts(metrics: &str) -> String {
    format!(
        "each device's page (<code>/device?source=...&amp;device_id=...</code>, \
         linked above and from each alert's <code>generatorURL</code> in Alertmanager) lists its \
         own alerts, and {metrics} has every backup the rules read \
         (<code>backup_last_success_timestamp_seconds</code>, <code>backup_last_run_failed</code>, \
         <code>backup_alert_state</code>, ...)"
    )
}

/// The link to the exposition, at its configured path: relative, so the pages work behind a
/// path prefix (every page is at the top level: `/`, `/device`).
fn metrics_link(telemetry_path: &str) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        esc(telemetry_path.trim_start_matches('/')),
        esc(telemetry_path)
    )
}

fn alerts_section(view: &StatusView, alerts: &mut Vec<Alert>) -> String {
    let total = alerts.len();
    // Per rule: firing, pending (a handful of rows whatever the fleet).
    let mut per_rule: Vec<(&'static crate::alerting::rules::Rule, usize, usize)> = Vec::new();
    for a in alerts.iter() {
        let i = match per_rule
            .iter()
            .position(|(r, _, _)| std::ptr::eq(*r, a.rule))
        {
            Some(i) => i,
            None => {
                per_rule.push((a.rule, 0, 0));
                per_rule.len() - 1
            }
        };
        if a.pending() {
            per_rule[i].2 += 1;
        } else {
            per_rule[i].1 += 1;
        }
    }
    per_rule.sort_by_key(|(r, _, _)| {
        crate::alerting::rules::RULES
            .iter()
            .position(|x| std::ptr::eq(*x, *r))
    });
    let sent = match &view.alertmanagers {
        Some(urls) => format!(
            "sent to Alertmanager at {}",
            urls.iter().map(|u| esc(u)).collect::<Vec<_>>().join(", ")
        ),
        None => "not sent anywhere: no <code>[alertmanager]</code> section configured (the \
                 rules in <code>alerts/</code> raise the same alerts in Prometheus)"
            .into(),
    };
    let body = if total == 0 {
        "<p>None: every backup the rules look at is healthy.</p>\n".to_owned()
    } else {
        let mut counts = String::from(
            "<table><tr><th>alert</th><th>severity</th><th>firing</th><th>pending</th></tr>\n",
        );
        for (rule, firing, pending) in &per_rule {
            let _ = writeln!(
                counts,
                "<tr><td>{}</td><td>{}</td><td>{firing}</td><td>{pending}</td></tr>",
                rule.name, rule.severity
            );
        }
        counts.push_str("</table>\n");
        let rows = alert_rows(alerts, |t| at(Some(from_unix(t))));
        format!(
            "{counts}<p></p><table>{ALERT_HEADER}\n{rows}</table>\n{}",
            more_line(
                total,
                alerts.len(),
                "alerts",
                &more_alerts(&metrics_link(&view.telemetry_path))
            )
        )
    };
    format!(
        "<h2 id=\"alerts\">Alerts ({})</h2>\n<p>The bundled rules' backup alerts, evaluated \
         by the exporter; {sent}.</p>\n{body}",
        count(total)
    )
}

/// The sources table: the down ones first, then those waiting, then the rest, each in the
/// configured order; at most [`MAX_ROWS`].
fn sources_section(sources: &[SourceLine], metrics: &str) -> String {
    let rank = |s: &SourceLine| match (s.state.attempted, s.state.up) {
        (true, false) => 0,
        (false, _) => 1,
        (true, true) => 2,
    };
    let mut order: Vec<&SourceLine> = sources.iter().collect();
    order.sort_by_key(|s| rank(s));
    let mut rows = String::new();
    for s in order.iter().take(MAX_ROWS) {
        let st = &s.state;
        let (class, mut state) = match (st.attempted, st.up) {
            (false, _) => ("pending", "waiting for first refresh".to_owned()),
            (true, true) => ("up", "up".to_owned()),
            (true, false) => ("down", "down".to_owned()),
        };
        if let Some(progress) = &s.progress {
            let _ = write!(state, "<br><small>{}</small>", esc(progress));
        }
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
            at(st.last_attempt),
            at(st.last_success),
            st.last_duration
                .map(|d| duration(d.as_secs_f64()))
                .unwrap_or_else(|| "-".into()),
            st.last_error.as_deref().map(esc).unwrap_or_default(),
        );
    }
    format!(
        "<table><tr><th>source</th><th>system</th><th>url</th><th>state</th><th>last refresh</th>\
         <th>last success</th><th>duration</th><th>devices</th><th>targets</th><th>last error</th></tr>\n\
         {rows}</table>\n{}",
        more_line(
            sources.len(),
            sources.len().min(MAX_ROWS),
            "sources",
            &format!(
                "{metrics} has every source's state \
                 (<code>backup_exporter_source_up</code>, \
                 <code>backup_exporter_last_refresh_success_timestamp_seconds</code>, \
                 <code>backup_exporter_refresh_errors_total</code>)"
            )
        )
    )
}

/// The status page of `view`.
pub fn status_page(mut view: StatusView) -> String {
    let mut alerts = std::mem::take(&mut view.alerts);
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>backup_exporter</title>\
         {STYLE}</head><body>\n\
         <h1>backup_exporter {}</h1>\n\
         <p>{} · <a href=\"healthz\">/healthz</a> · <a href=\"ready\">/ready</a></p>\n\
         <p>As of {}: this page changes when a refresh reads on or ends, or the alerts change.</p>\n\
         {}{}{}</body></html>\n",
        env!("CARGO_PKG_VERSION"),
        metrics_link(&view.telemetry_path),
        at(Some(view.now)),
        shard_line(view.shard),
        sources_section(&view.sources, &metrics_link(&view.telemetry_path)),
        alerts_section(&view, &mut alerts),
    )
}

/// `GET /device?source=...&device_id=...`. Error answers never repeat the request.
pub fn device_page(exporter: &Exporter, query: &str) -> Response<Body> {
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
    let sources = exporter.sources();
    let Some(entry) = sources.iter().find(|s| s.name == source) else {
        return text(
            StatusCode::NOT_FOUND,
            "no source of that name is configured; / lists them\n",
        );
    };
    let state = entry.state();
    let found = match (&state.snapshot, &state.devices) {
        (Some(snapshot), Some(index)) => index.get(snapshot, &device_id),
        _ => None,
    };
    let Some((device, targets)) = found else {
        let shard = exporter.shard;
        if !shard.owns_device(&source, &device_id) {
            let owner = shard.of_device(&source, &device_id).index();
            return text(
                StatusCode::NOT_FOUND,
                &format!(
                    "that device is not this exporter's ({shard}): a device with that id \
                     would be on shard {owner}\n"
                ),
            );
        }
        return text(
            StatusCode::NOT_FOUND,
            "that source has no device with that id in its last good refresh\n",
        );
    };
    let mut alerts = exporter.with_alerts(|t| {
        t.device_alerts(&source, &device_id)
            .filter(|a| a.resolved_at.is_none())
            .cloned()
            .collect::<Vec<Alert>>()
    });
    html_response(Body::from(Bytes::from(device_html(
        entry.system,
        &source,
        &device_id,
        device,
        &targets,
        &mut alerts,
        state.last_success,
        SystemTime::now(),
        &exporter.telemetry_path,
    ))))
}

#[allow(clippy::too_many_arguments)]
fn device_html(
    system: &str,
    source: &str,
    device_id: &str,
    device: Option<&Device>,
    targets: &[&BackupTarget],
    alerts: &mut Vec<Alert>,
    last_success: Option<SystemTime>,
    now: SystemTime,
    telemetry_path: &str,
) -> String {
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
    let seconds = |s: Option<f64>| s.map_or_else(|| "none".to_owned(), duration);
    let mut rows = String::new();
    for t in targets.iter().take(MAX_ROWS) {
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
    let more_targets = more_line(
        targets.len(),
        targets.len().min(MAX_ROWS),
        "backups of this device",
        &format!(
            "{} has them all \
             (<code>backup_last_success_timestamp_seconds</code> with this <code>device_id</code>)",
            metrics_link(telemetry_path)
        ),
    );
    let n = alerts.len();
    let alerts = if n == 0 {
        "<p>None.</p>".to_owned()
    } else {
        let rows = alert_rows(alerts, |t| when(Some(from_unix(t)), now));
        format!(
            "<table>{ALERT_HEADER}\n{rows}</table>\n{}",
            more_line(
                n,
                alerts.len(),
                "alerts of this device",
                &more_alerts(&metrics_link(telemetry_path))
            )
        )
    };
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{} - backup_exporter</title>{STYLE}</head><body>\n\
         <p><a href=\"./\">backup_exporter</a> · {} source {}</p>\n\
         <h1>{}</h1>\n<p>device id {}</p>\n<table>{facts}</table>\n\
         <h2>Alerts ({n})</h2>\n{alerts}\n\
         <h2>Backups</h2>\n<table><tr><th>target</th><th>last success</th><th>stale threshold</th>\
         <th>last activity</th><th>last run</th><th>alert states</th><th>complete</th></tr>\n{rows}</table>\n\
         {more_targets}<p>As of the source's last good refresh, {}.</p>\n</body></html>\n",
        esc(name),
        system,
        esc(source),
        esc(name),
        esc(device_id),
        when(last_success, now),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::{Rule, FAILING, STALE};
    use crate::refresh::DeviceIndex;
    use crate::sources::Snapshot;

    fn alert(rule: &'static Rule, device: &str, firing: bool, summary: &str) -> Alert {
        Alert {
            rule,
            labels: vec![
                ("alertname", rule.name.into()),
                ("device", device.into()),
                ("device_id", format!("id-{device}")),
                ("severity", rule.severity.into()),
                ("source", "hq".into()),
                ("target", "cloud".into()),
            ],
            summary: summary.into(),
            description: String::new(),
            device: device.into(),
            page: Page::Device {
                source: "hq".into(),
                device_id: format!("id-{device}"),
            },
            active_since: 1_700_000_000.0,
            began: None,
            fired_at: firing.then_some(1_700_000_000.0),
            last_held: 1_700_000_000.0,
            resolved_at: None,
        }
    }

    fn source(name: &str, up: bool) -> SourceLine {
        SourceLine {
            name: name.into(),
            system: "crashplan",
            url: "https://backup.example".into(),
            state: SourceState {
                attempted: true,
                up,
                ..SourceState::default()
            },
            progress: None,
        }
    }

    fn view(sources: Vec<SourceLine>, alerts: Vec<Alert>) -> StatusView {
        StatusView {
            sources,
            alerts,
            alertmanagers: None,
            shard: Shard::ONE,
            telemetry_path: "/metrics".into(),
            now: SystemTime::now(),
        }
    }

    /// The alerts section's rows, in order.
    fn alert_lines(page: &str) -> Vec<&str> {
        let section = &page[page.find("id=\"alerts\"").unwrap()..];
        section
            .lines()
            .filter(|l| {
                l.starts_with("<tr class=\"firing\"") || l.starts_with("<tr class=\"pending\"")
            })
            .collect()
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn alerts_are_ordered_by_severity_then_by_how_long_their_condition_holds() {
        // Seen by the exporter at the same moment; stale-old's threshold passed three days
        // before, stale-new's an hour before; a warning older than both.
        let seen = 1_700_000_000.0;
        let mut old = alert(&STALE, "stale-old", true, "stale");
        old.began = Some(seen - 3.0 * 86_400.0);
        let mut new = alert(&STALE, "stale-new", true, "stale");
        new.began = Some(seen - 3_600.0);
        let mut warning = alert(&FAILING, "failing-older", true, "failing");
        warning.active_since = seen - 10.0 * 86_400.0;
        let mut alerts = vec![warning, new, old];
        alert_rows(&mut alerts, |t| format!("{t}"));
        let order: Vec<&str> = alerts.iter().map(|a| a.device.as_str()).collect();
        assert_eq!(order, ["stale-old", "stale-new", "failing-older"]);
        let rows = alert_rows(&mut alerts, |t| format!("t={t}"));
        // "since" is when the condition began, not when the exporter first saw it.
        assert!(
            rows.contains(&format!("t={}", seen - 3.0 * 86_400.0)),
            "{rows}"
        );
        assert!(rows.contains(&format!("t={}", seen - 3_600.0)), "{rows}");
        assert!(!rows.contains(&format!("t={seen}<")), "{rows}");
    }

    #[test]
    fn the_alerts_table_shows_the_worst_hundred_and_says_how_many_more() {
        let mut alerts = Vec::new();
        for i in 0..150 {
            alerts.push(alert(&FAILING, &format!("warn-{i:03}"), true, "failing"));
        }
        for i in 0..50 {
            alerts.push(alert(&STALE, &format!("crit-{i:03}"), true, "stale"));
        }
        for i in 0..30 {
            alerts.push(alert(&STALE, &format!("pend-{i:03}"), false, "pending"));
        }
        fastrand::shuffle(&mut alerts);
        let page = status_page(view(vec![source("hq", true)], alerts.clone()));
        let rows = alert_lines(&page);
        assert_eq!(rows.len(), MAX_ROWS);
        // Critical firing first, then warning firing; nothing pending made the cut.
        assert!(
            rows[..50].iter().all(|r| r.contains("BackupStale")),
            "{page}"
        );
        assert!(
            rows[50..].iter().all(|r| r.contains("BackupFailing")),
            "{page}"
        );
        assert!(rows.iter().all(|r| r.starts_with("<tr class=\"firing\"")));
        assert!(
            page.contains("and 130 more alerts not listed (100 shown, worst first)"),
            "{page}"
        );
        assert!(
            page.contains("/device?source=...&amp;device_id=..."),
            "{page}"
        );
        assert!(page.contains("<a href=\"metrics\">/metrics</a> has every backup"));
        // The counts per rule cover every alert.
        assert!(
            page.contains("<tr><td>BackupStale</td><td>critical</td><td>50</td><td>30</td></tr>")
        );
        assert!(
            page.contains("<tr><td>BackupFailing</td><td>warning</td><td>150</td><td>0</td></tr>")
        );
        assert!(page.contains("Alerts (230)"));

        // Every link to the exposition follows its path, relative (the header's, under the
        // alerts and under more sources than fit).
        let sources = (0..=MAX_ROWS)
            .map(|i| source(&format!("s{i}"), true))
            .collect();
        let mut moved = view(sources, alerts);
        moved.telemetry_path = "/backup/metrics".into();
        let page = status_page(moved);
        assert!(!page.contains("\"/metrics\""), "{page}");
        assert_eq!(
            page.matches("<a href=\"backup/metrics\">/backup/metrics</a>")
                .count(),
            3,
            "{page}"
        );
    }

    #[test]
    fn no_more_line_when_everything_fits() {
        let alerts = (0..MAX_ROWS)
            .map(|i| alert(&STALE, &format!("d{i}"), true, "stale"))
            .collect();
        let page = status_page(view(vec![source("hq", true)], alerts));
        assert_eq!(alert_lines(&page).len(), MAX_ROWS);
        assert!(!page.contains("more alerts"), "{page}");
        assert!(!page.contains("class=\"more\""), "{page}");
    }

    #[test]
    fn the_sources_table_is_bounded_with_the_down_ones_first() {
        let mut sources: Vec<SourceLine> = (0..120)
            .map(|i| source(&format!("up-{i:03}"), true))
            .collect();
        sources.push(source("broken", false));
        let page = status_page(view(sources, Vec::new()));
        let rows: Vec<&str> = page
            .lines()
            .filter(|l| l.starts_with("<tr class=\"up\"") || l.starts_with("<tr class=\"down\""))
            .collect();
        assert_eq!(rows.len(), MAX_ROWS);
        assert!(rows[0].contains("<td>broken</td>"), "{}", rows[0]);
        assert!(page.contains("and 21 more sources not listed"), "{page}");
        assert!(page.contains("backup_exporter_source_up"));
    }

    #[test]
    fn a_refresh_in_flight_says_how_far_it_has_read() {
        let mut waiting = source("hq", false);
        waiting.state.attempted = false;
        waiting.progress = Some("refreshing: 12 of 40 pages of /api/v1/Computer".into());
        let mut again = source("dc<2>", true);
        again.progress = Some("refreshing: 3 pages so far of /rest/<usages>".into());
        let page = status_page(view(vec![waiting, again, source("idle", true)], Vec::new()));
        assert!(
            page.contains(
                "<td>waiting for first refresh<br><small>refreshing: 12 of 40 pages of \
                 /api/v1/Computer</small></td>"
            ),
            "{page}"
        );
        assert!(
            page.contains(
                "<td>up<br><small>refreshing: 3 pages so far of /rest/&lt;usages&gt;</small></td>"
            ),
            "{page}"
        );
        let idle = page.lines().find(|l| l.contains("<td>idle</td>")).unwrap();
        assert!(idle.contains("<td>up</td>"), "{idle}");
    }

    #[test]
    fn the_page_stays_small_at_fleet_scale() {
        let alerts: Vec<Alert> = (0..40_000)
            .map(|i| {
                let rule = if i % 3 == 0 { &STALE } else { &FAILING };
                alert(
                    rule,
                    &format!("laptop-{i:05}"),
                    i % 7 != 0,
                    "Backup of a laptop is failing",
                )
            })
            .collect();
        let page = status_page(view(vec![source("hq", true)], alerts));
        assert!(page.len() < 64 * 1024, "{} bytes", page.len());
        assert!(page.contains("and 39 900 more alerts"), "{page}");
    }

    #[test]
    fn text_from_upstream_and_config_is_escaped() {
        let mut s = source("<b>hq</b>", false);
        s.state.last_error = Some("HTTP 502: <script>alert(1)</script>".into());
        let mut a = alert(&STALE, "<img src=x>", true, "<script>summary</script>");
        for (k, v) in &mut a.labels {
            if *k == "target" {
                *v = "<i>t</i>".into();
            }
        }
        let page = status_page(view(vec![s], vec![a]));
        for raw in ["<script", "<b>hq", "<img", "<i>t"] {
            assert!(!page.contains(raw), "{raw} in {page}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;b&gt;hq&lt;/b&gt;"));
        assert!(page.contains("&lt;img src=x&gt;"));
        assert!(page.contains("<td>&lt;i&gt;t&lt;/i&gt;</td>"), "{page}");
        // The device link's query is encoded, then escaped.
        assert!(
            page.contains("href=\"device?source=hq&amp;device_id=id-%3Cimg+src%3Dx%3E\""),
            "{page}"
        );
    }

    #[test]
    fn the_device_index_finds_a_device_and_its_backups() {
        let device = |id: &str| Device {
            name: format!("name-{id}"),
            id: id.into(),
            ..Device::default()
        };
        let target = |id: &str, t: &str| BackupTarget {
            device: format!("name-{id}"),
            device_id: id.into(),
            target: t.into(),
            ..BackupTarget::default()
        };
        let snapshot = Snapshot::new(
            vec![device("a"), device("b")],
            vec![
                target("a", "x"),
                target("b", "x"),
                target("a", "y"),
                target("c", "x"),
            ],
            crate::exposition::MetricSet::default(),
            crate::sources::values::Warnings::default(),
        );
        let index = DeviceIndex::new(&snapshot);
        let (d, t) = index.get(&snapshot, "a").unwrap();
        assert_eq!(d.unwrap().name, "name-a");
        assert_eq!(
            t.iter().map(|t| t.target.as_str()).collect::<Vec<_>>(),
            ["x", "y"]
        );
        // Backups of a device the source does not list as a device.
        let (d, t) = index.get(&snapshot, "c").unwrap();
        assert!(d.is_none());
        assert_eq!(t.len(), 1);
        assert!(index.get(&snapshot, "nope").is_none());
    }

    /// A device page: one device, `n` targets, `alerts`, read `now`.
    fn device_page_of(n: usize, alerts: &mut Vec<Alert>, now: SystemTime) -> String {
        let t = crate::time::unix(now);
        let device = Device {
            name: "laptop".into(),
            id: "id-laptop".into(),
            connected: Some(false),
            last_connected: Some(t - 3.0 * 86_400.0 - 61.0),
            ..Device::default()
        };
        let targets: Vec<BackupTarget> = (0..n)
            .map(|i| BackupTarget {
                device: "laptop".into(),
                device_id: "id-laptop".into(),
                target: format!("cloud-{i}"),
                last_success: Some(t - 432_130.0),
                last_activity: Some(t - 59.0),
                stale_threshold: Some(3.0 * 86_400.0),
                ..BackupTarget::default()
            })
            .collect();
        let targets: Vec<&BackupTarget> = targets.iter().collect();
        device_html(
            "crashplan",
            "hq",
            "id-laptop",
            Some(&device),
            &targets,
            alerts,
            Some(now - std::time::Duration::from_millis(1500)),
            now,
            "/metrics",
        )
    }

    #[test]
    fn durations_are_written_as_the_alert_texts_write_them() {
        // A whole second: every age below is whole seconds exactly.
        let now = from_unix(1_800_000_000.0);
        let mut alerts = vec![alert(
            &STALE,
            "laptop",
            true,
            "Backup of laptop to cloud is stale: last success 5d 0h 2m 10s ago",
        )];
        let page = device_page_of(1, &mut alerts, now);
        // Ages, the stale threshold, the last refresh: humanizeDuration's style, never
        // humantime's ("5days 2m 10s", "3days").
        for want in [
            "(5d 0h 2m 10s ago)",
            "<td>3d 0h 0m 0s</td>",
            "(3d 0h 1m 1s ago)",
            "(59s ago)",
            "(1s ago)",
        ] {
            assert!(page.contains(want), "{want} in {page}");
        }
        assert!(!page.contains("days"), "{page}");
        // The status page's refresh duration too.
        let mut s = source("hq", true);
        s.state.last_duration = Some(std::time::Duration::from_millis(75_300));
        let page = status_page(view(vec![s], Vec::new()));
        assert!(page.contains("<td>1m 15s</td>"), "{page}");
        assert_eq!(duration(0.5321), "532.1ms");
        assert_eq!(duration(86_400.0), "1d 0h 0m 0s");
    }

    /// The targets of a page's links and forms, unescaped.
    fn links(page: &str) -> Vec<String> {
        let re = regex::Regex::new(r#"(?:href|action|src)="([^"]*)""#).unwrap();
        re.captures_iter(page)
            .map(|c| c[1].replace("&amp;", "&"))
            .collect()
    }

    #[test]
    fn every_link_is_relative_and_works_behind_a_path_prefix() {
        // Enough sources, alerts and targets for every "more" line and its links.
        let now = SystemTime::now();
        let alerts: Vec<Alert> = (0..150)
            .map(|i| alert(&STALE, &format!("d{i}"), true, "stale"))
            .collect();
        let sources = (0..120).map(|i| source(&format!("s{i}"), true)).collect();
        let status = status_page(view(sources, alerts.clone()));
        let device = device_page_of(MAX_ROWS + 5, &mut alerts.clone(), now);
        let base = url::Url::parse("https://example.org/backup/").unwrap();
        for (page, at) in [
            (&status, base.clone()),
            (
                &device,
                base.join("device?source=hq&device_id=id-d1").unwrap(),
            ),
        ] {
            for bad in ["href=\"/", "action=\"/", "src=\"/"] {
                assert!(!page.contains(bad), "{bad} in {page}");
            }
            let links = links(page);
            assert!(links.len() > 3, "{links:?}");
            for link in links {
                let to = at.join(&link).unwrap();
                assert_eq!(to.host_str(), Some("example.org"), "{link}");
                let path = to
                    .path()
                    .strip_prefix("/backup/")
                    .unwrap_or_else(|| panic!("{link} from {at} leads to {to}, out of /backup/"));
                // One of the exporter's routes, with what it needs.
                match path {
                    "metrics" | "healthz" | "ready" | "" => assert_eq!(to.query(), None),
                    "device" => {
                        let q: Vec<(String, String)> = to.query_pairs().into_owned().collect();
                        assert_eq!(q[0].0, "source", "{to}");
                        assert_eq!(q[1].0, "device_id", "{to}");
                    }
                    other => panic!("{link} leads to {other}, which the exporter does not serve"),
                }
            }
        }
        // The device page links back to the status page and to /metrics.
        let device_links = links(&device);
        assert!(device_links.iter().any(|l| l == "./"), "{device_links:?}");
        assert!(
            device_links.iter().any(|l| l == "metrics"),
            "{device_links:?}"
        );
        assert!(links(&status).iter().any(|l| l.starts_with("device?")));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1 000");
        assert_eq!(count(19_900), "19 900");
        assert_eq!(count(1_234_567), "1 234 567");
    }

    #[test]
    fn a_sharded_exporter_says_which_shard_it_is() {
        let mut v = view(vec![source("hq", true)], Vec::new());
        assert!(!status_page(view(Vec::new(), Vec::new())).contains("shard"));
        v.shard = Shard::new(1, 3).unwrap();
        let page = status_page(v);
        assert!(page.contains("This exporter is shard 1 of 3"), "{page}");
        assert!(!page.contains("fleet-wide"), "{page}");
        let mut v = view(Vec::new(), Vec::new());
        v.shard = Shard::new(0, 3).unwrap();
        assert!(status_page(v).contains("shard 0 of 3"));
    }

    #[tokio::test]
    async fn the_device_page_tells_the_shard_of_a_device_it_does_not_hold() {
        let config = crate::config::Config::from_toml_str(
            "shard = 1\ntotal_shards = 3\n[[source]]\nname = \"hq\"\nkind = \"crashplan\"\n\
             url = \"http://127.0.0.1:9\"\nusername = \"u\"\npassword = \"p\"\n",
        )
        .unwrap();
        let exporter = Exporter::new(&config).unwrap().0;
        // Pinned in crate::shard: shard 0 of 3.
        let r = device_page(&exporter, "source=hq&device_id=343195742699662015");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body = http_body_util::BodyExt::collect(r.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(
            body.contains("not this exporter's (shard 1 of 3)") && body.contains("on shard 0"),
            "{body}"
        );
    }

    fn exporter() -> Arc<Exporter> {
        let config = crate::config::Config::from_toml_str(
            "[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"http://127.0.0.1:9\"\n\
             username = \"u\"\npassword = \"p\"\n",
        )
        .unwrap();
        Exporter::new(&config).unwrap().0
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_render_per_change_however_many_ask() {
        let exporter = exporter();
        let pages: Vec<Arc<CachedPage>> =
            futures_util::future::join_all((0..16).map(|_| tokio::spawn(latest(exporter.clone()))))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        assert!(
            pages.iter().all(|p| Arc::ptr_eq(p, &pages[0])),
            "one render"
        );
        assert!(
            Arc::ptr_eq(&latest(exporter.clone()).await, &pages[0]),
            "cached"
        );
        let html = String::from_utf8(pages[0].html.to_vec()).unwrap();
        assert!(html.contains("waiting for first refresh"), "{html}");

        // An alert evaluation that changes nothing keeps the page.
        let mut evaluator = crate::alerting::rules::Evaluator::default();
        exporter.evaluate_alerts(&mut evaluator, 1.0);
        assert!(Arc::ptr_eq(&latest(exporter.clone()).await, &pages[0]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refresh_changes_the_page() {
        let config = crate::config::Config::from_toml_str(
            "[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"http://127.0.0.1:9\"\n\
             username = \"u\"\npassword = \"p\"\ntimeout = \"2s\"\n",
        )
        .unwrap();
        let (exporter, mut sources) = Exporter::new(&config).unwrap();
        let before = latest(exporter.clone()).await;
        // Nothing listens on port 9: the refresh fails, the source shows down.
        exporter.refresh(0, &mut sources[0]).await;
        let after = latest(exporter.clone()).await;
        assert!(!Arc::ptr_eq(&before, &after));
        let html = String::from_utf8(after.html.to_vec()).unwrap();
        assert!(html.contains(">down<"), "{html}");
        // The gzip form is the same page.
        let mut inflated = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&after.gzip[..]),
            &mut inflated,
        )
        .unwrap();
        assert_eq!(inflated, html);
    }
}
