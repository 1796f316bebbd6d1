//! What a share link may be: how long it lasts and what it opens. Checked here
//! once, for the API and the file page alike.

use std::time::Duration;

use super::requests::valid_variant_name;

/// The name that stands for a file's original among what a link opens.
pub const ORIGINAL: &str = "original";
/// How long a link lasts when its maker does not say.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The longest a link may last.
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// The most names one link may list.
pub const MAX_NAMES: usize = 32;

/// Why a share link is refused. Each message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareRefusal {
    #[error(
        "expires_in must be a duration such as \"1h\", \"7d\" or \"30d\", from 1 second to 365 days"
    )]
    Lifetime,
    #[error("variants must list 1 to {MAX_NAMES} names, each \"original\" or a variant's name")]
    Names,
}

/// A checked request for a share link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRequest {
    pub lifetime: Duration,
    /// What the link opens: `"original"` and variant names; `None` for the
    /// original and every variant the file has (or will have).
    pub names: Option<Vec<String>>,
}

impl ShareRequest {
    /// Checks `expires_in` (a humantime duration: `"90m"`, `"7d"`) and the names.
    pub fn parse(
        expires_in: Option<&str>,
        names: Option<Vec<String>>,
    ) -> Result<Self, ShareRefusal> {
        let lifetime = match expires_in.map(str::trim) {
            None | Some("") => DEFAULT_LIFETIME,
            Some(text) => humantime::parse_duration(text).map_err(|_| ShareRefusal::Lifetime)?,
        };
        if lifetime < Duration::from_secs(1) || lifetime > MAX_LIFETIME {
            return Err(ShareRefusal::Lifetime);
        }
        let names = match names {
            None => None,
            Some(mut names) => {
                names.sort();
                names.dedup();
                let each_valid = names
                    .iter()
                    .all(|name| name == ORIGINAL || valid_variant_name(name));
                if names.is_empty() || names.len() > MAX_NAMES || !each_valid {
                    return Err(ShareRefusal::Names);
                }
                Some(names)
            }
        };
        Ok(Self { lifetime, names })
    }
}

/// Whether a link that opens `names` (`None`: everything) opens `name`.
pub fn opens(names: Option<&[String]>, name: &str) -> bool {
    names.is_none_or(|names| names.iter().any(|listed| listed == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|name| name.to_string()).collect())
    }

    #[test]
    fn a_link_lasts_a_week_and_opens_everything_unless_asked_otherwise() {
        let request = ShareRequest::parse(None, None).unwrap();
        assert_eq!(request.lifetime, DEFAULT_LIFETIME);
        assert_eq!(request.names, None);
        assert!(opens(None, "original") && opens(None, "thumbnail"));
    }

    #[test]
    fn lifetimes_are_read_as_durations_within_a_year() {
        let lifetime = |text| ShareRequest::parse(Some(text), None).map(|r| r.lifetime);
        assert_eq!(lifetime("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(lifetime("30d"), Ok(Duration::from_secs(30 * 86_400)));
        for refused in ["0s", "366d", "soon", "-1d", "7"] {
            assert_eq!(lifetime(refused), Err(ShareRefusal::Lifetime), "{refused}");
        }
    }

    #[test]
    fn names_are_the_original_or_variant_names_listed_once() {
        let request = ShareRequest::parse(None, names(&["thumbnail", "original", "thumbnail"]));
        assert_eq!(request.unwrap().names, names(&["original", "thumbnail"]));
        for refused in [names(&[]), names(&["../x"]), names(&["a b"])] {
            assert_eq!(
                ShareRequest::parse(None, refused.clone()),
                Err(ShareRefusal::Names),
                "{refused:?}"
            );
        }
        let only = names(&["thumbnail"]).unwrap();
        assert!(opens(Some(&only), "thumbnail"));
        assert!(!opens(Some(&only), "original"));
    }
}
