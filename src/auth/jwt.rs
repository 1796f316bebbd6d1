//! Access tokens issued at login: HS256 JWTs with `sub`, `iat`, `exp`, a `jti`
//! that logout revokes, and `gen`, the user's token generation at issue (a
//! password reset moves it on, ending every token issued before). Only HS256 is
//! accepted; `alg: none`, other algorithms, bad signatures and expired tokens are
//! refused alike.
//!
//! The signature is computed by [`HS256_ONLY`], jsonwebtoken's crypto provider
//! made of the HMAC-SHA256 the signed links use: jsonwebtoken's own providers
//! would bring a second crypto library (aws-lc-rs) or RSA and elliptic-curve
//! code Kiln never calls into the build.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::signature::{Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    iat: i64,
    exp: i64,
    jti: Uuid,
    /// Absent from tokens issued before generations existed: those belong to
    /// the first generation, 0.
    #[serde(default, rename = "gen")]
    generation: i32,
}

/// A verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub user_id: Uuid,
    pub jti: Uuid,
    pub expires_at: DateTime<Utc>,
    /// The user's token generation when it was issued.
    pub generation: i32,
}

/// A freshly signed access token and what the client is told about it.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: String,
    pub expires_in: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("the signing key is unusable")]
    Key(#[source] jsonwebtoken::errors::Error),
    #[error("the token could not be signed")]
    Sign(#[source] jsonwebtoken::errors::Error),
    #[error("the token is invalid or expired")]
    Invalid(#[source] jsonwebtoken::errors::Error),
}

/// Signs and verifies access tokens with one shared secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Result<Self, JwtError> {
        // Installed once per process; a second call finds it there.
        let _ = HS256_ONLY.install_default();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "jti"]);
        // Expiry is exact: the token's lifetime is what login promised, no grace.
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret).map_err(JwtError::Key)?,
            decoding: DecodingKey::from_secret(secret).map_err(JwtError::Key)?,
            validation,
            ttl,
        })
    }

    /// Signs a token for `user_id` under the user's current token `generation`.
    pub fn issue(&self, user_id: Uuid, generation: i32) -> Result<IssuedToken, JwtError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
            jti: Uuid::new_v4(),
            generation,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(JwtError::Sign)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl,
        })
    }

    pub fn verify(&self, token: &str) -> Result<AccessToken, JwtError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(JwtError::Invalid)?;
        let claims = data.claims;
        Ok(AccessToken {
            user_id: claims.sub,
            jti: claims.jti,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
            generation: claims.generation,
        })
    }
}

/// jsonwebtoken's process-wide crypto: HS256 and nothing else. Any other
/// algorithm is refused before a key is read (the validation already allows
/// HS256 alone), and there are no JWKs to take apart.
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: |algorithm, key| {
        hs256_mac(*algorithm, key.family(), key.as_bytes())
            .map(|mac| Box::new(Hs256(mac)) as Box<dyn JwtSigner>)
    },
    verifier_factory: |algorithm, key| {
        hs256_mac(*algorithm, key.family(), key.try_get_as_bytes()?)
            .map(|mac| Box::new(Hs256(mac)) as Box<dyn JwtVerifier>)
    },
    key_utils: KeyUtils::new_unimplemented(),
};

fn hs256_mac(
    algorithm: Algorithm,
    family: AlgorithmFamily,
    secret: &[u8],
) -> jsonwebtoken::errors::Result<Hmac<Sha256>> {
    if algorithm != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if family != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Hmac::new_from_slice(secret).map_err(|_| ErrorKind::InvalidKeyFormat.into())
}

/// HMAC-SHA256 keyed with the shared secret: signs, and verifies in constant time.
struct Hs256(Hmac<Sha256>);

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> Result<(), jsonwebtoken::signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(signature)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn an_issued_token_verifies_to_its_user() {
        let keys = JwtKeys::new(SECRET, Duration::from_secs(60)).unwrap();
        let user = Uuid::new_v4();
        let issued = keys.issue(user, 3).unwrap();
        let verified = keys.verify(&issued.token).unwrap();
        assert_eq!((verified.user_id, verified.generation), (user, 3));
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let keys = JwtKeys::new(SECRET, Duration::from_secs(60)).unwrap();
        let other = JwtKeys::new(
            b"another-secret-of-at-least-32-bytes",
            Duration::from_secs(60),
        )
        .unwrap();
        let issued = other.issue(Uuid::new_v4(), 0).unwrap();
        assert!(keys.verify(&issued.token).is_err());
    }

    /// A token put together by hand as RFC 7519 describes it: the signature
    /// is HMAC-SHA256 over `header.payload`, so tokens interoperate with any
    /// other JWT library, and only HS256 is taken.
    fn hand_made(algorithm: &str, secret: &[u8], user: Uuid) -> String {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = Utc::now().timestamp();
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{algorithm}","typ":"JWT"}}"#));
        let payload = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"{user}","iat":{now},"exp":{},"jti":"{}"}}"#,
            now + 60,
            Uuid::new_v4()
        ));
        let signed = format!("{header}.{payload}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    #[test]
    fn a_standard_hs256_token_verifies_and_other_algorithms_are_refused() {
        let keys = JwtKeys::new(SECRET, Duration::from_secs(60)).unwrap();
        let user = Uuid::new_v4();
        let verified = keys.verify(&hand_made("HS256", SECRET, user)).unwrap();
        assert_eq!((verified.user_id, verified.generation), (user, 0));
        for algorithm in ["HS384", "HS512", "RS256", "none"] {
            assert!(
                keys.verify(&hand_made(algorithm, SECRET, user)).is_err(),
                "{algorithm}"
            );
        }
    }
}
