//! Credentials as plain code: access tokens (JWT), personal API tokens, the
//! single-use tokens mailed in links, web session ids, and password hashes. No actors and no I/O
//! here; the Credentials actor runs the slow hashing off the async threads, and
//! the Catalog stores what these functions produce. The one exception is
//! [`oauth`], which talks HTTP to the OAuth providers' token and userinfo
//! endpoints.

pub mod api_token;
pub mod jwt;
pub mod link_token;
pub mod oauth;
pub mod password_hash;
pub mod session_token;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes (256 bits) as URL-safe base64 without padding: 43 characters.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a random token (hex SHA-256). A fast hash is enough
/// because such a token is random, unlike a password.
fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
