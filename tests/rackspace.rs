//! The Rackspace source end to end over real HTTP: the simulated identity service and Cloud
//! Backup account serve the vendor document's examples (invalid JSON included) and a demo
//! fleet, with token expiry, a region-less catalog and injected faults; the exporter reads them
//! as it would read Rackspace.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_exporter::config::Config;
use backup_exporter::refresh::{Exporter, Outcome};
use backup_exporter::sim::Simulator;
use backup_exporter::sources::rackspace::sim::fleet::{self as fleet, document_sample};
use backup_exporter::sources::rackspace::sim::{AccountConfig, Dataset, Fault, SimServer};
use backup_exporter::sources::Source;
use common::{assert_golden, samples, EVERY_FAMILY};

async fn account(dataset: Dataset) -> SimServer {
    account_with(dataset, AccountConfig::default()).await
}

async fn account_with(dataset: Dataset, config: AccountConfig) -> SimServer {
    SimServer::start(dataset, config)
        .await
        .expect("simulated account starts")
}

/// One rackspace source `rax` signing in at `server` with the default account's API key;
/// `extra` lines go into the source table.
fn config(server: &SimServer, extra: &str) -> Config {
    let a = AccountConfig::default();
    Config::from_toml_str(&format!(
        r#"
        {EVERY_FAMILY}
        [[source]]
        name = "rax"
        kind = "rackspace"
        identity_url = "{}"
        username = "{}"
        api_key = "{}"
        {}
        {extra}
        "#,
        server.url(),
        a.username,
        a.api_key,
        if extra.contains("timeout") {
            ""
        } else {
            "timeout = \"2s\""
        }
    ))
    .expect("test configuration is valid")
}

struct Run {
    exporter: Arc<Exporter>,
    sources: Vec<Box<dyn Source>>,
}

impl Run {
    fn new(cfg: &Config) -> Run {
        let (exporter, sources) = Exporter::new(cfg).unwrap();
        Run { exporter, sources }
    }

    async fn refresh(&mut self) -> Outcome {
        self.exporter.refresh(0, &mut self.sources[0]).await
    }

    fn text(&self) -> String {
        String::from_utf8(self.exporter.rendered().text().to_vec()).unwrap()
    }

    fn samples(&self) -> BTreeMap<String, f64> {
        samples(&self.text())
    }
}

fn reason(o: &Outcome) -> &'static str {
    match o {
        Outcome::Failed { reason, .. } => reason,
        Outcome::Ok => "ok",
    }
}

fn message(o: &Outcome) -> String {
    match o {
        Outcome::Failed { message, .. } => message.clone(),
        Outcome::Ok => String::new(),
    }
}

fn neutral(family: &str, device: &str, id: i64, target: &str) -> String {
    format!("{family}{{system=\"rackspace\",source=\"rax\",device=\"{device}\",device_id=\"{id}\",target=\"{target}\"}}")
}

fn agent(family: &str, device: &str, id: i64) -> String {
    format!("{family}{{source=\"rax\",device=\"{device}\",device_id=\"{id}\"}}")
}

fn config_series(family: &str, device: &str, id: i64, target: &str) -> String {
    format!("{family}{{source=\"rax\",device=\"{device}\",device_id=\"{id}\",target=\"{target}\"}}")
}

fn state(device: &str, id: i64, target: &str, state: &str) -> String {
    format!("rackspace_backup_last_state{{source=\"rax\",device=\"{device}\",device_id=\"{id}\",target=\"{target}\",state=\"{state}\"}}")
}

fn mib(x: f64) -> f64 {
    (x * 1_048_576.0).round()
}

fn gib(x: f64) -> f64 {
    (x * 1_073_741_824.0).round()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documents_examples_are_read_as_documented() {
    let server = account(document_sample()).await;
    let mut run = Run::new(&config(&server, "region = \"DFW\""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let text = run.text();
    // When the details were read is the test's own clock: compared as "read now".
    let read_at = run.samples()[&agent(
        "rackspace_backup_agent_details_timestamp_seconds",
        "Web Server",
        213564,
    )];
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    assert!((now - read_at).abs() < 60.0, "{read_at}");
    assert_golden("rackspace_document.prom", &text);
    let s = samples(&text);
    // The agent list says Offline; the details say Online.
    assert_eq!(
        s[&agent("rackspace_backup_agent_online", "Web Server", 213564)],
        1.0
    );
    assert_eq!(
        s[&neutral(
            "backup_last_success_timestamp_seconds",
            "Web Server",
            213564,
            ""
        )],
        1_357_817_400.0
    );
    assert_eq!(
        s[&agent(
            "rackspace_backup_agent_vault_size_bytes",
            "Web Server",
            213564
        )],
        mib(35.3)
    );
    // The agent whose document has `09528` and `\_` is there.
    assert!(s.contains_key(&agent(
        "rackspace_backup_agent_enabled",
        "Web Server2",
        213563
    )));
    // The never-run manual configuration: .NET's minimum date is no next run.
    assert!(!s.contains_key(&config_series(
        "rackspace_backup_configuration_next_run_timestamp_seconds",
        "Web Server",
        213564,
        "Manual Log Backup"
    )));
    // The document's report: CompletedWithErrors, 2 errors, "00:04:33", "178.1 MB".
    let db = ("Web Server2", 213563, "Manual DB Backup");
    let db_series = |f: &str| s.get(&config_series(f, db.0, db.1, db.2)).copied();
    assert_eq!(db_series("rackspace_backup_last_errors"), Some(2.0));
    assert_eq!(
        db_series("rackspace_backup_last_duration_seconds"),
        Some(273.0)
    );
    assert_eq!(db_series("rackspace_backup_last_bytes"), Some(mib(178.1)));
    assert_eq!(db_series("rackspace_backup_last_files"), Some(6.0));
    assert_eq!(
        s[&neutral("backup_selected_bytes", db.0, db.1, db.2)],
        gib(3.7)
    );
    assert_eq!(
        s["backup_exporter_upstream_value_errors_total{source=\"rax\",system=\"rackspace\"}"],
        0.0
    );
    assert_eq!(server.mutation_count(), 0, "{:?}", server.mutations());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_account_shows_every_case() {
    let now = chrono::Utc::now();
    let server = account(fleet::demo_account(now)).await;
    let mut run = Run::new(&config(&server, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let s = run.samples();
    let now_s = now.timestamp_millis() as f64 / 1000.0;

    // Stale: online, last success 5 days ago.
    let stale = fleet::STALE_AGENT_NAME;
    assert_eq!(
        s[&agent(
            "rackspace_backup_agent_online",
            stale,
            fleet::STALE_AGENT_ID
        )],
        1.0
    );
    let age = now_s
        - s[&neutral(
            "backup_last_success_timestamp_seconds",
            stale,
            fleet::STALE_AGENT_ID,
            "",
        )];
    assert!((age - fleet::STALE_DAYS * 86_400.0).abs() < 1.0, "{age}");
    // Offline and disabled agents.
    assert_eq!(
        s[&agent(
            "rackspace_backup_agent_online",
            fleet::OFFLINE_AGENT_NAME,
            fleet::OFFLINE_AGENT_ID
        )],
        0.0
    );
    assert_eq!(
        s[&agent(
            "rackspace_backup_agent_enabled",
            fleet::DISABLED_AGENT_NAME,
            fleet::DISABLED_AGENT_ID
        )],
        0.0
    );

    // The failed configuration: state Failed, last success the newest Completed run (32.2 h).
    let db = "db01.acme.example";
    let failed = "Nightly MySQL Dumps";
    assert_eq!(s[&state(db, fleet::DB_AGENT_ID, failed, "Failed")], 1.0);
    assert!(!s.contains_key(&state(db, fleet::DB_AGENT_ID, failed, "Completed")));
    let age = now_s
        - s[&neutral(
            "backup_last_success_timestamp_seconds",
            db,
            fleet::DB_AGENT_ID,
            failed,
        )];
    assert!((age - 32.2 * 3600.0).abs() < 1.0, "{age}");

    // "Completed WithErrors", and its report.
    let sql = fleet::ERRORS_AGENT_NAME;
    let target = "Daily SQL Server Backup";
    assert_eq!(
        s[&state(sql, fleet::ERRORS_AGENT_ID, target, "CompletedWithErrors")],
        1.0
    );
    let rep = |f: &str| s[&config_series(f, sql, fleet::ERRORS_AGENT_ID, target)];
    assert_eq!(rep("rackspace_backup_last_errors"), 3.0);
    assert_eq!(rep("rackspace_backup_last_duration_seconds"), 4329.0);
    assert_eq!(rep("rackspace_backup_last_bytes"), gib(2.1));
    assert_eq!(rep("rackspace_backup_last_files"), 1532.0);
    // Every run since 125 hours ago completed with errors, and each can be restored: the last
    // success is the latest run's completion (5 h), and the run still counts as failed.
    let age = now_s
        - s[&neutral(
            "backup_last_success_timestamp_seconds",
            sql,
            fleet::ERRORS_AGENT_ID,
            target,
        )];
    assert!((age - 5.0 * 3600.0).abs() < 1.0, "{age}");
    assert_eq!(
        s[&neutral(
            "backup_last_run_failed",
            sql,
            fleet::ERRORS_AGENT_ID,
            target
        )],
        1.0
    );

    // An idle agent (Offline between its weekly runs): its last work 2 days ago, its limit a
    // week and an hour.
    let vpn = "vpn01.acme.example";
    let device = |family: &str| {
        s[&format!(
            "{family}{{system=\"rackspace\",source=\"rax\",device=\"{vpn}\",device_id=\"{}\"}}",
            fleet::WEEKLY_AGENT_ID
        )]
    };
    assert_eq!(device("backup_device_connected"), 0.0);
    let idle = now_s - device("backup_device_last_connected_timestamp_seconds");
    assert!((idle - 2.0 * 86_400.0).abs() < 1.0, "{idle}");
    assert_eq!(
        device("backup_device_offline_threshold_seconds"),
        7.0 * 86_400.0 + 3_600.0
    );

    // String booleans and ids; an in-progress run.
    let files = fleet::STRING_TYPED_AGENT_NAME;
    assert!(s.contains_key(&agent(
        "rackspace_backup_agent_encrypted",
        files,
        fleet::STRING_TYPED_AGENT_ID
    )));
    assert_eq!(
        s[&state(
            files,
            fleet::STRING_TYPED_AGENT_ID,
            "Nightly File Shares",
            "InProgress"
        )],
        1.0
    );

    // A deleted configuration is not exported; an inactive one is, as inactive.
    let text = run.text();
    assert!(!text.contains(&format!(
        "configuration_id=\"{}\"",
        fleet::DELETED_CONFIGURATION_ID
    )));
    assert!(text.contains(&format!(
        "configuration_id=\"{}\"",
        fleet::INACTIVE_CONFIGURATION_ID
    )));
    let inactive = s
        .iter()
        .filter(|(k, v)| k.starts_with("rackspace_backup_configuration_active{") && **v == 0.0)
        .count();
    assert_eq!(inactive, 1);
    // An empty vault is 0 bytes, not absent.
    assert!(s.iter().any(
        |(k, v)| k.starts_with("rackspace_backup_agent_vault_size_bytes{")
            && k.contains(&format!("device_id=\"{}\"", fleet::EMPTY_VAULT_AGENT_ID))
            && *v == 0.0
    ));
    assert_eq!(
        s["backup_exporter_upstream_value_errors_total{source=\"rax\",system=\"rackspace\"}"],
        0.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn it_only_reads() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let mut run = Run::new(&config(&server, ""));
    for _ in 0..2 {
        assert!(matches!(run.refresh().await, Outcome::Ok));
    }
    assert_eq!(server.mutation_count(), 0, "{:?}", server.mutations());
    for path in server.requested_paths() {
        let allowed = path == "/v2.0/tokens"
            || path == "/v1.0/1234/user/agents"
            || path.starts_with("/v1.0/1234/agent/")
            || path == "/v1.0/1234/backup-configuration"
            || path == "/v1.0/1234/activity"
            || path.starts_with("/v1.0/1234/backup/report/")
            || path == "/v1.0/1234/backup/availableforrestore";
        assert!(allowed, "unexpected request {path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_available_for_restore_are_one_call_and_optional() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let mut run = Run::new(&config(&server, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert_eq!(server.request_count("available_for_restore"), 1);
    let before = run.samples();
    // An account that may not read them: the refresh goes on without, and does not ask again.
    server.faults().set(
        "available_for_restore",
        Fault {
            status: Some(403),
            ..Fault::default()
        },
    );
    for _ in 0..2 {
        assert!(matches!(run.refresh().await, Outcome::Ok));
    }
    assert_eq!(server.request_count("available_for_restore"), 2);
    let after = run.samples();
    for (k, v) in &before {
        if k.starts_with("backup_last_success_timestamp_seconds{") {
            assert_eq!(after.get(k), Some(v), "{k}: the reports tell the same");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_are_read_once_and_can_be_switched_off() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let mut run = Run::new(&config(&server, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let first = server.request_count("report");
    assert!(first > 0);
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert_eq!(
        server.request_count("report"),
        first,
        "finished runs' reports are kept"
    );
    assert!(run.text().contains("rackspace_backup_last_errors{"));

    server.clear_requests();
    let mut off = Run::new(&config(&server, "read_reports = false"));
    assert!(matches!(off.refresh().await, Outcome::Ok));
    assert_eq!(server.request_count("report"), 0);
    assert!(!off.text().contains("rackspace_backup_last_errors{"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_report_falls_back_to_the_configurations_last_report() {
    // The latest finished run of "Manual Website Backup" (100850) has no report; the one its
    // configuration names (LastRunBackupReportId 80071) has.
    let mut data = document_sample();
    data.reports
        .retain(|r| !matches!(r.get("BackupId").as_deref(), Some("134692" | "134693")));
    data.reports.push(
        serde_json::json!({
            "BackupId": 80071, "BackupConfigurationId": 100850,
            "BackupConfigurationName": "Manual Website Backup", "State": "Completed",
            "Duration": "00:01:05", "FilesSearched": "12", "BytesSearched": "1.5 MB",
            "FilesBackedUp": "2", "BytesBackedUp": "0 B", "NumErrors": "5"
        })
        .into(),
    );
    let server = account(data).await;
    let mut run = Run::new(&config(&server, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let s = run.samples();
    let web = |f: &str| {
        s.get(&config_series(
            f,
            "Web Server",
            213564,
            "Manual Website Backup",
        ))
        .copied()
    };
    assert_eq!(web("rackspace_backup_last_errors"), Some(5.0));
    assert_eq!(web("rackspace_backup_last_duration_seconds"), Some(65.0));
    assert_eq!(web("rackspace_backup_last_bytes"), Some(0.0));
    // 404 for the run's report, then the configuration's; no error for the 404.
    assert!(server
        .requested_paths()
        .iter()
        .any(|p| p.ends_with("/backup/report/80071")));
    assert_eq!(
        s["backup_exporter_source_stale_items{source=\"rax\",system=\"rackspace\"}"],
        0.0
    );
    // Both answers are remembered: the next refresh reads no report.
    let reports = server.request_count("report");
    assert!(matches!(run.refresh().await, Outcome::Ok));
    assert_eq!(server.request_count("report"), reports);
    // The same values (only self-metrics and the details' read time move).
    let data = |mut m: BTreeMap<String, f64>| {
        m.retain(|k, _| !k.starts_with("backup_exporter_") && !k.contains("details_timestamp"));
        m
    };
    assert_eq!(data(run.samples()), data(s));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_expires_mid_refresh_is_renewed_once() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let mut run = Run::new(&config(&server, "concurrency = 4"));
    // The configuration list answers late; the agent details come after it.
    server.faults().set(
        "configurations",
        Fault {
            delay: Some(Duration::from_millis(1000)),
            ..Fault::default()
        },
    );
    let (exporter, mut sources) = (run.exporter.clone(), std::mem::take(&mut run.sources));
    let refresh = tokio::spawn(async move {
        let o = exporter.refresh(0, &mut sources[0]).await;
        (o, sources)
    });
    // Signed in and reading the lists: now the token expires.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.auth_count() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.auth_count(), 1);
    server.expire_tokens();
    let (outcome, sources) = refresh.await.unwrap();
    run.sources = sources;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    // Concurrent 401s share one sign-in.
    assert_eq!(server.auth_count(), 2);
    assert_eq!(
        run.samples()["backup_exporter_source_stale_items{source=\"rax\",system=\"rackspace\"}"],
        0.0
    );
    let auths = run.samples()
        ["backup_exporter_upstream_requests_total{code=\"200\",endpoint=\"auth\",source=\"rax\",system=\"rackspace\"}"];
    assert_eq!(auths, 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_agent_keeps_its_last_known_values_and_the_rest_is_fresh() {
    let then = chrono::Utc::now() - chrono::Duration::hours(2);
    let server = account(fleet::demo_account(then)).await;
    let mut run = Run::new(&config(&server, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let before = run.samples();

    // Two hours later every time has moved; one agent's details answer 503.
    server.set_dataset(fleet::demo_account(then + chrono::Duration::hours(2)));
    let key = format!("agent:{}", fleet::STALE_AGENT_ID);
    server.faults().set(
        &key,
        Fault {
            status: Some(503),
            ..Fault::default()
        },
    );
    let outcome = run.refresh().await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    let after = run.samples();
    let stale = neutral(
        "backup_last_success_timestamp_seconds",
        fleet::STALE_AGENT_NAME,
        fleet::STALE_AGENT_ID,
        "",
    );
    let fresh = neutral(
        "backup_last_success_timestamp_seconds",
        fleet::HEALTHY_AGENT_NAME,
        fleet::HEALTHY_AGENT_ID,
        "",
    );
    assert_eq!(
        after[&stale], before[&stale],
        "the failing agent keeps its values"
    );
    assert!(
        (after[&fresh] - before[&fresh] - 7200.0).abs() < 1.0,
        "the others are fresh"
    );
    let details = |s: &BTreeMap<String, f64>, name, id| {
        s[&agent("rackspace_backup_agent_details_timestamp_seconds", name, id)]
    };
    assert_eq!(
        details(&after, fleet::STALE_AGENT_NAME, fleet::STALE_AGENT_ID),
        details(&before, fleet::STALE_AGENT_NAME, fleet::STALE_AGENT_ID)
    );
    assert!(
        details(&after, fleet::HEALTHY_AGENT_NAME, fleet::HEALTHY_AGENT_ID)
            > details(&before, fleet::HEALTHY_AGENT_NAME, fleet::HEALTHY_AGENT_ID)
    );
    assert_eq!(
        after["backup_exporter_source_up{source=\"rax\",system=\"rackspace\"}"],
        1.0
    );
    assert_eq!(
        after["backup_exporter_source_stale_items{source=\"rax\",system=\"rackspace\"}"],
        1.0
    );
    assert_eq!(
        after["backup_exporter_item_errors_total{reason=\"server_error\",source=\"rax\",system=\"rackspace\"}"],
        1.0
    );
    let st = run.exporter.sources()[0].state();
    let last_error = st.last_error.unwrap();
    assert!(last_error.contains("HTTP 503"), "{last_error}");

    // Fixed: everything fresh again.
    server.faults().clear(&key);
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let fixed = run.samples();
    assert!((fixed[&stale] - before[&stale] - 7200.0).abs() < 1.0);
    assert_eq!(
        fixed["backup_exporter_source_stale_items{source=\"rax\",system=\"rackspace\"}"],
        0.0
    );
    assert!(run.exporter.sources()[0].state().last_error.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_never_read_has_no_status_and_all_details_failing_fails_the_refresh() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let key = format!("agent:{}", fleet::OFFLINE_AGENT_ID);
    server.faults().set(
        &key,
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let mut run = Run::new(&config(&server, ""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let s = run.samples();
    let name = fleet::OFFLINE_AGENT_NAME;
    // The list's "Offline" is not trusted: no status rather than a wrong one.
    assert!(!s.contains_key(&agent(
        "rackspace_backup_agent_online",
        name,
        fleet::OFFLINE_AGENT_ID
    )));
    assert!(s.contains_key(&agent(
        "rackspace_backup_agent_enabled",
        name,
        fleet::OFFLINE_AGENT_ID
    )));

    server.faults().set(
        "agent",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let outcome = run.refresh().await;
    assert_eq!(reason(&outcome), "server_error");
    // The last good data is still served.
    assert_eq!(
        run.samples().get(&agent(
            "rackspace_backup_agent_online",
            fleet::HEALTHY_AGENT_NAME,
            fleet::HEALTHY_AGENT_ID
        )),
        Some(&1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_failures_fail_the_refresh_and_keep_the_last_good_data() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let mut run = Run::new(&config(&server, "timeout = \"500ms\""));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    let good = run.samples();
    for (endpoint, fault, want) in [
        (
            "configurations",
            Fault {
                status: Some(500),
                ..Fault::default()
            },
            "server_error",
        ),
        (
            "activity",
            Fault {
                garbage: true,
                ..Fault::default()
            },
            "parse",
        ),
        (
            "agents",
            Fault {
                truncate: true,
                ..Fault::default()
            },
            "parse",
        ),
        (
            "agents",
            Fault {
                delay: Some(Duration::from_secs(2)),
                ..Fault::default()
            },
            "timeout",
        ),
        (
            "activity",
            Fault {
                status: Some(403),
                ..Fault::default()
            },
            "forbidden",
        ),
        (
            "tokens",
            Fault {
                status: Some(503),
                ..Fault::default()
            },
            "server_error",
        ),
    ] {
        server.faults().set(endpoint, fault);
        if endpoint == "tokens" {
            server.expire_tokens();
        }
        let outcome = run.refresh().await;
        assert_eq!(reason(&outcome), want, "{endpoint}: {}", message(&outcome));
        server.faults().clear(endpoint);
        let now = run.samples();
        for (k, v) in &good {
            if !k.starts_with("backup_exporter_") {
                assert_eq!(now.get(k), Some(v), "{endpoint}: {k} kept");
            }
        }
        assert_eq!(
            now["backup_exporter_source_up{source=\"rax\",system=\"rackspace\"}"],
            0.0
        );
    }
    assert!(matches!(run.refresh().await, Outcome::Ok));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_choices_and_their_errors() {
    let server = account_with(
        fleet::demo_account(chrono::Utc::now()),
        AccountConfig {
            global_endpoint: true,
            password: Some("account-password".into()),
            ..AccountConfig::default()
        },
    )
    .await;
    // No endpoint in the region: a clear error that lists the regions.
    let mut run = Run::new(&config(&server, "region = \"SYD\""));
    let outcome = run.refresh().await;
    assert_eq!(reason(&outcome), "config");
    let msg = message(&outcome);
    assert!(
        msg.contains("no Cloud Backup endpoint in region \"SYD\""),
        "{msg}"
    );
    assert!(msg.contains("regions: DFW, IAD, ORD"), "{msg}");
    assert!(msg.contains("allow_global_endpoint"), "{msg}");
    // The global endpoint, when allowed.
    let mut run = Run::new(&config(
        &server,
        "region = \"SYD\"\nallow_global_endpoint = true",
    ));
    assert!(matches!(run.refresh().await, Outcome::Ok));
    // A wrong key.
    let a = AccountConfig::default();
    let wrong = Config::from_toml_str(&format!(
        "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nidentity_url = \"{}\"\nusername = \"{}\"\napi_key = \"nope\"\n",
        server.url(),
        a.username
    ))
    .unwrap();
    let mut run = Run::new(&wrong);
    let outcome = run.refresh().await;
    assert_eq!(reason(&outcome), "unauthorized");
    assert!(!message(&outcome).contains("nope"));
    // Password credentials, and an explicit endpoint (a bare host gets the tenant's path).
    let by_password = Config::from_toml_str(&format!(
        "[[source]]\nname = \"rax\"\nkind = \"rackspace\"\nidentity_url = \"{}/v2.0\"\nusername = \"{}\"\npassword = \"account-password\"\nendpoint = \"{}\"\nregion = \"SYD\"\n",
        server.url(),
        a.username,
        server.url()
    ))
    .unwrap();
    let mut run = Run::new(&by_password);
    let outcome = run.refresh().await;
    assert!(matches!(outcome, Outcome::Ok), "{}", message(&outcome));
    assert!(run.text().contains("rackspace_backup_last_state{"));
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_details_are_read_at_most_concurrency_at_a_time() {
    let server = account(fleet::demo_account(chrono::Utc::now())).await;
    let agents = server.dataset().agents.len();
    assert!(agents >= 8, "{agents}");
    server.faults().set(
        "agent",
        Fault {
            delay: Some(Duration::from_millis(100)),
            ..Fault::default()
        },
    );
    let mut run = Run::new(&config(&server, "concurrency = 2\nread_reports = false"));
    let started = Instant::now();
    assert!(matches!(run.refresh().await, Outcome::Ok));
    // With at most 2 in flight, the detail calls alone take agents / 2 rounds of 100 ms
    // (a lower bound: it holds however slow the machine is).
    let rounds = agents.div_ceil(2) as u128;
    assert!(
        started.elapsed().as_millis() >= rounds * 100,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.request_count("agent"), agents);
}

// ---- hostile servers ----------------------------------------------------------------------

/// The identity service answering 307 to another host would have the API key body POSTed
/// there again; the API answering 302 would have the token sent there. Both fail with
/// `redirect`, naming the host, and nothing reaches it.
#[tokio::test]
async fn redirects_to_another_host_carry_no_key_and_no_token() {
    let server = account(document_sample()).await;
    let elsewhere = common::Recorder::start().await;
    for (endpoint, status) in [
        ("tokens", 307),
        ("tokens", 308),
        ("agents", 302),
        ("agents", 307),
    ] {
        server.faults().clear_all();
        server.faults().set(
            endpoint,
            Fault {
                redirect: Some((status, elsewhere.url("/v2.0/tokens"))),
                ..Fault::default()
            },
        );
        let mut run = Run::new(&config(&server, ""));
        let outcome = run.refresh().await;
        assert_eq!(
            reason(&outcome),
            "redirect",
            "{endpoint} {status}: {}",
            message(&outcome)
        );
        assert!(
            message(&outcome).contains("127.0.0.2"),
            "{}",
            message(&outcome)
        );
        assert!(!message(&outcome).contains("demo-api-key"));
    }
    let seen = elsewhere.requests();
    assert!(seen.is_empty(), "{seen:?}");
}

/// An agent list of 3 MiB against `max_response_size = "1MiB"` fails with `too_large`.
#[tokio::test]
async fn an_oversized_list_is_cut_off() {
    let server = account(document_sample()).await;
    server.faults().set(
        "agents",
        Fault {
            gzip_bomb: Some(3 << 20),
            ..Fault::default()
        },
    );
    let mut run = Run::new(&config(&server, "max_response_size = \"1MiB\""));
    let outcome = run.refresh().await;
    assert_eq!(reason(&outcome), "too_large", "{}", message(&outcome));
}
