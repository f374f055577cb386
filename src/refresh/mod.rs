//! Per-source background refresh, the sources' state, and the exposition rendered once per
//! refresh.
//!
//! Each source has one task: refresh, publish, sleep (interval with jitter; shorter,
//! growing delays after a failure). A refresh that fails keeps the last good snapshot, sets
//! `backup_exporter_source_up` to 0 and records why. After every refresh the whole exposition
//! (all sources' data families and the self-metrics) is put together into one gzip stream,
//! and swapped in atomically: `/metrics` hands those bytes out, or inflates them as it sends
//! them to a client that does not take gzip.
//!
//! - this module: the [`Exporter`], one refresh and what it records;
//! - `schedule`: the tasks and the wait between refreshes;
//! - `state`: what is known of each source, and the index of its snapshot's devices;
//! - `render`: the exposition, as gzip, and its plain text inflated from it;
//! - `page_cache`: the status page as last rendered (rendered by `crate::pages`);
//! - `reload`: the sources of a configuration read again, each restarted only when its
//!   settings changed.

mod page_cache;
mod reload;
mod render;
mod schedule;
mod state;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwap;
use futures_util::FutureExt;
use tokio::sync::Notify;

use crate::alerting::rules::{Evaluator, SourceView, RULES};
use crate::alerting::state::Tracker;
use crate::alerting::Bridge;
use crate::config::{Config, SourceConfig};
use crate::selfmetrics::SelfMetrics;
use crate::shard::Shard;
use crate::sources::{registry, Snapshot, Source};
use crate::stale;
use crate::state_file::StateFile;
pub use crate::time::{from_unix, unix};
use crate::upstream::UpstreamError;
pub use page_cache::{CachedPage, StatusPage, PROGRESS_SHOWN_WITHIN};
pub use reload::SourcesReloaded;
use render::Exposition;
pub use render::Rendered;
pub use schedule::next_delay;
pub use state::{DeviceIndex, SourceEntry, SourceState};

pub struct Exporter {
    /// The configured sources, in configuration order; a reload swaps the list.
    sources: ArcSwap<Vec<Arc<SourceEntry>>>,
    pub metrics: Arc<SelfMetrics>,
    /// Whose devices this exporter holds: of each snapshot, only the shard's devices and
    /// targets are kept (and its stores on shard 0), so the alerts and the pages are the
    /// shard's, as the exposition is.
    pub shard: Shard,
    /// Where the exposition is served (`telemetry_path`): the server routes it, the pages
    /// link to it.
    pub telemetry_path: String,
    /// The exposition as served.
    exposition: Exposition,
    /// The alerting bridge, when `[alertmanager]` is configured.
    bridge: Option<Arc<Bridge>>,
    /// The alerts of the bundled rules' conditions (see `crate::alerting`).
    alerts: Mutex<Tracker>,
    /// Told when a refresh ended, for the alert evaluation.
    refreshed: Notify,
    /// Counts the changes of what the status page shows: refreshes ended, alert changes.
    page_generation: AtomicU64,
    /// The status page as last rendered (by `crate::pages`).
    pub(crate) status_page: StatusPage,
    /// Where what the sources learned is kept across restarts (`state_file`).
    state_file: Option<Arc<StateFile>>,
    /// The tasks running (see [`Exporter::spawn`]).
    tasks: Mutex<schedule::Tasks>,
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

/// What the state file says the configured sources learned before and which alerts were
/// pending or firing; nothing (and one line saying why) when it cannot be read.
fn load_state(file: &StateFile, config: &Config) -> crate::state_file::Loaded {
    let sources: Vec<(&str, &str)> = config
        .sources
        .iter()
        .map(|s| (s.name.as_str(), s.kind))
        .collect();
    match file.load(&sources) {
        Ok(loaded) => {
            tracing::info!(
                path = %file.path().display(),
                targets = loaded.memories.values().map(stale::Memory::len).sum::<usize>(),
                alerts = loaded.alerts.len(),
                "state file read: first-seen times, last successes and alerts carry on from it"
            );
            loaded
        }
        Err(e) => {
            tracing::warn!(
                path = %file.path().display(),
                error = %e,
                "state file not read: first-seen times and last successes start afresh; it is written again after the next refresh"
            );
            Default::default()
        }
    }
}

/// The configured sources, ready to refresh (configuration order).
pub type Sources = Vec<Box<dyn Source>>;

/// The source of `cfg`, built by its kind's vendor (an error names the source).
fn build(
    cfg: &SourceConfig,
    metrics: &Arc<SelfMetrics>,
) -> Result<(&'static dyn crate::sources::Vendor, Box<dyn Source>), String> {
    let vendor = registry::find(cfg.kind)
        .ok_or_else(|| format!("source {:?}: unknown kind {:?}", cfg.name, cfg.kind))?;
    let source = vendor
        .build(cfg, metrics.clone())
        .map_err(|e| format!("source {:?}: {e}", cfg.name))?;
    Ok((vendor, source))
}

impl Exporter {
    /// Builds the exporter and one [`Source`] per configured source (same order).
    pub fn new(config: &Config) -> Result<(Arc<Exporter>, Sources), String> {
        let ids: Vec<(String, &'static str)> = config
            .sources
            .iter()
            .map(|s| (s.name.clone(), s.kind))
            .collect();
        let mut metrics = SelfMetrics::new(&ids);
        let mut bridge = None;
        if let Some(am) = &config.alertmanager {
            let names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
            metrics = metrics.with_alerting(&crate::alerting::alertmanager_names(am), &names);
            bridge = Some(Arc::new(Bridge::new(am, config.listen[0])?));
        }
        metrics
            .shard_ordinal
            .set(i64::from(config.sharding.index()));
        metrics.total_shards.set(i64::from(config.sharding.total()));
        let metrics = Arc::new(metrics);
        let state_file = config.state_file.clone().map(StateFile::new);
        let mut loaded = match &state_file {
            Some(file) => load_state(file, config),
            None => Default::default(),
        };
        let mut alerts = Tracker::new(
            config
                .alertmanager
                .as_ref()
                .map_or(0.0, |am| am.keep_firing_for.as_secs_f64()),
        );
        alerts.restore(std::mem::take(&mut loaded.alerts), loaded.saved_at);
        let mut sources = Vec::new();
        let mut entries = Vec::new();
        for cfg in &config.sources {
            let (vendor, source) = build(cfg, &metrics)?;
            sources.push(source);
            let memory = loaded
                .memories
                .remove(&cfg.name)
                .unwrap_or_default()
                .with_learned_successes(vendor.last_success_learned());
            entries.push(Arc::new(SourceEntry::new(
                cfg,
                &metrics,
                memory,
                SourceState::default(),
            )));
        }
        let exporter = Arc::new(Exporter {
            sources: ArcSwap::from_pointee(entries),
            metrics,
            shard: config.sharding,
            telemetry_path: config.telemetry_path.clone(),
            exposition: Exposition::default(),
            alerts: Mutex::new(alerts),
            bridge,
            refreshed: Notify::new(),
            page_generation: AtomicU64::new(0),
            status_page: StatusPage::default(),
            state_file: state_file.map(Arc::new),
            tasks: Mutex::default(),
        });
        exporter.render();
        Ok((exporter, sources))
    }

    /// The current exposition.
    pub fn rendered(&self) -> Arc<Rendered> {
        self.exposition.load()
    }

    /// The configured sources, in configuration order (the list in force: a reload replaces
    /// it).
    pub fn sources(&self) -> Arc<Vec<Arc<SourceEntry>>> {
        self.sources.load_full()
    }

    /// Every source has ended a first refresh attempt.
    pub fn ready(&self) -> bool {
        self.sources().iter().all(|s| s.state().attempted)
    }

    /// Refreshes source `index` (configuration order) once, records the outcome and
    /// re-renders.
    pub async fn refresh(&self, index: usize, source: &mut Box<dyn Source>) -> Outcome {
        let entry = self.sources()[index].clone();
        self.refresh_entry(&entry, source).await
    }

    /// Refreshes the source of `entry` once, records the outcome and re-renders.
    async fn refresh_entry(&self, entry: &SourceEntry, source: &mut Box<dyn Source>) -> Outcome {
        let labels = [entry.name.as_str(), entry.system];
        let started = Instant::now();
        entry.progress.begin();
        let collect = AssertUnwindSafe(source.collect()).catch_unwind();
        let result = if entry.state().attempted {
            collect.await
        } else {
            entry.logging_progress(collect).await
        };
        entry.progress.end();
        let elapsed = started.elapsed();
        let now = SystemTime::now();
        let result = match result {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Internal(
                "the source's code panicked; this is a bug, please report it".into(),
            )),
        };
        // The staleness families and the device index, before the state is locked: the
        // status page and `/ready` read it meanwhile.
        let result = result.map(|mut snapshot| {
            snapshot.keep_shard(&entry.name, self.shard);
            stale::annotate(
                &mut snapshot,
                &entry.stale,
                &mut entry.memory.lock().expect("memory lock"),
                unix(now),
            );
            // Complete now: only its compressed pieces stay for the exposition.
            snapshot.metrics.seal();
            let index = DeviceIndex::new(&snapshot);
            (snapshot, index)
        });
        // The snapshot replaced, freed once the state is unlocked.
        let mut replaced = None;
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
                Ok((snapshot, index)) => {
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
                    replaced = Some((
                        st.devices.replace(Arc::new(index)),
                        st.snapshot.replace(Arc::new(snapshot)),
                    ));
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
        drop(replaced);
        if matches!(outcome, Outcome::Ok) {
            self.save_state().await;
        }
        self.render();
        // Only now is this attempt's result being served: `/ready` must not answer before.
        entry.state.lock().expect("state lock").attempted = true;
        self.page_generation.fetch_add(1, Ordering::AcqRel);
        self.refreshed.notify_one();
        outcome
    }

    /// Writes what every source has learned, and the alerts, to the state file, if there is
    /// one; file I/O off the runtime's threads (a write that fails is logged by `write`).
    async fn save_state(&self) {
        if let Some((file, taken)) = self.take_state() {
            let _ = tokio::task::spawn_blocking(move || file.write(taken)).await;
        }
    }

    fn take_state(&self) -> Option<(Arc<StateFile>, crate::state_file::Taken)> {
        let file = self.state_file.as_ref()?;
        let alerts = self.alerts.lock().expect("alerts lock").kept();
        let sources = self.sources();
        let taken = file.take(
            sources
                .iter()
                .map(|s| (s.name.as_str(), s.system, &s.memory)),
            alerts,
            unix(SystemTime::now()),
        );
        Some((file.clone(), taken))
    }

    /// Completes when a refresh ended since the last call.
    pub async fn refreshed(&self) {
        self.refreshed.notified().await;
    }

    /// Evaluates the alert rules over every source's last good snapshot at `now`; returns
    /// whether an alert fired or resolved.
    pub fn evaluate_alerts(&self, evaluator: &mut Evaluator, now: f64) -> bool {
        let sources = self.sources();
        let states: Vec<(&SourceEntry, Arc<Snapshot>)> = sources
            .iter()
            .filter_map(|s| s.state().snapshot.map(|snap| (&**s, snap)))
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
        let (version, kept_version) = (tracker.version(), tracker.kept_version());
        let changed = tracker.update(candidates, now);
        let (moved, kept_moved) = (
            tracker.version() != version,
            tracker.kept_version() != kept_version,
        );
        drop(tracker);
        if moved {
            self.page_generation.fetch_add(1, Ordering::AcqRel);
        }
        // An alert came, went, fired or resolved: the state file says so before the next
        // refresh (a summary whose age moved on is not worth writing it again).
        if kept_moved {
            if let Some((file, taken)) = self.take_state() {
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => drop(runtime.spawn_blocking(move || file.write(taken))),
                    Err(_) => file.write(taken),
                }
            }
        }
        changed
    }

    /// Changes whenever what the status page shows may have: a refresh ended (its state and
    /// snapshot are in place by then), the alerts changed.
    pub fn page_generation(&self) -> u64 {
        self.page_generation.load(Ordering::Acquire)
    }

    /// Changes whenever a refresh in flight reads on (see [`SourceEntry::progress`]).
    pub fn progress_changes(&self) -> u64 {
        // Each count only grows, so their sum changes with any of them.
        self.sources()
            .iter()
            .map(|s| s.progress.changes())
            .fold(0, u64::wrapping_add)
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
        self.exposition.render(
            || {
                self.sources()
                    .iter()
                    .filter_map(|s| s.state().snapshot)
                    .collect()
            },
            &self.metrics,
        );
    }

    /// Renders the self-metrics again, keeping the data part.
    pub fn render_self_metrics(&self) {
        self.exposition.render_self_metrics(&self.metrics);
    }
}

impl crate::alerting::Host for Exporter {
    fn refreshed(&self) -> impl std::future::Future<Output = ()> + Send {
        Exporter::refreshed(self)
    }

    fn evaluate_alerts(&self, evaluator: &mut Evaluator, now: f64) -> bool {
        Exporter::evaluate_alerts(self, evaluator, now)
    }

    fn with_alerts<T>(&self, f: impl FnOnce(&Tracker) -> T) -> T {
        Exporter::with_alerts(self, f)
    }

    fn metrics(&self) -> &SelfMetrics {
        &self.metrics
    }

    fn render_self_metrics(&self) {
        Exporter::render_self_metrics(self)
    }
}
