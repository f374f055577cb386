//! TLS setup shared by every upstream client.

use std::sync::Once;

/// Installs rustls' `ring` crypto provider as the process default, once. `ring` builds with a
/// plain C compiler; the other provider needs cmake, which a fresh machine may lack.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is already installed, which is what we want anyway.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
