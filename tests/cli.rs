//! The command line: check-config and once, as an operator runs them.

mod common;

use std::io::Write;
use std::process::Command;

use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::{Dataset, Fault};
use common::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_backup_exporter"));
    c.env_remove("BACKUP_EXPORTER_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("BACKUP_EXPORTER_LISTEN");
    c
}

fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn source_toml(url: &str, password_line: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"{url}\"\nusername = \"{USER}\"\n{password_line}\ntimeout = \"2s\"\n"
    )
}

#[test]
fn check_config_accepts_a_good_file_and_names_a_bad_key() {
    let mut secret = tempfile::NamedTempFile::new().unwrap();
    writeln!(secret, "{PASSWORD}").unwrap();
    let good = config_file(&source_toml(
        "https://crashplan.example.com:4285",
        &format!("password_file = {:?}", secret.path().display().to_string()),
    ));
    let out = bin()
        .args(["check-config", "--config"])
        .arg(good.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("configuration OK: 1 source(s)")
            && stdout.contains("hq (crashplan")
            && stdout.contains("stale after 3d"),
        "{stdout}"
    );
    assert!(!stdout.contains(PASSWORD));

    let bad = config_file(&format!(
        "{}refresh_intervall = \"5m\"\n",
        source_toml("https://x.example", "password = \"p\"")
    ));
    let out = bin()
        .args(["check-config", "--config"])
        .arg(bad.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refresh_intervall"), "{stderr}");

    let bad = config_file(
        &source_toml("https://x.example", "password = \"p\"")
            .replace("timeout = \"2s\"", "timeout = \"2 parsecs\""),
    );
    let out = bin()
        .args(["check-config", "--config"])
        .arg(bad.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("timeout"));

    let out = bin()
        .args(["check-config", "--config", "/nonexistent/be.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/be.toml"));
}

#[test]
fn environment_overrides_the_file_from_the_command_line() {
    let f = config_file(&source_toml("https://x.example", "password = \"p\""));
    let out = bin()
        .args(["check-config"])
        .env("BACKUP_EXPORTER_CONFIG", f.path())
        .env("BACKUP_EXPORTER_LISTEN", "not an address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .to_lowercase()
        .contains("listen"));
}

/// `--version` tells version, branch, revision, build date and rustc from a plain cargo build.
#[test]
fn version_tells_the_build() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "backup_exporter {} (branch: ",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let revision = text
        .split("revision: ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_default();
    assert!(
        revision.len() >= 7 && revision.chars().all(|c| c.is_ascii_hexdigit()),
        "{text}"
    );
    for line in [
        "\n  build date: 20",
        "\n  rustc version: 1.",
        "\n  platform: ",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
}

/// The Prometheus-style flags: `--config.file`, `--web.listen-address`, `--log.level` and
/// `--log.format`, each over the environment over the file over the default.
#[test]
fn prometheus_style_flags_win_over_the_environment_and_the_file() {
    let f = config_file(&format!(
        "log_level = \"warn\"\n{}",
        source_toml("https://x.example", "password = \"p\"")
    ));
    let check = |args: &[&str], env: &[(&str, &str)]| -> String {
        let mut c = bin();
        c.arg("check-config").args(["--config.file"]).arg(f.path());
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} {env:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // The file says 127.0.0.1:0 and warn; the telemetry path is the default.
    let out = check(&[], &[]);
    assert!(out.contains("\nlisten: 127.0.0.1:0\n"), "{out}");
    assert!(out.contains("\ntelemetry path: /metrics\n"), "{out}");
    assert!(out.contains("\nlog level: warn\n"), "{out}");
    assert!(
        out.contains("\nlifecycle endpoint (/-/reload): off (SIGHUP reloads)\n"),
        "{out}"
    );
    for (args, env) in [
        (&["--web.enable-lifecycle"][..], &[][..]),
        (&[][..], &[("BACKUP_EXPORTER_ENABLE_LIFECYCLE", "true")][..]),
    ] {
        let out = check(args, env);
        assert!(
            out.contains("\nlifecycle endpoint (/-/reload): on\n"),
            "{args:?} {env:?}: {out}"
        );
    }
    let f2 = config_file(&format!(
        "telemetry_path = \"/from-file\"\nenable_lifecycle = true\nlisten = [\"127.0.0.1:1111\", \"[::1]:1111\"]\n{}",
        source_toml("https://x.example", "password = \"p\"")
            .replace("listen = \"127.0.0.1:0\"\n", "")
    ));
    let out = bin()
        .arg("check-config")
        .arg("--config.file")
        .arg(f2.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\nlisten: 127.0.0.1:1111, [::1]:1111\n")
            && text.contains("\ntelemetry path: /from-file\n")
            && text.contains("\nlifecycle endpoint (/-/reload): on\n"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env = [
        ("BACKUP_EXPORTER_LISTEN", "127.0.0.1:2222,127.0.0.1:2223"),
        ("BACKUP_EXPORTER_LOG_LEVEL", "debug"),
        ("BACKUP_EXPORTER_TELEMETRY_PATH", "/from-env"),
    ];
    let out = check(&[], &env);
    assert!(
        out.contains("\nlisten: 127.0.0.1:2222, 127.0.0.1:2223\n"),
        "{out}"
    );
    assert!(out.contains("\ntelemetry path: /from-env\n"), "{out}");
    assert!(out.contains("\nlog level: debug\n"), "{out}");
    let out = check(
        &[
            "--web.listen-address",
            "[::1]:3333",
            "--web.listen-address",
            "127.0.0.1:3334",
            "--web.telemetry-path",
            "/from-flag",
            "--log.level",
            "backup_exporter=trace,info",
            "--log.format",
            "json",
        ],
        &env,
    );
    assert!(
        out.contains("\nlisten: [::1]:3333, 127.0.0.1:3334\n"),
        "{out}"
    );
    assert!(out.contains("\ntelemetry path: /from-flag\n"), "{out}");
    assert!(
        out.contains("\nlog level: backup_exporter=trace,info\n"),
        "{out}"
    );
    // Bad values are named.
    for (args, wants) in [
        (
            &["--web.listen-address", "nowhere"][..],
            "--web.listen-address",
        ),
        (&["--log.level", "[[["][..], "--log.level"),
        (&["--log.format", "xml"][..], "--log-format"),
        (
            &["--web.telemetry-path", "/healthz"][..],
            "--web.telemetry-path",
        ),
        (&["--web.telemetry-path", "metrics"][..], "start with"),
        (&["--web.max-connections", "0"][..], "--web.max-connections"),
    ] {
        let out = bin()
            .arg("check-config")
            .arg("--config.file")
            .arg(f.path())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(wants), "{args:?}: {err}");
    }
}

#[test]
fn the_shard_comes_from_the_environment_and_the_flags_win() {
    let f = config_file(&source_toml("https://x.example", "password = \"p\""));
    let check = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = bin();
        c.arg("check-config")
            .arg("--config")
            .arg(f.path())
            .args(args);
        for var in [
            "BACKUP_EXPORTER_SHARD",
            "BACKUP_EXPORTER_TOTAL_SHARDS",
            "POD_NAME",
        ] {
            c.env_remove(var);
        }
        let out = c.envs(env.iter().copied()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), stdout, stderr)
    };
    let (code, stdout, _) = check(&[], &[]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("sharding: off (one shard"), "{stdout}");

    let auto = [
        ("BACKUP_EXPORTER_SHARD", "auto"),
        ("BACKUP_EXPORTER_TOTAL_SHARDS", "3"),
        ("POD_NAME", "backup-exporter-2"),
    ];
    let (code, stdout, stderr) = check(&[], &auto);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(
            "sharding: shard 2 of 3, \"auto\": the ordinal of backup-exporter-2 (POD_NAME)"
        ),
        "{stdout}"
    );
    let (_, stdout, _) = check(&["--shard", "0"], &auto);
    assert!(
        stdout.contains("sharding: shard 0 of 3: ") && stdout.contains("fleet-wide"),
        "{stdout}"
    );
    let (_, stdout, _) = check(&["--total-shards", "5", "--shard=4"], &auto);
    assert!(stdout.contains("sharding: shard 4 of 5:"), "{stdout}");

    let (code, _, stderr) = check(&["--shard", "3"], &auto);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("key `shard`: 3 is not below `total_shards` (3)"),
        "{stderr}"
    );
    let (code, _, stderr) = check(&[], &[auto[0], auto[1], ("POD_NAME", "backup-exporter")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("key `shard`: \"auto\"") && stderr.contains("has none"),
        "{stderr}"
    );
    let (code, _, stderr) = check(&["--total-shards", "0"], &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--total-shards"), "{stderr}");
    let (code, _, stderr) = check(&["--shard", "last"], &[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("--shard") && stderr.contains("\"auto\""),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn once_prints_the_exposition_and_its_exit_code_tells_failure() {
    let server = sim(Dataset::document_examples(), true).await;
    let f = config_file(&source_toml(
        &server.url(),
        &format!("password = \"{PASSWORD}\""),
    ));
    let path = f.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["once", "--config"])
            .arg(&path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let s = samples(&stdout);
    assert_eq!(
        s[r#"backup_selected_bytes{system="crashplan",source="hq",device="c42-dhcp-191.c42",device_id="343195742699662015",target="345095742699645987"}"#],
        19_839_461_229_438.0
    );
    // Logs go to stderr, one line per refresh.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refresh ok"), "{stderr}");

    // A failing source: exit 1, still printing what it has (the self-metrics saying why).
    server.faults().set(
        "usages",
        Fault {
            status: Some(500),
            ..Fault::default()
        },
    );
    let path = f.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["once", "--config"])
            .arg(&path)
            .args(["--log-format", "json"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(
        "backup_exporter_refresh_errors_total{reason=\"server_error\",source=\"hq\",system=\"crashplan\"} 1"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("refresh failed"))
        .expect("a failure log line");
    let json: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(json["fields"]["reason"], "server_error");
    assert!(!stderr.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_runs_from_a_config_file_and_stops_on_sigterm() {
    use std::io::BufRead;
    let server = sim(Dataset::document_examples(), true).await;
    let f = config_file(&source_toml(
        &server.url(),
        &format!("password = \"{PASSWORD}\""),
    ));
    let mut child = bin()
        .args(["--log-format", "json", "--config"])
        .arg(f.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A failing assertion must not leave the server running.
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = common::signal(self.0, "KILL");
        }
    }
    let guard = KillOnDrop(child.id());
    // The bound address (the config asks for port 0) is in the "serving" log line.
    let stderr = child.stderr.take().unwrap();
    let listen = tokio::task::spawn_blocking(move || {
        let mut lines = std::io::BufReader::new(stderr).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(&l).ok()?;
                (v["fields"]["message"] == "serving /metrics")
                    .then(|| v["fields"]["listen"].as_str().unwrap().to_owned())
            })
            .expect("a serving line");
        // Keep draining stderr so the child never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        addr
    })
    .await
    .unwrap();
    backup_exporter::tls::install_crypto_provider();
    let c = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if c.get(format!("http://{listen}/ready"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ready);
    let text = c
        .get(format!("http://{listen}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 1"),
        "{text}"
    );

    common::signal(child.id(), "TERM").unwrap();
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    std::mem::forget(guard);
}

/// A configuration error never shows a secret: not the line of a TOML syntax error on a
/// `password = "..."` line, not a secret of the wrong type.
#[test]
fn config_errors_never_print_a_secret() {
    let secret = "hunter2-do-not-print";
    for (line, names) in [
        (format!("password = \"{secret}"), "line 6, column"),
        (format!("password = \"\"\"{secret}"), "TOML parse error"),
        ("password = 987654321".to_string(), "password"),
        (format!("password = [\"{secret}\"]"), "password"),
    ] {
        let text = format!(
            "listen = \"127.0.0.1:0\"\n[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"https://x.example\"\n{line}\nusername = \"u\"\n"
        );
        let f = config_file(&text);
        for command in ["check-config", "run"] {
            let out = bin()
                .arg(command)
                .arg("--config")
                .arg(f.path())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{line}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains(secret), "{command} {line}: {stderr}");
            assert!(!stderr.contains("987654321"), "{command} {line}: {stderr}");
            assert!(stderr.contains(names), "{command} {line}: {stderr}");
        }
    }
}

/// `check-config` refuses what `run` refuses: no `[[source]]`, control characters in a name
/// or label that would end up on a metric.
#[test]
fn check_config_and_run_agree() {
    for (text, names) in [
        ("listen = \"127.0.0.1:0\"\n".to_string(), "[[source]]"),
        (
            source_toml("https://x.example", "password = \"p\"")
                .replace("name = \"hq\"", "name = \"h\\u0007q\""),
            "name",
        ),
        (
            source_toml("https://x.example", "password = \"p\"")
                .replace("name = \"hq\"", "name = \"h\\nq\""),
            "name",
        ),
    ] {
        let f = config_file(&text);
        for command in ["check-config", "run"] {
            let out = bin()
                .arg(command)
                .arg("--config")
                .arg(f.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command}: {text}: {stderr}");
            assert!(stderr.contains(names), "{command}: {stderr}");
        }
    }
}

/// `--web.listen-address` repeated: the exporter serves on each; an address it cannot bind
/// stops the start and is named.
#[tokio::test(flavor = "multi_thread")]
async fn the_server_listens_on_every_address_given_and_names_one_it_cannot_bind() {
    use common::stack::Process;
    let server = sim(Dataset::document_examples(), true).await;
    let f = config_file(&source_toml(
        &server.url(),
        &format!("password = \"{PASSWORD}\""),
    ));
    let mut cmd = bin();
    cmd.args(["--log.format", "json", "--config.file"])
        .arg(f.path())
        .args([
            "--web.listen-address",
            "127.0.0.1:0",
            "--web.listen-address",
            "[::1]:0",
        ]);
    let mut exporter = Process::spawn("backup_exporter", Process::tempdir("exporter"), cmd);
    // The bound addresses are in the "serving /metrics" log line.
    let addresses = exporter.serving("addresses").await;
    let addresses: Vec<&str> = addresses.split(", ").collect();
    assert_eq!(addresses.len(), 2, "{addresses:?}");
    assert!(
        addresses[0].starts_with("127.0.0.1:") && addresses[1].starts_with("[::1]:"),
        "{addresses:?}"
    );
    for address in &addresses {
        exporter
            .wait_http_ok(
                &format!("http://{address}/ready"),
                std::time::Duration::from_secs(10),
            )
            .await;
    }

    // One of them taken: the start fails, naming it.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().to_string();
    let out = bin()
        .arg("--config.file")
        .arg(f.path())
        .args(["--web.listen-address", "127.0.0.1:0"])
        .args(["--web.listen-address", &taken])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("listen on {taken}:")), "{stderr}");
    drop(holder);
    assert!(exporter
        .stop(std::time::Duration::from_secs(10))
        .await
        .success());
}
