//! The exposition passes `promtool check metrics` (format and naming lints), on the demo
//! fleet, the largest and most varied data set the project has. promtool comes with the
//! `prometheus` Debian package; scripts/test.sh installs it.

use std::io::Write;
use std::process::{Command, Stdio};

use backup_exporter::app;
use backup_exporter::config::Config;
use backup_exporter::sources::registry;

/// Every demo fleet through one exporter, as the demo runs them (every vendor of the registry).
#[tokio::test]
async fn demo_fleet_exposition_passes_promtool() {
    let (servers, sources) = app::start_demo_servers().await.unwrap();
    let cfg = Config::from_toml_str(&sources).unwrap();
    let (text, ok) = app::once(&cfg).await.unwrap();
    for server in servers {
        server.shutdown().await;
    }
    assert!(ok, "{text}");
    for vendor in registry::VENDORS {
        let kind = vendor.kind();
        assert!(text.contains(&format!("system=\"{kind}\"")), "{kind}");
        assert!(
            vendor
                .families()
                .iter()
                .any(|d| text.contains(&format!("\n{}{{", d.name))),
            "no family of {kind}"
        );
    }
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
