//! Single-use tokens that Kiln mails in links: a password reset (usable for an
//! hour) and an e-mail verification (a day). Each is 43 random URL-safe
//! characters (256 bits); the database keeps only its SHA-256, so a leaked
//! table opens nothing, and marks it used so it works once.

use std::time::Duration;

use secrecy::SecretString;

/// What a mailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    ResetPassword,
    VerifyEmail,
}

impl LinkPurpose {
    /// A stable name, for logs and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResetPassword => "reset_password",
            Self::VerifyEmail => "verify_email",
        }
    }

    /// How long a link stays usable after it is made.
    pub fn ttl(self) -> Duration {
        match self {
            Self::ResetPassword => Duration::from_secs(60 * 60),
            Self::VerifyEmail => Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The least time between two mails of one purpose to one user, so nobody can
/// flood a mailbox through Kiln.
pub const MAIL_INTERVAL: Duration = Duration::from_secs(60);

/// Length of every token [`generate`] makes.
const TOKEN_LEN: usize = 43;

/// A fresh token, before it is stored (as `hash`) and mailed (as `token`).
pub struct LinkToken {
    pub token: SecretString,
    pub hash: String,
}

pub fn generate() -> LinkToken {
    let token = super::random_secret();
    LinkToken {
        hash: hash(&token),
        token: token.into(),
    }
}

/// The stored form of a token, used to look one up.
pub fn hash(token: &str) -> String {
    super::sha256_hex(token)
}

/// Whether `token` has the shape of one Kiln made; anything else is refused
/// without a lookup.
pub fn is_well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn generated_tokens_are_well_formed_unique_and_stored_hashed() {
        let a = generate();
        let b = generate();
        let token = a.token.expose_secret();
        assert!(is_well_formed(token));
        assert_ne!(token, b.token.expose_secret());
        assert_eq!(a.hash, hash(token));
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn tokens_of_another_shape_are_refused() {
        for token in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", "a".repeat(42)),
        ] {
            assert!(!is_well_formed(token), "{token:?}");
        }
    }
}
