//! The real Prometheus and Alertmanager (Debian packages `prometheus` and
//! `prometheus-alertmanager`; scripts/test.sh installs them) for integration tests, and
//! [`require_binary`] for every program the tests run.
//!
//! Every process runs in its own temporary directory (configuration, storage, log), listens on
//! 127.0.0.1 only, on a port picked free just before, and is killed by pid and waited for when
//! its handle drops, whatever the test does. Waits poll with a deadline; none sleeps a fixed
//! time. A failure shows the process's log.
//!
//! ```ignore
//! let am = Alertmanager::start(&Alertmanager::webhook_config(&receiver_url)).await;
//! let prom = Prometheus::start(
//!     PrometheusConfig::new()
//!         .scrape("backup_exporter", &[&exporter_addr])
//!         .rule_file(repo_path("alerts/backup_exporter.rules.yml"))
//!         .alertmanager(am.addr()),
//! )
//! .await;
//! prom.wait_for_scrapes("backup_exporter", 2, secs(30)).await;
//! let firing = prom.wait_for_alert("BackupStale", "firing", secs(30)).await;
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A program the tests run: its names on PATH, and the Debian package that installs it
/// (scripts/test.sh installs them all).
pub struct Binary {
    pub names: &'static [&'static str],
    pub package: &'static str,
}

/// The Prometheus server.
pub const PROMETHEUS: Binary = Binary {
    names: &["prometheus"],
    package: "prometheus",
};
/// Alertmanager: Debian's name, then upstream's.
pub const ALERTMANAGER: Binary = Binary {
    names: &["prometheus-alertmanager", "alertmanager"],
    package: "prometheus-alertmanager",
};
/// jsonnet, which generates the rule file and dashboards from the mixin (scripts/mixin.sh).
pub const JSONNET: Binary = Binary {
    names: &["jsonnet"],
    package: "jsonnet",
};

/// `Duration::from_secs`, short for deadlines.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The first of `names` found on PATH.
pub fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The program on PATH; panics telling how to install it when it is not there (a missing
/// program fails the test, it does not skip it).
pub fn require_binary(binary: &Binary) -> PathBuf {
    find_binary(binary.names).unwrap_or_else(|| {
        let (names, package) = (binary.names, binary.package);
        panic!(
            "none of {names:?} is on PATH: run scripts/test.sh, which installs the Debian \
             package {package} (or apt-get install {package})"
        )
    })
}

/// A port free on 127.0.0.1 now (bound to port 0, read, released) for a child to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// An HTTP client for the local processes: no proxy, 5 s timeout.
pub fn client() -> reqwest::Client {
    backup_exporter::tls::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(secs(5))
        .build()
        .expect("HTTP client")
}

/// A client that leaves bodies as sent (no `Accept-Encoding`, nothing inflated), waiting at
/// most `timeout`: for tests of the gzip and plain bodies themselves.
pub fn raw_client(timeout: Duration) -> reqwest::Client {
    backup_exporter::tls::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .timeout(timeout)
        .build()
        .expect("HTTP client")
}

/// Polls `check` every 100 ms until it returns `Ok`, and returns that value. Past `timeout`,
/// panics naming `what` and the last `Err` (say what was seen instead).
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A child process with its own temporary directory, its stdout and stderr in `<dir>/log`.
/// Dropping it kills the process (by pid) and waits for it, then removes the directory.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
    // Dropped after `child` is killed (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

impl Process {
    /// Runs `cmd` (its working directory set to `dir`) as `name` (for messages).
    pub fn spawn(name: &str, dir: tempfile::TempDir, mut cmd: Command) -> Process {
        let log = dir.path().join("log");
        let file = std::fs::File::create(&log).expect("create log file");
        let child = cmd
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({cmd:?}): {e}"));
        Process {
            name: name.to_owned(),
            child,
            log,
            dir,
        }
    }

    /// A fresh temporary directory for [`Process::spawn`].
    pub fn tempdir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir()
            .expect("temporary directory")
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}); its log:\n{}", self.name, self.log());
        }
    }

    /// Asks the process to stop (SIGTERM, by pid) and waits for it to exit; past `timeout`
    /// kills it and panics with its log. Does nothing when it has exited already.
    pub async fn stop(&mut self, timeout: Duration) -> std::process::ExitStatus {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status;
        }
        if let Err(e) = super::signal(self.pid(), "TERM") {
            panic!("SIGTERM to {} ({}): {e}", self.pid(), self.name);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{} did not exit within {timeout:?} of SIGTERM; its log:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `cmd` again in the same directory once the process has exited (see
    /// [`Process::stop`]), its output appended to the same log.
    pub fn respawn(&mut self, mut cmd: Command) {
        if let Ok(None) = self.child.try_wait() {
            panic!("{} is still running: stop it first", self.name);
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("open log file");
        self.child = cmd
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file handle"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("restart {} ({cmd:?}): {e}", self.name));
    }

    /// A field of the exporter's `serving /metrics` log line (JSON log format), once it is
    /// logged (at most 20 s): `listen`, the first bound address; `addresses`, all of them.
    /// Panics with the log when the process exits first.
    pub async fn serving(&mut self, field: &str) -> String {
        for _ in 0..400 {
            self.assert_running();
            let value = self.log().lines().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "serving /metrics")
                    .then(|| v["fields"][field].as_str().map(str::to_owned))
                    .flatten()
            });
            if let Some(value) = value {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{} logged no serving line with {field}; its log:\n{}",
            self.name,
            self.log()
        );
    }

    /// Polls GET `url` until it answers 200. Panics with the process's log when the process
    /// exits or `timeout` passes first.
    pub async fn wait_http_ok(&mut self, url: &str, timeout: Duration) {
        let c = client();
        let deadline = Instant::now() + timeout;
        loop {
            self.assert_running();
            let last = match c.get(url).send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => format!("status {}", r.status()),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                panic!(
                    "{} not ready at {url} within {timeout:?} ({last}); its log:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration of a test Prometheus: scrape jobs, rule files, Alertmanagers. Scrape and
/// rule evaluation intervals default to 1 s.
#[derive(Clone, Debug)]
pub struct PrometheusConfig {
    interval: Duration,
    jobs: Vec<(String, Vec<String>)>,
    /// Scrape jobs given as YAML (TLS, basic auth, ...), items of `scrape_configs`.
    jobs_yaml: Vec<String>,
    rule_files: Vec<PathBuf>,
    alertmanagers: Vec<String>,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusConfig {
    pub fn new() -> Self {
        PrometheusConfig {
            interval: secs(1),
            jobs: Vec::new(),
            jobs_yaml: Vec::new(),
            rule_files: Vec::new(),
            alertmanagers: Vec::new(),
        }
    }

    /// Scrape and rule evaluation interval (whole seconds or milliseconds).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// A scrape job `job` of `targets` ("127.0.0.1:PORT", path /metrics).
    pub fn scrape(mut self, job: &str, targets: &[&str]) -> Self {
        self.jobs.push((
            job.to_owned(),
            targets.iter().map(|t| (*t).to_owned()).collect(),
        ));
        self
    }

    /// Scrape jobs written out: items of `scrape_configs`, indented by two spaces
    /// (`  - job_name: ...`), for what [`PrometheusConfig::scrape`] does not say.
    pub fn scrape_yaml(mut self, yaml: &str) -> Self {
        self.jobs_yaml.push(yaml.to_owned());
        self
    }

    /// A rule file to load (an absolute path; see [`repo_path`]).
    pub fn rule_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.rule_files.push(path.into());
        self
    }

    /// An Alertmanager ("127.0.0.1:PORT", see [`Alertmanager::addr`]) to send alerts to.
    pub fn alertmanager(mut self, addr: &str) -> Self {
        self.alertmanagers.push(addr.to_owned());
        self
    }

    /// The prometheus.yml text.
    pub fn to_yaml(&self) -> String {
        let interval = format!("{}ms", self.interval.as_millis());
        let mut y = format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  \
             evaluation_interval: {interval}\n"
        );
        if !self.rule_files.is_empty() {
            y.push_str("rule_files:\n");
            for f in &self.rule_files {
                writeln!(y, "  - {}", json_str(&f.display().to_string())).unwrap();
            }
        }
        if !self.alertmanagers.is_empty() {
            y.push_str("alerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs:\n        - targets:\n");
            for a in &self.alertmanagers {
                writeln!(y, "            - {}", json_str(a)).unwrap();
            }
        }
        y.push_str("scrape_configs:\n");
        for (job, targets) in &self.jobs {
            writeln!(
                y,
                "  - job_name: {}\n    static_configs:\n      - targets:",
                json_str(job)
            )
            .unwrap();
            for t in targets {
                writeln!(y, "          - {}", json_str(t)).unwrap();
            }
        }
        for job in &self.jobs_yaml {
            y.push_str(job);
        }
        y
    }
}

/// A YAML scalar (JSON strings are YAML).
fn json_str(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// A running Prometheus server (storage in its temporary directory), ready to answer.
pub struct Prometheus {
    process: Process,
    url: String,
    client: reqwest::Client,
}

impl Prometheus {
    /// Writes the configuration, starts Prometheus on a free 127.0.0.1 port and waits for
    /// /-/ready (panics with the log when it does not get there within 30 s, e.g. a rule file
    /// that does not load).
    pub async fn start(config: PrometheusConfig) -> Prometheus {
        let bin = require_binary(&PROMETHEUS);
        let dir = Process::tempdir("prometheus");
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config.to_yaml()).expect("write prometheus.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--web.external-url=http://{addr}/"));
        let mut process = Process::spawn("prometheus", dir, cmd);
        let url = format!("http://{addr}");
        process
            .wait_http_ok(&format!("{url}/-/ready"), secs(30))
            .await;
        Prometheus {
            process,
            url,
            client: client(),
        }
    }

    /// "http://127.0.0.1:PORT".
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn process(&self) -> &Process {
        &self.process
    }

    /// GET `path` (with `params`) of the HTTP API; the `data` of a successful answer, else
    /// Prometheus's error message.
    async fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let url = url::Url::parse_with_params(&format!("{}{path}", self.url), params)
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET {path}: {status}, not JSON ({e}): {body}"))?;
        if v["status"] != "success" {
            return Err(format!(
                "{} ({status}): {}",
                v["errorType"].as_str().unwrap_or("error"),
                v["error"].as_str().unwrap_or(&body)
            ));
        }
        Ok(v["data"].clone())
    }

    /// An instant query now: the samples of a vector (`{"metric": {...}, "value": [t, "v"]}`),
    /// or one element for a scalar or string; the error message of a bad expression.
    pub async fn try_query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("/api/v1/query", &[("query", expr)]).await?;
        match data["resultType"].as_str() {
            Some("vector") | Some("matrix") => {
                Ok(data["result"].as_array().cloned().unwrap_or_default())
            }
            _ => Ok(vec![data["result"].clone()]),
        }
    }

    /// [`Prometheus::try_query`], panicking with the error (and the expression).
    pub async fn query(&self, expr: &str) -> Vec<Value> {
        self.try_query(expr)
            .await
            .unwrap_or_else(|e| panic!("query {expr:?} failed: {e}"))
    }

    /// Polls `expr` until `pred` holds for its result and returns that result; panics with
    /// the last result past `timeout` (and at once on a bad expression).
    pub async fn wait_until(
        &self,
        expr: &str,
        timeout: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let pred = &pred;
        wait_until(&format!("{expr:?} to hold"), timeout, move || async move {
            let r = self.query(expr).await;
            if pred(&r) {
                Ok(r)
            } else {
                Err(Value::Array(r).to_string())
            }
        })
        .await
    }

    /// Polls `expr` until it returns at least one series.
    pub async fn wait_for_series(&self, expr: &str, timeout: Duration) -> Vec<Value> {
        self.wait_until(expr, timeout, |r| !r.is_empty()).await
    }

    /// Waits until every target of `job` has been scraped successfully at least `n` times.
    pub async fn wait_for_scrapes(&self, job: &str, n: u32, timeout: Duration) {
        let expr = format!("sum_over_time(up{{job={}}}[1h])", json_str(job));
        self.wait_until(&expr, timeout, |r| {
            !r.is_empty() && r.iter().all(|s| value(s) >= f64::from(n))
        })
        .await;
    }

    /// The alerts of the rules, pending and firing (/api/v1/alerts: `labels`, `annotations`,
    /// `state`, `activeAt`, `value`).
    pub async fn alerts(&self) -> Vec<Value> {
        let data = self
            .api("/api/v1/alerts", &[])
            .await
            .unwrap_or_else(|e| panic!("GET /api/v1/alerts: {e}"));
        data["alerts"].as_array().cloned().unwrap_or_default()
    }

    /// Polls [`Prometheus::alerts`] until at least one alert `name` is in `state` ("pending"
    /// or "firing"), and returns those alerts.
    pub async fn wait_for_alert(&self, name: &str, state: &str, timeout: Duration) -> Vec<Value> {
        wait_until(
            &format!("alert {name} {state}"),
            timeout,
            move || async move {
                let all = self.alerts().await;
                let hits: Vec<Value> = all
                    .iter()
                    .filter(|a| a["labels"]["alertname"] == name && a["state"] == state)
                    .cloned()
                    .collect();
                if hits.is_empty() {
                    Err(Value::Array(all).to_string())
                } else {
                    Ok(hits)
                }
            },
        )
        .await
    }

    /// The rule groups (/api/v1/rules): to check a rule file loaded, or read rule health.
    pub async fn rules(&self) -> Vec<Value> {
        let data = self
            .api("/api/v1/rules", &[])
            .await
            .unwrap_or_else(|e| panic!("GET /api/v1/rules: {e}"));
        data["groups"].as_array().cloned().unwrap_or_default()
    }
}

/// The value of a sample of a query result (`"NaN"`, `"+Inf"` included).
pub fn value(sample: &Value) -> f64 {
    let v = sample["value"][1]
        .as_str()
        .unwrap_or_else(|| panic!("not a sample: {sample}"));
    match v {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or(f64::NAN),
    }
}

/// A label of a sample of a query result ("" when absent).
pub fn label<'a>(sample: &'a Value, name: &str) -> &'a str {
    sample["metric"][name].as_str().unwrap_or("")
}

/// A running Alertmanager (no cluster port, storage in its temporary directory), ready. It can
/// be stopped and started again on the same address with the same storage
/// ([`Alertmanager::stop`], [`Alertmanager::restart`]).
pub struct Alertmanager {
    process: Process,
    bin: PathBuf,
    args: Vec<String>,
    addr: String,
    url: String,
    client: reqwest::Client,
}

impl Alertmanager {
    /// Starts Alertmanager with the configuration `config_yaml` (see
    /// [`Alertmanager::webhook_config`]) on a free 127.0.0.1 port and waits for /-/ready.
    pub async fn start(config_yaml: &str) -> Alertmanager {
        let bin = require_binary(&ALERTMANAGER);
        let dir = Process::tempdir("alertmanager");
        let config_path = dir.path().join("alertmanager.yml");
        std::fs::write(&config_path, config_yaml).expect("write alertmanager.yml");
        let addr = format!("127.0.0.1:{}", free_port());
        let args = vec![
            format!("--config.file={}", config_path.display()),
            format!("--storage.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={addr}"),
            format!("--web.external-url=http://{addr}/"),
            // Empty: no gossip port, no cluster.
            "--cluster.listen-address=".to_owned(),
        ];
        let mut cmd = Command::new(&bin);
        cmd.args(&args);
        let mut process = Process::spawn("alertmanager", dir, cmd);
        let url = format!("http://{addr}");
        process
            .wait_http_ok(&format!("{url}/-/ready"), secs(30))
            .await;
        Alertmanager {
            process,
            bin,
            args,
            addr,
            url,
            client: client(),
        }
    }

    /// Stops Alertmanager (SIGTERM; it saves its notification log and silences) and waits
    /// for it to exit and its port to refuse connections.
    pub async fn stop(&mut self) {
        self.process.stop(secs(30)).await;
        let addr = self.addr.clone();
        wait_until("the stopped Alertmanager's port to close", secs(10), || {
            let addr = addr.clone();
            async move {
                match tokio::net::TcpStream::connect(&addr).await {
                    Ok(_) => Err(format!("{addr} still accepts connections")),
                    Err(_) => Ok(()),
                }
            }
        })
        .await;
    }

    /// Starts the stopped Alertmanager again with the same arguments: the same address,
    /// configuration and storage. Waits for /-/ready.
    pub async fn restart(&mut self) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(&self.args);
        self.process.respawn(cmd);
        self.process
            .wait_http_ok(&format!("{}/-/ready", self.url), secs(30))
            .await;
    }

    /// A configuration sending every alert to the webhook `url` (one notification per alert:
    /// grouped by all labels, 1 s group wait and interval, resolved alerts included).
    pub fn webhook_config(url: &str) -> String {
        format!(
            "route:\n  receiver: test\n  group_by: ['...']\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: test\n    \
             webhook_configs:\n      - url: {}\n        send_resolved: true\n",
            json_str(url)
        )
    }

    /// "127.0.0.1:PORT", for [`PrometheusConfig::alertmanager`].
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// "http://127.0.0.1:PORT".
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn process(&self) -> &Process {
        &self.process
    }

    /// The alerts Alertmanager holds (/api/v2/alerts: `labels`, `annotations`, `status`, ...).
    pub async fn alerts(&self) -> Vec<Value> {
        self.try_alerts().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Alertmanager::alerts`], or what went wrong (e.g. while it is stopped).
    pub async fn try_alerts(&self) -> Result<Vec<Value>, String> {
        let url = format!("{}/api/v2/alerts", self.url);
        let resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let body = resp.text().await.unwrap_or_default();
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .ok_or_else(|| format!("GET {url}: not a JSON array: {body}"))
    }
}

/// The exporter binary as an operator runs it: a configuration file (`listen` on a free
/// 127.0.0.1 port, then `config`), without the test's `BACKUP_EXPORTER_*` or `RUST_LOG`
/// variables; returned once `/ready`, with its address.
pub async fn start_exporter(config: &str) -> (Process, String) {
    let dir = Process::tempdir("exporter");
    let addr = format!("127.0.0.1:{}", free_port());
    let path = dir.path().join("config.toml");
    std::fs::write(&path, format!("listen = \"{addr}\"\n{config}")).expect("write config.toml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_backup_exporter"));
    cmd.arg("--config").arg(&path).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("BACKUP_EXPORTER_") {
            cmd.env_remove(k);
        }
    }
    let mut process = Process::spawn("backup_exporter", dir, cmd);
    process
        .wait_http_ok(&format!("http://{addr}/ready"), secs(30))
        .await;
    (process, addr)
}
