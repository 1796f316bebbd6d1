//! Short-lived download links for the local backend, which has no signing of its
//! own: `{BASE_URL}/objects/{key}?expires={unix}&type={type}&name={name}[&v={sha256}]&signature={hex}`,
//! where the signature is HMAC-SHA256 over the key, the expiry and the
//! [`Delivery`] (the content type and the file name the route's headers give,
//! and the version of the bytes, which becomes their `ETag`). A link is a
//! function of those alone, so the same expiry makes the same link.
//! Kiln serves the route and refuses a link whose expiry has passed or whose
//! signature does not match, so nobody chooses the headers of a download but
//! Kiln.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use super::{ObjectKey, StorageError};
use crate::domain::delivery::Delivery;

/// Path under `BASE_URL` where Kiln serves locally stored objects.
pub const ROUTE_PREFIX: &str = "objects";

#[derive(Clone)]
pub struct UrlSigner {
    base_url: Url,
    key: [u8; 32],
}

impl UrlSigner {
    pub fn new(base_url: Url, key: [u8; 32]) -> Self {
        Self { base_url, key }
    }

    fn mac(&self, key: &ObjectKey, expires: i64, delivery: &Delivery) -> Hmac<Sha256> {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"GET\n");
        mac.update(key.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        // Length-prefixed: no choice of type and name reads as another.
        let version = delivery.version().unwrap_or_default();
        for field in [delivery.content_type(), delivery.filename(), version] {
            mac.update(format!("\n{}:", field.len()).as_bytes());
            mac.update(field.as_bytes());
        }
        mac
    }

    pub fn sign(&self, key: &ObjectKey, expires_at: DateTime<Utc>, delivery: &Delivery) -> Url {
        let expires = expires_at.timestamp();
        let signature = hex::encode(self.mac(key, expires, delivery).finalize().into_bytes());
        let mut url = self.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base_path}/{ROUTE_PREFIX}/{}", key.as_str()));
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("type", delivery.content_type())
            .append_pair("name", delivery.filename());
        if let Some(version) = delivery.version() {
            url.query_pairs_mut().append_pair("v", version);
        }
        url.query_pairs_mut().append_pair("signature", &signature);
        url
    }

    /// Checks a link's expiry and signature in constant time.
    pub fn verify(
        &self,
        key: &ObjectKey,
        expires: i64,
        delivery: &Delivery,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let signature = hex::decode(signature).map_err(|_| StorageError::LinkInvalid)?;
        self.mac(key, expires, delivery)
            .verify_slice(&signature)
            .map_err(|_| StorageError::LinkInvalid)?;
        if now.timestamp() >= expires {
            return Err(StorageError::LinkExpired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn signer() -> UrlSigner {
        UrlSigner::new(Url::parse("http://127.0.0.1:8080/").unwrap(), [7; 32])
    }

    fn query(url: &Url, name: &str) -> String {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .unwrap()
            .1
            .into_owned()
    }

    fn png(name: &str) -> Delivery {
        Delivery::new("image/png", name)
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let key = ObjectKey::parse("u/f/original.png").unwrap();
        let now = Utc::now();
        let url = signer().sign(&key, now + Duration::seconds(60), &png("cat.png"));
        assert!(url.path().ends_with("/objects/u/f/original.png"));
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let delivery = Delivery::new(query(&url, "type"), query(&url, "name"));
        assert_eq!(delivery, png("cat.png"));
        let signature = query(&url, "signature");
        assert!(
            signer()
                .verify(&key, expires, &delivery, &signature, now)
                .is_ok()
        );
        assert!(matches!(
            signer().verify(
                &key,
                expires,
                &delivery,
                &signature,
                now + Duration::seconds(61)
            ),
            Err(StorageError::LinkExpired)
        ));
    }

    #[test]
    fn a_link_for_another_key_expiry_type_or_name_is_refused() {
        let key = ObjectKey::parse("u/f/original.png").unwrap();
        let other = ObjectKey::parse("u/f/thumbnail.png").unwrap();
        let now = Utc::now();
        let delivery = png("cat.png");
        let url = signer().sign(&key, now + Duration::seconds(60), &delivery);
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let signature = query(&url, "signature");
        for (key, expires, delivery) in [
            (&other, expires, delivery.clone()),
            (&key, expires + 1000, delivery.clone()),
            (&key, expires, Delivery::new("text/html", "cat.png")),
            (&key, expires, png("cat.html")),
            (
                &key,
                expires,
                png("cat.png").of_version(Some("ab12".into())),
            ),
        ] {
            assert!(matches!(
                signer().verify(key, expires, &delivery, &signature, now),
                Err(StorageError::LinkInvalid)
            ));
        }
    }
}
