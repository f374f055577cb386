//! End to end: the exporter (the release binary's code, run as a process) reads a simulated
//! Code42 console with one stale device among healthy ones; a real Prometheus scrapes it and
//! evaluates the bundled rules (alerts/backup_exporter.rules.yml); a real Alertmanager routes
//! the alerts to a webhook receiver of this test. BackupStale must arrive for the stale device,
//! with its labels and annotations filled in, and nothing may fire (or even pend) for anything
//! healthy. Every process listens on 127.0.0.1 only and is stopped by pid when the test ends.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use backup_exporter::sim::code42::{ConsoleConfig, Dataset, SimServer};
use chrono::{DateTime, Duration as Age, SecondsFormat, Utc};
use common::stack::*;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{json, Value};

const STALE: &str = "FIN-WS-0042";
const HEALTHY: &[&str] = &["HR-LT-0007", "ENG-BUILD-01", "SALES-LT-0019"];

fn at(now: DateTime<Utc>, ago: Age) -> String {
    (now - ago).to_rfc3339_opts(SecondsFormat::Millis, false)
}

/// A Code42 computer as `GET /api/v1/Computer?incBackupUsage=true` lists it (the document's
/// field names and shapes), backing up to the cloud; its last completed backup `age` ago.
fn computer(n: u64, name: &str, age: Age, alert: &str, now: DateTime<Utc>) -> Value {
    let guid = format!("{}", 904_625_697_166_989_000u64 + n);
    json!({
        "computerId": 7000 + n,
        "name": name,
        "guid": guid,
        "type": "COMPUTER",
        "status": "Active",
        "active": true,
        "blocked": false,
        "alertState": if alert == "OK" { 0 } else { 1 },
        "alertStates": [alert],
        "userId": 42,
        "orgId": 2,
        "lastConnected": at(now, Age::minutes(2)),
        "osName": "win64",
        "osVersion": "10.0",
        "productVersion": "11.2.1",
        "creationDate": at(now, Age::days(400)),
        "backupUsage": [{
            "targetComputerId": 1,
            "targetComputerGuid": "893401856287712001",
            "targetComputerName": "Code42 Cloud USA West",
            "targetComputerType": "SERVER",
            "selectedFiles": 120_431,
            "selectedBytes": 48_318_382_080u64,
            "todoFiles": 0,
            "todoBytes": 0,
            "archiveBytes": 39_728_447_488u64,
            "billableBytes": 39_728_447_488u64,
            "sendRateAverage": 2_400_000,
            "lastBackup": at(now, age),
            "lastCompletedBackup": at(now, age),
            "lastConnected": at(now, Age::minutes(2)),
            "creationDate": at(now, Age::days(399)),
            "using": true,
            "alertState": if alert == "OK" { 0 } else { 1 },
            "alertStates": [alert],
            "percentComplete": 100,
            "storePointId": 11,
            "storePointName": "cloud-west-01"
        }]
    })
}

fn console(now: DateTime<Utc>) -> Dataset {
    let mut computers = vec![computer(1, STALE, Age::days(5), "WarningBackupAlert", now)];
    for (i, name) in HEALTHY.iter().enumerate() {
        computers.push(computer(
            2 + i as u64,
            name,
            Age::minutes(40 + 25 * i as i64),
            "OK",
            now,
        ));
    }
    Dataset {
        computers,
        ..Dataset::default()
    }
}

/// The webhook receiver: every notification Alertmanager posts, as JSON.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let store = store.clone();
                        async move {
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let parsed = body
                                .ok()
                                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
                            let status = match parsed {
                                Some(v) => {
                                    store.lock().unwrap().push(v);
                                    200
                                }
                                None => 400,
                            };
                            let mut resp = Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            url,
            received,
            task,
        }
    }

    /// Every alert of every notification so far.
    fn alerts(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_device_reaches_the_webhook_through_prometheus_and_alertmanager() {
    let now = Utc::now();
    let upstream = SimServer::start(console(now), ConsoleConfig::default())
        .await
        .unwrap();
    let receiver = Receiver::start().await;

    // The exporter, as an operator runs it: the binary with a configuration file.
    let dir = Process::tempdir("exporter");
    let exporter_addr = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"{exporter_addr}\"\n\n[[source]]\nname = \"northwind\"\nkind = \"code42\"\nurl = \"{}\"\nusername = \"admin\"\npassword = \"admin\"\nrefresh_interval = \"10s\"\n",
            upstream.url()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backup_exporter"));
    cmd.arg("--config").arg(&config).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("BACKUP_EXPORTER_") {
            cmd.env_remove(k);
        }
    }
    let mut exporter = Process::spawn("backup_exporter", dir, cmd);
    exporter
        .wait_http_ok(&format!("http://{exporter_addr}/ready"), secs(30))
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
    assert_eq!(annotations["runbook_url"], "alerts/RUNBOOK.md#backupstale");

    // Nothing for anything healthy: let the rules run over a few more scrapes, then no alert
    // ever pended or fired for another device, nor any other alert at all.
    prom.wait_for_scrapes("backup_exporter", 8, secs(60)).await;
    let others = prom
        .query(&format!(
            "count_over_time(ALERTS{{device!=\"{STALE}\"}}[1h]) or count_over_time(ALERTS{{alertname!=\"BackupStale\"}}[1h])"
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
