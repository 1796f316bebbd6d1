//! What an account stores and how much it may: [`Usage`] against the account's
//! limits, the rule that picks those limits ([`QuotaDefaults::limits_for`]),
//! and [`human_size`] for saying a size to people.
//!
//! The numbers live in the account's row (see `catalog::queries`, which takes
//! and gives back usage in the transactions that add and remove files); this
//! module is the arithmetic and the words.

use serde::Serialize;

/// `DEFAULT_QUOTA_BYTES` and `DEFAULT_QUOTA_FILES`: the limits of every
/// account without its own; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaDefaults {
    pub bytes: Option<u64>,
    pub files: Option<u64>,
}

/// An account's own quota settings, as its row keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnQuota {
    /// `None`: the default applies.
    pub bytes: Option<u64>,
    /// `None`: the default applies.
    pub files: Option<u64>,
    /// No limit at all, defaults included.
    pub unlimited: bool,
}

/// The limits that hold for one account; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub bytes: Option<u64>,
    pub files: Option<u64>,
}

impl QuotaDefaults {
    /// The account's own limits where it has them, else these defaults.
    pub fn limits_for(&self, own: OwnQuota) -> Limits {
        if own.unlimited {
            return Limits::default();
        }
        Limits {
            bytes: own.bytes.or(self.bytes),
            files: own.files.or(self.files),
        }
    }
}

/// What an account stores (originals and variants; cached transforms do not
/// count) and the limits that hold for it: `usage` in `GET /api/me`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
    pub quota_bytes: Option<u64>,
    pub quota_files: Option<u64>,
}

impl Usage {
    pub fn new(bytes: i64, files: i64, limits: Limits) -> Self {
        Self {
            bytes: u64::try_from(bytes).unwrap_or(0),
            files: u64::try_from(files).unwrap_or(0),
            quota_bytes: limits.bytes,
            quota_files: limits.files,
        }
    }

    /// Bytes that may still be stored; `None` when unlimited.
    pub fn bytes_left(&self) -> Option<u64> {
        self.quota_bytes
            .map(|quota| quota.saturating_sub(self.bytes))
    }

    /// Whether one more file of `bytes` fits.
    pub fn admits_file(&self, bytes: u64) -> bool {
        let files_fit = self.quota_files.is_none_or(|quota| self.files < quota);
        files_fit && self.bytes_left().is_none_or(|left| bytes <= left)
    }

    /// The share of the byte quota in use, 0 to 100; `None` when unlimited.
    pub fn percent_of_bytes(&self) -> Option<u8> {
        let quota = self.quota_bytes?;
        if quota == 0 {
            return Some(100);
        }
        let percent = (self.bytes as f64 / quota as f64 * 100.0).ceil();
        Some(percent.clamp(0.0, 100.0) as u8)
    }

    /// "12 MB of 100 MB and 3 of 10 files used": the usage against its
    /// limits, for a refusal or a page.
    pub fn describe(&self) -> String {
        let bytes = match self.quota_bytes {
            Some(quota) => format!("{} of {}", human_size(self.bytes), human_size(quota)),
            None => format!("{} (no limit)", human_size(self.bytes)),
        };
        let files = match self.quota_files {
            Some(quota) => format!("{} of {quota} files", self.files),
            None => format!("{} files (no limit)", self.files),
        };
        format!("{bytes} and {files} used")
    }
}

/// `bytes` for people: "512 B", "48 KB", "2.4 MB" (powers of 1024, as
/// `MAX_UPLOAD_SIZE` counts them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 && value.fract() >= 0.05 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn an_accounts_own_limits_replace_the_defaults_one_by_one() {
        let defaults = QuotaDefaults {
            bytes: Some(100 * MB),
            files: Some(10),
        };
        assert_eq!(
            defaults.limits_for(OwnQuota::default()),
            Limits {
                bytes: Some(100 * MB),
                files: Some(10)
            }
        );
        let own = OwnQuota {
            bytes: Some(MB),
            ..OwnQuota::default()
        };
        assert_eq!(
            defaults.limits_for(own),
            Limits {
                bytes: Some(MB),
                files: Some(10)
            }
        );
        let unlimited = OwnQuota {
            bytes: Some(MB),
            unlimited: true,
            ..OwnQuota::default()
        };
        assert_eq!(defaults.limits_for(unlimited), Limits::default());
        assert_eq!(
            QuotaDefaults::default().limits_for(OwnQuota::default()),
            Limits::default()
        );
    }

    #[test]
    fn a_file_fits_while_both_limits_have_room() {
        let usage = Usage::new(
            (90 * MB) as i64,
            9,
            Limits {
                bytes: Some(100 * MB),
                files: Some(10),
            },
        );
        assert!(usage.admits_file(10 * MB));
        assert!(!usage.admits_file(10 * MB + 1));
        let full = Usage { files: 10, ..usage };
        assert!(!full.admits_file(1));
        let unlimited = Usage::new(i64::MAX, i64::MAX, Limits::default());
        assert!(unlimited.admits_file(u64::MAX));
        assert_eq!(unlimited.bytes_left(), None);
    }

    #[test]
    fn usage_is_said_against_its_limits() {
        let usage = Usage::new(
            (12 * MB) as i64,
            3,
            Limits {
                bytes: Some(100 * MB),
                files: None,
            },
        );
        assert_eq!(
            usage.describe(),
            "12 MB of 100 MB and 3 files (no limit) used"
        );
        assert_eq!(usage.percent_of_bytes(), Some(12));
        assert_eq!(Usage::new(5, 1, Limits::default()).percent_of_bytes(), None);
    }

    #[test]
    fn sizes_read_like_a_file_manager_shows_them() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1 KB");
        assert_eq!(human_size(2_500_000), "2.4 MB");
        assert_eq!(human_size(100 * 1024 * 1024), "100 MB");
        assert_eq!(human_size(15 * 1024 * 1024 + 1), "15 MB");
    }
}
