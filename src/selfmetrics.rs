//! The exporter's own metrics (`backup_exporter_*`), kept in a `prometheus` registry.
//!
//! They change only when a refresh runs, so they are encoded together with the data families
//! whenever the exposition is re-rendered (see `crate::refresh`), never per scrape. The
//! process metrics ([`encode_process`]) are the exception: read at every scrape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus::core::{Collector, MetricVec, MetricVecBuilder};
use prometheus::{
    Encoder, Gauge, GaugeVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::progress::Progress;
use crate::upstream::UpstreamError;

pub struct SelfMetrics {
    registry: Registry,
    pub source_up: IntGaugeVec,
    pub last_success: GaugeVec,
    pub last_attempt: GaugeVec,
    pub duration: GaugeVec,
    pub refresh_errors: IntCounterVec,
    pub upstream_requests: IntCounterVec,
    pub samples: IntGaugeVec,
    pub value_errors: IntCounterVec,
    pub item_errors: IntCounterVec,
    pub stale_items: IntGaugeVec,
    /// This exporter's shard (`crate::shard`): 0 of 1 unless sharded.
    pub shard_ordinal: IntGauge,
    pub total_shards: IntGauge,
    /// Whether the last reading of the configuration (at start, SIGHUP, `/-/reload`) was
    /// applied (1) or refused (0), and when one last was, as Prometheus names its own.
    pub config_last_reload_successful: IntGauge,
    pub config_last_reload_success_timestamp: Gauge,
    /// The alerting bridge's, when `[alertmanager]` is configured.
    pub alerting: Option<AlertingMetrics>,
    /// Each source's refresh in flight, as far as it has read: its HTTP client writes it, the
    /// exporter reads it (see [`SelfMetrics::progress`]).
    progress: Mutex<HashMap<String, Arc<Progress>>>,
}

/// The alerting bridge's metrics.
pub struct AlertingMetrics {
    pub sent: IntCounterVec,
    pub send_errors: IntCounterVec,
    pub firing: IntGaugeVec,
}

/// Every `reason` of `backup_exporter_alert_send_errors_total`.
pub const ALERT_SEND_ERROR_REASONS: &[&str] = &[
    "connect",
    "timeout",
    "unauthorized",
    "client_error",
    "server_error",
    "credentials",
    "redirect",
];

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
}

impl SelfMetrics {
    /// Creates the registry; `sources` are `(source, system)` pairs whose series start at 0.
    pub fn new(sources: &[(String, &'static str)]) -> SelfMetrics {
        let registry = Registry::new();
        let sl = &["source", "system"];
        let source_up = IntGaugeVec::new(
            opts(
                "backup_exporter_source_up",
                "1 when the last refresh of the source succeeded, 0 when it failed or none ran yet.",
            ),
            sl,
        )
        .unwrap();
        let last_success = GaugeVec::new(
            opts(
                "backup_exporter_last_refresh_success_timestamp_seconds",
                "Unix time of the last successful refresh of the source. Absent until one succeeded.",
            ),
            sl,
        )
        .unwrap();
        let last_attempt = GaugeVec::new(
            opts(
                "backup_exporter_last_refresh_timestamp_seconds",
                "Unix time the last refresh of the source ended, successful or not.",
            ),
            sl,
        )
        .unwrap();
        let duration = GaugeVec::new(
            opts(
                "backup_exporter_refresh_duration_seconds",
                "Wall time of the last refresh of the source.",
            ),
            sl,
        )
        .unwrap();
        let refresh_errors = IntCounterVec::new(
            opts(
                "backup_exporter_refresh_errors_total",
                "Failed refreshes of the source, by reason.",
            ),
            &["source", "system", "reason"],
        )
        .unwrap();
        let upstream_requests = IntCounterVec::new(
            opts(
                "backup_exporter_upstream_requests_total",
                "HTTP requests to the vendor API, by endpoint and status code (\"timeout\" or \"error\" when no status came back).",
            ),
            &["source", "system", "endpoint", "code"],
        )
        .unwrap();
        let samples = IntGaugeVec::new(
            opts(
                "backup_exporter_source_samples",
                "Samples of data families the source contributes to /metrics (cardinality watch).",
            ),
            sl,
        )
        .unwrap();
        let value_errors = IntCounterVec::new(
            opts(
                "backup_exporter_upstream_value_errors_total",
                "Upstream values that could not be read (the value is left absent; the log names the first ones).",
            ),
            sl,
        )
        .unwrap();
        let item_errors = IntCounterVec::new(
            opts(
                "backup_exporter_item_errors_total",
                "Calls for single items (a Rackspace agent's details, a backup report) that failed in a refresh that otherwise succeeded, by reason; those items keep their last known values.",
            ),
            &["source", "system", "reason"],
        )
        .unwrap();
        let stale_items = IntGaugeVec::new(
            opts(
                "backup_exporter_source_stale_items",
                "Items of the last successful refresh that could not be read and are served from their last known values (see backup_exporter_item_errors_total).",
            ),
            sl,
        )
        .unwrap();
        let build_info = GaugeVec::new(
            opts(
                "backup_exporter_build_info",
                "Build of the running exporter; value always 1.",
            ),
            &["version", "revision", "branch", "rustc"],
        )
        .unwrap();
        let shard_ordinal = IntGauge::with_opts(opts(
            "backup_exporter_shard_ordinal",
            "This exporter's shard, 0 to backup_exporter_total_shards - 1: it writes the devices whose hash falls to it (shard 0 also the fleet-wide families).",
        ))
        .unwrap();
        let total_shards = IntGauge::with_opts(opts(
            "backup_exporter_total_shards",
            "How many exporters share the devices of the sources (1: not sharded).",
        ))
        .unwrap();
        total_shards.set(1);
        let config_last_reload_successful = IntGauge::with_opts(opts(
            "backup_exporter_config_last_reload_successful",
            "1 when the configuration last read (at start, on SIGHUP or POST /-/reload) was applied, 0 when it was refused and the previous one stayed in force.",
        ))
        .unwrap();
        let config_last_reload_success_timestamp = Gauge::with_opts(opts(
            "backup_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time the configuration was last applied (at start, or a reload that succeeded).",
        ))
        .unwrap();
        config_last_reload_successful.set(1);
        config_last_reload_success_timestamp.set(crate::time::unix(std::time::SystemTime::now()));
        build_info
            .with_label_values(&[
                crate::build_info::VERSION,
                crate::build_info::revision(),
                crate::build_info::branch(),
                crate::build_info::rustc(),
            ])
            .set(1.0);
        for c in [
            Box::new(source_up.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(last_success.clone()),
            Box::new(last_attempt.clone()),
            Box::new(duration.clone()),
            Box::new(refresh_errors.clone()),
            Box::new(upstream_requests.clone()),
            Box::new(samples.clone()),
            Box::new(value_errors.clone()),
            Box::new(item_errors.clone()),
            Box::new(stale_items.clone()),
            Box::new(shard_ordinal.clone()),
            Box::new(total_shards.clone()),
            Box::new(config_last_reload_successful.clone()),
            Box::new(config_last_reload_success_timestamp.clone()),
            Box::new(build_info),
        ] {
            registry.register(c).expect("self-metric names are unique");
        }
        let metrics = SelfMetrics {
            registry,
            source_up,
            last_success,
            last_attempt,
            duration,
            refresh_errors,
            upstream_requests,
            samples,
            value_errors,
            item_errors,
            stale_items,
            shard_ordinal,
            total_shards,
            config_last_reload_successful,
            config_last_reload_success_timestamp,
            alerting: None,
            progress: Mutex::default(),
        };
        for (source, system) in sources {
            metrics.add_source(source, system);
        }
        metrics
    }

    /// Starts the series of a source (`source`, `system`) at 0, every reason of its counters
    /// included.
    pub fn add_source(&self, source: &str, system: &str) {
        self.source_up.with_label_values(&[source, system]).set(0);
        self.value_errors.with_label_values(&[source, system]);
        self.stale_items.with_label_values(&[source, system]).set(0);
        for reason in UpstreamError::REASONS {
            self.refresh_errors
                .with_label_values(&[source, system, reason]);
            self.item_errors
                .with_label_values(&[source, system, reason]);
        }
        self.progress
            .lock()
            .expect("progress lock")
            .entry(source.to_owned())
            .or_default();
    }

    /// Removes every series of a source (a reload removed it, or changed its kind).
    pub fn remove_source(&self, source: &str) {
        remove_series(&self.source_up, source);
        remove_series(&self.last_success, source);
        remove_series(&self.last_attempt, source);
        remove_series(&self.duration, source);
        remove_series(&self.refresh_errors, source);
        remove_series(&self.upstream_requests, source);
        remove_series(&self.samples, source);
        remove_series(&self.value_errors, source);
        remove_series(&self.item_errors, source);
        remove_series(&self.stale_items, source);
    }

    /// Forgets the progress record of a source no longer configured.
    pub fn forget_progress(&self, source: &str) {
        self.progress.lock().expect("progress lock").remove(source);
    }

    /// Records a reading of the configuration: applied (`ok`) at `now`, or refused.
    pub fn config_read(&self, ok: bool, now: f64) {
        self.config_last_reload_successful.set(i64::from(ok));
        if ok {
            self.config_last_reload_success_timestamp.set(now);
        }
    }

    /// The progress record of `source`, shared by everything that reads for it and the
    /// exporter (made on first use).
    pub fn progress(&self, source: &str) -> Arc<Progress> {
        self.progress
            .lock()
            .expect("progress lock")
            .entry(source.to_owned())
            .or_default()
            .clone()
    }

    /// Adds the alerting bridge's metrics, for these Alertmanager URLs and alert names; every
    /// series starts at 0.
    pub fn with_alerting(mut self, alertmanagers: &[String], alertnames: &[&str]) -> SelfMetrics {
        let sent = IntCounterVec::new(
            opts(
                "backup_exporter_alerts_sent_total",
                "Alerts the alerting bridge delivered to the Alertmanager (each alert of each accepted POST, firing and resolved).",
            ),
            &["alertmanager"],
        )
        .unwrap();
        let send_errors = IntCounterVec::new(
            opts(
                "backup_exporter_alert_send_errors_total",
                "POSTs of alerts to the Alertmanager that failed, by reason; they are retried with backoff.",
            ),
            &["alertmanager", "reason"],
        )
        .unwrap();
        let firing = IntGaugeVec::new(
            opts(
                "backup_exporter_alerts_firing",
                "Alerts the alerting bridge holds firing now (pending and resolved ones not counted).",
            ),
            &["alertname"],
        )
        .unwrap();
        for c in [
            Box::new(sent.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(send_errors.clone()),
            Box::new(firing.clone()),
        ] {
            self.registry
                .register(c)
                .expect("self-metric names are unique");
        }
        for am in alertmanagers {
            sent.with_label_values(&[am.as_str()]);
            for reason in ALERT_SEND_ERROR_REASONS {
                send_errors.with_label_values(&[am.as_str(), reason]);
            }
        }
        for name in alertnames {
            firing.with_label_values(&[name]).set(0);
        }
        self.alerting = Some(AlertingMetrics {
            sent,
            send_errors,
            firing,
        });
        self
    }

    /// Appends the exposition text of every self-metric.
    pub fn encode(&self, out: &mut Vec<u8>) {
        TextEncoder::new()
            .encode(&self.registry.gather(), out)
            .expect("encoding into memory does not fail");
    }
}

/// Removes the series of `vec` whose `source` label is `source`, whatever its other labels.
fn remove_series<T: MetricVecBuilder>(vec: &MetricVec<T>, source: &str) {
    for family in vec.collect() {
        for metric in family.get_metric() {
            let labels: HashMap<&str, &str> = metric
                .get_label()
                .iter()
                .map(|l| (l.name(), l.value()))
                .collect();
            if labels.get("source") == Some(&source) {
                let _ = vec.remove(&labels);
            }
        }
    }
}

/// Appends the process metrics of this moment, with the names every Prometheus exporter uses
/// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
/// `process_open_fds`, `process_max_fds`, `process_start_time_seconds`, `process_threads`): read from `/proc/self` at each call, a
/// few files, well under a millisecond. Nothing where there is no `/proc` (not Linux).
pub fn encode_process(out: &mut Vec<u8>) {
    #[cfg(target_os = "linux")]
    {
        use prometheus::core::Collector;
        static COLLECTOR: std::sync::OnceLock<prometheus::process_collector::ProcessCollector> =
            std::sync::OnceLock::new();
        let families = COLLECTOR
            .get_or_init(prometheus::process_collector::ProcessCollector::for_self)
            .collect();
        TextEncoder::new()
            .encode(&families, out)
            .expect("encoding into memory does not fail");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn process_metrics_move_with_the_process() {
        let read = || {
            let mut out = Vec::new();
            encode_process(&mut out);
            let text = String::from_utf8(out).unwrap();
            let value = |name: &str| -> f64 {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name} ")))
                    .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
                    .parse()
                    .unwrap()
            };
            (
                value("process_open_fds"),
                value("process_resident_memory_bytes"),
                value("process_cpu_seconds_total"),
                value("process_max_fds"),
                value("process_start_time_seconds"),
            )
        };
        let (fds, rss, _, max_fds, start) = read();
        assert!(max_fds >= fds && fds > 0.0 && rss > 0.0);
        let now = crate::time::unix(std::time::SystemTime::now());
        assert!(start <= now && start > now - 86_400.0, "{start}");
        // Opened files and touched memory show at the next read (by wide margins: other tests
        // of this process open and free things meanwhile).
        let files: Vec<std::fs::File> = (0..200)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        let block = vec![1u8; 64 << 20];
        let (more_fds, more_rss, _, _, _) = read();
        assert!(more_fds >= fds + 100.0, "{fds} then {more_fds}");
        assert!(more_rss >= rss + 16.0 * 1048576.0, "{rss} then {more_rss}");
        drop((files, std::hint::black_box(block)));
    }

    #[test]
    fn counters_start_at_zero_for_every_reason() {
        let m = SelfMetrics::new(&[("hq".into(), "crashplan")]);
        let mut out = Vec::new();
        m.encode(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(
            "backup_exporter_refresh_errors_total{reason=\"timeout\",source=\"hq\",system=\"crashplan\"} 0"
        ));
        assert!(text.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 0"));
        assert!(text.contains("backup_exporter_build_info{branch="));
        assert!(
            text.contains("\nbackup_exporter_shard_ordinal 0\n"),
            "{text}"
        );
        assert!(
            text.contains("\nbackup_exporter_total_shards 1\n"),
            "{text}"
        );
        assert!(!text.contains("backup_exporter_last_refresh_success_timestamp_seconds{"));
        assert!(
            text.contains("\nbackup_exporter_config_last_reload_successful 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_source_removed_takes_every_series_with_it_and_one_added_starts_at_zero() {
        let m = SelfMetrics::new(&[("hq".into(), "crashplan"), ("dr".into(), "crashplan")]);
        for source in ["hq", "dr"] {
            m.upstream_requests
                .with_label_values(&[source, "crashplan", "/rest/computers", "200"])
                .inc();
            m.last_success
                .with_label_values(&[source, "crashplan"])
                .set(1.0);
        }
        let text = || {
            let mut out = Vec::new();
            m.encode(&mut out);
            String::from_utf8(out).unwrap()
        };
        m.remove_source("hq");
        let after = text();
        assert!(!after.contains("source=\"hq\""), "{after}");
        assert!(
            after.contains("backup_exporter_upstream_requests_total{code=\"200\",endpoint=\"/rest/computers\",source=\"dr\",system=\"crashplan\"} 1"),
            "{after}"
        );
        m.add_source("new", "code42");
        let after = text();
        assert!(after.contains(
            "backup_exporter_refresh_errors_total{reason=\"timeout\",source=\"new\",system=\"code42\"} 0"
        ));
        assert!(after.contains("backup_exporter_source_up{source=\"new\",system=\"code42\"} 0"));
        // The progress record is shared once made.
        assert!(Arc::ptr_eq(&m.progress("new"), &m.progress("new")));
    }

    #[test]
    fn a_refused_reading_keeps_the_time_of_the_last_applied_one() {
        let m = SelfMetrics::new(&[]);
        m.config_read(true, 1_000.0);
        m.config_read(false, 2_000.0);
        assert_eq!(m.config_last_reload_successful.get(), 0);
        assert_eq!(m.config_last_reload_success_timestamp.get(), 1_000.0);
        m.config_read(true, 3_000.0);
        assert_eq!(m.config_last_reload_successful.get(), 1);
        assert_eq!(m.config_last_reload_success_timestamp.get(), 3_000.0);
    }
}
