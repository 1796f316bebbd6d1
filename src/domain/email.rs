use std::fmt;

/// An e-mail address, trimmed and lowercased, so one mailbox is one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Longest address SMTP can carry (RFC 5321 path limit less the brackets).
const MAX_LEN: usize = 254;

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let candidate = raw.trim().to_lowercase();
        if candidate.len() > MAX_LEN {
            return Err(format!("email must be at most {MAX_LEN} characters"));
        }
        email_address::EmailAddress::parse_with_options(
            &candidate,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal()
                // A mailbox people can receive at has a dotted domain.
                .with_required_tld(),
        )
        .map_err(|_| format!("{:?} is not a valid email address", raw.trim()))?;
        Ok(Self(candidate))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "Ada <ada@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
