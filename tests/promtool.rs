//! The exposition passes `promtool check metrics` (format and naming lints), on the demo
//! fleet, the largest and most varied data set the project has. promtool comes with the
//! `prometheus` Debian package; scripts/test.sh installs it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use backup_exporter::app;
use backup_exporter::config::Config;
use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{self as code42, fleet as code42_fleet};
use backup_exporter::sources::crashplan::sim::fleet as crashplan_fleet;
use backup_exporter::sources::freezer::sim::{self as freezer, fleet as freezer_fleet};
use backup_exporter::sources::rackspace::sim::{self as rackspace, fleet as rackspace_fleet};
use common::*;

/// Every demo fleet through one exporter, as the demo runs them.
#[tokio::test]
async fn demo_fleet_exposition_passes_promtool() {
    let now = chrono::Utc::now();
    let server = sim(crashplan_fleet::demo_fleet(now), true).await;
    let console = code42::SimServer::start(
        code42_fleet::demo_console(now),
        code42::ConsoleConfig::default(),
    )
    .await
    .unwrap();
    let account = rackspace::SimServer::start(
        rackspace_fleet::demo_account(now),
        rackspace::AccountConfig::default(),
    )
    .await
    .unwrap();
    let deployment = freezer::SimServer::start(
        freezer_fleet::demo_deployment(now.timestamp()),
        freezer::SimConfig::default(),
    )
    .await
    .unwrap();
    let rax = rackspace::AccountConfig::default();
    let cfg = Config::from_toml_str(&format!(
        r#"
        [[source]]
        name = "hq"
        kind = "crashplan"
        url = "{}"
        username = "{USER}"
        password = "{PASSWORD}"
        [[source]]
        name = "console"
        kind = "code42"
        url = "{}"
        username = "admin"
        password = "admin"
        [[source]]
        name = "rax"
        kind = "rackspace"
        identity_url = "{}"
        username = "{}"
        api_key = "{}"
        [[source]]
        name = "openstack"
        kind = "freezer"
        identity_url = "{}"
        username = "{}"
        password = "{}"
        project_name = "{}"
        projects = ["{}", "{}"]
        "#,
        server.url(),
        console.url(),
        account.url(),
        rax.username,
        rax.api_key,
        deployment.identity_url(),
        freezer::ADMIN_USER_NAME,
        freezer::DEMO_ADMIN_PASSWORD,
        freezer::PROD_PROJECT_NAME,
        freezer::PROD_PROJECT_ID,
        freezer::DEV_PROJECT_ID,
    ))
    .unwrap();
    let (text, ok) = app::once(&cfg).await.unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("system=\"code42\""));
    assert!(text.contains("system=\"rackspace\""));
    assert!(text.contains("system=\"freezer\""));
    assert!(text.contains("freezer_job_last_result{"));
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (apt-get install prometheus, or run scripts/test.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics:\n{report}");
    assert!(report.trim().is_empty(), "promtool lints:\n{report}");
}
