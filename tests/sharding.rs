//! Sharding across replicas: every vendor's demo fleet, exported by 1, 2 and 3 shards. The
//! shards' data series together are exactly the unsharded exposition's, no series is on two
//! shards, and the same holds for what the snapshots keep: the devices (the status page's),
//! the stores (shard 0's) and the alerts the bridge would send.

mod common;

use std::collections::BTreeMap;
use std::time::SystemTime;

use backup_exporter::alerting::rules::Evaluator;
use backup_exporter::app;
use backup_exporter::config::Config;
use backup_exporter::refresh::{unix, Exporter, Outcome};
use common::data_lines;

/// What one exporter holds after one refresh of every source.
struct Export {
    /// Data lines, with the times the exporter took from its own clock written as `NOW`.
    lines: Vec<String>,
    /// `source/device_id` of the snapshots' devices, and of their targets.
    devices: Vec<String>,
    targets: Vec<String>,
    stores: usize,
    /// The label sets of the alerts the rules raise.
    alerts: Vec<String>,
    text: String,
}

async fn export(sources: &str, shard: u32, total: u32, now: f64) -> Export {
    let config = Config::from_toml_str(&format!(
        "shard = {shard}\ntotal_shards = {total}\n{sources}"
    ))
    .unwrap();
    let (exporter, sources) = Exporter::new(&config).unwrap();
    let runs = sources.into_iter().enumerate().map(|(i, mut s)| {
        let exporter = exporter.clone();
        async move { exporter.refresh(i, &mut s).await }
    });
    for outcome in futures_util::future::join_all(runs).await {
        assert!(matches!(outcome, Outcome::Ok), "{outcome:?}");
    }
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    let lines = data_lines(&text)
        .into_iter()
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            match value.parse::<f64>() {
                Ok(v) if (v - now).abs() < 600.0 => format!("{series} NOW"),
                _ => l.to_owned(),
            }
        })
        .collect();
    let (mut devices, mut targets, mut stores) = (Vec::new(), Vec::new(), 0);
    for entry in exporter.sources().iter() {
        let snapshot = entry.state().snapshot.expect("a snapshot");
        devices.extend(
            snapshot
                .devices
                .iter()
                .map(|d| format!("{}/{}", entry.name, d.id)),
        );
        targets.extend(
            snapshot
                .targets
                .iter()
                .map(|t| format!("{}/{}/{}", entry.name, t.device_id, t.target)),
        );
        stores += snapshot.stores.len();
    }
    exporter.evaluate_alerts(&mut Evaluator::default(), now);
    let alerts = exporter.with_alerts(|t| t.alerts().map(|a| format!("{:?}", a.labels)).collect());
    Export {
        lines,
        devices,
        targets,
        stores,
        alerts,
        text,
    }
}

/// Each item of the shards' lists is on exactly one shard, and together they are `whole`.
fn partition(what: &str, total: u32, whole: &[String], shards: &[&[String]]) {
    let mut owner: BTreeMap<&String, usize> = BTreeMap::new();
    for (i, items) in shards.iter().enumerate() {
        for item in items.iter() {
            if let Some(other) = owner.insert(item, i) {
                panic!("{what} of {total} shards: {item} on shard {other} and shard {i}");
            }
        }
    }
    let mut union: Vec<&String> = owner.into_keys().collect();
    let mut whole: Vec<&String> = whole.iter().collect();
    union.sort();
    whole.sort();
    let missing: Vec<&&String> = whole.iter().filter(|w| !union.contains(w)).collect();
    let extra: Vec<&&String> = union.iter().filter(|u| !whole.contains(u)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && union.len() == whole.len(),
        "{what} of {total} shards: missing {missing:#?}\nnot in the unsharded export {extra:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_partition_the_demo_fleets_exactly() {
    let (servers, sources) = app::start_demo_servers().await.unwrap();
    let now = unix(SystemTime::now());
    let whole = export(&sources, 0, 1, now).await;
    assert!(whole.text.contains("\nbackup_exporter_shard_ordinal 0\n"));
    assert!(whole.text.contains("\nbackup_exporter_total_shards 1\n"));
    assert!(whole.stores > 0 && !whole.alerts.is_empty());
    assert!(whole.lines.iter().any(|l| !l.contains("device_id=\"")));
    for total in 1..=3 {
        let mut shards = Vec::new();
        for shard in 0..total {
            let e = export(&sources, shard, total, now).await;
            assert!(
                e.text
                    .contains(&format!("\nbackup_exporter_shard_ordinal {shard}\n")),
                "{shard} of {total}"
            );
            assert!(e
                .text
                .contains(&format!("\nbackup_exporter_total_shards {total}\n")));
            if shard > 0 {
                // The fleet-wide families (no device_id) are shard 0's.
                let fleet_wide: Vec<&String> = e
                    .lines
                    .iter()
                    .filter(|l| !l.contains("device_id=\""))
                    .collect();
                assert!(fleet_wide.is_empty(), "shard {shard}: {fleet_wide:#?}");
                assert_eq!(e.stores, 0);
            }
            if total > 1 {
                assert!(
                    e.devices.len() < whole.devices.len() * 3 / 4,
                    "shard {shard} of {total}: {} of {} devices",
                    e.devices.len(),
                    whole.devices.len()
                );
            }
            shards.push(e);
        }
        let of = |f: fn(&Export) -> &[String]| -> Vec<&[String]> { shards.iter().map(f).collect() };
        partition("data series", total, &whole.lines, &of(|e| &e.lines));
        partition("devices", total, &whole.devices, &of(|e| &e.devices));
        partition("targets", total, &whole.targets, &of(|e| &e.targets));
        partition("alerts", total, &whole.alerts, &of(|e| &e.alerts));
        assert_eq!(shards[0].stores, whole.stores);
    }
    for server in servers {
        server.shutdown().await;
    }
}
