//! Typed settings, and the only place that reads the environment.
//!
//! Every knob is an environment variable (optionally from a `.env` file loaded by
//! `main`). Unset service variables select the embedded default: SQLite and a local
//! object directory under `DATA_DIR`, and the in-process transport instead of Redis.
//! A bad value fails start-up with one line naming the variable; secrets are held in
//! [`SecretString`](secrecy::SecretString) so they never reach a log through `Debug`.
//!
//! [`Config`] is assembled here from parts that each read their own variables:
//!
//! ```text
//!  Config::from_env / from_map ─▶ env        Env (typed reads), ConfigError
//!    ├─ HOST, PORT, OPS_PORT, BASE_URL, DATA_DIR, LOG_*, PRESIGN_TTL,
//!    │  DEFAULT_QUOTA_*, FILE_RETENTION, UPLOAD_EXPIRY, ... (here)
//!    ├─ backends   DATABASE_URL, DATABASE_POOL_SIZE, REDIS_*, MINIO_*, STORAGE_PREFIX
//!    ├─ auth       JWT_*, LOGIN_*, REGISTER_*, TRUSTED_PROXIES, SESSION_*
//!    ├─ mail       SMTP_*
//!    ├─ oauth      GOOGLE_*, GITHUB_*
//!    ├─ pipeline   MAX_UPLOAD_SIZE, ALLOWED_EXTRA_TYPES, WORKER_CONCURRENCY,
//!    │             JOB_TIMEOUT, MAX_RETRIES, MAX_IMAGE_PIXELS, PDFIUM_LIBRARY,
//!    │             PROCESSOR_*, RECONCILE_INTERVAL, REQUEUE_AFTER
//!    ├─ transforms TRANSFORM_*
//!    └─ webhooks   WEBHOOK_*
//! ```

mod auth;
mod backends;
mod env;
mod mail;
mod oauth;
mod pipeline;
mod transforms;
mod webhooks;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

pub use auth::{JwtConfig, JwtSecret, RateLimits, SessionConfig};
pub use backends::{DatabaseBackend, DatabaseConfig, RedisConfig, StorageBackend, StorageConfig};
pub use env::ConfigError;
pub use mail::{MailConfig, MailTransport, SmtpConfig, SmtpTls};
pub use oauth::{OAuthConfig, OAuthProviderConfig};
pub use pipeline::{DEFAULT_PROCESSOR_MEMORY_LIMIT, ProcessorConfig};
pub use transforms::TransformConfig;
pub use webhooks::WebhookConfig;

use crate::domain::TrustedProxies;
use crate::domain::quota::QuotaDefaults;
use env::{Env, parse_http_url};

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// `OPS_PORT`: a second listener (on `HOST`) serving only `/healthz`,
    /// `/readyz` and `/metrics`; the only HTTP a `kiln worker` serves.
    pub ops_port: Option<u16>,
    /// Public address of this Kiln, used for links Kiln signs itself; unset means
    /// `http://HOST:PORT` with the port actually bound.
    pub base_url: Option<Url>,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub redis: Option<RedisConfig>,
    pub storage: StorageConfig,
    pub jwt: JwtConfig,
    pub rate_limits: RateLimits,
    /// `TRUSTED_PROXIES`: the peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    pub sessions: SessionConfig,
    pub mail: MailConfig,
    pub oauth: OAuthConfig,
    pub worker_concurrency: usize,
    pub job_timeout: Duration,
    pub max_retries: u32,
    pub max_upload_size: u64,
    /// `DEFAULT_QUOTA_BYTES`, `DEFAULT_QUOTA_FILES`: the limits of accounts
    /// without their own; unset is unlimited.
    pub quotas: QuotaDefaults,
    pub presign_ttl: Duration,
    /// Images whose header claims more pixels are refused before decoding.
    pub max_image_pixels: u64,
    /// Animations with more frames are refused (`MAX_FRAMES`).
    pub max_frames: u32,
    /// MIME types, beyond images and PDF, that uploads may have: such files are
    /// stored (type still sniffed from their bytes) and get no jobs.
    pub extra_allowed_types: Vec<String>,
    /// Event streams (`/api/events`, `/api/files/{id}/events`) one user may
    /// hold open on one process.
    pub max_event_streams_per_user: usize,
    /// Where PDFium's shared library is (for `pdf_thumbnail`).
    pub pdfium_library: PathBuf,
    /// The `kiln processor` children that run every job, and their limits.
    pub processor: ProcessorConfig,
    /// Transforms made on request (`TRANSFORM_*`).
    pub transforms: TransformConfig,
    /// How often each process looks for jobs the transport must carry again.
    pub reconcile_interval: Duration,
    /// A queued job untouched this long is published again (its transport
    /// entry may be lost); a duplicate costs only a failed claim.
    pub requeue_after: Duration,
    /// `FILE_RETENTION`: files uploaded longer ago are purged; `None` (the
    /// default) keeps every file.
    pub file_retention: Option<Duration>,
    /// `UPLOAD_EXPIRY`: a resumable upload unfinished this long after its
    /// creation is deleted with its bytes.
    pub upload_expiry: Duration,
    /// Webhook deliveries (`WEBHOOK_*`).
    pub webhooks: WebhookConfig,
    pub log: LogConfig,
    /// Run pending migrations when `serve`, `api` or `worker` starts.
    pub auto_migrate: bool,
    /// How long a stopping process waits for in-flight work.
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings from a map of variables, as tests and embedders do.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        let host = env.string("HOST").unwrap_or_else(|| "127.0.0.1".into());
        let port = env.parse::<u16>("PORT")?.unwrap_or(8080);
        let ops_port = env.parse::<u16>("OPS_PORT")?;
        let base_url = env
            .string("BASE_URL")
            .map(|raw| parse_http_url("BASE_URL", &raw))
            .transpose()?;
        let data_dir = PathBuf::from(env.string("DATA_DIR").unwrap_or_else(|| "./data".into()));

        let pipeline::Pipeline {
            max_upload_size,
            extra_allowed_types,
            worker_concurrency,
            job_timeout,
            max_retries,
            max_image_pixels,
            max_frames,
            pdfium_library,
            processor,
            reconcile_interval,
            requeue_after,
        } = pipeline::read(&env)?;
        // The pools are sized for the worker concurrency.
        let backends::Backends {
            database,
            redis,
            storage,
        } = backends::read(&env, &data_dir, worker_concurrency)?;
        let auth::Auth {
            jwt,
            rate_limits,
            trusted_proxies,
            sessions,
        } = auth::read(&env, database.backend)?;
        let mail = mail::read(&env, &data_dir)?;
        let oauth = oauth::read(&env)?;
        let log = log_config(&env)?;

        Ok(Self {
            host,
            port,
            ops_port,
            base_url,
            data_dir,
            database,
            redis,
            storage,
            jwt,
            rate_limits,
            trusted_proxies,
            sessions,
            mail,
            oauth,
            worker_concurrency,
            job_timeout,
            max_retries,
            max_upload_size,
            quotas: QuotaDefaults {
                bytes: env.byte_size("DEFAULT_QUOTA_BYTES")?,
                files: env.positive("DEFAULT_QUOTA_FILES")?.map(u64::from),
            },
            presign_ttl: env
                .duration("PRESIGN_TTL")?
                .unwrap_or(Duration::from_secs(15 * 60)),
            max_image_pixels,
            max_frames,
            extra_allowed_types,
            max_event_streams_per_user: env.positive("MAX_EVENT_STREAMS_PER_USER")?.unwrap_or(16)
                as usize,
            pdfium_library,
            processor,
            transforms: transforms::read(&env)?,
            reconcile_interval,
            requeue_after,
            file_retention: env.duration("FILE_RETENTION")?,
            upload_expiry: env
                .duration("UPLOAD_EXPIRY")?
                .unwrap_or(Duration::from_secs(24 * 60 * 60)),
            webhooks: webhooks::read(&env)?,
            log,
            auto_migrate: env.flag("AUTO_MIGRATE")?.unwrap_or(true),
            shutdown_timeout: env
                .duration("SHUTDOWN_TIMEOUT")?
                .unwrap_or(Duration::from_secs(30)),
        })
    }

    /// What every job may decode (`MAX_IMAGE_PIXELS`, `MAX_FRAMES`).
    pub fn limits(&self) -> crate::processing::Limits {
        crate::processing::Limits {
            max_pixels: self.max_image_pixels,
            max_frames: self.max_frames,
        }
    }

    /// The listen address, `HOST:PORT`.
    pub fn listen_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The operational listener's address, `HOST:OPS_PORT`, when set.
    pub fn ops_listen_addr(&self) -> Option<String> {
        self.ops_port.map(|port| format!("{}:{port}", self.host))
    }

    /// `BASE_URL`, or this process's own address once it listens on `port`.
    pub fn public_url(&self, port: u16) -> Url {
        self.base_url.clone().unwrap_or_else(|| {
            let host = if self.host.contains(':') {
                format!("[{}]", self.host)
            } else {
                self.host.clone()
            };
            // HOST was accepted by the listener, so it forms a valid URL authority.
            Url::parse(&format!("http://{host}:{port}")).expect("HOST and PORT form a URL")
        })
    }
}

fn log_config(env: &Env<'_>) -> Result<LogConfig, ConfigError> {
    Ok(LogConfig {
        level: env.string("LOG_LEVEL").unwrap_or_else(|| "info".into()),
        format: match env.string("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "must be text or json")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// The configuration these variables (and no others) make; the parts'
    /// tests read theirs through it too.
    pub(super) fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_map(&map)
    }

    #[test]
    fn no_variables_select_the_embedded_default() {
        let config = config(&[]).unwrap();
        assert_eq!(config.database.backend, DatabaseBackend::Sqlite);
        assert!(config.database.url.expose_secret().contains("data/kiln.db"));
        assert!(config.redis.is_none());
        assert!(matches!(
            config.storage.backend,
            StorageBackend::Local { .. }
        ));
        assert!(matches!(config.jwt.secret, JwtSecret::KeptInDataDir));
        assert_eq!(config.listen_addr(), "127.0.0.1:8080");
        assert_eq!(config.public_url(8080).as_str(), "http://127.0.0.1:8080/");
        assert_eq!(config.max_upload_size, 104_857_600);
        assert_eq!(config.job_timeout, Duration::from_secs(300));
        assert_eq!(config.max_event_streams_per_user, 16);
        assert_eq!(config.quotas, QuotaDefaults::default(), "unlimited");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("OPS_PORT", "-1"),
            ("JOB_TIMEOUT", "soon"),
            ("MAX_UPLOAD_SIZE", "big"),
            ("WORKER_CONCURRENCY", "0"),
            ("LOG_FORMAT", "xml"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "http://x"),
            ("JWT_SECRET", "short"),
            ("ALLOWED_EXTRA_TYPES", "zip"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
            ("REGISTER_MAX_PER_IP", "0"),
            ("REGISTER_RATE_WINDOW", "hourly"),
            ("MAX_EVENT_STREAMS_PER_USER", "0"),
            ("DEFAULT_QUOTA_BYTES", "lots"),
            ("DEFAULT_QUOTA_FILES", "-3"),
            ("FILE_RETENTION", "forever"),
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let config = config(&[
            ("DATABASE_URL", "postgres://kiln:hunter2pass@db/kiln"),
            ("JWT_SECRET", "a-very-long-secret-value-of-32-bytes!"),
        ])
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2pass"));
        assert!(!printed.contains("a-very-long-secret"));
    }
}
