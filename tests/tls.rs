//! HTTPS upstreams with a self-signed certificate, as CrashPlan PRO servers usually have on port
//! 4285: trusted through `tls.ca_file`, refused without it, accepted by `insecure_skip_verify`.
//! A TLS front (rustls) forwards to the simulated server.

mod common;

use std::io::Write;
use std::sync::Arc;

use backup_exporter::app;
use backup_exporter::sim::Simulator;
use backup_exporter::sources::crashplan::sim::Dataset;
use common::*;
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// Serves TLS on 127.0.0.1 with a certificate for `localhost`, forwarding to `backend`.
/// Returns the port and the certificate's PEM.
async fn tls_front(backend: std::net::SocketAddr) -> (u16, String) {
    backup_exporter::tls::install_crypto_provider();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = cert.pem();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (port, pem)
}

#[tokio::test]
async fn self_signed_https_needs_the_ca_file_or_insecure_skip_verify() {
    let server = sim(Dataset::document_examples(), true).await;
    let (port, pem) = tls_front(server.addr()).await;
    let url = format!("https://localhost:{port}");
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(pem.as_bytes()).unwrap();

    let trusted = config(
        &url,
        PASSWORD,
        &format!(
            "[source.tls]\nca_file = {:?}",
            ca.path().display().to_string()
        ),
    );
    let (text, ok) = app::once(&trusted).await.unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("backup_archive_bytes{"));

    let untrusted = config(&url, PASSWORD, "");
    let (exporter, mut sources) = backup_exporter::refresh::Exporter::new(&untrusted).unwrap();
    let outcome = exporter.refresh(0, &mut sources[0]).await;
    assert!(
        matches!(
            outcome,
            backup_exporter::refresh::Outcome::Failed {
                reason: "connect",
                ..
            }
        ),
        "{outcome:?}"
    );
    let err = exporter.sources()[0]
        .state()
        .last_error
        .unwrap()
        .to_lowercase();
    assert!(err.contains("certificate"), "{err}");

    let insecure = config(&url, PASSWORD, "[source.tls]\ninsecure_skip_verify = true");
    let (_, ok) = app::once(&insecure).await.unwrap();
    assert!(ok);
}

#[test]
fn a_ca_file_without_certificates_is_a_configuration_error() {
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(b"not a certificate\n").unwrap();
    let cfg = config(
        "https://localhost:4285",
        PASSWORD,
        &format!(
            "[source.tls]\nca_file = {:?}",
            ca.path().display().to_string()
        ),
    );
    let err = backup_exporter::refresh::Exporter::new(&cfg)
        .err()
        .expect("refused");
    assert!(err.contains("tls.ca_file"), "{err}");
}
