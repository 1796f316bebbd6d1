//! Download links minted per window of time, so that a page asking for the
//! same object again gets the same URL and browsers and CDNs can keep its bytes.
//!
//! A link minted at `now` with lifetime `ttl` expires at the end of the window
//! after the current one ([`window_expiry`]): every link to the same object and
//! delivery minted within one window has the same expiry, and lives between
//! `ttl` and twice `ttl`. The local backend's links are a function of the key,
//! the delivery and the expiry, so they come out the same by themselves (in
//! every process sharing the signing key). S3's presigned links also carry
//! their signing time, so the Storage actor keeps the ones it minted until they
//! expire ([`MintedLinks`]) and hands the same one out again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::messages::PresignedUrl;
use crate::domain::delivery::Delivery;

/// When a link minted at `now` for `ttl` expires: the end of the next window of
/// `ttl`, counted in whole seconds from the Unix epoch.
pub fn window_expiry(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    let window = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX / 4);
    let current_start = now.timestamp().div_euclid(window) * window;
    DateTime::from_timestamp(current_start.saturating_add(2 * window), 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The S3 links minted in the current windows, by object path and delivery.
#[derive(Clone, Default)]
pub struct MintedLinks(Arc<Mutex<HashMap<(String, Delivery), PresignedUrl>>>);

impl MintedLinks {
    /// The link minted earlier for `path` and `delivery` that expires at
    /// `expires_at`, if any.
    pub fn find(
        &self,
        path: &str,
        delivery: &Delivery,
        expires_at: DateTime<Utc>,
    ) -> Option<PresignedUrl> {
        let links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links
            .get(&(path.to_string(), delivery.clone()))
            .filter(|link| link.expires_at == expires_at)
            .cloned()
    }

    /// Keeps `link` for later requests, and forgets every link expired by `now`.
    pub fn keep(&self, path: String, delivery: Delivery, link: PresignedUrl, now: DateTime<Utc>) {
        let mut links = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        links.retain(|_, kept| kept.expires_at > now);
        links.insert((path, delivery), link);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn links_minted_in_one_window_share_an_expiry_between_one_and_two_ttls_away() {
        let ttl = Duration::from_secs(900);
        assert_eq!(window_expiry(at(9_000), ttl), at(10_800));
        assert_eq!(window_expiry(at(9_899), ttl), at(10_800));
        assert_eq!(window_expiry(at(9_900), ttl), at(11_700));
        for now in [9_000, 9_450, 9_899] {
            let left = window_expiry(at(now), ttl) - at(now);
            assert!(left.num_seconds() > 900 && left.num_seconds() <= 1800);
        }
    }

    #[test]
    fn a_kept_link_is_found_only_for_its_own_object_delivery_and_window() {
        let links = MintedLinks::default();
        let png = Delivery::new("image/png", "cat.png");
        let link = PresignedUrl {
            url: url::Url::parse("http://s3.test/b/k?sig=1").unwrap(),
            expires_at: at(1_800),
        };
        links.keep("k".into(), png.clone(), link.clone(), at(0));
        assert_eq!(links.find("k", &png, at(1_800)).unwrap().url, link.url);
        assert!(links.find("k", &png, at(2_700)).is_none());
        assert!(links.find("other", &png, at(1_800)).is_none());
        let newer = png.clone().of_version(Some("ab12".into()));
        assert!(links.find("k", &newer, at(1_800)).is_none());
        // Keeping another link later forgets the expired one.
        links.keep("j".into(), png.clone(), link, at(1_800));
        assert!(links.find("k", &png, at(1_800)).is_none());
    }
}
