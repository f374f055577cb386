//! Sources: one per configured vendor system. Each reads its vendor API and produces a
//! [`Snapshot`]: vendor-neutral records ([`Device`], [`BackupTarget`]) rendered by the one
//! shared function [`render_neutral`], plus the vendor's own families.
//!
//! Vendor quirks live in the vendor's `model`; the mapping into the snapshot in its `mod.rs`.

pub mod code42;
pub mod crashplan;
pub mod freezer;
pub mod http;
pub mod rackspace;
pub mod registry;
pub mod values;

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::exposition::{Desc, Labels, MetricSet, Origin};
use crate::metrics as m;
use crate::selfmetrics::SelfMetrics;
use crate::settings::{KeyError, Section, SourceConfig};
use crate::shard::{self, Shard};
use http::UpstreamError;
use values::Warnings;

/// A backed-up machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Device {
    pub name: String,
    pub id: String,
    /// Descriptive labels for `backup_device_info`, in the family's declared label order.
    pub info: Vec<(&'static str, String)>,
    /// Connected to its backup service now (unknown: absent).
    pub connected: Option<bool>,
    /// When it last checked in with its backup service.
    pub last_connected: Option<f64>,
    /// How long it may go without checking in while not connected (seconds; `+Inf`: no
    /// backup is due, so no time is too long), where its backup schedules say. `None`: the
    /// rules' one day.
    pub offline_threshold: Option<f64>,
}

/// The state of one device's backup to one target (destination).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupTarget {
    pub device: String,
    pub device_id: String,
    pub target: String,
    pub last_success: Option<f64>,
    pub last_activity: Option<f64>,
    pub last_connected: Option<f64>,
    pub selected_bytes: Option<f64>,
    pub selected_files: Option<f64>,
    pub todo_bytes: Option<f64>,
    pub todo_files: Option<f64>,
    pub archive_bytes: Option<f64>,
    pub completion_ratio: Option<f64>,
    /// The vendor alert states that hold now (empty: no alert state known).
    pub alert_states: Vec<String>,
    /// The states that always get a 0/1 series.
    pub known_alert_states: &'static [&'static str],
    /// The latest finished run failed (`Some(false)`: it succeeded; `None`: no run known).
    pub last_run_failed: Option<bool>,
    /// Since when the vendor knows the target (its creation time). Without it, the exporter
    /// counts from when it first read the target: `crate::stale::annotate` fills that in.
    pub first_seen: Option<f64>,
    /// The stale threshold in seconds (`None`: none), set by `crate::stale::annotate`.
    pub stale_threshold: Option<f64>,
    /// Errors the latest finished run reported, where the vendor counts them (Rackspace).
    pub last_run_errors: Option<f64>,
    /// The vendor says the target is not expected to back up now (archive hold, inactive
    /// configuration, disabled agent, blocked or deactivated device, manual-only schedule):
    /// it gets no stale threshold, so staleness alerts leave it alone.
    pub paused: bool,
    /// The longest wait between two scheduled runs in seconds, where the vendor says: the
    /// interval of an interval schedule, the longest gap of a cron-like one (a weekly schedule
    /// must not look stale after three days).
    pub schedule_period: Option<f64>,
}

/// A backup store: a CrashPlan PRO mount point or a Code42 store point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Store {
    pub name: String,
    pub id: String,
    pub free_bytes: Option<f64>,
    pub free_ratio: Option<f64>,
}

/// One successful refresh of a source.
#[derive(Debug)]
pub struct Snapshot {
    pub devices: Vec<Device>,
    pub targets: Vec<BackupTarget>,
    /// The backup stores the source reports (empty where the system has none to report).
    pub stores: Vec<Store>,
    /// Every data family of the source, neutral and vendor, ready to assemble.
    pub metrics: MetricSet,
    /// Values that could not be read (left absent).
    pub warnings: Warnings,
    /// Calls for single items (one agent's details, one report) that failed in this refresh:
    /// their items keep their last known values, everything else is fresh.
    pub errors: Vec<UpstreamError>,
}

impl Snapshot {
    /// Builds the snapshot: renders the neutral records into `metrics` (which already holds
    /// the vendor families). Pieces compressed beside the mapping are taken back.
    pub fn new(
        devices: Vec<Device>,
        targets: Vec<BackupTarget>,
        mut metrics: MetricSet,
        warnings: Warnings,
    ) -> Snapshot {
        render_neutral(&mut metrics, &devices, &targets);
        metrics.settle();
        Snapshot {
            devices,
            targets,
            stores: Vec::new(),
            metrics,
            warnings,
            errors: Vec::new(),
        }
    }

    /// The snapshot of records whose neutral families `metrics` already holds: a mapping that
    /// wrote them as it went ([`render_target`] for each target, [`render_devices`]). Pieces
    /// compressed beside the mapping are taken back.
    pub fn rendered(
        devices: Vec<Device>,
        targets: Vec<BackupTarget>,
        mut metrics: MetricSet,
        warnings: Warnings,
    ) -> Snapshot {
        metrics.settle();
        Snapshot {
            devices,
            targets,
            stores: Vec::new(),
            metrics,
            warnings,
            errors: Vec::new(),
        }
    }

    /// The snapshot, with the backup stores of the source.
    pub fn with_stores(mut self, stores: Vec<Store>) -> Snapshot {
        self.stores = stores;
        self
    }

    /// The snapshot, with the item calls that failed (see [`Snapshot::errors`]).
    pub fn with_errors(mut self, errors: Vec<UpstreamError>) -> Snapshot {
        self.errors = errors;
        self
    }

    /// Keeps the devices and targets of `shard` (by their `device_id`, as the exposition
    /// does) and, on shard 0 only, the stores (fleet-wide). The metrics were written for the
    /// shard already, by the source's exposure.
    pub fn keep_shard(&mut self, source: &str, shard: Shard) {
        if !shard.is_sharded() {
            return;
        }
        let source = shard::source_hash(source);
        let owns = |device_id: &str| shard.owns(source, shard::device_hash(device_id));
        self.devices.retain(|d| owns(&d.id));
        self.targets.retain(|t| owns(&t.device_id));
        // Kept until the next refresh: without the room of the other shards' records (at 20 000
        // devices with two targets each, 15 MB for all of them).
        self.devices.shrink_to_fit();
        self.targets.shrink_to_fit();
        if !shard.writes_fleet_wide() {
            self.stores.clear();
        }
    }
}

/// Runs a source's mapping on a blocking thread, given the source's name and exposure as an
/// [`Origin`]: a large fleet's mapping (hundreds of milliseconds at 20 000 devices) would
/// otherwise hold one of the runtime's workers, which also serve the scrapes.
pub async fn map_blocking<T: Send + 'static>(
    origin: Origin<'_>,
    map: impl FnOnce(Origin<'_>) -> T + Send + 'static,
) -> Result<T, UpstreamError> {
    let (source, exposure) = (origin.source.to_owned(), origin.exposure.clone());
    tokio::task::spawn_blocking(move || {
        map(Origin {
            source: &source,
            exposure: &exposure,
        })
    })
    .await
    .map_err(|e| UpstreamError::Internal(format!("mapping: {e}")))
}

/// Writes the vendor-neutral families of devices and targets (a large fleet on every core:
/// [`MetricSet::write_runs`]).
pub fn render_neutral(set: &mut MetricSet, devices: &[Device], targets: &[BackupTarget]) {
    render_devices(set, devices);
    set.write_runs(targets, |set, run| {
        if let Some(first) = run.first() {
            reserve_targets(set, run.len(), first);
        }
        let mut labels = Labels::default();
        for t in run {
            set_target_labels(&mut labels, t);
            render_target(set, &labels, t);
        }
    });
}

/// Writes the vendor-neutral families of devices (a large fleet on every core:
/// [`MetricSet::write_runs`]).
pub fn render_devices(set: &mut MetricSet, devices: &[Device]) {
    set.write_runs(devices, |set, run| {
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(12);
        for d in run {
            labels.clear();
            labels.push(("device", &d.name));
            labels.push(("device_id", &d.id));
            labels.extend(d.info.iter().map(|(k, v)| (*k, v.as_str())));
            set.add(&m::DEVICE_INFO, &labels, 1.0);
            if d.connected.is_some() || d.last_connected.is_some() {
                let l = &labels[..2];
                if let Some(c) = d.connected {
                    set.add(&m::DEVICE_CONNECTED, l, f64::from(u8::from(c)));
                }
                if let Some(t) = d.last_connected {
                    set.add(&m::DEVICE_LAST_CONNECTED, l, t);
                }
            }
            if let Some(t) = d.offline_threshold {
                set.add(&m::DEVICE_OFFLINE_THRESHOLD, &labels[..2], t);
            }
        }
    });
}

/// Reserves room for the vendor-neutral families of about `targets` targets labelled like
/// `like`: families written for every target grow once, not by doubling.
pub fn reserve_targets(set: &mut MetricSet, targets: usize, like: &BackupTarget) {
    let label_bytes = 40 + like.device.len() + like.device_id.len() + like.target.len();
    for desc in [
        &m::LAST_SUCCESS,
        &m::LAST_ACTIVITY,
        &m::LAST_CONNECTED,
        &m::SELECTED_BYTES,
        &m::SELECTED_FILES,
        &m::TODO_BYTES,
        &m::TODO_FILES,
        &m::ARCHIVE_BYTES,
        &m::COMPLETION_RATIO,
    ] {
        set.reserve(desc, targets, label_bytes);
    }
}

/// Makes `labels` the labels of every family of a target, escaped once (reusing the buffer).
pub fn set_target_labels(labels: &mut Labels, t: &BackupTarget) {
    labels.set(&[
        ("device", &t.device),
        ("device_id", &t.device_id),
        ("target", &t.target),
    ]);
}

/// Writes the vendor-neutral families of one target, labelled `labels` ([`set_target_labels`]:
/// a mapping that wrote the vendor's families of the target with them passes them on).
pub fn render_target(set: &mut MetricSet, labels: &Labels, t: &BackupTarget) {
    for (desc, value) in [
        (&m::LAST_SUCCESS, t.last_success),
        (&m::LAST_ACTIVITY, t.last_activity),
        (&m::LAST_CONNECTED, t.last_connected),
        (&m::SELECTED_BYTES, t.selected_bytes),
        (&m::SELECTED_FILES, t.selected_files),
        (&m::TODO_BYTES, t.todo_bytes),
        (&m::TODO_FILES, t.todo_files),
        (&m::ARCHIVE_BYTES, t.archive_bytes),
        (&m::COMPLETION_RATIO, t.completion_ratio),
        (
            &m::LAST_RUN_FAILED,
            t.last_run_failed.map(|f| f64::from(u8::from(f))),
        ),
    ] {
        if let Some(v) = value {
            set.add_labels(desc, labels, v);
        }
    }
    if !t.alert_states.is_empty() {
        let active: Vec<&str> = t.alert_states.iter().map(String::as_str).collect();
        set.add_states_labels(&m::ALERT_STATE, labels, t.known_alert_states, &active);
    }
}

/// A configured source, ready to refresh.
pub trait Source: Send {
    /// Reads the vendor API once. Either every list call succeeded, or the refresh fails: a
    /// partial list never replaces a complete snapshot. Calls for single items may fail
    /// alone; the snapshot says which ([`Snapshot::errors`]) and serves what is known of them.
    fn collect(&mut self) -> BoxFuture<'_, Result<Snapshot, UpstreamError>>;
}

/// A backup system the exporter reads: everything the core asks of a vendor. Each vendor
/// folder implements it once, through [`VendorSpec`]; [`registry::VENDORS`] lists them.
pub trait Vendor: Sync {
    /// The `kind` of its `[[source]]` tables, also the `system` label of the neutral families.
    fn kind(&self) -> &'static str;
    /// Its own metric families (the neutral ones are `crate::metrics`).
    fn families(&self) -> &'static [&'static Desc];
    /// The vendor-neutral families it fills (for the series estimate; its mapping tests
    /// check it writes no other).
    fn neutral_families(&self) -> &'static [&'static Desc];
    /// Its last successes are learned by the exporter (from what it saw), not reported by the
    /// vendor: a later one is never replaced by an earlier one, after a restart included
    /// (`crate::stale::Memory`).
    fn last_success_learned(&self) -> bool;
    /// The keys of its section (beyond the keys every kind takes).
    fn section_keys(&self) -> &'static [&'static str];
    /// The keys of its section whose values are secrets (never shown in an error).
    fn secret_keys(&self) -> &'static [&'static str];
    /// Reads and checks its section of a `[[source]]` table.
    fn section(
        &self,
        keys: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<dyn Section>, KeyError>;
    /// Builds a source from a configuration of its kind.
    fn build(
        &self,
        cfg: &SourceConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError>;
    /// Starts its simulated server with the demo fleet, on loopback.
    fn demo(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>>;
}

/// A vendor's simulated server running for the demo.
pub trait Demo: Send + Sync {
    /// The `[[source]]` table that reads it (TOML, without `refresh_interval` and `timeout`,
    /// which the demo sets for every source).
    fn source(&self) -> String;
    /// What runs where, for the demo's banner: (`simulated Code42 console`, its URL and user).
    fn banner(&self) -> (&'static str, String);
    /// Stops the server.
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// What a vendor folder writes to become a [`Vendor`]: its section type and the few facts and
/// constructors the core needs; the reading of config sections is shared.
pub trait VendorSpec: Sync {
    /// Its keys beyond the common ones (unknown keys refused: `deny_unknown_fields`).
    type Section: Section + serde::de::DeserializeOwned;
    /// See [`Vendor::kind`].
    const KIND: &'static str;
    /// See [`Vendor::secret_keys`].
    const SECRET_KEYS: &'static [&'static str];
    /// See [`Vendor::families`].
    fn families() -> &'static [&'static Desc];
    /// See [`Vendor::neutral_families`].
    const NEUTRAL_FAMILIES: &'static [&'static Desc];
    /// See [`Vendor::last_success_learned`].
    const LAST_SUCCESS_LEARNED: bool = false;
    /// The section's rules beyond its keys' types (required and refused keys, ranges, secret
    /// files read).
    fn check(section: &mut Self::Section) -> Result<(), KeyError>;
    /// Builds the source.
    fn build(
        cfg: &SourceConfig,
        section: &Self::Section,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError>;
    /// See [`Vendor::demo`].
    fn demo(
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>>;
}

impl<V: VendorSpec> Vendor for V {
    fn kind(&self) -> &'static str {
        V::KIND
    }
    fn families(&self) -> &'static [&'static Desc] {
        V::families()
    }
    fn neutral_families(&self) -> &'static [&'static Desc] {
        V::NEUTRAL_FAMILIES
    }
    fn last_success_learned(&self) -> bool {
        V::LAST_SUCCESS_LEARNED
    }
    fn section_keys(&self) -> &'static [&'static str] {
        serde_aux::serde_introspection::serde_introspect::<V::Section>()
    }
    fn secret_keys(&self) -> &'static [&'static str] {
        V::SECRET_KEYS
    }
    fn section(
        &self,
        keys: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Arc<dyn Section>, KeyError> {
        let mut section: V::Section =
            serde_path_to_error::deserialize(serde_json::Value::Object(keys)).map_err(|e| {
                crate::settings::serde_key_error(e, &format!("kind {:?}", V::KIND), V::SECRET_KEYS)
            })?;
        V::check(&mut section)?;
        Ok(Arc::new(section))
    }
    fn build(
        &self,
        cfg: &SourceConfig,
        metrics: Arc<SelfMetrics>,
    ) -> Result<Box<dyn Source>, UpstreamError> {
        let section = cfg.section::<V::Section>().ok_or_else(|| {
            UpstreamError::Config(format!(
                "source {:?} is not of kind {:?}",
                cfg.name,
                V::KIND
            ))
        })?;
        V::build(cfg, section, metrics)
    }
    fn demo(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> BoxFuture<'static, Result<Box<dyn Demo>, String>> {
        V::demo(now)
    }
}

/// Optional calls of a source whose absence was already logged (logged once per call).
#[derive(Debug, Default)]
pub struct OptionalCalls {
    logged: HashSet<&'static str>,
}

impl OptionalCalls {
    /// [`optional`], logging the first time `what` turns out unavailable.
    pub fn take<T>(
        &mut self,
        source: &str,
        what: &'static str,
        result: Result<T, UpstreamError>,
    ) -> Result<Option<T>, UpstreamError> {
        let logged = &mut self.logged;
        optional(result, |e| {
            if logged.insert(what) {
                tracing::info!(source = %source, endpoint = what, error = %e, "optional call unavailable; its metrics are left out");
            }
        })
    }
}

/// The result of an optional call: 403 and 404 (an account that may not read it, a server
/// without it) make it absent, told to `absent`, instead of failing the refresh.
pub fn optional<T>(
    result: Result<T, UpstreamError>,
    absent: impl FnOnce(&UpstreamError),
) -> Result<Option<T>, UpstreamError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_unavailable() => {
            absent(&e);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutral_families_skip_unknown_values() {
        let mut set = MetricSet::new("crashplan", "hq");
        let t = BackupTarget {
            device: "d".into(),
            device_id: "343195742699662015".into(),
            target: "t".into(),
            last_activity: Some(1.5),
            alert_states: vec!["WARN".into()],
            known_alert_states: &["OK", "WARN"],
            ..Default::default()
        };
        render_neutral(&mut set, &[], &[t]);
        let mut out = String::new();
        crate::exposition::assemble(&mut out, &[&set]);
        assert!(out.contains("backup_last_activity_timestamp_seconds{system=\"crashplan\",source=\"hq\",device=\"d\",device_id=\"343195742699662015\",target=\"t\"} 1.5\n"));
        assert!(!out.contains("state=\"OK\"}"));
        assert!(out.contains("state=\"WARN\"} 1\n"));
        assert!(!out.contains("backup_last_success_timestamp_seconds{"));
        assert!(!out.contains("backup_selected_bytes{"));
    }

    #[test]
    fn a_shard_keeps_its_devices_and_targets_and_shard_0_the_stores() {
        let snapshot = || {
            let ids: Vec<String> = (0..30).map(|i| format!("id-{i}")).collect();
            Snapshot::new(
                ids.iter()
                    .map(|id| Device {
                        name: format!("d-{id}"),
                        id: id.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ids.iter()
                    .flat_map(|id| {
                        ["a", "b"].map(|target| BackupTarget {
                            device: format!("d-{id}"),
                            device_id: id.clone(),
                            target: target.into(),
                            ..Default::default()
                        })
                    })
                    .collect(),
                MetricSet::default(),
                Warnings::default(),
            )
            .with_stores(vec![Store::default()])
        };
        let mut one = snapshot();
        one.keep_shard("hq", Shard::ONE);
        assert_eq!(
            (one.devices.len(), one.targets.len(), one.stores.len()),
            (30, 60, 1)
        );
        let (mut devices, mut targets, mut stores) = (Vec::new(), Vec::new(), 0);
        for i in 0..3 {
            let shard = Shard::new(i, 3).unwrap();
            let mut s = snapshot();
            s.keep_shard("hq", shard);
            assert!(s.devices.len() < 20, "{shard}: {}", s.devices.len());
            for t in &s.targets {
                assert!(s.devices.iter().any(|d| d.id == t.device_id), "{shard}");
                assert!(shard.owns_device("hq", &t.device_id));
            }
            stores += s.stores.len();
            assert_eq!(s.stores.is_empty(), i != 0);
            devices.extend(s.devices);
            targets.extend(s.targets);
        }
        assert_eq!(stores, 1);
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        let mut all = snapshot().devices;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(devices, all);
        assert_eq!(targets.len(), 60);
    }

    #[test]
    fn optional_calls() {
        let forbidden: Result<u8, _> = Err(UpstreamError::Forbidden {
            endpoint: "serverStats",
            path: "/rest/serverStats".into(),
        });
        let mut told = None;
        assert!(matches!(
            optional(forbidden, |e| told = Some(e.reason())),
            Ok(None)
        ));
        assert_eq!(told, Some("forbidden"));
        let down: Result<u8, _> = Err(UpstreamError::Status {
            endpoint: "serverStats",
            status: 500,
            detail: String::new(),
        });
        assert!(optional(down, |_| panic!("not absent")).is_err());
        assert!(matches!(
            optional(Ok::<u8, UpstreamError>(1), |_| ()),
            Ok(Some(1))
        ));
    }
}
