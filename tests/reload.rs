//! Reloading the configuration of the running binary, as Prometheus does: SIGHUP, and
//! `POST /-/reload` with `--web.enable-lifecycle`. A source whose settings did not change
//! goes on untouched (no new refresh, the same series and first-seen times); a changed one
//! restarts with its new settings; a removed one's series and alerts go; an invalid file keeps
//! the running configuration and says why.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use backup_exporter::sim::Simulator;
use backup_exporter::sources::code42::sim::{Dataset, SimServer};
use chrono::{Duration as Age, Utc};
use common::code42_fleet::{computer, console, STALE};
use common::samples;
use common::stack::Process;

const USER: &str = "ops@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// A device that never completed a backup, whose creation the console does not tell: its
/// first-seen time is when the exporter first read it.
const NEW: &str = "NEW-LT-0100";
const RELOAD_OK: &str = "backup_exporter_config_last_reload_successful";
const RELOAD_AT: &str = "backup_exporter_config_last_reload_success_timestamp_seconds";

/// The fleet of `common::code42_fleet` (with a five-day stale device) and [`NEW`].
fn fleet() -> Dataset {
    let now = Utc::now();
    let mut dataset = console(now);
    let mut new = computer(9, NEW, Age::hours(1), "OK", now);
    new.as_object_mut().unwrap().remove("creationDate");
    for key in ["lastBackup", "lastCompletedBackup", "creationDate"] {
        new["backupUsage"][0][key] = serde_json::Value::Null;
    }
    dataset.computers.push(new);
    dataset
}

async fn console_server() -> SimServer {
    common::code42_fleet::serve(fleet(), USER, PASSWORD).await
}

/// A `[[source]]` reading `server`, refreshed hourly (so only a start or a restart refreshes
/// it during the test), with `extra` lines.
fn source(name: &str, server: &SimServer, extra: &str) -> String {
    format!(
        "[[source]]\nname = \"{name}\"\nkind = \"code42\"\nurl = \"{}\"\nusername = \"{USER}\"\n\
         password = \"{PASSWORD}\"\nrefresh_interval = \"1h\"\n{extra}\n",
        server.url()
    )
}

/// The running binary and its address.
struct Running {
    process: Process,
    base: String,
    client: reqwest::Client,
}

impl Running {
    /// Starts the exporter on `config` (and `args`), once it is ready.
    async fn start(config: &Path, args: &[&str]) -> Running {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backup_exporter"));
        for (k, _) in std::env::vars() {
            if k.starts_with("BACKUP_EXPORTER_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.args(["--log.format", "json", "--config.file"])
            .arg(config)
            .args(args);
        let mut process = Process::spawn("backup_exporter", Process::tempdir("reload"), cmd);
        let base = format!("http://{}", process.serving("listen").await);
        process
            .wait_http_ok(&format!("{base}/ready"), Duration::from_secs(20))
            .await;
        Running {
            process,
            base,
            client: common::stack::client(),
        }
    }

    /// The answer to `method` `path`.
    async fn request(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> String {
        let r = self.request(reqwest::Method::GET, path).await;
        assert_eq!(r.status(), 200, "{path}");
        r.text().await.unwrap()
    }

    async fn post(&self, path: &str) -> (u16, String) {
        let r = self.request(reqwest::Method::POST, path).await;
        (r.status().as_u16(), r.text().await.unwrap())
    }

    fn hangup(&self) {
        common::signal(self.process.pid(), "HUP").unwrap();
    }

    /// Scrapes until `done` holds of the exposition (at most 20 s), and returns it.
    async fn scrape_until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..400 {
            self.process.assert_running();
            let text = self.get("/metrics").await;
            if done(&text) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: not within 20 s; the log:\n{}", self.process.log());
    }
}

fn value(text: &str, series: &str) -> Option<f64> {
    samples(text).get(series).copied()
}

/// The data lines of one source, as written.
fn lines_of<'a>(text: &'a str, source: &str) -> Vec<&'a str> {
    let label = format!("source=\"{source}\"");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("backup_exporter_"))
        .filter(|l| l.contains(&label))
        .collect()
}

/// The `backup_first_seen_timestamp_seconds` of [`NEW`] in `source`.
fn first_seen(text: &str, source: &str) -> f64 {
    let device = format!("device=\"{NEW}\"");
    let line = lines_of(text, source)
        .into_iter()
        .find(|l| l.starts_with("backup_first_seen_timestamp_seconds{") && l.contains(&device))
        .unwrap_or_else(|| panic!("no first-seen time of {NEW} in {source}:\n{text}"));
    line.rsplit_once(' ').unwrap().1.parse().unwrap()
}

/// The stale threshold of [`STALE`] in `source`.
fn threshold(text: &str, source: &str) -> Option<f64> {
    let device = format!("device=\"{STALE}\"");
    lines_of(text, source)
        .into_iter()
        .find(|l| l.starts_with("backup_stale_threshold_seconds{") && l.contains(&device))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
}

/// The alerts section of the status page.
fn alerts_section(page: &str) -> &str {
    &page[page.find("id=\"alerts\"").expect("an alerts section")..]
}

fn write(path: &PathBuf, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_and_post_reload_change_only_what_changed_and_refuse_an_invalid_file() {
    let steady_server = console_server().await;
    let moving_server = console_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let top = "listen = \"127.0.0.1:0\"\n";
    let steady = source("steady", &steady_server, "");
    write(
        &config,
        &format!("{top}{steady}{}", source("moving", &moving_server, "")),
    );
    let mut run = Running::start(&config, &["--web.enable-lifecycle"]).await;
    let before = run
        .scrape_until("both sources read", |t| {
            value(
                t,
                "backup_exporter_source_up{source=\"moving\",system=\"code42\"}",
            ) == Some(1.0)
                && value(
                    t,
                    "backup_exporter_source_up{source=\"steady\",system=\"code42\"}",
                ) == Some(1.0)
        })
        .await;
    assert_eq!(value(&before, RELOAD_OK), Some(1.0));
    let started_at = value(&before, RELOAD_AT).expect("the start counts as a reading");
    assert_eq!(threshold(&before, "moving"), Some(3.0 * 86_400.0));
    let steady_lines: Vec<String> = lines_of(&before, "steady")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(steady_lines.len() > 10, "{before}");
    let (steady_seen, moving_seen) = (first_seen(&before, "steady"), first_seen(&before, "moving"));
    let steady_calls = steady_server.requested_paths().len();
    let page = run.get("/").await;
    assert!(alerts_section(&page).contains("<td>moving</td>"), "{page}");

    // (1) The moving source gets a threshold of a day; SIGHUP.
    write(
        &config,
        &format!(
            "{top}{steady}{}",
            source("moving", &moving_server, "stale_threshold = \"1d\"")
        ),
    );
    run.hangup();
    let after = run
        .scrape_until("the moving source restarted with its new threshold", |t| {
            threshold(t, "moving") == Some(86_400.0)
        })
        .await;
    assert_eq!(value(&after, RELOAD_OK), Some(1.0));
    let reloaded_at = value(&after, RELOAD_AT).unwrap();
    assert!(reloaded_at > started_at, "{started_at} then {reloaded_at}");
    // The steady source was not read again: the same series, values and first-seen times.
    assert_eq!(steady_server.requested_paths().len(), steady_calls);
    assert_eq!(lines_of(&after, "steady"), steady_lines);
    assert_eq!(first_seen(&after, "steady"), steady_seen);
    // The restarted one carries on what it learned of its targets.
    assert_eq!(first_seen(&after, "moving"), moving_seen);
    let log = run.process.log();
    assert!(
        log.contains("configuration reloaded") && log.contains("\"restarted\":\"moving\""),
        "{log}"
    );

    // (2) An invalid file, SIGHUP: the running configuration stays, and the log says why.
    let invalid = format!(
        "{top}{}{}",
        source("steady", &steady_server, "page_size = 0"),
        source("moving", &moving_server, "stale_threshold = \"1d\"")
    );
    write(&config, &invalid);
    run.hangup();
    let refused = run
        .scrape_until("the invalid file refused", |t| {
            value(t, RELOAD_OK) == Some(0.0)
        })
        .await;
    assert_eq!(value(&refused, RELOAD_AT), Some(reloaded_at));
    assert_eq!(lines_of(&refused, "steady"), steady_lines);
    assert_eq!(threshold(&refused, "moving"), Some(86_400.0));
    let log = run.process.log();
    let line = log
        .lines()
        .find(|l| l.contains("reloading the configuration failed"))
        .unwrap_or_else(|| panic!("no failure line in\n{log}"));
    assert!(
        line.contains(&config.display().to_string())
            && line.contains("source[0] (name \\\"steady\\\"): key `page_size`"),
        "{line}"
    );
    // POST answers the same reason, with 500.
    let (status, body) = run.post("/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("key `page_size`: must be 1 to 100000"),
        "{body}"
    );

    // (3) Fixed, without the moving source; POST /-/reload.
    write(&config, &format!("{top}{steady}"));
    let (status, body) = run.post("/-/reload").await;
    assert_eq!(status, 200, "{body}");
    let fixed = run.get("/metrics").await;
    assert_eq!(value(&fixed, RELOAD_OK), Some(1.0), "answered once applied");
    let fixed_at = value(&fixed, RELOAD_AT).unwrap();
    assert!(fixed_at > reloaded_at);
    assert!(!fixed.contains("source=\"moving\""), "{fixed}");
    assert_eq!(lines_of(&fixed, "steady"), steady_lines);
    // Its alerts resolved at once (no refresh ran since): the page lists none of them.
    let mut page = String::new();
    for _ in 0..400 {
        page = run.get("/").await;
        if !alerts_section(&page).contains("<td>moving</td>") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!page.contains("<td>moving</td>"), "{page}");
    assert!(alerts_section(&page).contains("<td>steady</td>"), "{page}");

    // A source added starts.
    write(
        &config,
        &format!("{top}{steady}{}", source("fresh", &moving_server, "")),
    );
    let (status, body) = run.post("/-/reload").await;
    assert_eq!(status, 200, "{body}");
    let added = run
        .scrape_until("the new source read", |t| {
            value(
                t,
                "backup_exporter_source_up{source=\"fresh\",system=\"code42\"}",
            ) == Some(1.0)
        })
        .await;
    assert!(value(&added, RELOAD_AT).unwrap() > fixed_at);
    assert_eq!(lines_of(&added, "steady"), steady_lines);
    assert_eq!(steady_server.requested_paths().len(), steady_calls);

    // Only POST and PUT reload.
    let r = run.request(reqwest::Method::GET, "/-/reload").await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST, PUT");
    assert!(run.process.stop(Duration::from_secs(10)).await.success());
}

/// Without `--web.enable-lifecycle`, `/-/reload` is refused as Prometheus refuses it (403 for
/// POST and PUT, 405 otherwise), and the configuration is not read; SIGHUP still reloads.
#[tokio::test(flavor = "multi_thread")]
async fn without_the_lifecycle_flag_only_sighup_reloads() {
    let server = console_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let top = "listen = \"127.0.0.1:0\"\n";
    write(&config, &format!("{top}{}", source("hq", &server, "")));
    let mut run = Running::start(&config, &[]).await;
    write(
        &config,
        &format!("{top}{}", source("hq", &server, "page_size = 0")),
    );
    let (status, body) = run.post("/-/reload").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("--web.enable-lifecycle"), "{body}");
    let r = run.request(reqwest::Method::PUT, "/-/reload").await;
    assert_eq!(r.status(), 403);
    let r = run.request(reqwest::Method::GET, "/-/reload").await;
    assert_eq!(r.status(), 405);
    let text = run.get("/metrics").await;
    assert_eq!(value(&text, RELOAD_OK), Some(1.0), "nothing was read");
    run.hangup();
    run.scrape_until("SIGHUP read the invalid file", |t| {
        value(t, RELOAD_OK) == Some(0.0)
    })
    .await;
    assert!(run.process.stop(Duration::from_secs(10)).await.success());
}

/// A reload reads the web configuration file too: an invalid one is refused (naming the file
/// and the key) with the rest, a valid one is put in force.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_reads_the_web_config_file() {
    let server = console_server().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let web = dir.path().join("web.yml");
    write(&web, "{}\n");
    write(
        &config,
        &format!(
            "listen = \"127.0.0.1:0\"\nweb_config_file = {:?}\n{}",
            web.display().to_string(),
            source("hq", &server, "")
        ),
    );
    let run = Running::start(&config, &["--web.enable-lifecycle"]).await;
    write(
        &web,
        "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
    );
    let (status, body) = run.post("/-/reload").await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains(&web.display().to_string())
            && body.contains("http_server_config.headers.X-Frame-Options"),
        "{body}"
    );
    write(
        &web,
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
    );
    let (status, body) = run.post("/-/reload").await;
    assert_eq!(status, 200, "{body}");
    let r = run.request(reqwest::Method::GET, "/healthz").await;
    assert_eq!(r.headers()["x-frame-options"], "deny");
}

/// The library's part: a source that cannot be built refuses the whole reload and changes
/// nothing; a source whose kind changed is a new source (the old kind's series go).
#[tokio::test(flavor = "multi_thread")]
async fn a_source_that_cannot_be_built_changes_nothing_and_a_new_kind_is_a_new_source() {
    use backup_exporter::config::Config;
    use backup_exporter::refresh::{Exporter, SourcesReloaded};
    let code42 = console_server().await;
    let crashplan = common::sim(
        backup_exporter::sources::crashplan::sim::Dataset::document_examples(),
        true,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    write(&not_pem, "not a certificate\n");
    let load = |text: String| Config::from_toml_str(&text).unwrap();
    let hq = source("hq", &code42, "");
    let (exporter, sources) = Exporter::new(&load(hq.clone())).unwrap();
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    exporter.spawn(sources, stop_rx);
    let read = || async {
        for _ in 0..400 {
            if exporter.ready() {
                return String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no refresh within 20 s");
    };
    let first = read().await;
    let running = exporter.sources();

    let err = exporter
        .reload_sources(&load(format!(
            "{}{}[source.tls]\nca_file = {:?}\n",
            source("hq", &code42, "page_size = 100"),
            source("new", &code42, ""),
            not_pem.display().to_string()
        )))
        .await
        .unwrap_err();
    assert!(
        err.contains("source \"new\"") && err.contains("tls.ca_file"),
        "{err}"
    );
    let now = exporter.sources();
    assert_eq!(now.len(), 1);
    assert!(std::sync::Arc::ptr_eq(&now[0], &running[0]), "hq untouched");

    // hq, now a CrashPlan PRO server.
    let done = exporter
        .reload_sources(&load(format!(
            "[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n",
            crashplan.url(),
            common::USER,
            common::PASSWORD
        )))
        .await
        .unwrap();
    assert_eq!(
        done,
        SourcesReloaded {
            added: vec!["hq".into()],
            removed: vec!["hq".into()],
            ..SourcesReloaded::default()
        }
    );
    let text = String::from_utf8(exporter.rendered().text().to_vec()).unwrap();
    assert!(first.contains("system=\"code42\""));
    assert!(!text.contains("system=\"code42\""), "{text}");
    let text = read().await;
    assert!(
        text.contains("backup_exporter_source_up{source=\"hq\",system=\"crashplan\"} 1"),
        "{text}"
    );
    let _ = stop.send(true);
    exporter.join().await;
}
