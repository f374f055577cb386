//! Per-source background refresh, the sources' state, and the exposition rendered once per
//! refresh.
//!
//! Each source has one task: refresh, publish, sleep (interval with jitter; shorter,
//! growing delays after a failure). A refresh that fails keeps the last good snapshot, sets
//! `backup_exporter_source_up` to 0 and records why. After every refresh the whole exposition
//! (all sources' data families and the self-metrics) is rendered into bytes, plain and gzip,
//! and swapped in atomically: `/metrics` only hands those bytes out.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::FutureExt;
use tokio::sync::watch;

use crate::config::Config;
use crate::exposition;
use crate::selfmetrics::SelfMetrics;
use crate::sources::http::UpstreamError;
use crate::sources::{Snapshot, Source};
use crate::stale::{self, FirstSeen, StalePolicy};

/// The exposition as served: plain text and its gzip form.
#[derive(Debug)]
pub struct Rendered {
    pub text: Bytes,
    pub gzip: Bytes,
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
        let metrics = Arc::new(SelfMetrics::new(&ids));
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
                text: Bytes::new(),
                gzip: Bytes::new(),
            }),
            render_lock: Mutex::new(()),
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
                        tracing::warn!(source = %entry.name, system = entry.system, "{warnings}");
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
        outcome
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
        let previous = self.rendered.load().text.len();
        let mut text = String::with_capacity(previous + previous / 8 + 4096);
        exposition::assemble(&mut text, &sets);
        let mut bytes = text.into_bytes();
        self.metrics.encode(&mut bytes);
        let gzip = gzip(&bytes);
        self.rendered.store(Arc::new(Rendered {
            text: Bytes::from(bytes),
            gzip: Bytes::from(gzip),
        }));
    }

    /// Starts one refresh task per source. Tasks end when `shutdown` turns true.
    pub fn spawn(
        self: &Arc<Self>,
        sources: Vec<Source>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        sources
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
            .collect()
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

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 8 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(data).expect("writing to memory");
    enc.finish().expect("writing to memory")
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
    fn gzip_round_trips() {
        use std::io::Read;
        let data = b"backup_selected_bytes 1\n".repeat(1000);
        let z = gzip(&data);
        assert!(z.len() < data.len() / 10);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }
}
