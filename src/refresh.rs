//! Per-source background refresh, the sources' state, and the exposition rendered once per
//! refresh.
//!
//! Each source has one task: refresh, publish, sleep (interval with jitter; shorter,
//! growing delays after a failure). A refresh that fails keeps the last good snapshot, sets
//! `backup_exporter_source_up` to 0 and records why. After every refresh the whole exposition
//! (all sources' data families and the self-metrics) is rendered into bytes, plain and gzip,
//! and swapped in atomically: `/metrics` only hands those bytes out.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::{watch, Notify};

use crate::alerting::rules::{Evaluator, SourceView, RULES};
use crate::alerting::state::Tracker;
use crate::alerting::Bridge;
use crate::config::Config;
use crate::exposition;
use crate::selfmetrics::SelfMetrics;
use crate::sources::{Snapshot, Source};
use crate::stale::{self, FirstSeen, StalePolicy};
pub use crate::time::{from_unix, unix};
use crate::upstream::UpstreamError;

/// The exposition as served, plain and gzip, each in two parts: the sources' data families,
/// rendered once per refresh, and the self-metrics, rendered again whenever they change (the
/// alerting bridge counts sends between refreshes) without touching the first part.
#[derive(Debug)]
pub struct Rendered {
    data: Arc<DataPart>,
    /// The self-metrics.
    tail: Bytes,
    /// The end of the gzip stream: the self-metrics as its last deflate blocks, and the gzip
    /// trailer over both parts.
    gzip_tail: Bytes,
}

/// The data families, plain and as the start of a gzip stream.
#[derive(Debug, Default)]
struct DataPart {
    text: Bytes,
    /// gzip header and the data's deflate blocks, flushed to a byte boundary, not final.
    gzip_head: Bytes,
    crc: flate2::Crc,
}

impl Rendered {
    /// The plain exposition, as the chunks of the response body.
    pub fn text_chunks(&self) -> [Bytes; 2] {
        [self.data.text.clone(), self.tail.clone()]
    }

    /// The gzip exposition, as the chunks of the response body.
    pub fn gzip_chunks(&self) -> [Bytes; 2] {
        [self.data.gzip_head.clone(), self.gzip_tail.clone()]
    }

    /// The plain exposition in one piece (a copy: for `once`, tests and benchmarks).
    pub fn text(&self) -> Bytes {
        concat(&self.text_chunks())
    }

    /// The gzip exposition in one piece (a copy).
    pub fn gzip(&self) -> Bytes {
        concat(&self.gzip_chunks())
    }
}

fn concat(chunks: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.into()
}

/// What is known of one source.
#[derive(Debug, Clone, Default)]
pub struct SourceState {
    /// A first refresh attempt has ended.
    pub attempted: bool,
    pub up: bool,
    pub last_attempt: Option<SystemTime>,
    pub last_success: Option<SystemTime>,
    pub last_duration: Option<Duration>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    /// The last good snapshot (kept through failures).
    pub snapshot: Option<Arc<Snapshot>>,
    /// Where each device of `snapshot` is, for the device page.
    pub devices: Option<Arc<crate::pages::DeviceIndex>>,
}

/// A configured source as the rest of the program sees it.
#[derive(Debug)]
pub struct SourceEntry {
    pub name: String,
    pub system: &'static str,
    pub url: String,
    pub refresh_interval: Duration,
    stale: StalePolicy,
    first_seen: Mutex<FirstSeen>,
    state: Mutex<SourceState>,
}

impl SourceEntry {
    pub fn state(&self) -> SourceState {
        self.state.lock().expect("state lock").clone()
    }
}

pub struct Exporter {
    pub sources: Vec<SourceEntry>,
    pub metrics: Arc<SelfMetrics>,
    rendered: ArcSwap<Rendered>,
    render_lock: Mutex<()>,
    /// The alerting bridge, when `[alertmanager]` is configured.
    bridge: Option<Arc<Bridge>>,
    /// The alerts of the bundled rules' conditions (see `crate::alerting`).
    alerts: Mutex<Tracker>,
    /// Told when a refresh ended, for the alert evaluation.
    refreshed: Notify,
    /// Counts the changes of what the status page shows: refreshes ended, alert changes.
    page_generation: AtomicU64,
    /// The status page as last rendered.
    pub(crate) status_page: crate::pages::StatusPage,
}

/// How a refresh ended.
#[derive(Debug)]
pub enum Outcome {
    Ok,
    Failed {
        reason: &'static str,
        message: String,
    },
}

impl Exporter {
    /// Builds the exporter and one [`Source`] per configured source (same order).
    pub fn new(config: &Config) -> Result<(Arc<Exporter>, Vec<Source>), String> {
        let ids: Vec<(String, &'static str)> = config
            .sources
            .iter()
            .map(|s| (s.name.clone(), s.kind.system()))
            .collect();
        let mut metrics = SelfMetrics::new(&ids);
        let mut bridge = None;
        if let Some(am) = &config.alertmanager {
            let names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
            metrics = metrics.with_alerting(&crate::alerting::alertmanager_names(am), &names);
            bridge = Some(Arc::new(Bridge::new(am, config.listen)?));
        }
        let metrics = Arc::new(metrics);
        let mut sources = Vec::new();
        let mut entries = Vec::new();
        for cfg in &config.sources {
            let source = Source::new(cfg, metrics.clone())
                .map_err(|e| format!("source {:?}: {e}", cfg.name))?;
            sources.push(source);
            entries.push(SourceEntry {
                name: cfg.name.clone(),
                system: cfg.kind.system(),
                url: cfg.base_url().to_string(),
                refresh_interval: cfg.refresh_interval,
                stale: StalePolicy::of(cfg),
                first_seen: Mutex::new(FirstSeen::default()),
                state: Mutex::new(SourceState::default()),
            });
        }
        let exporter = Arc::new(Exporter {
            sources: entries,
            metrics,
            rendered: ArcSwap::from_pointee(Rendered {
                data: Arc::default(),
                tail: Bytes::new(),
                gzip_tail: Bytes::new(),
            }),
            render_lock: Mutex::new(()),
            alerts: Mutex::new(Tracker::new(
                config
                    .alertmanager
                    .as_ref()
                    .map_or(0.0, |am| am.keep_firing_for.as_secs_f64()),
            )),
            bridge,
            refreshed: Notify::new(),
            page_generation: AtomicU64::new(0),
            status_page: crate::pages::StatusPage::default(),
        });
        exporter.render();
        Ok((exporter, sources))
    }

    /// The current exposition.
    pub fn rendered(&self) -> Arc<Rendered> {
        self.rendered.load_full()
    }

    /// Every source has ended a first refresh attempt.
    pub fn ready(&self) -> bool {
        self.sources.iter().all(|s| s.state().attempted)
    }

    /// Refreshes source `index` once, records the outcome and re-renders.
    pub async fn refresh(&self, index: usize, source: &mut Source) -> Outcome {
        let entry = &self.sources[index];
        let labels = [entry.name.as_str(), entry.system];
        let started = Instant::now();
        let result = AssertUnwindSafe(source.collect()).catch_unwind().await;
        let elapsed = started.elapsed();
        let now = SystemTime::now();
        let result = match result {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Internal(
                "the source's code panicked; this is a bug, please report it".into(),
            )),
        };
        let m = &self.metrics;
        m.duration
            .with_label_values(&labels)
            .set(elapsed.as_secs_f64());
        m.last_attempt.with_label_values(&labels).set(unix(now));
        let outcome = {
            let mut st = entry.state.lock().expect("state lock");
            st.last_attempt = Some(now);
            st.last_duration = Some(elapsed);
            match result {
                Ok(mut snapshot) => {
                    stale::annotate(
                        &mut snapshot,
                        &entry.stale,
                        &mut entry.first_seen.lock().expect("first-seen lock"),
                        unix(now),
                    );
                    let warnings = &snapshot.warnings;
                    if warnings.count > 0 {
                        m.value_errors
                            .with_label_values(&labels)
                            .inc_by(warnings.count as u64);
                        // One line per field and refresh, however many devices it concerns.
                        for (field, count, example) in warnings.fields() {
                            tracing::warn!(
                                source = %entry.name,
                                system = entry.system,
                                field,
                                count,
                                example,
                                "upstream values unreadable or implausible; left absent"
                            );
                        }
                    }
                    tracing::info!(
                        source = %entry.name,
                        system = entry.system,
                        duration_ms = elapsed.as_millis() as u64,
                        devices = snapshot.devices.len(),
                        targets = snapshot.targets.len(),
                        samples = snapshot.metrics.samples(),
                        unreadable_values = warnings.count,
                        "refresh ok"
                    );
                    m.samples
                        .with_label_values(&labels)
                        .set(snapshot.metrics.samples() as i64);
                    m.source_up.with_label_values(&labels).set(1);
                    m.last_success.with_label_values(&labels).set(unix(now));
                    m.stale_items
                        .with_label_values(&labels)
                        .set(snapshot.errors.len() as i64);
                    for e in &snapshot.errors {
                        m.item_errors
                            .with_label_values(&[labels[0], labels[1], e.reason()])
                            .inc();
                    }
                    st.up = true;
                    st.last_success = Some(now);
                    st.last_error = snapshot.errors.first().map(|first| {
                        let message = format!(
                            "{} item(s) could not be read and keep their last known values; first: {first}",
                            snapshot.errors.len()
                        );
                        tracing::warn!(
                            source = %entry.name,
                            system = entry.system,
                            failed_items = snapshot.errors.len(),
                            reason = first.reason(),
                            error = %first,
                            "refresh partly failed; those items keep their last known values"
                        );
                        message
                    });
                    st.consecutive_failures = 0;
                    st.devices = Some(Arc::new(crate::pages::DeviceIndex::new(&snapshot)));
                    st.snapshot = Some(Arc::new(snapshot));
                    Outcome::Ok
                }
                Err(e) => {
                    let reason = e.reason();
                    let message = e.to_string();
                    tracing::warn!(
                        source = %entry.name,
                        system = entry.system,
                        duration_ms = elapsed.as_millis() as u64,
                        reason,
                        error = %message,
                        kept_last_good = st.snapshot.is_some(),
                        "refresh failed"
                    );
                    m.refresh_errors
                        .with_label_values(&[labels[0], labels[1], reason])
                        .inc();
                    m.source_up.with_label_values(&labels).set(0);
                    st.up = false;
                    st.last_error = Some(message.clone());
                    st.consecutive_failures += 1;
                    Outcome::Failed { reason, message }
                }
            }
        };
        self.render();
        // Only now is this attempt's result being served: `/ready` must not answer before.
        entry.state.lock().expect("state lock").attempted = true;
        self.page_generation.fetch_add(1, Ordering::AcqRel);
        self.refreshed.notify_one();
        outcome
    }

    /// Completes when a refresh ended since the last call.
    pub async fn refreshed(&self) {
        self.refreshed.notified().await;
    }

    /// Evaluates the alert rules over every source's last good snapshot at `now`; returns
    /// whether an alert fired or resolved.
    pub fn evaluate_alerts(&self, evaluator: &mut Evaluator, now: f64) -> bool {
        let states: Vec<(&SourceEntry, Arc<Snapshot>)> = self
            .sources
            .iter()
            .filter_map(|s| s.state().snapshot.map(|snap| (s, snap)))
            .collect();
        let views: Vec<SourceView<'_>> = states
            .iter()
            .map(|(entry, snapshot)| SourceView {
                name: &entry.name,
                system: entry.system,
                snapshot,
            })
            .collect();
        let candidates = evaluator.evaluate(&views, now);
        let mut tracker = self.alerts.lock().expect("alerts lock");
        let version = tracker.version();
        let changed = tracker.update(candidates, now);
        if tracker.version() != version {
            self.page_generation.fetch_add(1, Ordering::AcqRel);
        }
        changed
    }

    /// Changes whenever what the status page shows may have: a refresh ended (its state and
    /// snapshot are in place by then), the alerts changed.
    pub fn page_generation(&self) -> u64 {
        self.page_generation.load(Ordering::Acquire)
    }

    /// The Alertmanager URLs the bridge sends to (`None`: no bridge).
    pub fn alertmanagers(&self) -> Option<Vec<String>> {
        self.bridge.as_ref().map(|b| b.names())
    }

    /// Runs `f` with the alerts (briefly: the lock is shared with the status page).
    pub fn with_alerts<T>(&self, f: impl FnOnce(&Tracker) -> T) -> T {
        f(&self.alerts.lock().expect("alerts lock"))
    }

    /// Renders every source's last good snapshot and the self-metrics into the served bytes.
    pub fn render(&self) {
        let _guard = self.render_lock.lock().expect("render lock");
        let snapshots: Vec<Arc<Snapshot>> = self
            .sources
            .iter()
            .filter_map(|s| s.state().snapshot)
            .collect();
        let sets: Vec<&exposition::MetricSet> = snapshots.iter().map(|s| &s.metrics).collect();
        let previous = self.rendered.load().data.text.len();
        let mut text = String::with_capacity(previous + previous / 8 + 4096);
        exposition::assemble(&mut text, &sets);
        let text = Bytes::from(text.into_bytes());
        let (gzip_head, crc) = gzip_head(&text);
        let data = Arc::new(DataPart {
            text,
            gzip_head,
            crc,
        });
        self.store_with_self_metrics(data);
    }

    /// Renders the self-metrics again, keeping the data part.
    pub fn render_self_metrics(&self) {
        let _guard = self.render_lock.lock().expect("render lock");
        self.store_with_self_metrics(self.rendered.load().data.clone());
    }

    fn store_with_self_metrics(&self, data: Arc<DataPart>) {
        let mut tail = Vec::with_capacity(self.rendered.load().tail.len() + 1024);
        self.metrics.encode(&mut tail);
        let gzip_tail = gzip_tail(&data.crc, &tail);
        self.rendered.store(Arc::new(Rendered {
            data,
            tail: Bytes::from(tail),
            gzip_tail: Bytes::from(gzip_tail),
        }));
    }

    /// Starts the alert evaluation (and the bridge, when configured).
    fn spawn_alerting(
        self: &Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(crate::alerting::run(
            self.clone(),
            self.bridge.clone(),
            shutdown,
        ))
    }

    /// Starts one refresh task per source. Tasks end when `shutdown` turns true.
    pub fn spawn(
        self: &Arc<Self>,
        sources: Vec<Source>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let alerting = self.spawn_alerting(shutdown.clone());
        let mut tasks: Vec<_> = sources
            .into_iter()
            .enumerate()
            .map(|(index, mut source)| {
                let exporter = self.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let interval = exporter.sources[index].refresh_interval;
                    // A small random start delay spreads sources that share a server.
                    let mut delay = Duration::from_millis(fastrand::u64(0..=500));
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = shutdown.wait_for(|stop| *stop) => return,
                        }
                        let outcome = tokio::select! {
                            o = exporter.refresh(index, &mut source) => o,
                            _ = shutdown.wait_for(|stop| *stop) => return,
                        };
                        let failures = exporter.sources[index].state().consecutive_failures;
                        delay = next_delay(interval, &outcome, failures, fastrand::f64());
                    }
                })
            })
            .collect();
        tasks.push(alerting);
        tasks
    }
}

/// The wait before the next refresh. After a success: the interval, ±10 % jitter. After a
/// failure: 15 s doubling with each consecutive failure, capped at the interval, ±10 %; an
/// authentication or permission failure waits the full interval (retrying fast could lock the
/// account). `unit` is a random number in [0, 1).
pub fn next_delay(interval: Duration, outcome: &Outcome, failures: u32, unit: f64) -> Duration {
    let base = match outcome {
        Outcome::Ok => interval,
        Outcome::Failed { reason, .. } if matches!(*reason, "unauthorized" | "forbidden") => {
            interval
        }
        Outcome::Failed { .. } => {
            let exp = failures.saturating_sub(1).min(16);
            Duration::from_secs(15)
                .saturating_mul(1 << exp)
                .min(interval)
        }
    };
    base.mul_f64(0.9 + 0.2 * unit.clamp(0.0, 1.0))
}

/// The fixed gzip header: deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// The start of a gzip stream of `data`: the header and `data`'s deflate blocks, flushed to a
/// byte boundary but not final, so more blocks may follow; and `data`'s CRC.
fn gzip_head(data: &[u8]) -> (Bytes, flate2::Crc) {
    use std::io::Write;
    let mut out = Vec::with_capacity(data.len() / 8 + 64);
    out.extend_from_slice(&GZIP_HEADER);
    let mut enc = flate2::write::DeflateEncoder::new(out, flate2::Compression::fast());
    enc.write_all(data).expect("writing to memory");
    // A sync flush ends the blocks on a byte boundary without marking the last one final.
    enc.flush().expect("writing to memory");
    // Taken out, not `finish`ed (nor `reset`, which finishes): the encoder's drop then ends
    // its stream into the empty vector left behind.
    let out = std::mem::take(enc.get_mut());
    let mut crc = flate2::Crc::new();
    crc.update(data);
    (Bytes::from(out), crc)
}

/// The end of the gzip stream [`gzip_head`] began: `tail`'s deflate blocks, the last one final,
/// and the trailer (CRC and length of the head's data and `tail` together).
fn gzip_tail(head: &flate2::Crc, tail: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(tail.len() / 4 + 32),
        flate2::Compression::fast(),
    );
    enc.write_all(tail).expect("writing to memory");
    let mut out = enc.finish().expect("writing to memory");
    let mut tail_crc = flate2::Crc::new();
    tail_crc.update(tail);
    let mut crc = flate2::Crc::new();
    crc.combine(head);
    crc.combine(&tail_crc);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(reason: &'static str) -> Outcome {
        Outcome::Failed {
            reason,
            message: String::new(),
        }
    }

    #[test]
    fn delays_jitter_around_the_interval() {
        let i = Duration::from_secs(300);
        assert_eq!(
            next_delay(i, &Outcome::Ok, 0, 0.0),
            Duration::from_secs(270)
        );
        assert_eq!(
            next_delay(i, &Outcome::Ok, 0, 0.5),
            Duration::from_secs(300)
        );
        assert_eq!(next_delay(i, &Outcome::Ok, 0, 0.999_999).as_secs(), 329);
    }

    #[test]
    fn failures_back_off_up_to_the_interval() {
        let i = Duration::from_secs(300);
        let d: Vec<u64> = (1..=7)
            .map(|n| next_delay(i, &failed("timeout"), n, 0.5).as_secs())
            .collect();
        assert_eq!(d, vec![15, 30, 60, 120, 240, 300, 300]);
        assert_eq!(next_delay(i, &failed("timeout"), u32::MAX, 0.5), i);
        assert_eq!(next_delay(i, &failed("unauthorized"), 1, 0.5), i);
        assert_eq!(next_delay(i, &failed("forbidden"), 1, 0.5), i);
        let short = Duration::from_secs(5);
        assert_eq!(next_delay(short, &failed("server_error"), 1, 0.5), short);
    }

    #[test]
    fn a_gzip_head_and_tail_make_one_gzip_member() {
        use std::io::Read;
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("backup_selected_bytes{{device=\"d{i}\"}} {i}\n").into_bytes())
            .collect();
        for tail in [&b"backup_exporter_source_up 1\n"[..], b""] {
            let (head, crc) = gzip_head(&data);
            let mut z = head.to_vec();
            z.extend_from_slice(&gzip_tail(&crc, tail));
            assert!(z.len() < data.len() / 4, "{} of {}", z.len(), data.len());
            // One member: a decoder that stops after the first member reads it all, and
            // checks the trailer's CRC and length.
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .unwrap();
            let mut want = data.clone();
            want.extend_from_slice(tail);
            assert_eq!(out, want);
            // A wrong trailer is noticed (the check above is not vacuous).
            let n = z.len();
            z[n - 5] ^= 1;
            let mut out = Vec::new();
            assert!(flate2::read::GzDecoder::new(&z[..])
                .read_to_end(&mut out)
                .is_err());
        }
    }
}
