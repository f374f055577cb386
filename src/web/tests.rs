//! The web configuration file: each key and each refusal with its message; bcrypt and its
//! cache; the connection cap's choice; the throttled log line; re-reading a changed file.

use std::path::Path;
use std::time::{Duration, Instant};

use super::auth::{parse_basic, BasicAuth};
use super::config::{ClientAuth, WebConfig};
use super::conns::{Connections, Throttle};
use super::reload::WebConfigFile;

/// A folder with `server.crt`, `server.key` and `ca.crt` (a CA that signs client certs).
fn certs() -> tempfile::TempDir {
    crate::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
    dir
}

fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
    WebConfig::parse(text, dir)
}

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

fn err(text: &str, dir: &Path) -> String {
    match parse(text, dir) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn an_empty_file_serves_plain_http_without_authentication() {
    let dir = tempfile::tempdir().unwrap();
    for text in ["", "\n", "# nothing\n", "{}"] {
        let c = parse(text, dir.path()).unwrap();
        assert!(c.tls.is_none() && c.auth.is_none() && c.headers.is_empty());
    }
}

#[test]
fn a_full_file_loads() {
    let dir = certs();
    let hash = bcrypt::hash("secret", 4).unwrap();
    let text = format!(
        "{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  \
         min_version: TLS12\n  max_version: TLS13\n  cipher_suites:\n    - \
         TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n    - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305\n  \
         prefer_server_cipher_suites: false\n  curve_preferences: [X25519, CurveP256]\n\
         http_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\n    \
         X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n    \
         X-XSS-Protection: \"1; mode=block\"\n    Content-Security-Policy: \"default-src 'self'\"\n\
         basic_auth_users:\n  prometheus: {hash}\n"
    );
    let c = parse(&text, dir.path()).unwrap();
    let tls = c.tls.as_ref().unwrap();
    assert_eq!(c.client_auth, ClientAuth::RequireAndVerifyClientCert);
    assert!(!tls.ignore_client_order);
    assert_eq!(c.headers.len(), 5);
    assert_eq!(c.auth.as_ref().unwrap().users(), 1);
    assert_eq!(c.files.len(), 3, "certificate, key and CA are watched");
    assert_eq!(
        c.summary(),
        "TLS on (client certificates: RequireAndVerifyClientCert), basic auth for 1 user(s), 5 extra header(s)"
    );
}

#[test]
fn inline_cert_and_key_are_accepted() {
    let dir = certs();
    let cert = std::fs::read_to_string(dir.path().join("server.crt")).unwrap();
    let key = std::fs::read_to_string(dir.path().join("server.key")).unwrap();
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    let text = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}",
        indent(&cert),
        indent(&key)
    );
    let c = parse(&text, Path::new("/nonexistent")).unwrap();
    assert!(c.tls.is_some());
    assert!(c.files.is_empty());
}

#[test]
fn prefer_server_cipher_suites_defaults_to_true() {
    let dir = certs();
    let c = parse(TLS, dir.path()).unwrap();
    assert!(c.tls.unwrap().ignore_client_order);
    assert_eq!(c.client_auth, ClientAuth::NoClientCert);
}

#[test]
fn every_client_auth_type_is_known() {
    let dir = certs();
    for (name, ca) in [
        ("NoClientCert", false),
        ("RequestClientCert", false),
        ("RequireAnyClientCert", false),
        ("VerifyClientCertIfGiven", true),
        ("RequireAndVerifyClientCert", true),
    ] {
        let ca = if ca { "  client_ca_file: ca.crt\n" } else { "" };
        let c = parse(
            &format!("{TLS}  client_auth_type: {name}\n{ca}"),
            dir.path(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.client_auth.name(), name);
    }
}

#[test]
fn invalid_files_are_refused_naming_the_key() {
    let dir = certs();
    let d = dir.path();
    let hash = bcrypt::hash("x", 4).unwrap();
    let cases: Vec<(String, &[&str])> = vec![
        ("tls_config:\n  cert_file: a\n".into(), &["unknown field `tls_config`"]),
        (format!("{TLS}  certfile: x\n"), &["tls_server_config", "unknown field `certfile`"]),
        ("http_server_config:\n  http3: true\n".into(), &["unknown field `http3`"]),
        ("basic_auth_users: [a, b]\n".into(), &["basic_auth_users"]),
        (format!("{TLS}  min_version: TLS10\n"), &["`tls_server_config.min_version`", "TLS10 is not supported", "rustls"]),
        (format!("{TLS}  min_version: TLS11\n"), &["`tls_server_config.min_version`", "TLS11 is not supported"]),
        (format!("{TLS}  max_version: SSL3\n"), &["`tls_server_config.max_version`", "not a TLS version"]),
        (format!("{TLS}  min_version: TLS13\n  max_version: TLS12\n"), &["`tls_server_config.min_version`", "above max_version"]),
        (format!("{TLS}  client_auth_type: RequireClientCert\n"), &["`tls_server_config.client_auth_type`", "RequireAndVerifyClientCert"]),
        (format!("{TLS}  client_ca_file: ca.crt\n"), &["`tls_server_config.client_ca_file`", "NoClientCert"]),
        (format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n"), &["`tls_server_config.client_ca_file`", "needs the CA"]),
        (format!("{TLS}  client_auth_type: VerifyClientCertIfGiven\n"), &["`tls_server_config.client_ca_file`", "needs the CA"]),
        (format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: nope.crt\n"), &["`tls_server_config.client_ca_file`", "nope.crt"]),
        (format!("{TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n"), &["`tls_server_config.client_ca_file`", "no PEM certificate"]),
        (format!("{TLS}  cert: inline\n"), &["`tls_server_config.cert_file`", "not both"]),
        ("tls_server_config:\n  cert_file: server.crt\n".into(), &["`tls_server_config`", "key_file"]),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n".into(), &["`tls_server_config.cert_file`", "missing.crt"]),
        ("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n".into(), &["`tls_server_config.cert_file`", "no PEM certificate"]),
        ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.crt\n".into(), &["`tls_server_config.key_file`", "no PEM private key"]),
        (format!("{TLS}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"), &["`tls_server_config.cipher_suites`", "TLS_RSA_WITH_AES_128_CBC_SHA", "rustls offers"]),
        (format!("{TLS}  curve_preferences: [CurveP521]\n"), &["`tls_server_config.curve_preferences`", "CurveP521"]),
        (format!("{TLS}  client_allowed_sans: [a.example]\n"), &["`tls_server_config.client_allowed_sans`", "not supported"]),
        ("rate_limit:\n  interval: 1s\n  burst: 20\n".into(), &["`rate_limit`", "not supported"]),
        ("http_server_config:\n  headers:\n    Server: me\n".into(), &["`http_server_config.headers.Server`", "cannot be set", "X-Frame-Options"]),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n".into(), &["`http_server_config.headers.X-Frame-Options`", "deny or sameorigin"]),
        ("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(), &["`http_server_config.headers.X-Content-Type-Options`", "nosniff"]),
        ("basic_auth_users:\n  alice: plain-password\n".into(), &["`basic_auth_users.alice`", "not a bcrypt hash", "htpasswd"]),
        (format!("basic_auth_users:\n  \"a:b\": {hash}\n"), &["`basic_auth_users.a:b`", "no ':'"]),
        ("http_server_config:\n  http2: maybe\n".into(), &["http2"]),
    ];
    for (text, words) in cases {
        let e = err(&text, d);
        for w in words {
            assert!(e.contains(w), "{text}\n=> {e}\n(missing {w:?})");
        }
        assert!(
            !e.contains("plain-password"),
            "a hash or password is never echoed: {e}"
        );
    }
}

#[test]
fn load_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, "basic_auth_user: {}\n").unwrap();
    let e = WebConfig::load(&path).err().unwrap();
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(e.contains("basic_auth_user"), "{e}");
    let e = WebConfig::load(&dir.path().join("missing.yml"))
        .err()
        .unwrap();
    assert!(e.contains("missing.yml"), "{e}");
}

#[test]
fn headers_blank_is_unset_and_names_are_case_insensitive() {
    let c = parse(
        "http_server_config:\n  headers:\n    x-frame-options: SAMEORIGIN\n    Content-Security-Policy: \"\"\n",
        Path::new("."),
    )
    .unwrap();
    assert_eq!(c.headers.len(), 1);
    assert_eq!(c.headers[0].0.as_str(), "x-frame-options");
    assert_eq!(c.headers[0].1, "SAMEORIGIN");
}

fn auth_with(users: &[(&str, &str)]) -> BasicAuth {
    BasicAuth::new(
        users
            .iter()
            .map(|(u, h)| (u.to_string(), h.to_string()))
            .collect(),
    )
    .unwrap()
}

#[test]
fn bcrypt_right_and_wrong_passwords() {
    let auth = auth_with(&[
        ("alice", &bcrypt::hash("alice-pw", 4).unwrap()),
        ("bob", &bcrypt::hash("bob-pw", 5).unwrap()),
    ]);
    assert!(auth.check_blocking("alice", "alice-pw"));
    assert!(auth.check_blocking("bob", "bob-pw"));
    assert!(!auth.check_blocking("alice", "bob-pw"));
    assert!(!auth.check_blocking("alice", ""));
    assert!(!auth.check_blocking("alice", "alice-pw "));
    // An unknown user with a configured user's password: refused (the decoy hash matches).
    assert!(!auth.check_blocking("carol", "alice-pw"));
    assert!(!auth.check_blocking("", "alice-pw"));
}

#[test]
fn htpasswd_hashes_with_the_2y_prefix_and_any_cost_verify() {
    for cost in [4, 6, 10] {
        let hash = bcrypt::hash("pw", cost)
            .unwrap()
            .replacen("$2b$", "$2y$", 1);
        assert!(hash.starts_with(&format!("$2y${cost:02}$")));
        let auth = auth_with(&[("u", &hash)]);
        assert!(auth.check_blocking("u", "pw"), "cost {cost}");
        assert!(!auth.check_blocking("u", "PW"), "cost {cost}");
    }
}

#[test]
fn successful_verifications_are_cached_failures_are_not() {
    let auth = auth_with(&[("alice", &bcrypt::hash("pw", 10).unwrap())]);
    assert!(!auth.check_blocking("alice", "wrong"));
    assert!(!auth.check_blocking("nobody", "pw"));
    assert_eq!(auth.cached(), 0);
    let t = Instant::now();
    assert!(auth.check_blocking("alice", "pw"));
    let first = t.elapsed();
    assert_eq!(auth.cached(), 1);
    let t = Instant::now();
    for _ in 0..10 {
        assert!(auth.check_blocking("alice", "pw"));
    }
    let cached = t.elapsed();
    assert_eq!(auth.cached(), 1);
    assert!(
        cached < first,
        "ten cached checks ({cached:?}) cost less than one bcrypt ({first:?})"
    );
    // The cache is keyed by the password too.
    assert!(!auth.check_blocking("alice", "pw2"));
}

#[tokio::test]
async fn the_authorization_header_is_checked() {
    let auth = auth_with(&[("alice", &bcrypt::hash("pw", 4).unwrap())]);
    let header = |s: &str| hyper::header::HeaderValue::from_str(s).unwrap();
    assert!(auth.check(Some(&header("Basic YWxpY2U6cHc="))).await);
    assert!(auth.check(Some(&header("basic  YWxpY2U6cHc= "))).await);
    assert!(!auth.check(Some(&header("Bearer YWxpY2U6cHc="))).await);
    assert!(!auth.check(Some(&header("Basic !!!"))).await);
    assert!(!auth.check(None).await);
    assert_eq!(
        parse_basic(&header("Basic dTpwOnc=")),
        Some(("u".into(), "p:w".into())),
        "a password may hold ':'"
    );
    assert_eq!(parse_basic(&header("Basic dQ==")), None);
}

#[test]
fn accept_failures_are_logged_at_most_once_per_period() {
    let mut t = Throttle::new(Duration::from_secs(10));
    let start = Instant::now();
    assert_eq!(t.allow(start), Some(0));
    for i in 1..=5 {
        assert_eq!(t.allow(start + Duration::from_secs(i)), None);
    }
    assert_eq!(t.allow(start + Duration::from_secs(11)), Some(5));
    assert_eq!(t.allow(start + Duration::from_secs(12)), None);
    assert_eq!(t.allow(start + Duration::from_secs(30)), Some(1));
}

#[tokio::test]
async fn at_the_cap_the_stalest_idle_connection_is_asked_to_close() {
    let conns = Connections::new(3);
    let a = conns.admit().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let b = conns.admit().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let c = conns.admit().await;
    assert_eq!(conns.open(), 3);
    // `a` is busy with a request: `b` is the stalest idle one.
    let busy = a.activity.begin();
    let waiting = tokio::spawn({
        let conns = conns.clone();
        async move { conns.admit().await }
    });
    tokio::time::timeout(Duration::from_secs(2), b.activity.close.notified())
        .await
        .expect("b asked to close");
    assert!(!waiting.is_finished());
    drop(b);
    let d = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("admitted once b closed")
        .unwrap();
    assert_eq!(conns.open(), 3);
    // Next: c is idle and stalest (a still busy, d newer).
    assert!(conns.close_stalest_idle());
    tokio::time::timeout(Duration::from_secs(2), c.activity.close.notified())
        .await
        .expect("c asked to close");
    drop(busy);
    drop((a, c, d));
    assert_eq!(conns.open(), 0);
}

#[test]
fn the_file_is_read_again_when_it_changes_and_a_bad_one_keeps_the_last_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let hash = bcrypt::hash("pw", 4).unwrap();
    std::fs::write(&path, "").unwrap();
    let file = WebConfigFile::load(&path).unwrap();
    assert!(file.current().auth.is_none());
    std::fs::write(&path, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    // Looked at no more than once a second.
    let wait = || std::thread::sleep(super::reload::CHECK_EVERY + Duration::from_millis(100));
    wait();
    assert_eq!(file.current().auth.as_ref().map(|a| a.users()), Some(1));
    std::fs::write(&path, "basic_auth_users:\n  alice: not-a-hash\n").unwrap();
    wait();
    assert_eq!(
        file.current().auth.as_ref().map(|a| a.users()),
        Some(1),
        "the previous good file stays in force"
    );
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  alice: {hash}\n  bob: {hash}\n"),
    )
    .unwrap();
    wait();
    assert_eq!(file.current().auth.as_ref().map(|a| a.users()), Some(2));
}
