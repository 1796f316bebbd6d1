//! The process's TLS crypto: rustls over ring, for every connection Kiln opens.
//! sqlx and lettre name ring themselves; reqwest (S3 through object_store,
//! webhooks, OAuth providers) is built without a provider of its own and takes
//! rustls' process default, which [`install_crypto_provider`] sets. Every place
//! that builds a reqwest client calls it first: one crypto library in the
//! build instead of two (aws-lc-rs is not compiled at all).

use std::sync::Once;

/// Makes ring rustls' process-wide provider; later calls do nothing.
pub fn install_crypto_provider() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Err only if some other code installed one first, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
