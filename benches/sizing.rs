//! Sizing: what the real exporter costs per vendor at its benchmark size, side by side in one
//! run on loopback (`bash scripts/sizing.sh`).
//!
//! For each vendor in turn, this process serves a simulated server holding a large fleet on
//! 127.0.0.1, writes a configuration of one source reading it into a temporary directory, and
//! starts the exporter binary (`backup_exporter --config FILE run`, listening on
//! 127.0.0.1, any port, JSON logs) as a separate process. One vendor at a time, so the
//! processes do not disturb each other; the simulator shares the machine with the exporter,
//! as the other benchmarks' do.
//!
//! | Vendor | Size | Knobs |
//! |---|---|---|
//! | CrashPlan PRO | 20 000 computers, one destination each (and the demo fleet's two servers' computers) | `BENCH_DEVICES` |
//! | Code42 | 20 000 devices, 26 667 device–destination pairs: every third device (index a multiple of 3) has a second destination | `BENCH_DEVICES`, `BENCH_PAIRS` (or `BENCH_TARGETS` destinations for every device) |
//! | Rackspace | 500 agents × 2 backup configurations | `BENCH_AGENTS`, `BENCH_CONFIGS` |
//! | Freezer | 2 projects × 1000 hosts, one nightly job and 30 backups each | `BENCH_HOSTS`, `BENCH_BACKUPS` |
//!
//! Lists are read in pages of 500 (`BENCH_PAGE_SIZE`; CrashPlan, Code42, Freezer). The
//! simulators answer at once; `BENCH_LATENCY` milliseconds (default 0) holds every answer of
//! the Rackspace and Freezer simulators back, as a remote service would. `BENCH_VENDORS`
//! (`crashplan,code42,rackspace,freezer`) runs some only.
//!
//! Per vendor, from the exporter process:
//!
//! - after `/ready` (its first refresh served), it refreshes every `BENCH_INTERVAL` seconds
//!   (default 30, ±10 % jitter after the end of the previous one). The bench follows the
//!   `refresh ok` log lines. After refreshes 2 and 3 (up to `BENCH_REFRESHES`; "warm": token
//!   kept, Rackspace reports cached), in the quiet part of the interval (40 % to 70 % of it
//!   after the log line, 12 to 21 s by default: the refresh's render and the alert rules are
//!   long done, the runtime's blocking threads that decoded the pages have ended after their
//!   10 s idle, giving their memory back, and the next refresh has not started, which is
//!   checked), it samples `VmRSS` of `/proc/<pid>/status` 5 times (idle RSS: the median of all
//!   samples), then scrapes `/metrics` plain and with `Accept-Encoding: gzip`. After the last window, `VmHWM` (peak RSS over the process's life:
//!   its refreshes, their renders, the scrapes; or the largest `VmRSS` sample, should that be
//!   higher).
//! - series: every sample line of the last plain scrape; "data" leaves out the exporter's own
//!   `backup_exporter_*`; per device: data series over the `backup_device_info` series (the
//!   devices the exporter exports: deactivated Code42 devices are not).
//! - refresh time: `backup_exporter_refresh_duration_seconds` scraped in each warm window (the
//!   source's read: fetch, parse, map; the stale annotation, render and gzip come after it); the
//!   best of the warm ones.
//! - download: the exporter is stopped, then this process fetches the requests the simulator
//!   logged for warm refresh 2 (path and query; with basic auth, or a token it signs in for
//!   first, untimed), one after the other over one keep-alive connection (a reqwest client,
//!   HTTP/1.1, nothing parsed, bytes counted), `BENCH_RUNS` times (default 3); the best run. The ratio is the refresh over the download: what the exporter's reading costs beyond
//!   getting the bytes (with `concurrency` 4 it can be below 1).
//!
//! Every wait is bounded: the exporter must be listening within 60 s, ready within 300 s, and
//! refresh again within the interval plus 300 s; a failed refresh, an exporter that exits, or a
//! quiet window that runs into the next refresh stops the benchmark with the log's tail.
//!
//! Prints a table, one row per vendor; with `BENCH_MARKDOWN=1` also as a markdown table.
//! `BENCH_EXPORTER` names another exporter binary to measure (a build to compare with,
//! copied aside), instead of the one this bench was built with.

mod support;

use support::{ms, set_latency};

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backup_exporter::config::Config;
use backup_exporter::sim::{basic_auth_header, Simulator};
use backup_exporter::sources::{code42, crashplan, freezer, rackspace};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION};
use tokio::sync::mpsc;
use tokio::time::sleep_until;

/// The exporter's allocator, as in the binary (this process holds the simulators).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The exporter binary Cargo built for this benchmark (the bench profile).
const EXPORTER: &str = env!("CARGO_BIN_EXE_backup_exporter");

/// The exporter binary measured: `BENCH_EXPORTER`, else the one built with this bench.
fn exporter_binary() -> String {
    std::env::var("BENCH_EXPORTER").unwrap_or_else(|_| EXPORTER.to_owned())
}

/// Refreshes before the peak is read, at least: the first, then two warm ones with a quiet
/// window each.
const REFRESHES: usize = 3;
/// `VmRSS` samples per quiet window.
const IDLE_SAMPLES: u32 = 5;
/// The quiet window, as fractions of the refresh interval after the `refresh ok` line: the
/// samples spread over the first part, the scrapes after; all of it must end before
/// `WINDOW_END` (the next refresh starts at 0.9 of the interval after the end of the last, at
/// the earliest).
const WINDOW_START: f64 = 0.4;
const SAMPLES_END: f64 = 0.7;
const WINDOW_END: f64 = 0.85;
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
const READY_TIMEOUT: Duration = Duration::from_secs(300);
/// Beyond the interval, for a later refresh to end.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines of the exporter's log kept for error messages.
const LOG_TAIL: usize = 30;

/// What the exporter's log says.
enum Event {
    Listening(SocketAddr),
    Refreshed(Refresh),
    Failed(String),
}

/// A `refresh ok` line: when it was read, and the refresh's duration.
#[derive(Clone, Copy)]
struct Refresh {
    at: Instant,
    duration: Duration,
}

/// The events of one JSON log line, if any.
fn event(line: &str, at: Instant) -> Option<Event> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = &v["fields"];
    match fields["message"].as_str()? {
        "serving /metrics" => fields["listen"]
            .as_str()?
            .parse()
            .ok()
            .map(Event::Listening),
        "refresh ok" => Some(Event::Refreshed(Refresh {
            at,
            duration: Duration::from_millis(fields["duration_ms"].as_u64()?),
        })),
        "refresh failed" => Some(Event::Failed(line.to_owned())),
        _ => None,
    }
}

/// The exporter binary, running; killed when dropped.
struct Exporter {
    child: Child,
    events: mpsc::UnboundedReceiver<Event>,
    tail: Arc<Mutex<VecDeque<String>>>,
    _dir: tempfile::TempDir,
}

impl Exporter {
    /// Writes `config` to a temporary file and starts `backup_exporter --config FILE run`,
    /// without the `BACKUP_EXPORTER_*` and `RUST_LOG` variables of this environment.
    fn spawn(config: &str) -> Exporter {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup_exporter.toml");
        std::fs::write(&path, config).unwrap();
        let binary = exporter_binary();
        let mut command = Command::new(&binary);
        command
            .arg("--config")
            .arg(&path)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("BACKUP_EXPORTER_") || k == "RUST_LOG" {
                command.env_remove(&key);
            }
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, events) = mpsc::unbounded_channel();
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let lines = tail.clone();
        // Reads the log until the process ends (its end closes the pipe).
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let e = event(&line, at);
                {
                    let mut lines = lines.lock().unwrap();
                    lines.push_back(line);
                    if lines.len() > LOG_TAIL {
                        lines.pop_front();
                    }
                }
                if let Some(e) = e {
                    let _ = tx.send(e);
                }
            }
        });
        Exporter {
            child,
            events,
            tail,
            _dir: dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the benchmark with `why` and the log's tail.
    fn fail(&self, why: &str) -> ! {
        let tail: Vec<String> = self.tail.lock().unwrap().iter().cloned().collect();
        panic!("{why}; the exporter's log ends with:\n{}", tail.join("\n"));
    }

    /// The next event of the log, within `timeout`.
    async fn next_event(&mut self, timeout: Duration) -> Event {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_millis(200), self.events.recv()).await {
                Ok(Some(e)) => return e,
                Ok(None) => self.fail("the exporter's log ended"),
                Err(_) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        self.fail(&format!("the exporter exited: {status}"));
                    }
                }
            }
        }
        self.fail(&format!("nothing from the exporter for {timeout:?}"))
    }

    /// The address it serves on.
    async fn listening(&mut self) -> SocketAddr {
        match self.next_event(LISTEN_TIMEOUT).await {
            Event::Listening(addr) => addr,
            _ => self.fail("a refresh before the listening line"),
        }
    }

    /// The next successful refresh, within `timeout`; a failed one stops the benchmark.
    async fn refreshed(&mut self, timeout: Duration) -> Refresh {
        match self.next_event(timeout).await {
            Event::Refreshed(r) => r,
            Event::Failed(line) => self.fail(&format!("a refresh failed: {line}")),
            Event::Listening(_) => self.fail("listening twice"),
        }
    }

    /// Polls `/ready` until it answers 200, within `timeout`.
    async fn ready(&mut self, client: &reqwest::Client, base: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{base}/ready")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("the exporter exited: {status}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.fail(&format!("not ready within {timeout:?}"))
    }

    /// A `/proc/<pid>/status` size (`VmRSS`, `VmHWM`), in bytes.
    fn status_bytes(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_else(|e| self.fail(&format!("/proc/{}/status: {e}", self.pid())));
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| self.fail(&format!("no {key} in /proc/<pid>/status")))
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `/metrics` text says.
struct Exposition {
    bytes: usize,
    series: usize,
    data_series: usize,
    devices: usize,
    refresh_duration: Option<f64>,
}

fn read_exposition(text: &str) -> Exposition {
    let mut e = Exposition {
        bytes: text.len(),
        series: 0,
        data_series: 0,
        devices: 0,
        refresh_duration: None,
    };
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        e.series += 1;
        if line.starts_with("backup_exporter_refresh_duration_seconds{") {
            e.refresh_duration = line.rsplit_once(' ').and_then(|(_, v)| v.parse().ok());
        }
        if !(line.starts_with("backup_exporter_") || line.starts_with("process_")) {
            e.data_series += 1;
        }
        if line.starts_with("backup_device_info{") {
            e.devices += 1;
        }
    }
    e
}

/// One quiet window after a warm refresh.
struct Window {
    refresh: Refresh,
    /// The scraped `backup_exporter_refresh_duration_seconds`.
    refresh_duration: Duration,
    rss: Vec<u64>,
    last_sample: Instant,
}

/// What the exporter process showed.
struct Measured {
    first_refresh: Duration,
    windows: Vec<Window>,
    exposition: Exposition,
    gzip_bytes: usize,
    peak_rss: u64,
    /// The requests of warm refresh 2, as path and query.
    requests: Vec<String>,
}

/// Runs the exporter with `source` (a `[[source]]` table) against `server` and measures it.
async fn run_exporter<S: Simulator>(
    server: &S,
    source: &str,
    interval: Duration,
    refreshes: usize,
) -> Measured {
    let config = format!(
        "listen = \"127.0.0.1:0\"\nlog_format = \"json\"\nlog_level = \"info\"\n\n{source}timeout = \"120s\"\nrefresh_interval = \"{}s\"\n",
        interval.as_secs()
    );
    Config::from_toml_str(&config).unwrap_or_else(|e| panic!("{e}\n{config}"));
    let mut exporter = Exporter::spawn(&config);
    let base = format!("http://{}", exporter.listening().await);
    println!(
        "  exporter pid {} serving {base}, refreshing every {} s",
        exporter.pid(),
        interval.as_secs()
    );
    let client = reqwest::Client::builder()
        .no_gzip()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = exporter.refreshed(READY_TIMEOUT).await;
    exporter.ready(&client, &base, READY_TIMEOUT).await;
    let at = |r: &Refresh, fraction: f64| -> tokio::time::Instant {
        (r.at + interval.mul_f64(fraction)).into()
    };
    // Requests of the first refresh still being logged (pages dropped unread) are done by now.
    sleep_until(at(&first, WINDOW_START)).await;
    server.clear_requests();

    let mut windows = Vec::new();
    let mut requests = Vec::new();
    let mut last = None;
    for _ in 1..refreshes {
        let refresh = exporter
            .refreshed(interval.mul_f64(1.1) + REFRESH_TIMEOUT)
            .await;
        sleep_until(at(&refresh, WINDOW_START)).await;
        let paths = server.requested_paths();
        server.clear_requests();
        if requests.is_empty() {
            requests = paths;
        }
        let mut rss = Vec::new();
        let step = (SAMPLES_END - WINDOW_START) / f64::from(IDLE_SAMPLES - 1);
        for j in 0..IDLE_SAMPLES {
            sleep_until(at(&refresh, WINDOW_START + step * f64::from(j))).await;
            rss.push(exporter.status_bytes("VmRSS"));
        }
        let last_sample = Instant::now();
        let plain = scrape(&client, &base, false).await;
        let gzip = scrape(&client, &base, true).await;
        let text = String::from_utf8(plain).expect("the exposition is UTF-8");
        let exposition = read_exposition(&text);
        if Instant::now() > at(&refresh, WINDOW_END).into_std() {
            exporter.fail(&format!(
                "the quiet window ran past {:.0} % of the interval: raise BENCH_INTERVAL",
                WINDOW_END * 100.0
            ));
        }
        let scraped = exposition
            .refresh_duration
            .unwrap_or_else(|| exporter.fail("no backup_exporter_refresh_duration_seconds"));
        // The scrape must show this refresh (its duration, as the log line has it in ms).
        if (scraped * 1e3 - refresh.duration.as_millis() as f64).abs() > 1.5 {
            exporter.fail(&format!(
                "the scraped refresh took {scraped} s, the logged one {:?}",
                refresh.duration
            ));
        }
        windows.push(Window {
            refresh,
            refresh_duration: Duration::from_secs_f64(scraped),
            rss,
            last_sample,
        });
        last = Some((exposition, gzip.len()));
    }
    // The kernel updates VmHWM lazily (memory given back with MADV_FREE, for one, can leave it
    // below an earlier VmRSS): the largest sample counts too.
    let peak_rss = windows
        .iter()
        .flat_map(|w| w.rss.iter().copied())
        .fold(exporter.status_bytes("VmHWM"), u64::max);
    // The windows before the last were quiet: the next refresh began after their last sample.
    for pair in windows.windows(2) {
        let next_start = pair[1].refresh.at - pair[1].refresh.duration;
        if next_start < pair[0].last_sample {
            exporter.fail("a refresh began during the quiet window: raise BENCH_INTERVAL");
        }
    }
    drop(exporter);
    let (exposition, gzip_bytes) = last.expect("at least one warm refresh");
    Measured {
        first_refresh: first.duration,
        windows,
        exposition,
        gzip_bytes,
        peak_rss,
        requests,
    }
}

/// `GET /metrics`, plain or asking for gzip (the body as sent, not inflated).
async fn scrape(client: &reqwest::Client, base: &str, gzip: bool) -> Vec<u8> {
    let mut request = client.get(format!("{base}/metrics"));
    if gzip {
        request = request.header(ACCEPT_ENCODING, "gzip");
    }
    let response = request.send().await.unwrap().error_for_status().unwrap();
    let encoding = response.headers().get("content-encoding").cloned();
    assert_eq!(
        encoding.as_ref().and_then(|v| v.to_str().ok()),
        gzip.then_some("gzip"),
        "Content-Encoding of /metrics"
    );
    response.bytes().await.unwrap().to_vec()
}

/// Fetches `requests` from `base` one after the other over one keep-alive connection,
/// `runs` times: the time of each run and the bytes of one.
async fn download(
    base: &str,
    requests: &[String],
    headers: HeaderMap,
    runs: usize,
) -> (Vec<Duration>, usize) {
    let client = reqwest::Client::builder()
        .no_gzip()
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(120))
        .default_headers(headers)
        .build()
        .unwrap();
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let started = Instant::now();
        bytes = 0;
        for r in requests {
            let response = client.get(format!("{base}{r}")).send().await.unwrap();
            // The Freezer version document answers 300 Multiple Choices.
            let status = response.status();
            assert!(
                status.is_success() || status.as_u16() == 300,
                "GET {r}: {status}"
            );
            bytes += response.bytes().await.unwrap().len();
        }
        times.push(started.elapsed());
    }
    (times, bytes)
}

/// One row of the table.
struct Row {
    vendor: &'static str,
    size: String,
    measured: Measured,
    downloads: Vec<Duration>,
    download_bytes: usize,
}

impl Row {
    fn refresh(&self) -> Duration {
        let d = self.measured.windows.iter().map(|w| w.refresh_duration);
        d.min().expect("a warm refresh")
    }

    fn download(&self) -> Duration {
        support::best(&self.downloads)
    }

    fn idle_rss(&self) -> u64 {
        let mut all: Vec<u64> = self
            .measured
            .windows
            .iter()
            .flat_map(|w| w.rss.iter().copied())
            .collect();
        all.sort_unstable();
        all[all.len() / 2]
    }

    /// The table's cells, in `HEADER` order.
    fn cells(&self) -> Vec<String> {
        let e = &self.measured.exposition;
        let mib = |b: u64| format!("{:.0}", b as f64 / 1048576.0);
        let mb = |b: usize| format!("{:.1}", b as f64 / 1e6);
        vec![
            self.vendor.to_owned(),
            self.size.clone(),
            e.devices.to_string(),
            e.data_series.to_string(),
            e.series.to_string(),
            format!("{:.1}", e.data_series as f64 / e.devices.max(1) as f64),
            mb(e.bytes),
            format!("{:.2}", self.measured.gzip_bytes as f64 / 1e6),
            mib(self.idle_rss()),
            mib(self.measured.peak_rss),
            format!("{:.0}", ms(self.refresh())),
            self.measured.requests.len().to_string(),
            mb(self.download_bytes),
            format!("{:.0}", ms(self.download())),
            format!("{:.2}", support::ratio(self.refresh(), self.download())),
        ]
    }
}

const HEADER: [&str; 15] = [
    "vendor",
    "size",
    "devices",
    "data series",
    "series",
    "per device",
    "plain MB",
    "gzip MB",
    "RSS idle MiB",
    "RSS peak MiB",
    "refresh ms",
    "requests",
    "JSON MB",
    "download ms",
    "ratio",
];

fn print_table(rows: &[Row]) {
    let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([HEADER[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: Vec<String>| {
        let padded: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < 2 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(HEADER.iter().map(|h| (*h).to_owned()).collect());
    for row in cells {
        line(row);
    }
}

fn print_markdown(rows: &[Row]) {
    println!("| {} |", HEADER.join(" | "));
    println!(
        "|{}",
        HEADER
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 2 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for row in rows {
        println!("| {} |", row.cells().join(" | "));
    }
}

/// Runs the exporter against `server`, then downloads the same requests with `headers`.
async fn measure<S: Simulator>(
    vendor: &'static str,
    size: String,
    server: &S,
    source: &str,
    headers: impl std::future::Future<Output = HeaderMap>,
    knobs: &Knobs,
) -> Row {
    let measured = run_exporter(server, source, knobs.interval, knobs.refreshes).await;
    let (downloads, download_bytes) =
        download(&server.url(), &measured.requests, headers.await, knobs.runs).await;
    let row = Row {
        vendor,
        size,
        measured,
        downloads,
        download_bytes,
    };
    let warm: Vec<String> = row
        .measured
        .windows
        .iter()
        .map(|w| format!("{:.0}", ms(w.refresh_duration)))
        .collect();
    let rss: Vec<String> = row
        .measured
        .windows
        .iter()
        .map(|w| {
            let mib: Vec<String> = w
                .rss
                .iter()
                .map(|b| format!("{:.0}", *b as f64 / 1048576.0))
                .collect();
            mib.join(" ")
        })
        .collect();
    let runs: Vec<String> = row
        .downloads
        .iter()
        .map(|d| format!("{:.0}", ms(*d)))
        .collect();
    println!(
        "  refresh ms: first {:.0}, warm {}; idle RSS MiB: {}; peak {:.0} MiB",
        ms(row.measured.first_refresh),
        warm.join(", "),
        rss.join(" | "),
        row.measured.peak_rss as f64 / 1048576.0
    );
    println!(
        "  download of the {} requests of a warm refresh ({:.1} MB), one connection, ms: {}",
        row.measured.requests.len(),
        row.download_bytes as f64 / 1e6,
        runs.join(", ")
    );
    row
}

/// The knobs every vendor shares.
struct Knobs {
    interval: Duration,
    refreshes: usize,
    runs: usize,
    page_size: usize,
    latency: Duration,
}

fn header(name: &str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        HeaderName::from_bytes(name.as_bytes()).unwrap(),
        HeaderValue::from_str(value).unwrap(),
    );
    h
}

#[tokio::main]
async fn main() {
    let started = Instant::now();
    backup_exporter::tls::install_crypto_provider();
    let env = support::env;
    let knobs = Knobs {
        interval: Duration::from_secs(env("BENCH_INTERVAL", 30).max(1) as u64),
        refreshes: env("BENCH_REFRESHES", REFRESHES).max(REFRESHES),
        runs: env("BENCH_RUNS", 3).max(1),
        page_size: env("BENCH_PAGE_SIZE", 500).max(1),
        latency: Duration::from_millis(env("BENCH_LATENCY", 0) as u64),
    };
    let vendors = std::env::var("BENCH_VENDORS")
        .unwrap_or_else(|_| "crashplan,code42,rackspace,freezer".to_owned());
    let wanted = |v: &str| vendors.split(',').any(|w| w.trim() == v);
    let paged = format!("page_size = {}\n", knobs.page_size);
    let client = reqwest::Client::new();
    println!(
        "sizing: the exporter binary {}, {} cores, refresh interval {} s, latency {} ms (Rackspace, Freezer), page size {}",
        exporter_binary(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        knobs.interval.as_secs(),
        knobs.latency.as_millis(),
        knobs.page_size
    );
    let mut rows = Vec::new();

    if wanted("crashplan") {
        let n = env("BENCH_DEVICES", 20_000);
        let size = format!("{n} computers");
        let t = Instant::now();
        let server = crashplan::sim::SimServer::start(
            support::crashplan::large_fleet(n),
            support::crashplan::sim_config(),
        )
        .await
        .unwrap();
        println!(
            "crashplan: {size}, built and served in {:.0} ms",
            ms(t.elapsed())
        );
        let source = support::crashplan::source(&server) + &paged;
        let auth = basic_auth_header(support::crashplan::USERNAME, support::crashplan::PASSWORD);
        let headers = async { header(AUTHORIZATION.as_str(), &auth) };
        rows.push(measure("CrashPlan PRO", size, &server, &source, headers, &knobs).await);
        server.shutdown().await;
    }

    if wanted("code42") {
        let n = env("BENCH_DEVICES", 20_000);
        let t = Instant::now();
        let now = chrono::Utc::now();
        let (dataset, pairs) = match std::env::var("BENCH_TARGETS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            Some(targets) => (
                code42::sim::fleet::large_console(n, targets, now),
                n * targets,
            ),
            None => {
                let pairs = env("BENCH_PAIRS", n + n.div_ceil(3));
                let pairs = pairs.clamp(n, 2 * n);
                (
                    code42::sim::fleet::large_console_pairs(n, pairs, now),
                    pairs,
                )
            }
        };
        let size = format!("{n} devices, {pairs} pairs");
        let server = code42::sim::SimServer::start(dataset, support::code42::console_config())
            .await
            .unwrap();
        println!(
            "code42: {size}, built and served in {:.0} ms",
            ms(t.elapsed())
        );
        let source = support::code42::source(&server) + &paged;
        let headers = async {
            let bearer = support::code42::bearer(&client, &server).await;
            header(AUTHORIZATION.as_str(), &bearer)
        };
        rows.push(measure("Code42", size, &server, &source, headers, &knobs).await);
        server.shutdown().await;
    }

    if wanted("rackspace") {
        let agents = env("BENCH_AGENTS", 500);
        let configs = env("BENCH_CONFIGS", 2);
        let size = format!("{agents} agents x {configs} configurations");
        let t = Instant::now();
        let server = rackspace::sim::SimServer::start(
            rackspace::sim::fleet::large_account(agents, configs, chrono::Utc::now()),
            rackspace::sim::AccountConfig::default(),
        )
        .await
        .unwrap();
        set_latency(server.faults(), knobs.latency);
        println!(
            "rackspace: {size}, built and served in {:.0} ms",
            ms(t.elapsed())
        );
        let source = support::rackspace::source(&server);
        let headers = async {
            let tokens = format!("{}/tokens", server.identity_url());
            let (token, _) = support::rackspace::sign_in(&client, &tokens).await;
            header(rackspace::sim::AUTH_TOKEN_HEADER, &token)
        };
        rows.push(measure("Rackspace", size, &server, &source, headers, &knobs).await);
        server.shutdown().await;
    }

    if wanted("freezer") {
        let hosts = env("BENCH_HOSTS", 2000).max(1);
        let backups = env("BENCH_BACKUPS", 30);
        let projects = support::freezer::projects(hosts);
        let size = format!(
            "{} project{} x {} hosts x {backups} backups",
            projects.len(),
            if projects.len() == 1 { "" } else { "s" },
            hosts.div_ceil(projects.len())
        );
        let t = Instant::now();
        let server = freezer::sim::SimServer::start(
            freezer::sim::fleet::large_deployment(chrono::Utc::now().timestamp(), hosts, backups),
            freezer::sim::SimConfig::default(),
        )
        .await
        .unwrap();
        set_latency(server.faults(), knobs.latency);
        println!(
            "freezer: {size}, built and served in {:.0} ms",
            ms(t.elapsed())
        );
        let source = support::freezer::source(&server, &projects) + &paged;
        let cfg = Config::from_toml_str(&source).unwrap();
        let headers = async {
            let tokens = format!("{}/auth/tokens", server.identity_url());
            let body = support::freezer::auth_body(&cfg);
            let (token, _) = support::freezer::token(&client, &tokens, &body).await;
            let mut h = header(freezer::sim::AUTH_TOKEN_HEADER, &token);
            h.insert(ACCEPT, HeaderValue::from_static("application/json"));
            h
        };
        rows.push(measure("Freezer", size, &server, &source, headers, &knobs).await);
        server.shutdown().await;
    }

    println!();
    println!(
        "series: sample lines of /metrics (data: all but backup_exporter_* and process_*; per device: data over backup_device_info); \
         RSS of the exporter process: idle = median VmRSS between warm refreshes, peak = VmHWM after {} refreshes; \
         refresh: backup_exporter_refresh_duration_seconds, best warm; download: the same requests, one at a time over one connection, best of {}; ratio = refresh / download",
        knobs.refreshes,
        knobs.runs
    );
    print_table(&rows);
    if std::env::var("BENCH_MARKDOWN").is_ok_and(|v| v == "1") {
        println!();
        print_markdown(&rows);
    }
    println!();
    println!("bench time: {:.0} s", started.elapsed().as_secs_f64());
}
