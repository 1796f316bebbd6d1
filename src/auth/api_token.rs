//! Personal API tokens: `kiln_` and 43 random URL-safe characters (256 bits).
//! The token is shown once; the database keeps its SHA-256 and a short prefix for
//! listings. A fast hash is enough because the token is random, unlike a password.

pub const PREFIX: &str = "kiln_";
/// Characters of the token kept in clear so a user can tell tokens apart.
const DISPLAY_PREFIX_LEN: usize = PREFIX.len() + 6;

/// A newly generated token, before it is stored.
pub struct NewApiToken {
    /// The whole token, returned to the user exactly once.
    pub token: String,
    pub display_prefix: String,
    pub hash: String,
}

pub fn generate() -> NewApiToken {
    let token = format!("{PREFIX}{}", super::random_secret());
    NewApiToken {
        display_prefix: token[..DISPLAY_PREFIX_LEN].to_string(),
        hash: hash(&token),
        token,
    }
}

/// The stored form of a token (hex SHA-256), used to look one up.
pub fn hash(token: &str) -> String {
    super::sha256_hex(token)
}

/// Whether a bearer credential has the shape of a personal token, not a JWT.
pub fn looks_like_api_token(credential: &str) -> bool {
    credential.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_unique_prefixed_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(PREFIX));
        assert_eq!(a.token.len(), PREFIX.len() + 43);
        assert!(a.token.starts_with(&a.display_prefix));
        assert_eq!(a.hash, hash(&a.token));
        assert_ne!(a.hash, a.token);
    }
}
