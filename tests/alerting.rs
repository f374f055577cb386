//! End to end: the exporter (the release binary's code, run as a process) reads a simulated
//! Code42 console with one stale device among healthy ones; a real Prometheus scrapes it and
//! evaluates the bundled rules (alerts/backup_exporter.rules.yml); a real Alertmanager routes
//! the alerts to a webhook receiver of this test. BackupStale must arrive for the stale device,
//! with its labels and annotations filled in, and nothing may fire (or even pend) for anything
//! healthy. Every process listens on 127.0.0.1 only and is stopped by pid when the test ends.

mod common;

use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{ConsoleConfig, SimServer};
use chrono::Utc;
use common::code42_fleet::{console, HEALTHY, STALE};
use common::stack::*;
use common::webhook::Receiver;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_device_reaches_the_webhook_through_prometheus_and_alertmanager() {
    let now = Utc::now();
    let upstream = SimServer::start(console(now), ConsoleConfig::default())
        .await
        .unwrap();
    let receiver = Receiver::start().await;

    // The exporter, as an operator runs it: the binary with a configuration file.
    let (mut exporter, exporter_addr) = start_exporter(&format!(
        "[[source]]\nname = \"northwind\"\nkind = \"code42\"\nurl = \"{}\"\nusername = \"admin\"\npassword = \"admin\"\nrefresh_interval = \"10s\"\n",
        upstream.url()
    ))
    .await;

    let am = Alertmanager::start(&Alertmanager::webhook_config(&receiver.url)).await;
    let prom = Prometheus::start(
        PrometheusConfig::new()
            .scrape("backup_exporter", &[&exporter_addr])
            .rule_file(repo_path("alerts/backup_exporter.rules.yml"))
            .alertmanager(am.addr()),
    )
    .await;

    let stale: Vec<Value> = wait_until(
        "BackupStale for the stale device at the webhook receiver",
        secs(90),
        || async {
            let hits: Vec<Value> = receiver
                .alerts()
                .into_iter()
                .filter(|a| a["labels"]["alertname"] == "BackupStale")
                .collect();
            if hits.is_empty() {
                Err(format!(
                    "received {:?}; Prometheus alerts {:?}",
                    receiver.alerts(),
                    prom.alerts().await
                ))
            } else {
                Ok(hits)
            }
        },
    )
    .await;

    let alert = &stale[0];
    assert_eq!(alert["status"], "firing", "{alert}");
    let labels = alert["labels"].as_object().unwrap();
    let mut keys: Vec<&str> = labels.keys().map(String::as_str).collect();
    keys.sort_unstable();
    // Exactly the labels the alerting bridge sends too (no instance/job): one alert per
    // device and target whichever path raised it.
    assert_eq!(
        keys,
        [
            "alertname",
            "device",
            "device_id",
            "severity",
            "source",
            "system",
            "target"
        ],
        "{alert}"
    );
    assert_eq!(labels["device"], STALE);
    assert_eq!(labels["device_id"], "904625697166989001");
    assert_eq!(labels["target"], "Code42 Cloud USA West");
    assert_eq!(labels["system"], "code42");
    assert_eq!(labels["source"], "northwind");
    assert_eq!(labels["severity"], "critical");
    let annotations = &alert["annotations"];
    for key in ["summary", "description"] {
        let text = annotations[key].as_str().unwrap_or("");
        assert!(text.contains(STALE), "{key} names the device: {text:?}");
    }
    let description = annotations["description"].as_str().unwrap();
    // humanizeDuration of about five days ("5d 0h 2m 10s").
    assert!(
        description.contains("5d "),
        "age in human form: {description}"
    );
    assert!(
        !description.contains("<no value>") && !description.contains("%!"),
        "template filled in: {description}"
    );
    assert_eq!(
        annotations["runbook_url"],
        "https://github.com/backup-exporter/backup_exporter/blob/main/alerts/RUNBOOK.md#backupstale"
    );

    // Nothing for anything healthy: let the rules run over a few more scrapes, then no alert
    // ever pended or fired for another device, nor any other alert at all.
    prom.wait_for_scrapes("backup_exporter", 8, secs(60)).await;
    // BackupExporterDown pends while Prometheus has not scraped the exporter yet (its `absent`
    // half holds before the first scrape): it must never fire, and not pend once scraped.
    let others = prom
        .query(&format!(
            "count_over_time(ALERTS{{device!=\"{STALE}\",alertname!=\"BackupExporterDown\"}}[1h]) or count_over_time(ALERTS{{alertname!~\"BackupStale|BackupExporterDown\"}}[1h]) or count_over_time(ALERTS{{alertname=\"BackupExporterDown\",alertstate=\"firing\"}}[1h]) or ALERTS{{alertname=\"BackupExporterDown\"}}"
        ))
        .await;
    assert!(
        others.is_empty(),
        "alerts besides the stale device's: {others:?}"
    );
    for a in receiver.alerts() {
        assert_eq!(a["labels"]["device"], STALE, "notified: {a}");
        assert_eq!(a["labels"]["alertname"], "BackupStale", "notified: {a}");
    }
    let healthy = prom
        .query("backup_last_success_timestamp_seconds{system=\"code42\"}")
        .await;
    assert_eq!(healthy.len(), 1 + HEALTHY.len(), "{healthy:?}");
    exporter.assert_running();
}
