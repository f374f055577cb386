//! The one list of vendors. Every other list (kinds, `system` values, families, the demo's
//! sources, the documentation's checks) is derived from it: adding a vendor is its folder and
//! one line here.

use super::Vendor;
use crate::exposition::Desc;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::Scope;
    use std::collections::HashSet;

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
