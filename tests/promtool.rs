//! The exposition passes `promtool check metrics` (format and naming lints), on the demo
//! fleet, the largest and most varied data set the project has. promtool comes with the
//! `prometheus` Debian package; scripts/test.sh installs it.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use backup_exporter::app;
use backup_exporter::sim::crashplan_fleet;
use common::*;

#[tokio::test]
async fn demo_fleet_exposition_passes_promtool() {
    let server = sim(crashplan_fleet::demo_fleet(chrono::Utc::now()), true).await;
    let (text, ok) = app::once(&config(&server.url(), PASSWORD, ""))
        .await
        .unwrap();
    assert!(ok);
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
