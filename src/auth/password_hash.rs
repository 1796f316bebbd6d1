//! Argon2id password hashes with OWASP's parameters (19 MiB, t=2, p=1), stored as
//! PHC strings so parameters can be raised later without breaking old hashes.
//! Both functions take tens of milliseconds on purpose: call them from the
//! Credentials actor's threads, never from an async executor thread.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn hasher() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

pub fn hash(password: &str) -> Result<String, HashError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// A hash of a password nobody knows, verified against when the account does not
/// exist (or has no password), so an unknown e-mail costs the same time as a wrong
/// password and does not reveal which accounts exist.
static DECOY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let mut random = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
    hash(&hex::encode(random)).ok()
});

/// Verifies `password` against `stored`, spending the same effort when there is no
/// stored hash; an unreadable stored hash counts as a mismatch.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    match stored {
        Some(stored) => hasher()
            .verify_password(password.as_bytes(), stored)
            .is_ok(),
        None => {
            if let Some(decoy) = DECOY_HASH.as_deref() {
                let _ = hasher().verify_password(password.as_bytes(), decoy);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("violet kettle drums").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("violet kettle drums", Some(&stored)));
        assert!(!verify("violet kettle drum", Some(&stored)));
    }

    #[test]
    fn a_missing_or_garbled_hash_never_verifies() {
        assert!(!verify("anything", None));
        assert!(!verify("anything", Some("not-a-phc-string")));
    }
}
