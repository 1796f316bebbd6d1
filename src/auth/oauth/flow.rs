//! One OAuth flow between the redirect to the provider and the callback: which
//! provider, the `state` that must come back, the PKCE verifier, and whether the
//! browser is signing in or linking a provider to a signed-in account.
//!
//! Kiln keeps nothing server-side for a flow: the record travels in a short-
//! lived HttpOnly cookie, sealed here with HMAC-SHA256 so the browser (or a
//! site that plants cookies) cannot forge or alter it, and with its expiry
//! inside the authenticated part so an old cookie kept past its Max-Age is
//! still refused. It is authenticated, not encrypted: the verifier is only
//! worth something together with a code issued for this flow's challenge, and
//! the cookie goes only to Kiln (Secure on an https site).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{Authorization, Provider};

/// How long a browser may take at the provider.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);

/// What the flow is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Purpose {
    /// Sign in (or create an account) with the provider.
    Login,
    /// Link the provider to this signed-in account (from settings).
    Link { user_id: Uuid },
}

/// A flow in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub provider: Provider,
    pub state: String,
    pub pkce_verifier: String,
    pub purpose: Purpose,
    /// Unix seconds after which the flow is refused.
    expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("the sign-in cookie is malformed")]
    Malformed,
    #[error("the sign-in cookie was not made by this Kiln or was altered")]
    Forged,
    #[error("the sign-in took too long")]
    Expired,
}

/// The key for flow cookies, derived from the key the caller holds for
/// authenticated cookies, so a MAC made for another cookie never verifies here.
fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC-SHA256 accepts keys of every length, so neither `new` can fail.
    let mut derive =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    derive.update(b"kiln/oauth-flow");
    let flow_key = derive.finalize().into_bytes();
    <Hmac<Sha256> as Mac>::new_from_slice(&flow_key).expect("HMAC takes keys of any length")
}

impl Flow {
    pub fn new(
        provider: Provider,
        authorization: &Authorization,
        purpose: Purpose,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            provider,
            state: authorization.state.clone(),
            pkce_verifier: authorization.pkce_verifier.clone(),
            purpose,
            expires_at: now.timestamp() + LIFETIME.as_secs() as i64,
        }
    }

    /// The cookie value: `base64url(json).base64url(hmac)`, all cookie-safe.
    pub fn seal(&self, key: &[u8; 32]) -> String {
        // A struct of strings, an enum and an integer always serialises.
        let json = serde_json::to_vec(self).expect("a flow serialises");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mut mac = mac(key);
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// Reads a cookie made by [`seal`](Self::seal) with the same key, refusing
    /// anything altered and any flow past its expiry at `now`.
    pub fn open(value: &str, key: &[u8; 32], now: DateTime<Utc>) -> Result<Self, FlowError> {
        let (payload, tag) = value.split_once('.').ok_or(FlowError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| FlowError::Malformed)?;
        let mut mac = mac(key);
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).map_err(|_| FlowError::Forged)?;
        // Authenticated from here on: only Kiln could have written it.
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| FlowError::Malformed)?;
        let flow: Flow = serde_json::from_slice(&json).map_err(|_| FlowError::Malformed)?;
        if now.timestamp() >= flow.expires_at {
            return Err(FlowError::Expired);
        }
        Ok(flow)
    }

    /// Whether the `state` the provider sent back is this flow's (compared in
    /// constant time).
    pub fn state_matches(&self, presented: &str) -> bool {
        self.state.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn flow(purpose: Purpose, now: DateTime<Utc>) -> Flow {
        let authorization = Authorization {
            url: url::Url::parse("https://provider.test/authorize").unwrap(),
            state: "state-123".into(),
            pkce_verifier: "verifier-456".into(),
        };
        Flow::new(Provider::GitHub, &authorization, purpose, now)
    }

    #[test]
    fn a_sealed_flow_opens_with_the_same_key() {
        let now = Utc::now();
        let link = flow(
            Purpose::Link {
                user_id: Uuid::now_v7(),
            },
            now,
        );
        let opened = Flow::open(&link.seal(&KEY), &KEY, now).unwrap();
        assert_eq!(opened, link);
        assert!(opened.state_matches("state-123"));
        assert!(!opened.state_matches("state-124"));
        assert!(!opened.state_matches(""));
    }

    #[test]
    fn an_altered_cookie_is_refused() {
        let now = Utc::now();
        let sealed = flow(Purpose::Login, now).seal(&KEY);
        let (payload, tag) = sealed.split_once('.').unwrap();

        // A payload of the attacker's choosing, with the genuine tag.
        let mut forged = flow(
            Purpose::Link {
                user_id: Uuid::now_v7(),
            },
            now,
        );
        forged.state = "attacker".into();
        let forged_payload = forged.seal(&KEY).split_once('.').unwrap().0.to_string();
        assert_eq!(
            Flow::open(&format!("{forged_payload}.{tag}"), &KEY, now),
            Err(FlowError::Forged)
        );

        // One character of the payload or the tag changed.
        let flip = |s: &str| {
            let mut chars: Vec<char> = s.chars().collect();
            chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
            chars.into_iter().collect::<String>()
        };
        assert_eq!(
            Flow::open(&format!("{}.{tag}", flip(payload)), &KEY, now),
            Err(FlowError::Forged)
        );
        assert_eq!(
            Flow::open(&format!("{payload}.{}", flip(tag)), &KEY, now),
            Err(FlowError::Forged)
        );

        // Sealed with another key (another Kiln, or another cookie's key).
        assert_eq!(Flow::open(&sealed, &[8; 32], now), Err(FlowError::Forged));
    }

    #[test]
    fn a_flow_expires_after_its_lifetime() {
        let started = Utc::now();
        let sealed = flow(Purpose::Login, started).seal(&KEY);
        let almost = started + chrono::TimeDelta::seconds(LIFETIME.as_secs() as i64 - 1);
        assert!(Flow::open(&sealed, &KEY, almost).is_ok());
        let late = started + chrono::TimeDelta::seconds(LIFETIME.as_secs() as i64);
        assert_eq!(Flow::open(&sealed, &KEY, late), Err(FlowError::Expired));
    }

    #[test]
    fn garbage_is_malformed() {
        for value in ["", "no-dot", "a.b", "!!.!!", "e30.%%%"] {
            assert!(
                matches!(
                    Flow::open(value, &KEY, Utc::now()),
                    Err(FlowError::Malformed | FlowError::Forged)
                ),
                "{value:?}"
            );
        }
        assert_eq!(
            Flow::open("no-dot", &KEY, Utc::now()),
            Err(FlowError::Malformed)
        );
    }
}
