//! Access tokens issued at login: HS256 JWTs with `sub`, `iat`, `exp`, a `jti`
//! that logout revokes, and `gen`, the user's token generation at issue (a
//! password reset moves it on, ending every token issued before). Only HS256 is
//! accepted; `alg: none`, other algorithms, bad signatures and expired tokens are
//! refused alike.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
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
}
