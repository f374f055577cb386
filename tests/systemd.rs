//! examples/systemd: the unit passes `systemd-analyze verify` (where the machine has it) with
//! nothing ignored, and its config.toml passes check-config with the credential laid out as
//! systemd hands it over.

use std::path::PathBuf;
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

const BIN: &str = "/usr/local/bin/backup_exporter";
const CREDENTIALS: &str = "/run/credentials/backup_exporter.service/";

#[test]
fn the_unit_verifies_without_a_word() {
    let unit = std::fs::read_to_string(repo("examples/systemd/backup_exporter.service")).unwrap();
    assert!(
        unit.contains(&format!("ExecStart={BIN} ")),
        "ExecStart runs {BIN}"
    );
    // `systemctl reload` sends SIGHUP, which reads the configuration again.
    assert!(unit.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"));
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the unit is not verified here");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup_exporter.service");
    // The binary where the unit expects it: the test build.
    std::fs::write(
        &path,
        unit.replace(BIN, env!("CARGO_BIN_EXE_backup_exporter")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A directive systemd does not understand is only a warning ("..., ignoring"): none.
    assert!(
        out.status.success() && !stderr.contains("backup_exporter.service"),
        "systemd-analyze verify: {}\n{stderr}",
        out.status
    );
}

#[test]
fn the_config_passes_check_config_with_the_credential_in_place() {
    let unit = std::fs::read_to_string(repo("examples/systemd/backup_exporter.service")).unwrap();
    let config = std::fs::read_to_string(repo("examples/systemd/config.toml")).unwrap();
    assert!(unit.contains("--config.file /etc/backup_exporter/config.toml"));
    assert!(unit.contains("StateDirectory=backup_exporter\n"));
    assert!(config.contains("state_file = \"/var/lib/backup_exporter/state.json\""));
    // Each credential the config reads is one the unit loads.
    let dir = tempfile::tempdir().unwrap();
    let mut local = config.clone();
    for line in config.lines().filter(|l| l.contains(CREDENTIALS)) {
        let name = line
            .split(CREDENTIALS)
            .nth(1)
            .unwrap()
            .trim_end_matches('"');
        assert!(
            unit.contains(&format!("LoadCredential={name}:")),
            "the unit loads the credential {name}"
        );
        std::fs::write(dir.path().join(name), "secret\n").unwrap();
    }
    local = local.replace(CREDENTIALS, &format!("{}/", dir.path().display()));
    local = local.replace(
        "/var/lib/backup_exporter/",
        &format!("{}/", dir.path().display()),
    );
    let file = dir.path().join("config.toml");
    std::fs::write(&file, local).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_backup_exporter"))
        .env_remove("BACKUP_EXPORTER_CONFIG")
        .env_remove("BACKUP_EXPORTER_LISTEN")
        .args(["check-config", "--config.file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
