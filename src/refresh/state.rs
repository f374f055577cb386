//! What is known of each source: its last refresh, its last good snapshot, and where each of
//! that snapshot's devices is.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::progress::Progress;
use crate::sources::{BackupTarget, Device, Snapshot};
use crate::stale::{FirstSeen, StalePolicy};

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
    pub(super) first_seen: Mutex<FirstSeen>,
    pub(super) state: Mutex<SourceState>,
    /// Its refresh in flight, as far as it has read (its HTTP client writes it).
    pub progress: Arc<Progress>,
}

/// How often a first refresh that takes long logs how far it has read.
pub const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

impl SourceEntry {
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

/// Where each device of a snapshot is: its record and its backups, by device id. Built once
/// per refresh, so the device page looks a device up without scanning the fleet.
#[derive(Debug, Default)]
pub struct DeviceIndex {
    by_id: HashMap<String, DeviceRows>,
}

#[derive(Debug, Default)]
struct DeviceRows {
    device: Option<usize>,
    targets: Vec<usize>,
}

impl DeviceIndex {
    pub fn new(snapshot: &Snapshot) -> DeviceIndex {
        let mut by_id: HashMap<String, DeviceRows> = HashMap::with_capacity(snapshot.devices.len());
        for (i, d) in snapshot.devices.iter().enumerate() {
            by_id
                .entry(d.id.clone())
                .or_default()
                .device
                .get_or_insert(i);
        }
        for (i, t) in snapshot.targets.iter().enumerate() {
            match by_id.get_mut(t.device_id.as_str()) {
                Some(rows) => rows.targets.push(i),
                None => {
                    by_id.insert(
                        t.device_id.clone(),
                        DeviceRows {
                            device: None,
                            targets: vec![i],
                        },
                    );
                }
            }
        }
        DeviceIndex { by_id }
    }

    /// The device with `id` in `snapshot` (the one this index was built from) and its backups.
    pub fn get<'a>(
        &self,
        snapshot: &'a Snapshot,
        id: &str,
    ) -> Option<(Option<&'a Device>, Vec<&'a BackupTarget>)> {
        let rows = self.by_id.get(id)?;
        Some((
            rows.device.and_then(|i| snapshot.devices.get(i)),
            rows.targets
                .iter()
                .filter_map(|&i| snapshot.targets.get(i))
                .collect(),
        ))
    }
}
