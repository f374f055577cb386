//! The container image and the container examples, tested without a container engine.
//!
//! The runtime stage of the Dockerfile is read (ENTRYPOINT, CMD, ENV, USER, EXPOSE, STOPSIGNAL)
//! and the project's binary is run exactly as the image runs it: the same arguments, only the
//! image's environment, the binary at /usr/local/bin, the configuration and secret files laid
//! out as mounted under a temporary root that stands for `/` (paths rewritten into it), as
//! the image's user and as PID 1 of its own PID namespace where the machine allows (root, or
//! unprivileged user namespaces). The one other liberty: the image listens on all interfaces
//! of its own network namespace, on the EXPOSEd port; here it listens on a free loopback port.
//!
//! The examples are checked for what can be checked here: `promtool check config` on the
//! compose example's Prometheus configuration (with the rule file where compose mounts it),
//! `amtool check-config` on its Alertmanager configuration, every file the compose files and
//! Kubernetes manifests mount exists, their ports, users and paths agree with the Dockerfile,
//! and every configuration they carry passes `check-config` as the image runs it. The
//! Prometheus Operator's objects among the Kubernetes examples (no workloads) select the
//! Service and pods of the examples by their labels and port names, scrape `/metrics` under
//! the job the rules select, and hold the bundled rule group.
//! promtool and amtool come with the Debian packages `prometheus` and `prometheus-alertmanager`;
//! scripts/test.sh installs them.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::Dataset;
use common::*;

/// Where the image reads its configuration and secrets: the container paths that the test's
/// temporary root stands in for.
const MOUNTED: [&str; 2] = ["/etc/backup_exporter/", "/run/secrets/"];
/// PATH of the Debian base image.
const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

/// One stage: its base image, its name, and its instructions (keyword upper case, arguments
/// with continuation lines joined).
struct Stage {
    from: String,
    name: Option<String>,
    instructions: Vec<(String, String)>,
}

impl Stage {
    fn all(&self, keyword: &str) -> impl Iterator<Item = &str> + '_ {
        let keyword = keyword.to_owned();
        self.instructions
            .iter()
            .filter(move |(k, _)| *k == keyword)
            .map(|(_, a)| a.as_str())
    }

    /// The argument of the last `keyword` of the stage (the one that counts).
    fn last(&self, keyword: &str) -> Option<&str> {
        self.all(keyword).last()
    }
}

fn parse_dockerfile(text: &str) -> Vec<Stage> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        // Comments (and parser directives) are whole lines, also inside a continuation.
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, args) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        instructions.push((keyword.to_ascii_uppercase(), args.trim().to_owned()));
        current.clear();
    }
    let mut stages: Vec<Stage> = Vec::new();
    for (keyword, args) in instructions {
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            let from = words
                .iter()
                .find(|w| !w.starts_with("--"))
                .expect("FROM names an image")
                .to_string();
            let name = words
                .iter()
                .position(|w| w.eq_ignore_ascii_case("as"))
                .map(|i| words[i + 1].to_owned());
            stages.push(Stage {
                from,
                name,
                instructions: Vec::new(),
            });
        } else {
            stages
                .last_mut()
                .expect("the Dockerfile starts with FROM (after ARGs)")
                .instructions
                .push((keyword, args));
        }
    }
    stages
}

/// What the runtime stage says about running the image.
struct Image {
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    uid: u32,
    gid: u32,
    expose: u16,
    stop_signal: String,
}

fn exec_form(stage: &Stage, keyword: &str) -> Vec<String> {
    let args = stage
        .last(keyword)
        .unwrap_or_else(|| panic!("the runtime stage has no {keyword}"));
    serde_json::from_str(args).unwrap_or_else(|e| {
        panic!(
            "{keyword} {args}: not the exec form (a JSON array of strings), so the exporter \
             would not be PID 1 or get the stop signal: {e}"
        )
    })
}

fn env_pairs(args: &str) -> Vec<(String, String)> {
    let unquote = |v: &str| v.trim_matches('"').to_owned();
    match args.split_once(char::is_whitespace) {
        // The legacy form `ENV KEY value with spaces`.
        Some((key, rest)) if !key.contains('=') => vec![(key.to_owned(), unquote(rest.trim()))],
        _ => args
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("ENV KEY=value");
                (k.to_owned(), unquote(v))
            })
            .collect(),
    }
}

fn image() -> Image {
    let stages = parse_dockerfile(&read(&repo("Dockerfile")));
    let runtime = stages.last().expect("the Dockerfile has a stage");
    let user = runtime.last("USER").expect("the runtime stage sets USER");
    let (uid, gid) = user.split_once(':').unwrap_or((user, user));
    let number = |s: &str| -> u32 {
        s.parse().unwrap_or_else(|_| {
            panic!("USER {user}: give numeric ids, so that Kubernetes' runAsNonRoot can check them")
        })
    };
    let expose: Vec<u16> = runtime
        .all("EXPOSE")
        .flat_map(|a| a.split_whitespace())
        .map(|p| p.trim_end_matches("/tcp").parse().expect("EXPOSE PORT"))
        .collect();
    assert_eq!(expose.len(), 1, "the image exposes one port: {expose:?}");
    Image {
        entrypoint: exec_form(runtime, "ENTRYPOINT"),
        cmd: exec_form(runtime, "CMD"),
        env: runtime.all("ENV").flat_map(env_pairs).collect(),
        uid: number(uid),
        gid: number(gid),
        expose: expose[0],
        stop_signal: runtime.last("STOPSIGNAL").unwrap_or("SIGTERM").to_owned(),
    }
}

impl Image {
    fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The file the image reads its configuration from.
    fn config_path(&self) -> &str {
        self.env("BACKUP_EXPORTER_CONFIG")
            .expect("the image names its configuration file with ENV BACKUP_EXPORTER_CONFIG")
    }

    fn listen(&self) -> SocketAddr {
        let listen = self
            .env("BACKUP_EXPORTER_LISTEN")
            .expect("the image sets its listen address with ENV BACKUP_EXPORTER_LISTEN");
        listen
            .parse()
            .unwrap_or_else(|e| panic!("BACKUP_EXPORTER_LISTEN={listen}: {e}"))
    }
}

#[test]
fn the_image_is_built_in_rust_and_runs_non_root_in_exec_form_on_the_exposed_port() {
    let text = read(&repo("Dockerfile"));
    let stages = parse_dockerfile(&text);
    assert!(stages.len() >= 2, "a multi-stage build");
    let builder = &stages[0];
    let runtime = stages.last().unwrap();
    assert!(builder.from.starts_with("rust:"), "{}", builder.from);
    assert!(
        builder
            .all("RUN")
            .any(|r| r.contains("cargo build --release --locked")),
        "the build stage builds the release binary from Cargo.lock"
    );
    assert!(
        !runtime.from.starts_with("rust:"),
        "a minimal runtime image"
    );

    let image = image();
    // The binary is where the entrypoint finds it: copied from the build stage into a folder of
    // the image's PATH.
    let bin_name = Path::new(env!("CARGO_BIN_EXE_backup_exporter"))
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(image.entrypoint, [bin_name]);
    let copy = runtime
        .all("COPY")
        .find(|c| c.contains("--from="))
        .expect("the runtime stage copies the binary from the build stage");
    let from = copy
        .split_whitespace()
        .find_map(|w| w.strip_prefix("--from="))
        .unwrap();
    assert_eq!(Some(from), builder.name.as_deref(), "{copy}");
    assert!(
        copy.ends_with(&format!(" /usr/local/bin/{bin_name}")),
        "{copy}"
    );
    assert_eq!(image.cmd, ["run"], "the image serves by default");

    // An unprivileged user that exists in the image.
    assert_ne!(image.uid, 0, "USER must not be root");
    let run = runtime.all("RUN").collect::<Vec<_>>().join("\n");
    assert!(
        run.contains(&format!("--uid {}", image.uid))
            && run.contains(&format!("--gid {}", image.gid)),
        "the runtime stage creates user {}:{}",
        image.uid,
        image.gid
    );

    // Listens on every interface of the container, on the port it exposes.
    let listen = image.listen();
    assert!(
        listen.ip().is_unspecified(),
        "{listen}: not reachable from outside the container"
    );
    assert_eq!(
        listen.port(),
        image.expose,
        "BACKUP_EXPORTER_LISTEN and EXPOSE disagree"
    );
    assert!(
        !image
            .cmd
            .iter()
            .chain(&image.entrypoint)
            .any(|a| a.contains("listen")),
        "the listen address is the ENV's alone"
    );

    assert_eq!(image.config_path(), "/etc/backup_exporter/config.toml");
    assert_eq!(
        image.stop_signal, "SIGTERM",
        "the signal the exporter handles"
    );

    // The build context: no build output, history or secrets, but all the build needs.
    let ignore = read(&repo(".dockerignore"));
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches('/').trim_end_matches('/'))
        .collect();
    for needed in ["target", ".git", "examples/compose/secrets"] {
        assert!(
            patterns.contains(&needed),
            ".dockerignore must exclude {needed}: {patterns:?}"
        );
    }
    for kept in ["Cargo.toml", "Cargo.lock", "src", "benches", "*", "**"] {
        assert!(!patterns.contains(&kept), ".dockerignore excludes {kept}");
    }
}

// ---------------------------------------------------------------------------------------------
// Running the binary as the image does

/// A temporary root standing for the container's `/`, with the binary at /usr/local/bin.
struct Container {
    root: tempfile::TempDir,
    image: Image,
    as_root: bool,
}

/// The effective uid of the test: the owner of a file it creates.
fn effective_uid() -> u32 {
    tempfile::tempfile().unwrap().metadata().unwrap().uid()
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Container {
    fn new() -> Container {
        let image = image();
        let root = tempfile::tempdir().unwrap();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = Container {
            root,
            image,
            as_root: effective_uid() == 0,
        };
        let bin = c.host(&format!("/usr/local/bin/{}", c.image.entrypoint[0]));
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        // A link where it can be (a debug build is large), else a copy; executable by all,
        // as the image's `install -m 0755` makes it.
        let built = env!("CARGO_BIN_EXE_backup_exporter");
        let everyone_runs = std::fs::metadata(built).unwrap().mode() & 0o005 == 0o005;
        if !everyone_runs || std::fs::hard_link(built, &bin).is_err() {
            std::fs::copy(built, &bin).unwrap();
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        c
    }

    /// The host path of a container path.
    fn host(&self, container_path: &str) -> PathBuf {
        self.root
            .path()
            .join(container_path.strip_prefix('/').expect("an absolute path"))
    }

    /// `text` with the mounted container paths moved into the root.
    fn rewrite(&self, text: &str) -> String {
        MOUNTED.iter().fold(text.to_owned(), |t, m| {
            t.replace(m, &format!("{}/", self.host(m).display()))
        })
    }

    /// Mounts a file (read-only for the image's user; a secret readable by it alone).
    fn mount(&self, container_path: &str, contents: &str, secret: bool) {
        let path = self.host(container_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        if secret {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
            if self.as_root {
                std::os::unix::fs::chown(&path, Some(self.image.uid), Some(self.image.gid))
                    .unwrap();
            }
        }
    }

    /// The command line of `docker run IMAGE [args]`: the entrypoint, then `args` or the
    /// image's CMD, with only the image's environment plus `env`. A listen address on every
    /// interface becomes `listen`; mounted paths move into the root. `pid1`: as PID 1 of a new
    /// PID namespace when the machine allows it. Run as the image's user when the test runs as
    /// root.
    fn command(
        &self,
        args: Option<&[&str]>,
        env: &[(&str, &str)],
        listen: SocketAddr,
        pid1: bool,
    ) -> (Command, Vec<&'static str>) {
        let map = |v: &str| -> String {
            match v.parse::<SocketAddr>() {
                Ok(a) if a.ip().is_unspecified() => listen.to_string(),
                _ => self.rewrite(v),
            }
        };
        let args: Vec<String> = match args {
            Some(a) => a.iter().map(|s| s.to_string()).collect(),
            None => self.image.cmd.clone(),
        };
        let mut argv: Vec<String> = self
            .image
            .entrypoint
            .iter()
            .chain(&args)
            .map(|a| map(a))
            .collect();
        let mut how = Vec::new();
        let (uid, gid) = (self.image.uid.to_string(), self.image.gid.to_string());
        let setpriv = [
            "setpriv",
            "--reuid",
            &uid,
            "--regid",
            &gid,
            "--clear-groups",
            "--",
        ];
        if self.as_root && runs("setpriv", &[&setpriv[1..], &["true"]].concat()) {
            argv.splice(0..0, setpriv.iter().map(|s| s.to_string()));
            how.push("as the image's user");
        }
        if pid1 {
            let mut unshare = vec!["unshare", "--pid", "--fork", "--kill-child"];
            if !self.as_root {
                unshare.splice(1..1, ["--user", "--map-root-user"]);
            }
            if runs(unshare[0], &[&unshare[1..], &["true"]].concat()) {
                argv.splice(0..0, unshare.iter().map(|s| s.to_string()));
                how.push("as PID 1");
            } else {
                eprintln!(
                    "note: cannot create a PID namespace here (unshare); the exporter runs as \
                     an ordinary process, not as PID 1"
                );
            }
        }
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..])
            .env_clear()
            .env(
                "PATH",
                format!("{}:{IMAGE_PATH}", self.host("/usr/local/bin").display()),
            )
            .env("HOME", "/nonexistent")
            .current_dir(self.root.path());
        for (k, v) in &self.image.env {
            c.env(k, map(v));
        }
        for (k, v) in env {
            c.env(k, map(v));
        }
        (c, how)
    }

    /// `docker run --rm IMAGE args`, waiting for the end.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let (mut c, _) = self.command(Some(args), env, "127.0.0.1:9".parse().unwrap(), false);
        c.stdin(Stdio::null()).output().unwrap()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The pids of the children of `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: comm may hold spaces and parentheses.
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == pid).then_some(child)
        })
        .collect()
}

fn proc_status(pid: u32, key: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .strip_prefix(':')
                .map(|v| v.trim().to_owned())
        })
}

/// A started image: its process, the exporter's pid, its log.
struct Running {
    child: Child,
    exporter_pid: u32,
    log: Arc<Mutex<String>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        // A failing assertion must not leave anything running.
        if self.child.try_wait().ok().flatten().is_none() {
            for pid in [self.exporter_pid, self.child.id()] {
                let _ = common::signal(pid, "KILL");
            }
            let _ = self.child.wait();
        }
    }
}

impl Running {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The address of the "serving /metrics" log line (human or JSON log format).
    async fn serving_address(&self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains("serving /metrics")) {
                let listen = match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(v) => v["fields"]["listen"].as_str().map(str::to_owned),
                    Err(_) => line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("listen=").map(str::to_owned)),
                };
                let listen = listen.unwrap_or_else(|| panic!("no address in {line}"));
                return listen.parse().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "the exporter did not start:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends the image's stop signal to the exporter, as the engine does, and returns the exit
    /// code and how long the exit took.
    async fn stop(mut self, signal: &str) -> (Option<i32>, Duration) {
        let started = Instant::now();
        let name = signal.trim_start_matches("SIG");
        common::signal(self.exporter_pid, name)
            .unwrap_or_else(|e| panic!("signal {name} to {}: {e}", self.exporter_pid));
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), started.elapsed());
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "still running 15 s after {signal}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Container {
    /// `docker run -d IMAGE [args]`: starts it, with its log collected.
    async fn start(
        &self,
        args: Option<&[&str]>,
        listen: SocketAddr,
    ) -> (Running, Vec<&'static str>) {
        let (mut c, how) = self.command(args, &[], listen, true);
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let pid1 = how.contains(&"as PID 1");
        // unshare --fork: the exporter is unshare's child; setpriv execs it in its own place.
        // Until it is exec'd, the process is still unshare or setpriv.
        let deadline = Instant::now() + Duration::from_secs(10);
        let exporter_pid = loop {
            let candidates = if pid1 {
                children(child.id())
            } else {
                vec![child.id()]
            };
            if let [pid] = candidates[..] {
                if std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|e| e.ends_with(&self.image.entrypoint[0]))
                {
                    break pid;
                }
            }
            assert!(Instant::now() < deadline, "the exporter was not started");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if pid1 {
            let nspid = proc_status(exporter_pid, "NSpid").unwrap_or_default();
            assert_eq!(nspid.split_whitespace().last(), Some("1"), "NSpid {nspid}");
        }
        if how.contains(&"as the image's user") {
            let uid = proc_status(exporter_pid, "Uid").unwrap_or_default();
            assert!(
                uid.split_whitespace()
                    .all(|u| u == self.image.uid.to_string()),
                "Uid {uid}"
            );
        }
        (
            Running {
                child,
                exporter_pid,
                log,
            },
            how,
        )
    }
}

async fn get(c: &reqwest::Client, url: &str) -> (u16, String) {
    let r = c
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Waits for /ready, then returns /metrics.
async fn ready_metrics(c: &reqwest::Client, addr: SocketAddr, running: &Running) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(c, &format!("http://{addr}/ready")).await.0 != 200 {
        assert!(Instant::now() < deadline, "never ready:\n{}", running.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    get(c, &format!("http://{addr}/metrics")).await.1
}

/// The compose example's real configuration, read from a simulated CrashPlan PRO server: its
/// URL and account instead of the placeholders, and a `listen` as a host would have it, which
/// the image's environment must override.
fn compose_config_for(url: &str) -> (String, String) {
    let text = read(&repo("examples/compose/config.toml"));
    let mut name = None;
    let mut lines = vec!["listen = \"127.0.0.1:1\"".to_owned()];
    for line in text.lines() {
        let key = line.split('=').next().unwrap().trim();
        lines.push(match key {
            "url" => format!("url = \"{url}\""),
            "username" => format!("username = \"{USER}\""),
            "name" => {
                name = Some(line.split('"').nth(1).unwrap().to_owned());
                line.to_owned()
            }
            _ => line.to_owned(),
        });
    }
    (lines.join("\n") + "\n", name.expect("a source name"))
}

/// The `*_file` paths of a configuration.
fn secret_files(config: &str) -> Vec<String> {
    config_values(config, |k| k.ends_with("_file") && k != "state_file")
}

/// The values of the keys of `config` that `key` accepts (quotes taken off).
fn config_values(config: &str, key: impl Fn(&str) -> bool) -> Vec<String> {
    config
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            key(k.trim()).then(|| v.trim().trim_matches('"').to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_serves_the_mounted_config_and_stops_cleanly_on_its_stop_signal() {
    let server = sim(Dataset::document_examples(), true).await;
    let container = Container::new();
    let image = &container.image;

    // docker run -v config.toml:/etc/backup_exporter/config.toml -v secret:/run/secrets/...
    let (config, source) = compose_config_for(&server.url());
    let secrets = secret_files(&config);
    assert!(
        !secrets.is_empty(),
        "the example reads its password from a file"
    );
    for path in &secrets {
        assert!(
            path.starts_with("/run/secrets/"),
            "{path}: secrets are mounted under /run/secrets"
        );
        container.mount(path, &format!("{PASSWORD}\n"), true);
    }
    container.mount(image.config_path(), &container.rewrite(&config), false);

    let check = container.run(&["check-config"], &[]);
    assert!(
        check.status.success(),
        "check-config: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    // docker run IMAGE (its CMD), listening where EXPOSE says (here: on loopback).
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (running, how) = container.start(None, listen).await;
    eprintln!("the image's command runs {}", how.join(", "));
    let served = running.serving_address().await;
    assert_eq!(
        served,
        listen,
        "the image's BACKUP_EXPORTER_LISTEN ({}) decides where it listens, not the file",
        image.listen()
    );
    assert_eq!(image.listen().port(), image.expose);

    backup_exporter::tls::install_crypto_provider();
    let c = reqwest::Client::new();
    let metrics = ready_metrics(&c, served, &running).await;
    let s = samples(&metrics);
    assert_eq!(
        s.get(&format!(
            "backup_exporter_source_up{{source=\"{source}\",system=\"crashplan\"}}"
        )),
        Some(&1.0),
        "{metrics}\n{}",
        running.log()
    );
    assert!(
        s.keys()
            .any(|k| k.starts_with("backup_last_success_timestamp_seconds{")
                && k.contains(&format!("source=\"{source}\""))),
        "{metrics}"
    );
    // The Kubernetes examples' probes.
    for path in kubernetes_probe_paths() {
        let (status, body) = get(&c, &format!("http://{served}{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert!(!running.log().contains(PASSWORD));

    let (code, took) = running.stop(&image.stop_signal).await;
    assert_eq!(code, Some(0), "exit after {}", image.stop_signal);
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compose_default_demo_runs_in_the_image_and_stops_cleanly() {
    let container = Container::new();
    let compose = read(&repo("examples/compose/compose.yaml"));
    let command: Vec<String> = serde_json::from_str(
        &value(&compose, &["services", "exporter", "command"]).expect("the exporter's command"),
    )
    .expect("command as a JSON-style list");
    assert_eq!(command[0], "demo");
    let args: Vec<&str> = command.iter().map(String::as_str).collect();
    // No config file is mounted, but the image still names one: the demo must not mind.
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let (running, _) = container.start(Some(&args), listen).await;
    let served = running.serving_address().await;
    assert_eq!(served, listen);
    backup_exporter::tls::install_crypto_provider();
    let c = reqwest::Client::new();
    let metrics = ready_metrics(&c, served, &running).await;
    for kind in backup_exporter::sources::registry::kinds() {
        let source = format!("demo-{kind}");
        assert!(
            metrics.contains(&format!("backup_exporter_source_up{{source=\"{source}\"")),
            "{source}:\n{}",
            running.log()
        );
    }
    let (code, took) = running.stop(&container.image.stop_signal).await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
}

#[test]
fn a_secret_the_image_user_cannot_read_is_named() {
    let container = Container::new();
    if !container.as_root {
        eprintln!("note: not root, cannot run as the image's user: skipped");
        return;
    }
    let (config, _) = compose_config_for("https://crashplan.example.com:4285");
    let secret = &secret_files(&config)[0];
    container.mount(
        container.image.config_path(),
        &container.rewrite(&config),
        false,
    );
    // Root's file, mode 0600: what a `docker run -v` of a root-owned secret gives uid 10001.
    let path = container.host(secret);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, PASSWORD).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = container.run(&["check-config"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("password_file") && stderr.contains("ermission denied"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// The compose example

/// The lines of a YAML block mapping: lines nested under `path` (keys by indentation), for the
/// simple block style the examples are written in. Comments and blank lines left out.
fn block<'a>(text: &'a str, path: &[&str]) -> Option<Vec<&'a str>> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    for (step, key) in path.iter().enumerate() {
        let base = lines.iter().map(|l| indent(l)).min()?;
        let start = lines.iter().position(|l| {
            indent(l) == base && {
                let t = l.trim();
                t == format!("{key}:") || t.starts_with(&format!("{key}: "))
            }
        })?;
        let end = lines[start + 1..]
            .iter()
            .position(|l| indent(l) <= base)
            .map_or(lines.len(), |i| start + 1 + i);
        lines = lines[start..end].to_vec();
        // Keep the key's own line only for the last step (its inline value).
        if step + 1 < path.len() {
            lines.remove(0);
        }
    }
    Some(lines)
}

/// The inline value of a key (`key: value`), quotes removed.
fn value(text: &str, path: &[&str]) -> Option<String> {
    let lines = block(text, path)?;
    let (_, v) = lines[0].split_once(':')?;
    let v = v.trim();
    (!v.is_empty()).then(|| unquote(v))
}

/// The items of a block list (`- item`), quotes removed.
fn items(text: &str, path: &[&str]) -> Vec<String> {
    block(text, path)
        .unwrap_or_default()
        .iter()
        .skip(1)
        .filter_map(|l| l.trim().strip_prefix("- ").map(unquote))
        .collect()
}

/// The keys of a block mapping.
fn keys(text: &str, path: &[&str]) -> Vec<String> {
    let lines = block(text, path).unwrap_or_default();
    let Some(first) = lines.get(1) else {
        return Vec::new();
    };
    let indent = first.len() - first.trim_start().len();
    lines[1..]
        .iter()
        .filter(|l| l.len() - l.trim_start().len() == indent)
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_owned()))
        .collect()
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('"').trim_matches('\'').to_owned()
}

/// A bind mount of a compose service: host path (resolved), container path.
struct Mount {
    host: PathBuf,
    container: String,
}

fn bind_mounts(compose: &str, service: &str) -> Vec<Mount> {
    items(compose, &["services", service, "volumes"])
        .iter()
        .filter(|v| v.starts_with("./") || v.starts_with("../") || v.starts_with('/'))
        .map(|v| {
            let mut parts = v.split(':');
            let host = repo("examples/compose").join(parts.next().unwrap());
            let container = parts.next().expect("HOST:CONTAINER").to_owned();
            Mount { host, container }
        })
        .collect()
}

/// The host file behind a container path of a service, through its bind mounts.
fn through_mounts(mounts: &[Mount], container_path: &str) -> Option<PathBuf> {
    mounts
        .iter()
        .find_map(|m| match container_path.strip_prefix(&m.container)? {
            "" => Some(m.host.clone()),
            rest => Some(m.host.join(rest.strip_prefix('/')?)),
        })
}

fn tool(program: &str, args: &[&str], package: &str) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{program}: {e}. It comes with the Debian package {package}: run scripts/test.sh, \
             which installs it"
            )
        })
}

#[test]
fn the_compose_example_mounts_what_exists_and_its_configs_pass_promtool_and_amtool() {
    let image = image();
    let dir = repo("examples/compose");
    let compose = read(&dir.join("compose.yaml"));
    let real = read(&dir.join("compose.real.yaml"));
    let services = keys(&compose, &["services"]);
    for s in ["exporter", "prometheus", "alertmanager", "grafana"] {
        assert!(
            services.contains(&s.to_owned()),
            "service {s}: {services:?}"
        );
    }

    // Everything mounted exists; everything published is on loopback only.
    for (file, text) in [("compose.yaml", &compose), ("compose.real.yaml", &real)] {
        for service in keys(text, &["services"]) {
            for m in bind_mounts(text, &service) {
                assert!(
                    m.host.exists(),
                    "{file}: {service} mounts {} (missing)",
                    m.host.display()
                );
                assert!(m.container.starts_with('/'), "{}", m.container);
            }
            for port in items(text, &["services", &service, "ports"]) {
                assert!(
                    port.starts_with("127.0.0.1:"),
                    "{file}: {service} publishes {port} beyond loopback"
                );
            }
        }
    }

    // The exporter: built from the repository's Dockerfile, the demo on the exposed port.
    let context = dir.join(value(&compose, &["services", "exporter", "build", "context"]).unwrap());
    let dockerfile = value(&compose, &["services", "exporter", "build", "dockerfile"]).unwrap();
    assert_eq!(
        context.join(&dockerfile).canonicalize().unwrap(),
        repo("Dockerfile").canonicalize().unwrap()
    );
    let command = value(&compose, &["services", "exporter", "command"]).unwrap();
    assert!(
        command.contains(&format!("\"0.0.0.0:{}\"", image.expose)),
        "{command}"
    );
    assert_eq!(
        items(&compose, &["services", "exporter", "ports"]),
        [format!("127.0.0.1:{0}:{0}", image.expose)]
    );

    // Prometheus: laid out as compose mounts it, checked by promtool (which reads the rules).
    let mounts = bind_mounts(&compose, "prometheus");
    let root = tempfile::tempdir().unwrap();
    let rooted = |p: &str| root.path().join(p.trim_start_matches('/'));
    for m in &mounts {
        let to = rooted(&m.container);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&m.host, &to).unwrap();
    }
    let config_path = "/etc/prometheus/prometheus.yml";
    let host_config = through_mounts(&mounts, config_path).expect("prometheus.yml is mounted");
    let mut prometheus = read(&host_config);
    for m in &mounts {
        prometheus = prometheus.replace(&m.container, &rooted(&m.container).display().to_string());
    }
    std::fs::write(rooted(config_path), &prometheus).unwrap();
    let rules_file = "backup_exporter.rules.yml";
    let rules = mounts
        .iter()
        .find(|m| m.container.ends_with(rules_file))
        .expect("the rule file is mounted");
    assert_eq!(
        rules.host.canonicalize().unwrap(),
        repo("alerts").join(rules_file).canonicalize().unwrap()
    );
    let out = tool(
        "promtool",
        &["check", "config", rooted(config_path).to_str().unwrap()],
        "prometheus",
    );
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check config:\n{report}");
    assert!(
        report.contains(rules_file) && !report.contains("SUCCESS: 0 rule"),
        "the rule file is found:\n{report}"
    );
    assert!(
        report
            .lines()
            .filter_map(|l| l.trim().strip_prefix("SUCCESS: "))
            .filter_map(|l| l.strip_suffix(" rules found"))
            .any(|n| n.parse::<u32>().is_ok_and(|n| n > 0)),
        "rules are loaded:\n{report}"
    );
    for target in [
        format!("\"exporter:{}\"", image.expose),
        "\"alertmanager:9093\"".to_owned(),
    ] {
        assert!(
            prometheus.contains(&target),
            "prometheus.yml targets {target}"
        );
    }

    // Alertmanager.
    let am = through_mounts(
        &bind_mounts(&compose, "alertmanager"),
        "/etc/alertmanager/alertmanager.yml",
    )
    .expect("alertmanager.yml is mounted where the image reads it");
    let out = tool(
        "amtool",
        &["check-config", am.to_str().unwrap()],
        "prometheus-alertmanager",
    );
    assert!(
        out.status.success(),
        "amtool check-config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Grafana: the provisioning files where Grafana reads them, pointing at the mounted
    // dashboards and at the compose Prometheus.
    let mounts = bind_mounts(&compose, "grafana");
    let provisioned = |kind: &str| -> PathBuf {
        mounts
            .iter()
            .find(|m| {
                m.container
                    .starts_with(&format!("/etc/grafana/provisioning/{kind}/"))
            })
            .unwrap_or_else(|| panic!("no {kind} provisioning mounted"))
            .host
            .clone()
    };
    let datasources = read(&provisioned("datasources"));
    let url = datasources
        .lines()
        .find_map(|l| l.trim().strip_prefix("url:").map(unquote))
        .expect("the data source has a url");
    let host = url.trim_start_matches("http://").split(':').next().unwrap();
    assert!(services.contains(&host.to_owned()), "data source {url}");
    let providers = read(&provisioned("dashboards"));
    let folder = providers
        .lines()
        .find_map(|l| l.trim().strip_prefix("path:").map(unquote))
        .expect("the dashboard provider has a path");
    let folder = through_mounts(&mounts, &folder)
        .unwrap_or_else(|| panic!("the dashboards' folder {folder} is not mounted"));
    let dashboards = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .count();
    assert!(dashboards > 0, "no dashboard in {}", folder.display());
    if let Some(home) = value(
        &compose,
        &[
            "services",
            "grafana",
            "environment",
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
        ],
    ) {
        let file = through_mounts(&mounts, &home).expect("the home dashboard is mounted");
        assert!(file.is_file(), "{}", file.display());
    }

    // The real variant: the image's command, config.toml where the image reads it, the
    // password file as a compose secret where config.toml looks for it.
    let command: Vec<String> =
        serde_json::from_str(&value(&real, &["services", "exporter", "command"]).unwrap())
            .expect("command as a JSON-style list");
    assert_eq!(command, image.cmd);
    let mounts = bind_mounts(&real, "exporter");
    let config = through_mounts(&mounts, image.config_path()).expect("config.toml is mounted");
    let secret_names = items(&real, &["services", "exporter", "secrets"]);
    for path in secret_files(&read(&config)) {
        let name = path
            .strip_prefix("/run/secrets/")
            .unwrap_or_else(|| panic!("{path}: compose mounts secrets in /run/secrets"));
        assert!(
            secret_names.contains(&name.to_owned()),
            "{name}: {secret_names:?}"
        );
        let file = value(&real, &["secrets", name, "file"]).expect("the secret's file");
        let folder = dir.join(&file);
        let folder = folder.parent().unwrap();
        assert!(
            folder.join(".gitignore").is_file(),
            "{}: a folder git ignores",
            folder.display()
        );
    }

    yaml_parses(&[
        &dir.join("compose.yaml"),
        &dir.join("compose.real.yaml"),
        &repo("examples/kubernetes/deployment.yaml"),
        &repo("examples/kubernetes/sidecar.yaml"),
        &repo("examples/kubernetes/statefulset.yaml"),
    ]);
}

/// A full YAML parse of the files that neither promtool nor amtool reads, when Python's YAML
/// module is there (the structure is checked by text above either way).
fn yaml_parses(files: &[&Path]) {
    let script = "import sys, yaml\nfor f in sys.argv[1:]:\n    list(yaml.safe_load_all(open(f)))";
    let Ok(out) = Command::new("python3")
        .args(["-c", script])
        .args(files)
        .output()
    else {
        eprintln!("note: no python3: the YAML files are checked by text only");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'yaml'") {
        eprintln!("note: no Python yaml module: the YAML files are checked by text only");
        return;
    }
    assert!(out.status.success(), "YAML does not parse:\n{stderr}");
}

// ---------------------------------------------------------------------------------------------
// The Kubernetes examples

fn kubernetes_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("examples/kubernetes"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// The kinds of the Prometheus Operator's objects (monitoring.coreos.com): they say how to
/// scrape and alert, and run no container.
const MONITORING_KINDS: [&str; 3] = ["ServiceMonitor", "PodMonitor", "PrometheusRule"];

/// The YAML documents of a file.
fn yaml_documents(path: &Path) -> Vec<serde_yaml_ng::Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(&read(path))
        .map(|doc| {
            serde_yaml_ng::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()))
        })
        .filter(|doc| !doc.is_null())
        .collect()
}

fn kind_of(doc: &serde_yaml_ng::Value) -> &str {
    doc["kind"].as_str().unwrap_or("")
}

/// The examples that run the exporter: every file but those holding only monitoring objects.
fn kubernetes_workload_files() -> Vec<PathBuf> {
    kubernetes_files()
        .into_iter()
        .filter(|f| {
            !yaml_documents(f)
                .iter()
                .all(|d| MONITORING_KINDS.contains(&kind_of(d)))
        })
        .collect()
}

fn kubernetes_probe_paths() -> Vec<String> {
    let mut paths: Vec<String> = kubernetes_files()
        .iter()
        .flat_map(|f| {
            let text = read(f);
            let lines: Vec<String> = text.lines().map(|l| l.trim().to_owned()).collect();
            lines
                .windows(2)
                .filter(|w| w[0] == "httpGet:")
                .filter_map(|w| w[1].strip_prefix("path:").map(unquote))
                .collect::<Vec<_>>()
        })
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// `key: value` pairs (value empty for `key:`), trimmed, in order, list dashes removed.
fn pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| l.trim().trim_start_matches("- "))
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| match l.strip_suffix(':') {
            Some(k) if !k.contains(' ') => Some((k.to_owned(), String::new())),
            _ => l.split_once(": ").map(|(k, v)| (k.to_owned(), unquote(v))),
        })
        .collect()
}

/// The text of a `key: |` block scalar, unindented.
fn block_scalar(text: &str, key: &str) -> Option<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    let head = lines.next()?;
    let outer = head.len() - head.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > outer)
        .collect();
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()?;
    Some(
        body.iter()
            .map(|l| l.get(indent..).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n",
    )
}

#[test]
fn the_kubernetes_examples_agree_with_the_image_and_their_configs_pass_check_config() {
    let files = kubernetes_workload_files();
    assert!(
        files.len() >= 2,
        "a Deployment and a sidecar example: {files:?}"
    );
    let image = image();
    let (config_dir, config_name) = image.config_path().rsplit_once('/').unwrap();
    let container = Container::new();
    let mut kinds = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = read(file);
        let p = pairs(&text);
        let get = |key: &str| -> Vec<&str> {
            p.iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        kinds.extend(get("kind").iter().map(|k| k.to_string()));
        let has = |key: &str, value: &str| get(key).contains(&value);

        // The exporter's container: the image, non-root as the image's user, read-only root.
        assert!(
            get("image").iter().any(|i| i.contains("/backup_exporter:")),
            "{name}: the backup_exporter image"
        );
        assert!(has("runAsNonRoot", "true"), "{name}: runAsNonRoot");
        assert!(
            has("runAsUser", &image.uid.to_string()),
            "{name}: runAsUser {}",
            image.uid
        );
        assert!(
            has("runAsGroup", &image.gid.to_string()),
            "{name}: runAsGroup {}",
            image.gid
        );
        assert!(has("readOnlyRootFilesystem", "true"), "{name}");
        assert!(has("allowPrivilegeEscalation", "false"), "{name}");
        assert!(
            has("containerPort", &image.expose.to_string()),
            "{name}: containerPort"
        );
        assert!(
            has("prometheus.io/scrape", "true"),
            "{name}: scrape annotation"
        );
        assert!(
            has("prometheus.io/port", &image.expose.to_string()),
            "{name}"
        );
        assert!(has("prometheus.io/path", "/metrics"), "{name}");
        assert!(get("memory").len() >= 2, "{name}: memory request and limit");

        // The volumes: a ConfigMap holding config.toml where the image reads it, a Secret
        // mounted as files where config.toml looks for them.
        let mounts: BTreeMap<&str, &str> = p
            .windows(2)
            .filter(|w| w[0].0 == "name" && w[1].0 == "mountPath")
            .map(|w| (w[0].1.as_str(), w[1].1.as_str()))
            .collect();
        let volume = |kind: &str, key: &str| -> (String, String) {
            p.windows(3)
                .find(|w| w[0].0 == "name" && w[1].0 == kind && w[2].0 == key)
                .map(|w| (w[0].1.clone(), w[2].1.clone()))
                .unwrap_or_else(|| panic!("{name}: no {kind} volume"))
        };
        let (config_volume, config_map) = volume("configMap", "name");
        let (secret_volume, secret) = volume("secret", "secretName");
        assert_eq!(
            mounts.get(config_volume.as_str()),
            Some(&config_dir),
            "{name}"
        );
        let secret_dir = mounts[secret_volume.as_str()];
        let config_maps: Vec<String> = text
            .split("\n---\n")
            .filter(|d| d.contains("\nkind: ConfigMap\n"))
            .filter_map(|d| pairs(d).into_iter().find(|(k, _)| k == "name"))
            .map(|(_, v)| v)
            .collect();
        assert!(
            config_maps.contains(&config_map),
            "{name}: ConfigMap {config_map} is defined"
        );
        let config = block_scalar(&text, config_name)
            .unwrap_or_else(|| panic!("{name}: the ConfigMap holds {config_name}"));
        let create = format!("kubectl create secret generic {secret} --from-file=");
        assert!(
            text.contains(&create),
            "{name}: says how to create Secret {secret}"
        );

        // A state file is in a folder the pod mounts, writable, and the image's user owns.
        for path in config_values(&config, |k| k == "state_file") {
            let (dir, _) = path.rsplit_once('/').unwrap();
            assert!(
                mounts.values().any(|m| *m == dir),
                "{name}: the state file's folder {dir} is a volume"
            );
            assert!(
                read(&repo("Dockerfile")).contains(&format!("chown 10001:10001 {dir}")),
                "{name}: the image's user owns {dir}"
            );
        }

        // check-config, as the image runs it, with the files laid out as Kubernetes mounts them.
        for path in secret_files(&config) {
            let (dir, key) = path.rsplit_once('/').unwrap();
            assert_eq!(
                dir, secret_dir,
                "{name}: {path} is not in the Secret's folder"
            );
            assert!(
                text.contains(&format!("{create}{key}=")),
                "{name}: the Secret gets the key {key}"
            );
            container.mount(&path, &format!("{PASSWORD}\n"), true);
        }
        container.mount(image.config_path(), &container.rewrite(&config), false);
        // The pod's environment, with the pod IP a loopback address, and the pod's name (from
        // the downward API) that of the StatefulSet's pod 1.
        let mut env: Vec<(String, String)> = p
            .windows(2)
            .filter(|w| {
                w[0].0 == "name" && w[0].1.starts_with("BACKUP_EXPORTER_") && w[1].0 == "value"
            })
            .map(|w| (w[0].1.clone(), w[1].1.replace("$(POD_IP)", "127.0.0.1")))
            .collect();
        let pod_name = p
            .windows(4)
            .find(|w| w[0].0 == "name" && w[3] == ("fieldPath".into(), "metadata.name".into()))
            .map(|w| w[0].1.clone());
        let statefulset = text
            .split("\n---\n")
            .find(|d| d.contains("\nkind: StatefulSet\n"))
            .and_then(|d| pairs(d).into_iter().find(|(k, _)| k == "name"))
            .map(|(_, v)| v);
        let pod = pod_name.map(|var| {
            let set = statefulset.clone().unwrap_or_else(|| {
                panic!("{name}: {var} is the pod's name, of which StatefulSet?")
            });
            let pod = format!("{set}-1");
            env.push((var, pod.clone()));
            pod
        });
        if let Some((_, listen)) = env.iter().find(|(k, _)| k == "BACKUP_EXPORTER_LISTEN") {
            let listen: SocketAddr = listen.parse().unwrap();
            assert_eq!(listen.port(), image.expose, "{name}");
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = container.run(&["check-config"], &env);
        assert!(
            out.status.success(),
            "{name}: check-config:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("configuration OK: 1 source(s)"));
        // A sharded example takes its shard from the pod's name.
        if config.contains("shard = \"auto\"") {
            let pod = pod.unwrap_or_else(|| panic!("{name}: shard = \"auto\" without POD_NAME"));
            assert!(
                stdout.contains("sharding: shard 1 of ") && stdout.contains(&pod),
                "{name}: {stdout}"
            );
        }
    }
    for kind in ["ConfigMap", "Deployment", "Service", "StatefulSet"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }
    let probes = kubernetes_probe_paths();
    assert_eq!(
        probes,
        ["/healthz", "/ready"],
        "liveness and readiness probes"
    );
}

/// The documents of kind `kind` in the Kubernetes examples, with the file each is in.
fn kubernetes_objects(kind: &str) -> Vec<(String, serde_yaml_ng::Value)> {
    kubernetes_files()
        .iter()
        .flat_map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            yaml_documents(f)
                .into_iter()
                .filter(|d| kind_of(d) == kind)
                .map(move |d| (name.clone(), d))
        })
        .collect()
}

fn text_at<'a>(v: &'a serde_yaml_ng::Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

fn list_at<'a>(v: &'a serde_yaml_ng::Value, path: &[&str]) -> Vec<&'a serde_yaml_ng::Value> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|v| v.as_sequence())
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

/// The string pairs of a mapping (labels, a selector's matchLabels).
fn string_map(v: &serde_yaml_ng::Value, path: &[&str]) -> BTreeMap<String, String> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|v| v.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// The matchLabels of a label selector (no matchExpressions: the examples do not use them,
/// and these checks would not read them).
fn match_labels(selector: &serde_yaml_ng::Value) -> BTreeMap<String, String> {
    assert!(
        selector.get("matchExpressions").is_none(),
        "matchExpressions: {selector:?}"
    );
    string_map(selector, &["matchLabels"])
}

/// Whether `labels` has every one of the (non-empty) `wanted`.
fn selects(wanted: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The names of the container ports of a workload's pods.
fn container_port_names(workload: &serde_yaml_ng::Value) -> Vec<String> {
    list_at(workload, &["spec", "template", "spec", "containers"])
        .into_iter()
        .flat_map(|c| list_at(c, &["ports"]))
        .map(|p| text_at(p, &["name"]).to_owned())
        .collect()
}

/// The job the bundled rules select the exporter by: BackupExporterDown's `up{job="..."}`.
fn rules_job() -> String {
    let rules: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read(&repo("alerts/backup_exporter.rules.yml"))).unwrap();
    let down = list_at(&rules["groups"][0], &["rules"])
        .into_iter()
        .find(|r| text_at(r, &["alert"]) == "BackupExporterDown")
        .map(|r| text_at(r, &["expr"]).to_owned())
        .expect("BackupExporterDown");
    let selector = down
        .split_once("up{")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(s, _)| s)
        .unwrap_or_else(|| panic!("no up{{...}} in {down}"));
    selector
        .split(',')
        .find_map(|m| m.trim().strip_prefix("job=\""))
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no job matcher in {selector}"))
        .to_owned()
}

/// The job a monitor's endpoint gives its targets: a relabeling that writes `job`, else the
/// value of the label `jobLabel` names on the object it selects (`labels`); the operator's
/// default otherwise.
fn monitor_job(
    monitor: &serde_yaml_ng::Value,
    endpoint: &serde_yaml_ng::Value,
    labels: &BTreeMap<String, String>,
) -> String {
    let relabeled = list_at(endpoint, &["relabelings"])
        .into_iter()
        .filter(|r| text_at(r, &["targetLabel"]) == "job")
        .map(|r| text_at(r, &["replacement"]).to_owned())
        .next_back();
    relabeled
        .or_else(|| labels.get(text_at(monitor, &["spec", "jobLabel"])).cloned())
        .unwrap_or_else(|| format!("<namespace>/{}", text_at(monitor, &["metadata", "name"])))
}

#[test]
fn the_prometheus_operator_examples_scrape_the_exporter_and_load_the_bundled_rules() {
    let job = rules_job();
    let services = kubernetes_objects("Service");
    let workloads: Vec<(String, serde_yaml_ng::Value)> = ["Deployment", "StatefulSet"]
        .iter()
        .flat_map(|k| kubernetes_objects(k))
        .collect();
    let pod_labels =
        |w: &serde_yaml_ng::Value| string_map(w, &["spec", "template", "metadata", "labels"]);

    // The ServiceMonitor: the Service of deployment.yaml, its named port, /metrics.
    let monitors = kubernetes_objects("ServiceMonitor");
    assert_eq!(monitors.len(), 1, "one ServiceMonitor: {monitors:?}");
    let (file, monitor) = &monitors[0];
    assert_eq!(file, "servicemonitor.yaml");
    assert_eq!(
        text_at(monitor, &["apiVersion"]),
        "monitoring.coreos.com/v1"
    );
    let selected: Vec<&(String, serde_yaml_ng::Value)> = services
        .iter()
        .filter(|(_, s)| {
            selects(
                &match_labels(&monitor["spec"]["selector"]),
                &string_map(s, &["metadata", "labels"]),
            )
        })
        .collect();
    assert_eq!(
        selected.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        ["deployment.yaml"],
        "{file} selects the Service of deployment.yaml, and only it"
    );
    let service = &selected[0].1;
    let service_labels = string_map(service, &["metadata", "labels"]);
    let service_ports: Vec<&serde_yaml_ng::Value> = list_at(service, &["spec", "ports"]);
    // The Service reaches the Deployment's exporter container by the port's name.
    let (_, deployment) = workloads
        .iter()
        .find(|(f, w)| f == "deployment.yaml" && kind_of(w) == "Deployment")
        .expect("deployment.yaml has a Deployment");
    assert!(
        selects(
            &string_map(service, &["spec", "selector"]),
            &pod_labels(deployment)
        ),
        "the Service selects the Deployment's pods"
    );
    let endpoints = list_at(monitor, &["spec", "endpoints"]);
    assert!(!endpoints.is_empty(), "{file}: endpoints");
    for endpoint in endpoints {
        let port = text_at(endpoint, &["port"]);
        let service_port = service_ports
            .iter()
            .find(|p| text_at(p, &["name"]) == port)
            .unwrap_or_else(|| panic!("{file}: port {port:?} is not a named port of the Service"));
        let target = text_at(service_port, &["targetPort"]);
        assert!(
            container_port_names(deployment).iter().any(|n| n == target),
            "the Service's port {port} targets the container port {target:?}"
        );
        assert_eq!(text_at(endpoint, &["path"]), "/metrics", "{file}");
        assert_eq!(
            monitor_job(monitor, endpoint, &service_labels),
            job,
            "{file}: its targets' job is the one the rules select"
        );
    }

    // The PodMonitor: the pods of statefulset.yaml, their named port, /metrics.
    let monitors = kubernetes_objects("PodMonitor");
    assert_eq!(monitors.len(), 1, "one PodMonitor: {monitors:?}");
    let (file, monitor) = &monitors[0];
    assert_eq!(file, "podmonitor.yaml");
    assert_eq!(
        text_at(monitor, &["apiVersion"]),
        "monitoring.coreos.com/v1"
    );
    let selected: Vec<&(String, serde_yaml_ng::Value)> = workloads
        .iter()
        .filter(|(_, w)| selects(&match_labels(&monitor["spec"]["selector"]), &pod_labels(w)))
        .collect();
    assert_eq!(
        selected
            .iter()
            .map(|(f, w)| (f.as_str(), kind_of(w)))
            .collect::<Vec<_>>(),
        [("statefulset.yaml", "StatefulSet")],
        "{file} selects the pods of statefulset.yaml, and only those"
    );
    let statefulset = &selected[0].1;
    let endpoints = list_at(monitor, &["spec", "podMetricsEndpoints"]);
    assert!(!endpoints.is_empty(), "{file}: podMetricsEndpoints");
    for endpoint in endpoints {
        let port = text_at(endpoint, &["port"]);
        assert!(
            container_port_names(statefulset).iter().any(|n| n == port),
            "{file}: port {port:?} is not a named container port of the StatefulSet's pods"
        );
        assert_eq!(text_at(endpoint, &["path"]), "/metrics", "{file}");
        assert_eq!(
            monitor_job(monitor, endpoint, &pod_labels(statefulset)),
            job,
            "{file}: its targets' job is the one the rules select"
        );
    }

    // The PrometheusRule: the groups of the bundled rule file.
    let rules = kubernetes_objects("PrometheusRule");
    assert_eq!(rules.len(), 1, "one PrometheusRule: {rules:?}");
    let (file, rule) = &rules[0];
    assert_eq!(file, "prometheusrule.yaml");
    assert_eq!(text_at(rule, &["apiVersion"]), "monitoring.coreos.com/v1");
    let bundled: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read(&repo("alerts/backup_exporter.rules.yml"))).unwrap();
    assert!(!list_at(&bundled, &["groups"]).is_empty());
    assert_eq!(
        rule["spec"]["groups"], bundled["groups"],
        "{file}: the groups of alerts/backup_exporter.rules.yml"
    );
    assert_eq!(
        rule["spec"].as_mapping().map(|m| m.len()),
        Some(1),
        "{file}: spec holds the groups only"
    );
}
