//! Short-lived download links for the local backend, which has no signing of its
//! own: `{BASE_URL}/objects/{key}?expires={unix}&signature={hex}`, where the
//! signature is HMAC-SHA256 over the key and the expiry. Kiln serves the route and
//! refuses a link whose expiry has passed or whose signature does not match.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Url;

use super::{ObjectKey, StorageError};

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

    fn mac(&self, key: &ObjectKey, expires: i64) -> Hmac<Sha256> {
        // `new_from_slice` accepts keys of any length for HMAC.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"GET\n");
        mac.update(key.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    pub fn sign(&self, key: &ObjectKey, expires_at: DateTime<Utc>) -> Url {
        let expires = expires_at.timestamp();
        let signature = hex::encode(self.mac(key, expires).finalize().into_bytes());
        let mut url = self.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base_path}/{ROUTE_PREFIX}/{}", key.as_str()));
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &signature);
        url
    }

    /// Checks a link's expiry and signature in constant time.
    pub fn verify(
        &self,
        key: &ObjectKey,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let signature = hex::decode(signature).map_err(|_| StorageError::LinkInvalid)?;
        self.mac(key, expires)
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

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let key = ObjectKey::parse("u/f/original.png").unwrap();
        let now = Utc::now();
        let url = signer().sign(&key, now + Duration::seconds(60));
        assert!(url.path().ends_with("/objects/u/f/original.png"));
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let signature = query(&url, "signature");
        assert!(signer().verify(&key, expires, &signature, now).is_ok());
        assert!(matches!(
            signer().verify(&key, expires, &signature, now + Duration::seconds(61)),
            Err(StorageError::LinkExpired)
        ));
    }

    #[test]
    fn a_link_for_another_key_or_expiry_is_refused() {
        let key = ObjectKey::parse("u/f/original.png").unwrap();
        let other = ObjectKey::parse("u/f/thumbnail.png").unwrap();
        let now = Utc::now();
        let url = signer().sign(&key, now + Duration::seconds(60));
        let expires: i64 = query(&url, "expires").parse().unwrap();
        let signature = query(&url, "signature");
        assert!(matches!(
            signer().verify(&other, expires, &signature, now),
            Err(StorageError::LinkInvalid)
        ));
        assert!(matches!(
            signer().verify(&key, expires + 1000, &signature, now),
            Err(StorageError::LinkInvalid)
        ));
    }
}
