//! Sharding across replicas, as kube-state-metrics does it: `total_shards` exporters read the
//! same sources, and each writes the devices of its own hash partition. Every series of a
//! device (its `device_id` label value) is written by exactly one shard; the families without
//! a `device_id` label (fleet-wide: orgs, stores, mount points, servers, sessions) by shard 0
//! only.
//!
//! The partition must never move between versions, platforms or restarts (a device changing
//! shards makes its series end on one replica and start on another): the key of a device is
//! XXH3-64 (the xxHash specification, stable since xxHash 0.8; the `xxhash-rust` crate), of the
//! raw label values, never of escaped text:
//!
//! ```text
//! key   = xxh3_64( le_bytes(xxh3_64(source name)) ++ le_bytes(xxh3_64(device_id)) )
//! shard = key mod total_shards
//! ```
//!
//! The device's half is computed once per label set (`crate::exposition::Labels`), the
//! source's once per source. This module imports nothing of the project.

use std::fmt;

use xxhash_rust::xxh3::xxh3_64;

/// The label whose value decides a series' shard.
pub const DEVICE_ID: &str = "device_id";

/// Which shard this exporter is, of how many: `0 of 1` (the default) writes everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    total: u32,
}

impl Default for Shard {
    fn default() -> Shard {
        Shard::ONE
    }
}

impl Shard {
    /// No partition: one shard writes everything.
    pub const ONE: Shard = Shard { index: 0, total: 1 };

    /// Shard `index` of `total` (`None` unless `index < total`).
    pub fn new(index: u32, total: u32) -> Option<Shard> {
        (index < total).then_some(Shard { index, total })
    }

    /// The ordinal, 0 to `total() - 1`.
    pub fn index(self) -> u32 {
        self.index
    }

    pub fn total(self) -> u32 {
        self.total
    }

    /// More than one shard: devices are partitioned.
    pub fn is_sharded(self) -> bool {
        self.total > 1
    }

    /// Writes the families without a `device_id` label (shard 0).
    pub fn writes_fleet_wide(self) -> bool {
        self.index == 0
    }

    /// Whether the device whose key halves are `source` and `device` is this shard's.
    pub fn owns(self, source: u64, device: u64) -> bool {
        self.total <= 1 || key(source, device) % u64::from(self.total) == u64::from(self.index)
    }

    /// Whether the device `device_id` of source `source_name` is this shard's.
    pub fn owns_device(self, source_name: &str, device_id: &str) -> bool {
        self.owns(source_hash(source_name), device_hash(device_id))
    }

    /// The shard, of as many as this one's, that the device `device_id` of `source_name` is.
    pub fn of_device(self, source_name: &str, device_id: &str) -> Shard {
        let total = self.total.max(1);
        let key = key(source_hash(source_name), device_hash(device_id));
        Shard {
            index: (key % u64::from(total)) as u32,
            total,
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} of {}", self.index, self.total)
    }
}

/// The source's half of a device's key: its configured name, as the `source` label holds it.
pub fn source_hash(source_name: &str) -> u64 {
    xxh3_64(source_name.as_bytes())
}

/// The device's half of its key: the raw `device_id` label value.
pub fn device_hash(device_id: &str) -> u64 {
    xxh3_64(device_id.as_bytes())
}

/// A device's key, of its two halves.
pub fn key(source: u64, device: u64) -> u64 {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&source.to_le_bytes());
    bytes[8..].copy_from_slice(&device.to_le_bytes());
    xxh3_64(&bytes)
}

/// The ordinal of a StatefulSet pod: the trailing `-<n>` of its name (`backup-exporter-2`: 2).
pub fn ordinal_of(pod_name: &str) -> Option<u32> {
    let (prefix, digits) = pod_name.rsplit_once('-')?;
    if prefix.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A pod's name, and where it was read (`POD_NAME`, the hostname).
pub type PodName = (String, &'static str);

/// Where the pod's name is read for `shard = "auto"`: `POD_NAME` (the downward API's
/// `metadata.name`), else the hostname (a StatefulSet pod's hostname is its name; only its
/// first DNS label counts). With the name, where it came from.
pub fn pod_name() -> Option<PodName> {
    let pod = std::env::var("POD_NAME").ok().map(|n| n.trim().to_owned());
    if let Some(name) = pod.filter(|n| !n.is_empty()) {
        return Some((name, "POD_NAME"));
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .and_then(|h| h.trim().split('.').next().map(str::to_owned))
        .filter(|h| !h.is_empty())
        .map(|h| (h, "the hostname"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned: a change of algorithm (or of how the halves combine) moves devices between
    /// shards, and must fail here. The hashes agree with the reference implementation
    /// (libxxhash 0.8.1's `XXH3_64bits`).
    #[test]
    fn keys_are_stable() {
        assert_eq!(device_hash(""), 0x2d06_8005_38d3_94c2);
        assert_eq!(device_hash("343195742699662015"), 0xeb03_f2dd_b51d_3d93);
        assert_eq!(source_hash("hq"), 0xba33_3f6b_a7b0_c744);
        assert_eq!(
            key(source_hash("hq"), device_hash("343195742699662015")),
            0x5b98_1c3f_4809_f4af
        );
        assert_eq!(
            key(source_hash("legacy"), device_hash("4")),
            0x55d8_2b5b_3f2d_b7f7
        );
    }

    #[test]
    fn the_shards_of_a_few_devices_are_pinned() {
        let shards = |total: u32| -> Vec<u32> {
            ["343195742699662015", "4", "a1b2c3", "proj_laptop-07", ""]
                .iter()
                .map(|id| {
                    (0..total)
                        .find(|&i| Shard::new(i, total).unwrap().owns_device("hq", id))
                        .unwrap()
                })
                .collect()
        };
        assert_eq!(shards(1), [0, 0, 0, 0, 0]);
        assert_eq!(shards(2), [1, 0, 1, 0, 1]);
        assert_eq!(shards(3), [0, 0, 1, 1, 2]);
    }

    #[test]
    fn every_device_has_exactly_one_shard_and_they_spread() {
        for total in 1..=5u32 {
            let mut counts = vec![0u32; total as usize];
            for i in 0..3000 {
                let id = format!("device-{i}");
                let owners: Vec<u32> = (0..total)
                    .filter(|&s| Shard::new(s, total).unwrap().owns_device("hq", &id))
                    .collect();
                assert_eq!(owners.len(), 1, "{id} of {total}: {owners:?}");
                counts[owners[0] as usize] += 1;
            }
            let even = 3000 / total;
            for c in counts {
                assert!(c.abs_diff(even) < even / 5, "{total}: {c} of ~{even}");
            }
        }
    }

    #[test]
    fn the_source_takes_part_in_the_key() {
        let moved = (0..200)
            .map(|i| format!("{i}"))
            .filter(|id| {
                let s = Shard::new(0, 2).unwrap();
                s.owns_device("hq", id) != s.owns_device("branch", id)
            })
            .count();
        assert!((50..150).contains(&moved), "{moved}");
    }

    #[test]
    fn shards_are_below_the_total() {
        assert_eq!(Shard::new(0, 0), None);
        assert_eq!(Shard::new(3, 3), None);
        let s = Shard::new(2, 3).unwrap();
        assert_eq!((s.index(), s.total()), (2, 3));
        assert_eq!(s.to_string(), "shard 2 of 3");
        assert!(s.is_sharded() && !s.writes_fleet_wide());
        assert!(!Shard::default().is_sharded() && Shard::ONE.writes_fleet_wide());
        assert!(Shard::ONE.owns(1, 2));
        assert_eq!(s.of_device("hq", "a1b2c3"), Shard::new(1, 3).unwrap());
        assert_eq!(Shard::ONE.of_device("hq", "a1b2c3"), Shard::ONE);
    }

    #[test]
    fn the_ordinal_is_the_trailing_number_of_the_pod_name() {
        for (name, want) in [
            ("backup-exporter-0", Some(0)),
            ("backup-exporter-12", Some(12)),
            ("web-2", Some(2)),
            ("backup-exporter", None),
            ("backup-exporter-", None),
            ("backup-exporter-2a", None),
            ("backup-exporter-+2", None),
            ("-3", None),
            ("3", None),
            ("", None),
            ("backup-exporter-99999999999", None),
            ("backup-exporter-7d9f8b-x2kq4", None),
        ] {
            assert_eq!(ordinal_of(name), want, "{name:?}");
        }
    }
}
