use secrecy::{ExposeSecret, SecretString};

/// A password that passed Kiln's rules: 8 to 128 characters, and not guessable
/// from a dictionary, a keyboard pattern or the account's own e-mail and name.
#[derive(Debug)]
pub struct Password(SecretString);

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// zxcvbn score a password must reach: 2 is "somewhat guessable", which already
/// refuses common passwords, repeats, sequences and dictionary words with digits.
const MIN_STRENGTH: zxcvbn::Score = zxcvbn::Score::Two;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("password must be at least {MIN_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_CHARS} characters")]
    TooLong,
    #[error("password is too easy to guess{0}")]
    TooWeak(String),
}

impl Password {
    /// Checks a new password against the rules; `personal` holds words an attacker
    /// would try first for this account (e-mail, its local part, the name).
    pub fn new(raw: String, personal: &[&str]) -> Result<Self, PasswordRejection> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(PasswordRejection::TooShort);
        }
        if chars > MAX_CHARS {
            return Err(PasswordRejection::TooLong);
        }
        let entropy = zxcvbn::zxcvbn(&raw, personal);
        if entropy.score() < MIN_STRENGTH {
            let hint = entropy
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            return Err(PasswordRejection::TooWeak(hint));
        }
        Ok(Self(raw.into()))
    }

    /// Checks a new password for an account: its address, the address's local
    /// part and its name are the words an attacker would try first.
    pub fn for_account(raw: String, email: &str, name: &str) -> Result<Self, PasswordRejection> {
        let local_part = email.split('@').next().unwrap_or_default();
        Self::new(raw, &[email, local_part, name])
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_unusual_passphrase_is_accepted() {
        assert!(Password::new("violet kettle drums at noon".into(), &[]).is_ok());
    }

    #[test]
    fn length_limits_are_enforced() {
        assert_eq!(
            Password::new("x7$kQ".into(), &[]).unwrap_err(),
            PasswordRejection::TooShort
        );
        let long = "Qz7!".repeat(33);
        assert_eq!(
            Password::new(long, &[]).unwrap_err(),
            PasswordRejection::TooLong
        );
    }

    #[test]
    fn obvious_passwords_are_refused() {
        for weak in [
            "password",
            "12345678",
            "aaaaaaaaaa",
            "qwertyuiop",
            "password1",
            "iloveyou",
        ] {
            assert!(
                matches!(
                    Password::new(weak.into(), &[]),
                    Err(PasswordRejection::TooWeak(_))
                ),
                "{weak} was accepted"
            );
        }
    }

    #[test]
    fn a_password_made_of_the_account_email_is_refused() {
        let result =
            Password::for_account("grace.hopper1".into(), "grace.hopper@example.com", "Grace");
        assert!(matches!(result, Err(PasswordRejection::TooWeak(_))));
    }
}
