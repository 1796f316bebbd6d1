use super::text::without_invisible_format;

/// The name an account shows: 1 to 100 printable characters, trimmed, with
/// bidirectional controls and zero-width characters dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

pub const MAX_NAME_CHARS: usize = 100;

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let cleaned = without_invisible_format(raw);
        let name = cleaned.trim();
        if name.is_empty()
            || name.chars().count() > MAX_NAME_CHARS
            || name.chars().any(char::is_control)
        {
            return Err(format!(
                "name must be 1 to {MAX_NAME_CHARS} printable characters"
            ));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_trimmed_and_loses_invisible_formatting() {
        let name = DisplayName::parse("  Ada\u{202E}gpj.exe\u{200B} ").unwrap();
        assert_eq!(name.as_str(), "Adagpj.exe");
    }

    #[test]
    fn blank_overlong_and_control_names_are_refused() {
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"a".repeat(101)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
    }
}
