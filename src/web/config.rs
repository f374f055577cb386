//! The web configuration file (`--web.config.file`): the YAML format of the Prometheus
//! exporter-toolkit, so one file protects node_exporter and backup_exporter alike.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt
//! http_server_config:
//!   headers:
//!     X-Content-Type-Options: nosniff
//! basic_auth_users:
//!   prometheus: $2y$10$...   # bcrypt
//! ```
//!
//! Unknown keys are refused, and every error names the file and the key. Relative file names
//! are taken from the web configuration file's folder, as the toolkit does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::header::{HeaderName, HeaderValue};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde::Deserialize;

use super::auth::BasicAuth;

/// The file as written. `serde_yaml_ng` reports unknown keys with their path and line.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tls_server_config: Option<TlsFile>,
    #[serde(default)]
    http_server_config: Option<HttpFile>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    /// Known to the toolkit, not implemented here: refused by name rather than as unknown.
    #[serde(default)]
    rate_limit: Option<serde_yaml_ng::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    #[serde(default)]
    cert: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    cert_file: Option<PathBuf>,
    #[serde(default)]
    key_file: Option<PathBuf>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    client_ca_file: Option<PathBuf>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

/// The client certificate policies of Go's `crypto/tls`, by the names the toolkit uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    const ALL: [(&'static str, ClientAuth); 5] = [
        ("NoClientCert", ClientAuth::NoClientCert),
        ("RequestClientCert", ClientAuth::RequestClientCert),
        ("RequireAnyClientCert", ClientAuth::RequireAnyClientCert),
        (
            "VerifyClientCertIfGiven",
            ClientAuth::VerifyClientCertIfGiven,
        ),
        (
            "RequireAndVerifyClientCert",
            ClientAuth::RequireAndVerifyClientCert,
        ),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("", |(n, _)| n)
    }

    fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// The headers the toolkit lets a file add to every response.
pub const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// A loaded, validated web configuration.
pub struct WebConfig {
    /// The TLS settings; `None` serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub client_auth: ClientAuth,
    /// `None` when no `basic_auth_users` are configured (no authentication).
    pub auth: Option<BasicAuth>,
    /// Added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Files the configuration reads (certificates, keys, CAs): a change to one is a reload.
    pub files: Vec<PathBuf>,
}

impl WebConfig {
    /// No TLS, no authentication, no headers: what serving without a web config file means.
    pub fn open() -> WebConfig {
        WebConfig {
            tls: None,
            client_auth: ClientAuth::NoClientCert,
            auth: None,
            headers: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Reads and validates the file. The error names the file and the key.
    pub fn load(path: &Path) -> Result<WebConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("web config file {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| format!("web config file {}: {e}", path.display()))
    }

    /// Parses and validates YAML text; relative file names are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<WebConfig, String> {
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?
        };
        if file.rate_limit.is_some() {
            return Err(
                "key `rate_limit`: not supported by backup_exporter (put a rate-limiting proxy \
                 in front, or remove the key)"
                    .into(),
            );
        }
        let mut config = WebConfig::open();
        if let Some(users) = file.basic_auth_users {
            if !users.is_empty() {
                config.auth = Some(BasicAuth::new(users)?);
            }
        }
        if let Some(http) = file.http_server_config {
            // `http2` is accepted for compatibility: the server speaks HTTP/1.1 (ALPN says so).
            let _ = http.http2;
            config.headers = headers(http.headers.unwrap_or_default())?;
        }
        if let Some(tls) = file.tls_server_config {
            let (server, client_auth, files) = tls_config(tls, base)?;
            config.tls = Some(Arc::new(server));
            config.client_auth = client_auth;
            config.files = files;
        }
        Ok(config)
    }

    /// One line for `check-config`.
    pub fn summary(&self) -> String {
        let tls = match &self.tls {
            Some(_) => format!("TLS on (client certificates: {})", self.client_auth.name()),
            None => "TLS off".into(),
        };
        let auth = match &self.auth {
            Some(a) => format!("basic auth for {} user(s)", a.users()),
            None => "no basic auth".into(),
        };
        format!("{tls}, {auth}, {} extra header(s)", self.headers.len())
    }
}

fn headers(given: BTreeMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let mut out = Vec::new();
    for (name, value) in given {
        let key = format!("http_server_config.headers.{name}");
        let Some(known) = ALLOWED_HEADERS
            .iter()
            .find(|h| h.eq_ignore_ascii_case(&name))
        else {
            return Err(format!(
                "key `{key}`: this header cannot be set (allowed: {})",
                ALLOWED_HEADERS.join(", ")
            ));
        };
        let value = value.trim();
        if value.is_empty() {
            continue; // blank means unset, as in the toolkit
        }
        let allowed: &[&str] = match *known {
            "X-Frame-Options" => &["deny", "sameorigin"],
            "X-Content-Type-Options" => &["nosniff"],
            _ => &[],
        };
        if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(value)) {
            return Err(format!(
                "key `{key}`: {value:?} is not allowed (use {})",
                allowed.join(" or ")
            ));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("key `{key}`: not a valid header value"))?;
        out.push((HeaderName::from_static(lower(known)), value));
    }
    Ok(out)
}

fn lower(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

fn tls_version(
    key: &str,
    value: &str,
) -> Result<&'static rustls::SupportedProtocolVersion, String> {
    match value {
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS10" | "TLS11" => Err(format!(
            "key `tls_server_config.{key}`: {value} is not supported: rustls implements only \
             TLS12 and TLS13 (older versions are insecure)"
        )),
        _ => Err(format!(
            "key `tls_server_config.{key}`: {value:?} is not a TLS version (TLS12 or TLS13)"
        )),
    }
}

/// Reads PEM from a file or inline text (at most one of the two), with a label naming the key
/// (and the file) for messages.
fn pem_source(
    base: &Path,
    inline_key: &str,
    inline: Option<String>,
    file_key: &str,
    file: Option<PathBuf>,
    files: &mut Vec<PathBuf>,
) -> Result<Option<(Vec<u8>, String)>, String> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!(
            "key `tls_server_config.{file_key}`: give either `{inline_key}` or `{file_key}`, not both"
        )),
        (Some(text), None) => Ok(Some((
            text.into_bytes(),
            format!("`tls_server_config.{inline_key}`"),
        ))),
        (None, Some(path)) => {
            let path = base.join(path);
            let bytes = std::fs::read(&path).map_err(|e| {
                format!("key `tls_server_config.{file_key}`: {}: {e}", path.display())
            })?;
            let label = format!("`tls_server_config.{file_key}` ({})", path.display());
            files.push(path);
            Ok(Some((bytes, label)))
        }
        (None, None) => Ok(None),
    }
}

fn certificates(pem: &[u8], label: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("key {label}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("key {label}: no PEM certificate in it"));
    }
    Ok(certs)
}

fn tls_config(
    tls: TlsFile,
    base: &Path,
) -> Result<(rustls::ServerConfig, ClientAuth, Vec<PathBuf>), String> {
    crate::tls::install_crypto_provider();
    let mut files = Vec::new();
    if tls.client_allowed_sans.is_some() {
        return Err(
            "key `tls_server_config.client_allowed_sans`: not supported by backup_exporter \
             (issue client certificates from a CA of their own and give it as client_ca_file)"
                .into(),
        );
    }
    let cert = pem_source(
        base,
        "cert",
        tls.cert,
        "cert_file",
        tls.cert_file,
        &mut files,
    )?;
    let key = pem_source(base, "key", tls.key, "key_file", tls.key_file, &mut files)?;
    let (Some((cert, cert_label)), Some((key, key_label))) = (cert, key) else {
        return Err(
            "key `tls_server_config`: give `cert_file` and `key_file` (or `cert` and `key`)".into(),
        );
    };
    let certs = certificates(&cert, &cert_label)?;
    // The key's text is never echoed: it is a secret.
    let key = PrivateKeyDer::from_pem_slice(&key)
        .map_err(|_| format!("key {key_label}: no PEM private key in it"))?;

    let client_auth = match tls.client_auth_type.as_deref() {
        None | Some("") => ClientAuth::NoClientCert,
        Some(name) => ClientAuth::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .ok_or_else(|| {
                format!(
                    "key `tls_server_config.client_auth_type`: {name:?} is not one of {}",
                    ClientAuth::ALL.map(|(n, _)| n).join(", ")
                )
            })?,
    };
    let ca = pem_source(
        base,
        "client_ca",
        tls.client_ca,
        "client_ca_file",
        tls.client_ca_file,
        &mut files,
    )?;
    if ca.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err(
            "key `tls_server_config.client_ca_file`: a client CA is given but client_auth_type is \
             NoClientCert (use RequireAndVerifyClientCert)"
                .into(),
        );
    }
    if client_auth.verifies() && ca.is_none() {
        return Err(format!(
            "key `tls_server_config.client_ca_file`: client_auth_type {} needs the CA that \
             signs client certificates",
            client_auth.name()
        ));
    }

    let min = tls_version("min_version", tls.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = tls_version("max_version", tls.max_version.as_deref().unwrap_or("TLS13"))?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [&rustls::version::TLS12, &rustls::version::TLS13]
            .into_iter()
            .filter(|v| {
                let rank = |v: &rustls::SupportedProtocolVersion| u16::from(v.version);
                rank(v) >= rank(min) && rank(v) <= rank(max)
            })
            .collect();
    if versions.is_empty() {
        return Err("key `tls_server_config.min_version`: is above max_version".into());
    }

    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = tls.cipher_suites.filter(|n| !n.is_empty()) {
        provider.cipher_suites = cipher_suites(&provider, &names)?;
    }
    if let Some(names) = tls.curve_preferences.filter(|n| !n.is_empty()) {
        provider.kx_groups = curves(&provider, &names)?;
    }
    let provider = Arc::new(provider);

    let verifier: Arc<dyn ClientCertVerifier> = match client_auth {
        ClientAuth::NoClientCert => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Arc::new(AnyClientCert {
                mandatory: client_auth == ClientAuth::RequireAnyClientCert,
                provider: provider.clone(),
            })
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let (pem, ca_label) = ca.expect("checked above");
            let mut roots = rustls::RootCertStore::empty();
            for c in certificates(&pem, &ca_label)? {
                roots
                    .add(c)
                    .map_err(|e| format!("key {ca_label}: not a CA certificate: {e}"))?;
            }
            let builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| format!("key {ca_label}: {e}"))?
        }
    };
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| format!("key `tls_server_config.cipher_suites`: {e}"))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("key {key_label}: does not go with the certificate: {e}"))?;
    server.ignore_client_order = tls.prefer_server_cipher_suites.unwrap_or(true);
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((server, client_auth, files))
}

/// The TLS 1.2 suites named (Go's names; TLS 1.3 suites stay on, as in Go), in that order.
fn cipher_suites(
    provider: &CryptoProvider,
    names: &[String],
) -> Result<Vec<rustls::SupportedCipherSuite>, String> {
    let mut out: Vec<rustls::SupportedCipherSuite> = provider
        .cipher_suites
        .iter()
        .filter(|s| s.tls13().is_some())
        .copied()
        .collect();
    for name in names {
        let found = provider.cipher_suites.iter().find(|s| {
            let rustls_name = format!("{:?}", s.suite());
            s.tls13().is_none() && (rustls_name == *name || rustls_name == format!("{name}_SHA256"))
        });
        match found {
            Some(s) => out.push(*s),
            None => {
                let available: Vec<String> = provider
                    .cipher_suites
                    .iter()
                    .filter(|s| s.tls13().is_none())
                    .map(|s| format!("{:?}", s.suite()))
                    .collect();
                return Err(format!(
                    "key `tls_server_config.cipher_suites`: {name:?} is not available here \
                     (rustls offers {})",
                    available.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

/// Go's curve names mapped onto the provider's key exchange groups, in that order.
fn curves(
    provider: &CryptoProvider,
    names: &[String],
) -> Result<Vec<&'static dyn rustls::crypto::SupportedKxGroup>, String> {
    let mut out = Vec::new();
    for name in names {
        let group = match name.as_str() {
            "CurveP256" => Some(rustls::NamedGroup::secp256r1),
            "CurveP384" => Some(rustls::NamedGroup::secp384r1),
            "X25519" => Some(rustls::NamedGroup::X25519),
            _ => None,
        };
        let found = group.and_then(|g| provider.kx_groups.iter().find(|k| k.name() == g));
        match found {
            Some(k) => out.push(*k),
            None => {
                return Err(format!(
                    "key `tls_server_config.curve_preferences`: {name:?} is not available here \
                     (use CurveP256, CurveP384 or X25519)"
                ))
            }
        }
    }
    Ok(out)
}

/// `RequestClientCert` / `RequireAnyClientCert`: a certificate is asked for (or required) and
/// its signature over the handshake checked, but it is not verified against any CA, as in Go.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
