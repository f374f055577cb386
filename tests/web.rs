//! Protecting the endpoints with the exporter-toolkit web configuration file: HTTPS, client
//! certificates, basic auth on every endpoint, the file read again when it changes, a real
//! Prometheus scraping through TLS and basic auth; and the connection cap with idle
//! connections. Everything listens on 127.0.0.1; every loop is bounded.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backup_exporter::refresh::Exporter;
use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::{Dataset, SimServer};
use backup_exporter::web::{WebConfigFile, WebOptions};
use common::stack::{client, Prometheus, PrometheusConfig};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Certificates in a temporary folder: `ca.crt` signs `server.crt` (for localhost and
/// 127.0.0.1) and `client.crt`; `other-client.crt` comes from another CA.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Certs {
        backup_exporter::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        let authority = ca();
        write("ca.crt", &authority.1.pem());
        let (server, server_key) = signed(&authority, &["localhost", "127.0.0.1"]);
        write("server.crt", &server);
        write("server.key", &server_key);
        let (client, client_key) = signed(&authority, &["scraper"]);
        write("client.pem", &format!("{client}{client_key}"));
        let other = ca();
        let (other_client, other_key) = signed(&other, &["scraper"]);
        write("other-client.pem", &format!("{other_client}{other_key}"));
        Certs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    /// A client that trusts the CA (and so the server), with an optional client identity.
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .tls_certs_only([reqwest::Certificate::from_pem(&self.read("ca.crt")).unwrap()]);
        if let Some(name) = identity {
            b = b.identity(reqwest::Identity::from_pem(&self.read(name)).unwrap());
        }
        b.build().unwrap()
    }
}

fn ca() -> (rcgen::KeyPair, rcgen::Certificate, rcgen::CertificateParams) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    let cert = params.clone().self_signed(&key).unwrap();
    (key, cert, params)
}

fn signed(
    ca: &(rcgen::KeyPair, rcgen::Certificate, rcgen::CertificateParams),
    names: &[&str],
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let issuer = rcgen::Issuer::from_params(&ca.2, &ca.0);
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

struct Running {
    addr: std::net::SocketAddr,
    stop: watch::Sender<bool>,
    _upstream: SimServer,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The exporter with one simulated CrashPlan source, served with `options`; returned once
/// the first refresh is done.
async fn start(options: WebOptions) -> Running {
    let upstream = sim(Dataset::document_examples(), true).await;
    let cfg = config(&upstream.url(), PASSWORD, "");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (exporter, mut sources) = Exporter::new(&cfg).unwrap();
    exporter.refresh(0, &mut sources[0]).await;
    let (stop, mut rx) = watch::channel(false);
    tokio::spawn(backup_exporter::server::serve_with(
        listener,
        Arc::<Exporter>::clone(&exporter),
        options,
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    Running {
        addr,
        stop,
        _upstream: upstream,
    }
}

fn options_with_file(path: &Path) -> WebOptions {
    WebOptions {
        config: Arc::new(WebConfigFile::load(path).unwrap()),
        ..WebOptions::default()
    }
}

fn write_web_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("web.yml");
    std::fs::write(&path, text).unwrap();
    path
}

const ENDPOINTS: [&str; 6] = [
    "/metrics",
    "/healthz",
    "/ready",
    "/",
    "/device?source=hq&device_id=1",
    "/nothing-here",
];

#[tokio::test]
async fn https_serves_every_endpoint_and_plain_http_gets_nothing() {
    let certs = Certs::new();
    let path = write_web_config(
        certs.dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
         http_server_config:\n  headers:\n    Strict-Transport-Security: max-age=60\n",
    );
    let run = start(options_with_file(&path)).await;
    let c = certs.client(None);
    let r = c
        .get(format!("https://localhost:{}/metrics", run.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], "max-age=60");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("backup_exporter_source_up"));
    let r = c
        .get(format!("https://127.0.0.1:{}/healthz", run.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let plain = client()
        .get(format!("http://{}/metrics", run.addr))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP to the TLS port: {plain:?}");
    // A client that does not trust the CA refuses the server.
    assert!(client()
        .get(format!("https://localhost:{}/metrics", run.addr.port()))
        .send()
        .await
        .is_err());
}

#[tokio::test]
async fn require_and_verify_client_cert_refuses_a_client_without_one() {
    let certs = Certs::new();
    let path = write_web_config(
        certs.dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    );
    let run = start(options_with_file(&path)).await;
    let url = format!("https://localhost:{}/metrics", run.addr.port());
    let r = certs.client(Some("client.pem")).get(&url).send().await;
    assert_eq!(r.unwrap().status(), 200);
    let none = certs.client(None).get(&url).send().await;
    assert!(none.is_err(), "no client certificate: {none:?}");
    let other = certs
        .client(Some("other-client.pem"))
        .get(&url)
        .send()
        .await;
    assert!(other.is_err(), "a certificate from another CA: {other:?}");
}

#[tokio::test]
async fn verify_client_cert_if_given_lets_a_client_without_one_in() {
    let certs = Certs::new();
    let path = write_web_config(
        certs.dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n",
    );
    let run = start(options_with_file(&path)).await;
    let url = format!("https://localhost:{}/healthz", run.addr.port());
    assert_eq!(
        certs.client(None).get(&url).send().await.unwrap().status(),
        200
    );
    let c = certs.client(Some("client.pem"));
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
    let other = certs
        .client(Some("other-client.pem"))
        .get(&url)
        .send()
        .await;
    assert!(other.is_err(), "a certificate from another CA: {other:?}");
}

fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

#[tokio::test]
async fn basic_auth_guards_every_endpoint_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_web_config(
        dir.path(),
        &format!(
            "basic_auth_users:\n  prometheus: {}\nhttp_server_config:\n  headers:\n    \
             X-Frame-Options: deny\n",
            hash("scrape-pw")
        ),
    );
    let run = start(options_with_file(&path)).await;
    let c = client();
    for endpoint in ENDPOINTS {
        let url = format!("http://{}{endpoint}", run.addr);
        let mut bodies = Vec::new();
        for (user, password) in [
            (None, None),
            (Some("prometheus"), Some("wrong")),
            (Some("prometheus"), None),
            (Some("nobody"), Some("scrape-pw")),
        ] {
            let mut req = c.get(&url);
            if let Some(user) = user {
                req = req.basic_auth(user, password);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{endpoint} {user:?} {password:?}");
            assert!(r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"));
            assert_eq!(r.headers()["x-frame-options"], "deny");
            bodies.push(r.text().await.unwrap());
        }
        assert!(
            bodies.iter().all(|b| *b == bodies[0]),
            "no answer tells an unknown user from a wrong password: {bodies:?}"
        );
        let r = c
            .get(&url)
            .basic_auth("prometheus", Some("scrape-pw"))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 401, "{endpoint}");
        assert_eq!(r.headers()["x-frame-options"], "deny");
    }
}

#[tokio::test]
async fn a_changed_file_is_read_again_and_a_broken_one_is_ignored() {
    let certs = Certs::new();
    let dir = certs.dir.path();
    let path = write_web_config(dir, &format!("basic_auth_users:\n  alice: {}\n", hash("a")));
    let run = start(options_with_file(&path)).await;
    let plain = format!("http://{}/metrics", run.addr);
    let c = client();
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            c.get(&plain)
                .basic_auth("alice", Some("a"))
                .send()
                .await
                .unwrap()
        ),
        200
    );
    let settle = || tokio::time::sleep(Duration::from_millis(1200));

    // A new password: the old one is refused from the next check on.
    write_web_config(dir, &format!("basic_auth_users:\n  alice: {}\n", hash("b")));
    settle().await;
    let mut seen = Vec::new();
    for _ in 0..20 {
        let s = status(
            c.get(&plain)
                .basic_auth("alice", Some("b"))
                .send()
                .await
                .unwrap(),
        );
        seen.push(s);
        if s == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(seen.last(), Some(&200), "{seen:?}");
    assert_eq!(
        status(
            c.get(&plain)
                .basic_auth("alice", Some("a"))
                .send()
                .await
                .unwrap()
        ),
        401
    );

    // A broken file keeps the previous configuration.
    write_web_config(dir, "basic_auth_users:\n  alice: [oops\n");
    settle().await;
    for _ in 0..3 {
        assert_eq!(
            status(
                c.get(&plain)
                    .basic_auth("alice", Some("b"))
                    .send()
                    .await
                    .unwrap()
            ),
            200
        );
        assert_eq!(status(c.get(&plain).send().await.unwrap()), 401);
    }

    // TLS switched on: new connections get a handshake.
    write_web_config(
        dir,
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    settle().await;
    let https = format!("https://localhost:{}/metrics", run.addr.port());
    let mut last = String::new();
    for _ in 0..20 {
        // A fresh client each time: a new connection, a new handshake.
        match certs.client(None).get(&https).send().await {
            Ok(r) if r.status() == 200 => {
                last.clear();
                break;
            }
            Ok(r) => last = r.status().to_string(),
            Err(e) => last = e.to_string(),
        }
        let _ = client().get(&plain).send().await; // lets the server look at the file
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last.is_empty(), "{last}");
}

#[tokio::test]
async fn a_renewed_certificate_is_used_for_new_handshakes() {
    let certs = Certs::new();
    let path = write_web_config(
        certs.dir.path(),
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    let run = start(options_with_file(&path)).await;
    let url = format!("https://localhost:{}/healthz", run.addr.port());
    assert_eq!(
        certs.client(None).get(&url).send().await.unwrap().status(),
        200
    );
    // A new CA and a new server certificate: clients trusting only the new CA get in once the
    // server looked at the files again (the web config file itself is unchanged).
    let renewed = Certs::new();
    std::fs::copy(renewed.path("server.crt"), certs.path("server.crt")).unwrap();
    std::fs::copy(renewed.path("server.key"), certs.path("server.key")).unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut last = String::new();
    for _ in 0..20 {
        // The first handshake after the change may still use the old certificate: the file is
        // looked at when a connection comes in.
        match renewed.client(None).get(&url).send().await {
            Ok(r) if r.status() == 200 => {
                last.clear();
                break;
            }
            Ok(r) => last = r.status().to_string(),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last.is_empty(), "{last}");
    assert!(
        certs.client(None).get(&url).send().await.is_err(),
        "the old CA no longer fits"
    );
}

#[tokio::test]
async fn idle_connections_above_the_cap_do_not_lock_out_a_new_scraper() {
    let run = start(WebOptions {
        max_connections: 8,
        ..WebOptions::default()
    })
    .await;
    // 8 keep-alive connections that scraped once and stay open, then 40 that say nothing.
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(run.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        idle.push(s);
    }
    for _ in 0..40 {
        idle.push(TcpStream::connect(run.addr).await.unwrap());
    }
    let started = Instant::now();
    let r = client()
        .get(format!("http://{}/metrics", run.addr))
        .send()
        .await
        .expect("a new scraper gets in");
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("backup_exporter_source_up"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The oldest idle connections were closed to make room.
    let mut closed = 0;
    for s in idle.iter_mut().take(8) {
        let mut buf = [0u8; 16];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await
        {
            closed += 1;
        }
    }
    assert!(closed >= 1, "the stalest idle connections were closed");
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let run = start(WebOptions {
        idle_timeout: Duration::from_millis(500),
        ..WebOptions::default()
    })
    .await;
    let mut s = TcpStream::connect(run.addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return 0,
                Ok(n) => {
                    if !buf[..n].starts_with(b"HTTP/1.1 408") {
                        return n;
                    }
                }
            }
        }
    })
    .await
    .expect("closed within 5s");
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(400));
    // A silent connection too.
    let mut silent = TcpStream::connect(run.addr).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("closed within 5s");
    assert!(matches!(r, Ok(0) | Err(_)) || buf.starts_with(b"HTTP/1.1 408"));
}

#[tokio::test]
async fn prometheus_scrapes_through_tls_and_basic_auth() {
    let certs = Certs::new();
    let path = write_web_config(
        certs.dir.path(),
        &format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
             basic_auth_users:\n  prometheus: {}\n",
            bcrypt::hash("scrape-pw", 10).unwrap()
        ),
    );
    let run = start(options_with_file(&path)).await;
    let target = format!("127.0.0.1:{}", run.addr.port());
    let ca = certs.path("ca.crt").display().to_string();
    let prom = Prometheus::start(
        PrometheusConfig::new()
            .scrape_yaml(&format!(
                "  - job_name: protected\n    scheme: https\n    tls_config:\n      ca_file: {ca:?}\n    \
                 basic_auth:\n      username: prometheus\n      password: scrape-pw\n    \
                 static_configs:\n      - targets: [{target:?}]\n  \
                 - job_name: wrong_password\n    scheme: https\n    tls_config:\n      ca_file: {ca:?}\n    \
                 basic_auth:\n      username: prometheus\n      password: nope\n    \
                 static_configs:\n      - targets: [{target:?}]\n"
            )),
    )
    .await;
    prom.wait_for_scrapes("protected", 3, Duration::from_secs(30))
        .await;
    let up = prom.query("up{job=\"protected\"}").await;
    assert_eq!(up.len(), 1);
    assert_eq!(common::stack::value(&up[0]), 1.0);
    let series = prom
        .wait_for_series(
            "backup_exporter_source_up{job=\"protected\"}",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(common::stack::value(&series[0]), 1.0);
    let wrong = prom
        .wait_for_series("up{job=\"wrong_password\"}", Duration::from_secs(10))
        .await;
    assert_eq!(
        common::stack::value(&wrong[0]),
        0.0,
        "a wrong password is refused"
    );
}

#[test]
fn check_config_validates_the_web_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[source]]\nname = \"hq\"\nkind = \"crashplan\"\nurl = \"http://127.0.0.1:1\"\n\
         username = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    let web = write_web_config(dir.path(), "basic_auth_users:\n  alice: plain\n");
    let run = |args: &[&str], env: Option<&Path>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_backup_exporter"));
        cmd.arg("--config")
            .arg(&config)
            .args(args)
            .arg("check-config");
        for (k, _) in std::env::vars() {
            if k.starts_with("BACKUP_EXPORTER_") {
                cmd.env_remove(k);
            }
        }
        if let Some(p) = env {
            cmd.env("BACKUP_EXPORTER_WEB_CONFIG_FILE", p);
        }
        cmd.output().unwrap()
    };
    let web_arg = web.display().to_string();
    for out in [
        run(&["--web.config.file", &web_arg], None),
        run(&[], Some(&web)),
    ] {
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&web_arg) && err.contains("basic_auth_users.alice"),
            "{err}"
        );
    }
    std::fs::write(&web, format!("basic_auth_users:\n  alice: {}\n", hash("x"))).unwrap();
    let out = run(
        &["--web.config.file", &web_arg, "--web.max-connections", "64"],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("TLS off, basic auth for 1 user(s)"), "{text}");
    assert!(text.contains("max connections: 64"), "{text}");
}
