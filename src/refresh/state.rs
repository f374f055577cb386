//! What is known of each source: its last refresh, its last good snapshot, and where each of
//! that snapshot's devices is.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::config::SourceConfig;
use crate::progress::Progress;
use crate::selfmetrics::SelfMetrics;
use crate::sources::{BackupTarget, Device, Snapshot};
use crate::stale::{Memory, StalePolicy};

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
    pub devices: Option<Arc<DeviceIndex>>,
}

/// A configured source as the rest of the program sees it.
#[derive(Debug)]
pub struct SourceEntry {
    pub name: String,
    pub system: &'static str,
    pub url: String,
    pub refresh_interval: Duration,
    pub(super) stale: StalePolicy,
    /// What the exporter learned of its targets (first read, last success).
    pub(super) memory: Mutex<Memory>,
    pub(super) state: Mutex<SourceState>,
    /// Its refresh in flight, as far as it has read (its HTTP client writes it).
    pub progress: Arc<Progress>,
    /// The settings it runs with: a reload restarts it when they change.
    pub(super) settings: SourceConfig,
}

/// How often a first refresh that takes long logs how far it has read.
pub const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

impl SourceEntry {
    /// The entry of a source of `settings`, knowing `memory` and `state` so far.
    pub(super) fn new(
        settings: &SourceConfig,
        metrics: &SelfMetrics,
        memory: Memory,
        state: SourceState,
    ) -> SourceEntry {
        SourceEntry {
            name: settings.name.clone(),
            system: settings.kind,
            url: settings.base_url().to_string(),
            refresh_interval: settings.refresh_interval,
            stale: StalePolicy::of(settings),
            memory: Mutex::new(memory),
            state: Mutex::new(state),
            progress: metrics.progress(&settings.name),
            settings: settings.clone(),
        }
    }

    pub fn state(&self) -> SourceState {
        self.state.lock().expect("state lock").clone()
    }

    /// What `/ready` and the status page tell of a refresh in flight: `refreshing: 12 of 40
    /// pages of /api/v1/Computer`; `None` when none is.
    pub fn progress(&self) -> Option<String> {
        self.progress.text()
    }

    /// Awaits `refresh`, logging how far it has read every [`PROGRESS_LOG_EVERY`] (one line
    /// each time; none for a refresh quicker than that).
    pub(super) async fn logging_progress<T>(&self, refresh: impl Future<Output = T>) -> T {
        let mut refresh = std::pin::pin!(refresh);
        let start = tokio::time::Instant::now() + PROGRESS_LOG_EVERY;
        let mut every = tokio::time::interval_at(start, PROGRESS_LOG_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                done = &mut refresh => return done,
                _ = every.tick() => {
                    if let Some(progress) = self.progress() {
                        tracing::info!(
                            source = %self.name,
                            system = self.system,
                            %progress,
                            "first refresh under way"
                        );
                    }
                }
            }
        }
    }
}

/// Where each device of a snapshot is: the positions of its devices and of its targets, each
/// sorted by device id (equal ids in snapshot order). Built once per refresh, so the device
/// page finds a device by binary search without scanning the fleet; positions, not copies of
/// the ids, so it costs 4 bytes per device and per target.
#[derive(Debug, Default)]
pub struct DeviceIndex {
    devices: Vec<u32>,
    targets: Vec<u32>,
}

impl DeviceIndex {
    pub fn new(snapshot: &Snapshot) -> DeviceIndex {
        DeviceIndex {
            devices: sorted_by_id(&snapshot.devices, |d| &d.id),
            targets: sorted_by_id(&snapshot.targets, |t| &t.device_id),
        }
    }

    /// The device with `id` in `snapshot` (the one this index was built from) and its backups.
    pub fn get<'a>(
        &self,
        snapshot: &'a Snapshot,
        id: &str,
    ) -> Option<(Option<&'a Device>, Vec<&'a BackupTarget>)> {
        let (devices, targets) = (&snapshot.devices, &snapshot.targets);
        let device = with_id(&self.devices, |i| devices.get(i).map(|d| d.id.as_str()), id)
            .first()
            .and_then(|&i| devices.get(i as usize));
        let targets: Vec<&BackupTarget> = with_id(
            &self.targets,
            |i| targets.get(i).map(|t| t.device_id.as_str()),
            id,
        )
        .iter()
        .filter_map(|&i| targets.get(i as usize))
        .collect();
        (device.is_some() || !targets.is_empty()).then_some((device, targets))
    }
}

/// The positions of `items`, sorted by the id `id_of` reads (a stable sort: equal ids keep
/// their order).
fn sorted_by_id<T>(items: &[T], id_of: impl Fn(&T) -> &String) -> Vec<u32> {
    let mut order: Vec<u32> = (0..items.len())
        .map_while(|i| u32::try_from(i).ok())
        .collect();
    order.sort_by(|&a, &b| id_of(&items[a as usize]).cmp(id_of(&items[b as usize])));
    order
}

/// The run of `order` (from [`sorted_by_id`]) whose items have the id `id`, as `id_at` reads
/// the id at a position (over other items it finds less, never fails).
fn with_id<'s, 'o>(
    order: &'o [u32],
    id_at: impl Fn(usize) -> Option<&'s str>,
    id: &str,
) -> &'o [u32] {
    let key = |i: &u32| id_at(*i as usize).unwrap_or_default();
    let start = order.partition_point(|i| key(i) < id);
    let len = order[start..].partition_point(|i| key(i) == id);
    &order[start..start + len]
}
