//! The series budget: with the default families, every kind costs at most
//! `registry::SERIES_BUDGET_PER_DEVICE` series per device (docs/performance.md), and what a
//! source really writes stays within the estimate `check-config` prints.
//!
//! Each vendor's demo fleet is read once with the default families and once with every
//! family; series are counted per source from the exposition itself.

mod common;

use std::collections::{BTreeSet, HashMap};

use backup_exporter::app;
use backup_exporter::config::Config;
use backup_exporter::exposition::Exposure;
use backup_exporter::sources::registry;
use common::EVERY_FAMILY;

/// One sample line's family name and labels.
fn parse(line: &str) -> Option<(&str, HashMap<&str, &str>)> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (name, rest) = line.split_once('{')?;
    let (labels, _) = rest.rsplit_once("} ")?;
    let mut map = HashMap::new();
    // Demo label values hold no `",` sequence, so a plain split is exact here.
    for pair in labels.split("\",") {
        let (k, v) = pair.split_once("=\"")?;
        map.insert(k, v.trim_end_matches('"'));
    }
    Some((name, map))
}

/// What one source wrote: its device-level series, devices, device–target pairs, first-seen
/// series, and the neutral families it filled.
#[derive(Default, Debug)]
struct Written {
    device_series: usize,
    devices: BTreeSet<String>,
    pairs: BTreeSet<(String, String)>,
    first_seen: usize,
    neutral: BTreeSet<String>,
}

fn written(text: &str) -> HashMap<String, Written> {
    let mut by_source: HashMap<String, Written> = HashMap::new();
    for (name, labels) in text.lines().filter_map(parse) {
        if name.starts_with("backup_exporter_") {
            continue;
        }
        let Some(source) = labels.get("source") else {
            continue;
        };
        let w = by_source.entry((*source).to_owned()).or_default();
        if name.starts_with("backup_") {
            w.neutral.insert(name.to_owned());
        }
        let Some(id) = labels.get("device_id") else {
            continue; // fleet-wide
        };
        w.device_series += 1;
        w.devices.insert((*id).to_owned());
        if let Some(target) = labels.get("target") {
            w.pairs.insert(((*id).to_owned(), (*target).to_owned()));
        }
        if name == "backup_first_seen_timestamp_seconds" {
            w.first_seen += 1;
        }
    }
    by_source
}

#[tokio::test(flavor = "multi_thread")]
async fn every_demo_source_keeps_the_budget_and_the_estimate() {
    let (_demos, sources) = app::start_demo_servers().await.unwrap();
    let defaults = Config::from_toml_str(&sources).unwrap();
    let everything = Config::from_toml_str(&format!("{EVERY_FAMILY}{sources}")).unwrap();
    let (default_text, ok) = app::once(&defaults).await.unwrap();
    assert!(ok, "{default_text}");
    let (all_text, ok) = app::once(&everything).await.unwrap();
    assert!(ok, "{all_text}");
    let by_default = written(&default_text);
    let by_all = written(&all_text);
    for source in &defaults.sources {
        let vendor = registry::find(source.kind).unwrap();
        let w = &by_default[&source.name];
        let all = &by_all[&source.name];
        assert!(!w.devices.is_empty(), "{}: no devices", source.name);
        let devices = w.devices.len() as f64;
        let pairs_per_device = all.pairs.len() as f64 / devices;
        let per_device = w.device_series as f64 / devices;
        // Targets that never completed a backup cost their first-seen series on top.
        let estimate = registry::series_per_device(vendor, &Exposure::default(), pairs_per_device)
            + w.first_seen as f64 / devices;
        println!(
            "{} ({}): {} devices, {:.2} targets each: {per_device:.2} series per device \
             (estimate {estimate:.2}); every family: {:.2}",
            source.name,
            source.kind,
            w.devices.len(),
            pairs_per_device,
            all.device_series as f64 / devices,
        );
        assert!(
            per_device <= estimate + 1e-9,
            "{}: {per_device} series per device, more than the estimate {estimate}",
            source.name
        );
        assert!(
            all.device_series > w.device_series,
            "{}: the opt-in families add series",
            source.name
        );
        // The estimate knows every neutral family the vendor fills.
        let declared: BTreeSet<String> = vendor
            .neutral_families()
            .iter()
            .map(|d| d.name.to_owned())
            .collect();
        let undeclared: Vec<&String> = all.neutral.difference(&declared).collect();
        assert!(
            undeclared.is_empty(),
            "{}: writes neutral families its vendor does not declare: {undeclared:?}",
            source.kind
        );
    }
    // At the budget's fleet shape, every kind fits.
    for vendor in registry::VENDORS {
        let n = registry::series_per_device(
            *vendor,
            &Exposure::default(),
            registry::TARGETS_PER_DEVICE,
        );
        assert!(
            n <= registry::SERIES_BUDGET_PER_DEVICE,
            "{}: {n}",
            vendor.kind()
        );
    }
}
