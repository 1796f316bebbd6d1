//! Who may do what, how often: the API's JWT (`JWT_SECRET`, `JWT_TTL`), the
//! limits on what an attacker would repeat (`LOGIN_*`, `REGISTER_*`), the proxies
//! whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`), and how long a web
//! sign-in lasts (`SESSION_*`).

use std::time::Duration;

use secrecy::SecretString;

use super::backends::DatabaseBackend;
use super::env::{ConfigError, Env};
use crate::domain::{Throttle, TrustedProxies};

#[derive(Debug, Clone)]
pub struct JwtConfig {
    pub secret: JwtSecret,
    /// Lifetime of an access token issued at login.
    pub ttl: Duration,
}

#[derive(Debug, Clone)]
pub enum JwtSecret {
    Configured(SecretString),
    /// Embedded default only: generated once and kept in `DATA_DIR`.
    KeptInDataDir,
}

/// How often one client may try what an attacker would repeat. Client
/// addresses are counted as `TRUSTED_PROXIES` lets Kiln see them.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Sign-ins to one account from one client address:
    /// `LOGIN_MAX_ATTEMPTS_PER_ACCOUNT` free, then waits doubling from 30 s up
    /// to `LOGIN_RATE_WINDOW`.
    pub sign_in_per_account_and_client: Throttle,
    /// Sign-ins from one client address to any account:
    /// `LOGIN_MAX_ATTEMPTS_PER_IP` free, then the same waits.
    pub sign_in_per_client: Throttle,
    /// Password-reset requests from one client address:
    /// `LOGIN_MAX_ATTEMPTS_PER_IP` per `LOGIN_RATE_WINDOW`.
    pub reset_requests_per_client: Throttle,
    /// Registrations from one client address, and apart from them, requests
    /// for a new verification link: `REGISTER_MAX_PER_IP` per
    /// `REGISTER_RATE_WINDOW` each.
    pub registrations_per_client: Throttle,
    /// Requests for share links' pages and bytes from one client address:
    /// `SHARE_MAX_PER_IP` per `SHARE_RATE_WINDOW` (600 a minute by default).
    pub share_requests_per_client: Throttle,
}

/// Web UI sign-ins: a session ends after `idle_timeout` without a request, and
/// `max_age` after sign-in whatever happens.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub idle_timeout: Duration,
    pub max_age: Duration,
}

/// The auth settings, as [`read`] finds them.
pub(super) struct Auth {
    pub jwt: JwtConfig,
    pub rate_limits: RateLimits,
    pub trusted_proxies: TrustedProxies,
    pub sessions: SessionConfig,
}

/// Minimum length of a configured `JWT_SECRET`, in bytes: HS256 wants a key at
/// least as long as its output.
const MIN_JWT_SECRET_LEN: usize = 32;

/// The wait once a client has used up its free sign-ins (or the window, when
/// that is shorter): long enough that guessing is slow, short enough that a
/// person who mistyped is back within a minute.
const SIGN_IN_FIRST_WAIT: Duration = Duration::from_secs(30);

/// Reads the auth variables. `database` decides whether `JWT_SECRET` may be
/// left unset: only the embedded SQLite default keeps one of its own.
pub(super) fn read(env: &Env<'_>, database: DatabaseBackend) -> Result<Auth, ConfigError> {
    let jwt = JwtConfig {
        secret: jwt_secret(env, database)?,
        ttl: env
            .duration("JWT_TTL")?
            .unwrap_or(Duration::from_secs(3600)),
    };
    let rate_limits = rate_limits(env)?;
    let trusted_proxies = env
        .string("TRUSTED_PROXIES")
        .map(|list| {
            TrustedProxies::parse(&list).map_err(|m| ConfigError::new("TRUSTED_PROXIES", m))
        })
        .transpose()?
        .unwrap_or_default();
    let sessions = SessionConfig {
        idle_timeout: env
            .duration("SESSION_IDLE_TIMEOUT")?
            .unwrap_or(Duration::from_secs(7 * 24 * 3600)),
        max_age: env
            .duration("SESSION_MAX_AGE")?
            .unwrap_or(Duration::from_secs(30 * 24 * 3600)),
    };
    Ok(Auth {
        jwt,
        rate_limits,
        trusted_proxies,
        sessions,
    })
}

fn jwt_secret(env: &Env<'_>, database: DatabaseBackend) -> Result<JwtSecret, ConfigError> {
    match env.string("JWT_SECRET") {
        Some(secret) if secret.len() < MIN_JWT_SECRET_LEN => Err(ConfigError::new(
            "JWT_SECRET",
            format!("must be at least {MIN_JWT_SECRET_LEN} bytes long"),
        )),
        Some(secret) => Ok(JwtSecret::Configured(secret.into())),
        None if database == DatabaseBackend::Sqlite => Ok(JwtSecret::KeptInDataDir),
        None => Err(ConfigError::new(
            "JWT_SECRET",
            "is required when DATABASE_URL points at PostgreSQL (every process must share it)",
        )),
    }
}

fn rate_limits(env: &Env<'_>) -> Result<RateLimits, ConfigError> {
    let per_account = env.positive("LOGIN_MAX_ATTEMPTS_PER_ACCOUNT")?.unwrap_or(5);
    let per_ip = env.positive("LOGIN_MAX_ATTEMPTS_PER_IP")?.unwrap_or(30);
    let window = env
        .duration("LOGIN_RATE_WINDOW")?
        .unwrap_or(Duration::from_secs(15 * 60));
    let sign_in = |free| Throttle {
        free,
        first_wait: SIGN_IN_FIRST_WAIT.min(window),
        longest_wait: window,
        memory: window,
    };
    // A fixed number per window: the last free attempt starts a wait of
    // a whole window, after which the count has started over.
    let per_window = |free, window| Throttle {
        free,
        first_wait: window,
        longest_wait: window,
        memory: window,
    };
    let registrations = per_window(
        env.positive("REGISTER_MAX_PER_IP")?.unwrap_or(10),
        env.duration("REGISTER_RATE_WINDOW")?
            .unwrap_or(Duration::from_secs(3600)),
    );
    let share_requests = per_window(
        env.positive("SHARE_MAX_PER_IP")?.unwrap_or(600),
        env.duration("SHARE_RATE_WINDOW")?
            .unwrap_or(Duration::from_secs(60)),
    );
    Ok(RateLimits {
        sign_in_per_account_and_client: sign_in(per_account),
        sign_in_per_client: sign_in(per_ip),
        reset_requests_per_client: per_window(per_ip, window),
        registrations_per_client: registrations,
        share_requests_per_client: share_requests,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use super::*;

    #[test]
    fn postgres_without_jwt_secret_is_refused_naming_the_variable() {
        let err = config(&[("DATABASE_URL", "postgres://u@localhost/kiln")]).unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        assert!(
            err.to_string()
                .starts_with("invalid configuration: JWT_SECRET")
        );
    }

    #[test]
    fn rate_limits_default_to_free_attempts_then_growing_waits() {
        let limits = config(&[]).unwrap().rate_limits;
        let sign_in = limits.sign_in_per_account_and_client;
        assert_eq!(sign_in.free, 5);
        assert_eq!(sign_in.first_wait, Duration::from_secs(30));
        assert_eq!(sign_in.longest_wait, Duration::from_secs(15 * 60));
        assert_eq!(limits.sign_in_per_client.free, 30);
        assert_eq!(limits.registrations_per_client.free, 10);
        assert_eq!(
            limits.registrations_per_client.first_wait,
            Duration::from_secs(3600)
        );

        let short = config(&[("LOGIN_RATE_WINDOW", "10s")]).unwrap().rate_limits;
        assert_eq!(
            short.sign_in_per_client.first_wait,
            Duration::from_secs(10),
            "no wait is longer than the window"
        );
    }

    #[test]
    fn trusted_proxies_are_a_list_of_networks_and_none_by_default() {
        assert_eq!(
            config(&[]).unwrap().trusted_proxies,
            TrustedProxies::default()
        );
        let config = config(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]).unwrap();
        assert_eq!(
            config.trusted_proxies,
            TrustedProxies::parse("10.0.0.0/8,127.0.0.1/32").unwrap()
        );
    }
}
