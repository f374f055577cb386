//! TLS setup shared by every upstream client.

use std::sync::Once;

use crate::settings::TlsConfig;

/// Installs rustls' `ring` crypto provider as the process default, once. `ring` builds with a
/// plain C compiler; the other provider needs cmake, which a fresh machine may lack.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Applies a `tls` table to an HTTP client: the CA file's certificates are trusted besides the
/// system roots; `insecure_skip_verify` accepts any certificate. The error names the key.
pub fn apply(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsConfig,
) -> Result<reqwest::ClientBuilder, String> {
    install_crypto_provider();
    if let Some(path) = &tls.ca_file {
        let bad = |e: &dyn std::fmt::Display| format!("tls.ca_file {}: {e}", path.display());
        let pem = std::fs::read(path).map_err(|e| bad(&e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(&e))?;
        if certs.is_empty() {
            return Err(bad(&"no PEM certificate in it"));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if tls.insecure_skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    Ok(builder)
}
