//! The one list of vendors. Every other list (kinds, `system` values, families, the demo's
//! sources, the documentation's checks) is derived from it: adding a vendor is its folder and
//! one line here.

use super::Vendor;
use crate::exposition::{Desc, Exposure};

/// Every vendor the exporter reads, in the order the demo starts them.
pub static VENDORS: &[&dyn Vendor] = &[
    &super::crashplan::CrashPlanPro,
    &super::code42::Code42Console,
    &super::rackspace::RackspaceCloudBackup,
    &super::freezer::OpenStackFreezer,
];

/// The vendor of a `kind`.
pub fn find(kind: &str) -> Option<&'static dyn Vendor> {
    VENDORS.iter().copied().find(|v| v.kind() == kind)
}

/// Every kind name, in registry order.
pub fn kinds() -> impl Iterator<Item = &'static str> {
    VENDORS.iter().map(|v| v.kind())
}

/// Every data family: the vendor-neutral ones, then each vendor's (a family two vendors share
/// is listed once).
pub fn families() -> Vec<&'static Desc> {
    let mut all: Vec<&'static Desc> = crate::metrics::ALL.to_vec();
    for v in VENDORS {
        for d in v.families() {
            if !all.iter().any(|seen| std::ptr::eq(*seen, *d)) {
                all.push(d);
            }
        }
    }
    all
}

/// Device–target pairs per device the estimates assume (a fleet where about one device in
/// three backs up to a second destination).
pub const TARGETS_PER_DEVICE: f64 = 1.3;

/// The series a device costs in the default exposition, at most (issue budget; the
/// `series_budget` test holds every kind to it).
pub const SERIES_BUDGET_PER_DEVICE: f64 = 16.0;

/// What one series of a family stands for, read off its labels: a device–target pair
/// (`target`), a device (`device_id`), or the fleet (orgs, stores, servers, sessions: their
/// cost does not grow with the devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Target,
    Device,
    Fleet,
}

impl Per {
    pub fn of(desc: &Desc) -> Per {
        if desc.labels.contains(&"target") {
            Per::Target
        } else if desc.labels.contains(&"device_id") {
            Per::Device
        } else {
            Per::Fleet
        }
    }
}

/// The families a source of `vendor` writes under `exposure`: the neutral families it
/// fills, then its own.
pub fn written(vendor: &dyn Vendor, exposure: &Exposure) -> Vec<&'static Desc> {
    vendor
        .neutral_families()
        .iter()
        .chain(vendor.families())
        .copied()
        .filter(|d| exposure.writes(d))
        .collect()
}

/// Series per device a source of `vendor` writes under `exposure`, for a fleet with
/// `targets_per_device` pairs per device where every target has completed a backup: one
/// series per family and device or pair (state sets write only the state that holds; a
/// first-seen time is written only until a first success), fleet-wide families left out.
pub fn series_per_device(vendor: &dyn Vendor, exposure: &Exposure, targets_per_device: f64) -> f64 {
    written(vendor, exposure)
        .into_iter()
        .filter(|d| !std::ptr::eq(*d, &crate::metrics::FIRST_SEEN))
        .map(|d| match Per::of(d) {
            Per::Target => targets_per_device,
            Per::Device => 1.0,
            Per::Fleet => 0.0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Scope;
    use std::collections::HashSet;

    #[test]
    fn every_kind_keeps_the_series_budget_by_default() {
        let defaults = Exposure::default();
        for v in VENDORS {
            let n = series_per_device(*v, &defaults, TARGETS_PER_DEVICE);
            assert!(
                n <= SERIES_BUDGET_PER_DEVICE,
                "{}: {n} series per device by default",
                v.kind()
            );
            let all = series_per_device(*v, Exposure::everything(), TARGETS_PER_DEVICE);
            assert!(all > n, "{}: opt-in families add series", v.kind());
        }
    }

    #[test]
    fn neutral_families_of_a_vendor_are_neutral() {
        for v in VENDORS {
            for d in v.neutral_families() {
                assert_eq!(d.scope, Scope::Neutral, "{}: {}", v.kind(), d.name);
            }
        }
    }

    #[test]
    fn kinds_are_unique() {
        let kinds: HashSet<&str> = kinds().collect();
        assert_eq!(kinds.len(), VENDORS.len());
    }

    #[test]
    fn family_names_are_unique_and_follow_the_conventions() {
        let mut seen = HashSet::new();
        for d in families() {
            assert!(seen.insert(d.name), "duplicate family {}", d.name);
            match d.scope {
                Scope::Neutral => assert!(d.name.starts_with("backup_"), "{}", d.name),
                Scope::Vendor => assert!(!d.name.starts_with("backup_"), "{}", d.name),
            }
            assert!(!d.name.starts_with("backup_exporter_"), "{}", d.name);
            if d.name.contains("timestamp") {
                assert!(d.name.ends_with("_timestamp_seconds"), "{}", d.name);
            }
            assert!(!d.name.contains("percent"), "{} must be a ratio", d.name);
            assert!(d.help.ends_with('.'), "help of {}", d.name);
            for l in d.labels {
                assert!(
                    !["system", "source"].contains(l),
                    "{} repeats a scope label",
                    d.name
                );
            }
        }
    }

    #[test]
    fn vendor_families_belong_to_their_vendor() {
        for v in VENDORS {
            for d in v.families() {
                assert_eq!(d.scope, Scope::Vendor, "{}", d.name);
            }
        }
    }
}
