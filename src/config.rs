//! Typed settings, and the only place that reads the environment.
//!
//! Every knob is an environment variable (optionally from a `.env` file loaded by
//! `main`). Unset service variables select the embedded default: SQLite and a local
//! object directory under `DATA_DIR`, and the in-process transport instead of Redis.
//! A bad value fails start-up with one line naming the variable; secrets are held in
//! [`SecretString`] so they never reach a log through `Debug`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use secrecy::SecretString;
use url::Url;

use crate::domain::delivery::executes_in_browsers;
use crate::domain::{Throttle, TrustedProxies};

/// A configuration problem, reported as one line that names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

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
    pub presign_ttl: Duration,
    /// Images whose header claims more pixels are refused before decoding.
    pub max_image_pixels: u64,
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
    /// How often each process looks for jobs the transport must carry again.
    pub reconcile_interval: Duration,
    /// A queued job untouched this long is published again (its transport
    /// entry may be lost); a duplicate costs only a failed claim.
    pub requeue_after: Duration,
    pub log: LogConfig,
    /// Run pending migrations when `serve`, `api` or `worker` starts.
    pub auto_migrate: bool,
    /// How long a stopping process waits for in-flight work.
    pub shutdown_timeout: Duration,
}

/// How the processor children (`kiln processor`) are started and confined.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// `PROCESSOR_BINARY`: the `kiln` executable to start as `kiln processor`;
    /// unset means this process's own executable. Tests point it at the built
    /// binary, since they run Kiln inside the test harness.
    pub binary: Option<PathBuf>,
    /// `PROCESSOR_MEMORY_LIMIT`: the address space a child may use (1 GiB).
    pub memory_limit: u64,
    /// `PROCESSOR_CPU_LIMIT`: CPU time one job may use (2m); `JOB_TIMEOUT`
    /// bounds its wall-clock time.
    pub cpu_limit: Duration,
    /// `KILN_TEST_FAULTS`: lets the test suite ask a child for a crash, a hang
    /// or an out-of-memory. Debug builds only: a release build refuses it at
    /// start, and its children have no fault code at all.
    pub test_faults: bool,
}

/// The default `PROCESSOR_MEMORY_LIMIT`.
pub const DEFAULT_PROCESSOR_MEMORY_LIMIT: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub backend: DatabaseBackend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: SecretString,
    /// Prefix of every Redis key and stream Kiln uses, so several deployments (or
    /// test runs) can share one Redis.
    pub namespace: String,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Prefix inside the bucket or directory under which every key lives.
    pub key_prefix: String,
}

#[derive(Debug, Clone)]
pub enum StorageBackend {
    Local {
        root: PathBuf,
    },
    S3 {
        endpoint: Url,
        access_key: String,
        secret_key: SecretString,
        bucket: String,
        region: String,
    },
}

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
}

/// The wait once a client has used up its free sign-ins (or the window, when
/// that is shorter): long enough that guessing is slow, short enough that a
/// person who mistyped is back within a minute.
const SIGN_IN_FIRST_WAIT: Duration = Duration::from_secs(30);

impl RateLimits {
    fn from_env(env: &Env<'_>) -> Result<Self, ConfigError> {
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
        Ok(Self {
            sign_in_per_account_and_client: sign_in(per_account),
            sign_in_per_client: sign_in(per_ip),
            reset_requests_per_client: per_window(per_ip, window),
            registrations_per_client: registrations,
        })
    }
}

/// Web UI sign-ins: a session ends after `idle_timeout` without a request, and
/// `max_age` after sign-in whatever happens.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub idle_timeout: Duration,
    pub max_age: Duration,
}

/// Sign-in through OAuth providers. A provider is offered only when its client
/// id and secret are set; its endpoints default to the real provider's and can
/// point elsewhere (the tests' loopback provider, an enterprise GitHub).
#[derive(Debug, Clone, Default)]
pub struct OAuthConfig {
    /// `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET`, `GOOGLE_{AUTH,TOKEN,USERINFO}_URL`.
    pub google: Option<OAuthProviderConfig>,
    /// `GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`, `GITHUB_{AUTH,TOKEN,USERINFO,EMAILS}_URL`.
    pub github: Option<OAuthProviderConfig>,
}

#[derive(Debug, Clone)]
pub struct OAuthProviderConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    /// Where the browser is sent to sign in and consent.
    pub auth_url: Url,
    /// Where Kiln exchanges the code (and PKCE verifier) for an access token.
    pub token_url: Url,
    /// Who signed in: OpenID userinfo (Google) or `/user` (GitHub).
    pub userinfo_url: Url,
    /// GitHub only: the account's addresses and whether each is verified.
    pub emails_url: Option<Url>,
}

/// Where account mail (verification and password-reset links) goes.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `SMTP_FROM`: the sender every message shows.
    pub from: Mailbox,
    pub transport: MailTransport,
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    /// `SMTP_HOST` is set: mail goes to that server.
    Smtp(SmtpConfig),
    /// The embedded default: each message is written as an `.eml` file here
    /// (`DATA_DIR/mail`) and its path logged, so a newcomer can open it.
    Files { dir: PathBuf },
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// `SMTP_USERNAME` and `SMTP_PASSWORD`, which come as a pair.
    pub credentials: Option<(String, SecretString)>,
}

/// How the SMTP connection is protected (`SMTP_TLS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: only for a relay on loopback or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
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

/// Minimum length of a configured `JWT_SECRET`, in bytes: HS256 wants a key at
/// least as long as its output.
const MIN_JWT_SECRET_LEN: usize = 32;

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
        let env = Env(&lookup);
        let host = env.string("HOST").unwrap_or_else(|| "127.0.0.1".into());
        let port = env.parse::<u16>("PORT")?.unwrap_or(8080);
        let ops_port = env.parse::<u16>("OPS_PORT")?;
        let base_url = env
            .string("BASE_URL")
            .map(|raw| parse_http_url("BASE_URL", &raw))
            .transpose()?;
        let data_dir = PathBuf::from(env.string("DATA_DIR").unwrap_or_else(|| "./data".into()));

        let database = match env.string("DATABASE_URL") {
            Some(url) => database_from_url(url)?,
            None => DatabaseConfig {
                url: format!("sqlite://{}?mode=rwc", data_dir.join("kiln.db").display()).into(),
                backend: DatabaseBackend::Sqlite,
            },
        };

        let redis = match env.string("REDIS_URL") {
            Some(url) => {
                let parsed = Url::parse(&url)
                    .map_err(|e| ConfigError::new("REDIS_URL", format!("not a URL: {e}")))?;
                if !matches!(parsed.scheme(), "redis" | "rediss") {
                    return Err(ConfigError::new(
                        "REDIS_URL",
                        "must start with redis:// or rediss://",
                    ));
                }
                Some(RedisConfig {
                    url: url.into(),
                    namespace: env
                        .string("REDIS_NAMESPACE")
                        .unwrap_or_else(|| "kiln".into()),
                })
            }
            None => None,
        };

        let storage = StorageConfig {
            backend: storage_backend(&env, &data_dir)?,
            key_prefix: env
                .string("STORAGE_PREFIX")
                .map(|p| p.trim_matches('/').to_string())
                .unwrap_or_default(),
        };

        let secret = match env.string("JWT_SECRET") {
            Some(secret) if secret.len() < MIN_JWT_SECRET_LEN => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    format!("must be at least {MIN_JWT_SECRET_LEN} bytes long"),
                ));
            }
            Some(secret) => JwtSecret::Configured(secret.into()),
            None if database.backend == DatabaseBackend::Sqlite => JwtSecret::KeptInDataDir,
            None => {
                return Err(ConfigError::new(
                    "JWT_SECRET",
                    "is required when DATABASE_URL points at PostgreSQL (every process must share it)",
                ));
            }
        };
        let jwt = JwtConfig {
            secret,
            ttl: env
                .duration("JWT_TTL")?
                .unwrap_or(Duration::from_secs(3600)),
        };

        let rate_limits = RateLimits::from_env(&env)?;
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

        let mail = mail_config(&env, &data_dir)?;
        let oauth = OAuthConfig {
            google: oauth_provider(&env, &GOOGLE)?,
            github: oauth_provider(&env, &GITHUB)?,
        };

        let log = LogConfig {
            level: env.string("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            format: match env.string("LOG_FORMAT").as_deref() {
                None | Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                Some(_) => return Err(ConfigError::new("LOG_FORMAT", "must be text or json")),
            },
        };

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
            worker_concurrency: env.positive("WORKER_CONCURRENCY")?.unwrap_or(4) as usize,
            job_timeout: env
                .duration("JOB_TIMEOUT")?
                .unwrap_or(Duration::from_secs(300)),
            max_retries: env.parse("MAX_RETRIES")?.unwrap_or(3),
            max_upload_size: env
                .byte_size("MAX_UPLOAD_SIZE")?
                .unwrap_or(100 * 1024 * 1024),
            presign_ttl: env
                .duration("PRESIGN_TTL")?
                .unwrap_or(Duration::from_secs(15 * 60)),
            max_image_pixels: match env.parse::<u64>("MAX_IMAGE_PIXELS")? {
                Some(0) => return Err(ConfigError::new("MAX_IMAGE_PIXELS", "must be at least 1")),
                Some(pixels) => pixels,
                None => crate::processing::DEFAULT_MAX_PIXELS,
            },
            extra_allowed_types: env
                .string("ALLOWED_EXTRA_TYPES")
                .map(|list| parse_extra_types(&list))
                .transpose()?
                .unwrap_or_default(),
            max_event_streams_per_user: env.positive("MAX_EVENT_STREAMS_PER_USER")?.unwrap_or(16)
                as usize,
            pdfium_library: env
                .string("PDFIUM_LIBRARY")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(crate::processing::DEFAULT_PDFIUM_LIBRARY)),
            processor: processor_config(&env)?,
            reconcile_interval: env
                .duration("RECONCILE_INTERVAL")?
                .unwrap_or(Duration::from_secs(5)),
            requeue_after: env
                .duration("REQUEUE_AFTER")?
                .unwrap_or(Duration::from_secs(30)),
            log,
            auto_migrate: env.flag("AUTO_MIGRATE")?.unwrap_or(true),
            shutdown_timeout: env
                .duration("SHUTDOWN_TIMEOUT")?
                .unwrap_or(Duration::from_secs(30)),
        })
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

/// The smallest `PROCESSOR_MEMORY_LIMIT`: below it a child cannot even map
/// the binary and its libraries.
const MIN_PROCESSOR_MEMORY: u64 = 64 << 20;

fn processor_config(env: &Env<'_>) -> Result<ProcessorConfig, ConfigError> {
    let memory_limit = env
        .byte_size("PROCESSOR_MEMORY_LIMIT")?
        .unwrap_or(DEFAULT_PROCESSOR_MEMORY_LIMIT);
    if memory_limit < MIN_PROCESSOR_MEMORY {
        return Err(ConfigError::new(
            "PROCESSOR_MEMORY_LIMIT",
            "must be at least 64MiB",
        ));
    }
    let test_faults = env.flag("KILN_TEST_FAULTS")?.unwrap_or(false);
    if test_faults && !cfg!(debug_assertions) {
        return Err(ConfigError::new(
            "KILN_TEST_FAULTS",
            "is for the test suite; a release build has no fault processors",
        ));
    }
    Ok(ProcessorConfig {
        binary: env.string("PROCESSOR_BINARY").map(PathBuf::from),
        memory_limit,
        cpu_limit: env
            .duration("PROCESSOR_CPU_LIMIT")?
            .unwrap_or(Duration::from_secs(120)),
        test_faults,
    })
}

fn database_from_url(url: String) -> Result<DatabaseConfig, ConfigError> {
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        DatabaseBackend::Postgres
    } else if url.starts_with("sqlite:") {
        DatabaseBackend::Sqlite
    } else {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with postgres://, postgresql:// or sqlite:",
        ));
    };
    Ok(DatabaseConfig {
        url: url.into(),
        backend,
    })
}

fn storage_backend(
    env: &Env<'_>,
    data_dir: &std::path::Path,
) -> Result<StorageBackend, ConfigError> {
    let Some(endpoint) = env.string("MINIO_ENDPOINT") else {
        return Ok(StorageBackend::Local {
            root: data_dir.join("objects"),
        });
    };
    // Operators often write MinIO's endpoint as host:port, without a scheme.
    let endpoint = if endpoint.contains("://") {
        endpoint
    } else {
        format!("http://{endpoint}")
    };
    let required = |name: &'static str| {
        env.string(name)
            .ok_or_else(|| ConfigError::new(name, "is required when MINIO_ENDPOINT is set"))
    };
    Ok(StorageBackend::S3 {
        endpoint: parse_http_url("MINIO_ENDPOINT", &endpoint)?,
        access_key: required("MINIO_ACCESS_KEY")?,
        secret_key: required("MINIO_SECRET_KEY")?.into(),
        bucket: env.string("MINIO_BUCKET").unwrap_or_else(|| "kiln".into()),
        region: env
            .string("MINIO_REGION")
            .unwrap_or_else(|| "us-east-1".into()),
    })
}

const DEFAULT_MAIL_FROM: &str = "Kiln <kiln@localhost>";

fn mail_config(env: &Env<'_>, data_dir: &std::path::Path) -> Result<MailConfig, ConfigError> {
    let from = env
        .string("SMTP_FROM")
        .unwrap_or_else(|| DEFAULT_MAIL_FROM.into());
    let from = from.parse::<Mailbox>().map_err(|e| {
        ConfigError::new(
            "SMTP_FROM",
            format!("{from:?} is not an address like \"Kiln <kiln@example.com>\": {e}"),
        )
    })?;
    let tls = match env
        .string("SMTP_TLS")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(_) => {
            return Err(ConfigError::new(
                "SMTP_TLS",
                "must be none, starttls or tls",
            ));
        }
    };
    let port = match env.parse::<u16>("SMTP_PORT")? {
        Some(0) => {
            return Err(ConfigError::new(
                "SMTP_PORT",
                "must be a port from 1 to 65535",
            ));
        }
        Some(port) => port,
        None if tls == SmtpTls::Tls => 465,
        None => 587,
    };
    let username = env.string("SMTP_USERNAME");
    let password = env.string("SMTP_PASSWORD");
    let Some(host) = env.string("SMTP_HOST") else {
        // Settings for a server that is not named are a mistake, not a choice of
        // the file fallback: an operator would wait for mail that never leaves.
        for name in ["SMTP_PORT", "SMTP_TLS", "SMTP_USERNAME", "SMTP_PASSWORD"] {
            if env.string(name).is_some() {
                return Err(ConfigError::new(
                    "SMTP_HOST",
                    format!("is required when {name} is set"),
                ));
            }
        }
        return Ok(MailConfig {
            from,
            transport: MailTransport::Files {
                dir: data_dir.join("mail"),
            },
        });
    };
    let credentials = match (username, password) {
        (Some(username), Some(password)) => Some((username, SecretString::from(password))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                "SMTP_PASSWORD",
                "is required when SMTP_USERNAME is set",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "SMTP_USERNAME",
                "is required when SMTP_PASSWORD is set",
            ));
        }
    };
    Ok(MailConfig {
        from,
        transport: MailTransport::Smtp(SmtpConfig {
            host,
            port,
            tls,
            credentials,
        }),
    })
}

/// The variables of one OAuth provider and its real endpoints.
struct OAuthVariables {
    client_id: &'static str,
    client_secret: &'static str,
    /// (variable, default) for the authorize, token, userinfo and, for GitHub,
    /// e-mails endpoints.
    auth_url: (&'static str, &'static str),
    token_url: (&'static str, &'static str),
    userinfo_url: (&'static str, &'static str),
    emails_url: Option<(&'static str, &'static str)>,
}

const GOOGLE: OAuthVariables = OAuthVariables {
    client_id: "GOOGLE_CLIENT_ID",
    client_secret: "GOOGLE_CLIENT_SECRET",
    auth_url: (
        "GOOGLE_AUTH_URL",
        "https://accounts.google.com/o/oauth2/v2/auth",
    ),
    token_url: ("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token"),
    userinfo_url: (
        "GOOGLE_USERINFO_URL",
        "https://openidconnect.googleapis.com/v1/userinfo",
    ),
    emails_url: None,
};

const GITHUB: OAuthVariables = OAuthVariables {
    client_id: "GITHUB_CLIENT_ID",
    client_secret: "GITHUB_CLIENT_SECRET",
    auth_url: (
        "GITHUB_AUTH_URL",
        "https://github.com/login/oauth/authorize",
    ),
    token_url: (
        "GITHUB_TOKEN_URL",
        "https://github.com/login/oauth/access_token",
    ),
    userinfo_url: ("GITHUB_USERINFO_URL", "https://api.github.com/user"),
    emails_url: Some(("GITHUB_EMAILS_URL", "https://api.github.com/user/emails")),
};

/// One provider: enabled when its client id and secret are both set. An
/// endpoint set without them is a mistake (the operator expects a button that
/// never shows), so it is refused like a lone id or secret.
fn oauth_provider(
    env: &Env<'_>,
    vars: &OAuthVariables,
) -> Result<Option<OAuthProviderConfig>, ConfigError> {
    let url = |(name, default): (&'static str, &'static str)| {
        parse_http_url(name, &env.string(name).unwrap_or_else(|| default.into()))
    };
    match (env.string(vars.client_id), env.string(vars.client_secret)) {
        (Some(client_id), Some(client_secret)) => Ok(Some(OAuthProviderConfig {
            client_id,
            client_secret: client_secret.into(),
            auth_url: url(vars.auth_url)?,
            token_url: url(vars.token_url)?,
            userinfo_url: url(vars.userinfo_url)?,
            emails_url: vars.emails_url.map(url).transpose()?,
        })),
        (Some(_), None) => Err(ConfigError::new(
            vars.client_secret,
            format!("is required when {} is set", vars.client_id),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            vars.client_id,
            format!("is required when {} is set", vars.client_secret),
        )),
        (None, None) => {
            let endpoints = [vars.auth_url, vars.token_url, vars.userinfo_url]
                .into_iter()
                .chain(vars.emails_url);
            match endpoints
                .map(|(name, _)| name)
                .find(|name| env.string(name).is_some())
            {
                Some(name) => Err(ConfigError::new(
                    vars.client_id,
                    format!("is required when {name} is set"),
                )),
                None => Ok(None),
            }
        }
    }
}

/// `ALLOWED_EXTRA_TYPES`: a MIME list without any type browsers run as a page
/// or a script, which no response header makes safe to serve.
fn parse_extra_types(raw: &str) -> Result<Vec<String>, ConfigError> {
    const VARIABLE: &str = "ALLOWED_EXTRA_TYPES";
    let types = parse_mime_list(VARIABLE, raw)?;
    match types.iter().find(|t| executes_in_browsers(t)) {
        Some(runs) => Err(ConfigError::new(
            VARIABLE,
            format!(
                "{runs} is run by browsers (HTML, XML, SVG and JavaScript are), so Kiln cannot serve it safely; remove it"
            ),
        )),
        None => Ok(types),
    }
}

/// `type/subtype` entries, comma separated, lowercased.
fn parse_mime_list(variable: &'static str, raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let valid = entry.split_once('/').is_some_and(|(kind, sub)| {
                !kind.is_empty() && !sub.is_empty() && !entry.contains(char::is_whitespace)
            });
            match valid {
                true => Ok(entry.to_ascii_lowercase()),
                false => Err(ConfigError::new(
                    variable,
                    format!("{entry:?} is not a MIME type like application/zip"),
                )),
            }
        })
        .collect()
}

fn parse_http_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| ConfigError::new(variable, format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(
            variable,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(url)
}

/// Typed reads of one variable each; empty values count as unset.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn string(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.string(name)
            .map(|raw| {
                raw.parse::<T>()
                    .map_err(|e| ConfigError::new(name, format!("{raw:?} is not valid: {e}")))
            })
            .transpose()
    }

    fn positive(&self, name: &'static str) -> Result<Option<u32>, ConfigError> {
        match self.parse::<u32>(name)? {
            Some(0) => Err(ConfigError::new(name, "must be at least 1")),
            other => Ok(other),
        }
    }

    fn duration(&self, name: &'static str) -> Result<Option<Duration>, ConfigError> {
        let Some(raw) = self.string(name) else {
            return Ok(None);
        };
        let duration = humantime::parse_duration(&raw).map_err(|e| {
            ConfigError::new(
                name,
                format!("{raw:?} is not a duration like 30s or 5m: {e}"),
            )
        })?;
        if duration.is_zero() {
            return Err(ConfigError::new(name, "must be longer than zero"));
        }
        Ok(Some(duration))
    }

    fn byte_size(&self, name: &'static str) -> Result<Option<u64>, ConfigError> {
        let Some(raw) = self.string(name) else {
            return Ok(None);
        };
        let size = raw.parse::<bytesize::ByteSize>().map_err(|e| {
            ConfigError::new(
                name,
                format!("{raw:?} is not a size like 104857600 or 100MiB: {e}"),
            )
        })?;
        if size.as_u64() == 0 {
            return Err(ConfigError::new(name, "must be larger than zero"));
        }
        Ok(Some(size.as_u64()))
    }

    fn flag(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.string(name).map(|v| v.to_ascii_lowercase()).as_deref() {
            None => Ok(None),
            Some("1" | "true" | "yes" | "on") => Ok(Some(true)),
            Some("0" | "false" | "no" | "off") => Ok(Some(false)),
            Some(_) => Err(ConfigError::new(name, "must be true or false")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
    }

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
        ] {
            let err = config(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{err}");
        }
    }

    #[test]
    fn extra_types_that_browsers_run_are_refused_by_name() {
        for list in [
            "text/html",
            "application/zip, image/svg+xml",
            "Text/JavaScript",
        ] {
            let err = config(&[("ALLOWED_EXTRA_TYPES", list)]).unwrap_err();
            assert_eq!(err.variable, "ALLOWED_EXTRA_TYPES", "{list}");
            assert!(err.to_string().contains("run by browsers"), "{err}");
        }
        let config = config(&[("ALLOWED_EXTRA_TYPES", "application/zip,video/mp4")]).unwrap();
        assert_eq!(config.extra_allowed_types, ["application/zip", "video/mp4"]);
    }

    #[test]
    fn minio_endpoint_requires_keys_and_accepts_host_port() {
        let err = config(&[("MINIO_ENDPOINT", "127.0.0.1:9000")]).unwrap_err();
        assert_eq!(err.variable, "MINIO_ACCESS_KEY");
        let config = config(&[
            ("MINIO_ENDPOINT", "127.0.0.1:9000"),
            ("MINIO_ACCESS_KEY", "a"),
            ("MINIO_SECRET_KEY", "b"),
        ])
        .unwrap();
        let StorageBackend::S3 {
            endpoint, bucket, ..
        } = config.storage.backend
        else {
            panic!("expected S3 storage");
        };
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(bucket, "kiln");
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

    #[test]
    fn without_smtp_host_mail_is_written_under_the_data_dir() {
        let config = config(&[("DATA_DIR", "/srv/kiln")]).unwrap();
        assert_eq!(config.mail.from.to_string(), "Kiln <kiln@localhost>");
        let MailTransport::Files { dir } = config.mail.transport else {
            panic!("expected the file fallback");
        };
        assert_eq!(dir, PathBuf::from("/srv/kiln/mail"));
    }

    #[test]
    fn smtp_defaults_to_starttls_on_587_without_credentials() {
        let config = config(&[("SMTP_HOST", "mail.example.com")]).unwrap();
        let MailTransport::Smtp(smtp) = config.mail.transport else {
            panic!("expected SMTP");
        };
        assert_eq!(smtp.host, "mail.example.com");
        assert_eq!(smtp.port, 587);
        assert_eq!(smtp.tls, SmtpTls::StartTls);
        assert!(smtp.credentials.is_none());
    }

    #[test]
    fn smtp_settings_are_read_whole() {
        let config = config(&[
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", "2525"),
            ("SMTP_TLS", "NONE"),
            ("SMTP_USERNAME", "kiln"),
            ("SMTP_PASSWORD", "mail-secret-hunter2"),
            ("SMTP_FROM", "Photos <photos@example.com>"),
        ])
        .unwrap();
        assert_eq!(config.mail.from.email.to_string(), "photos@example.com");
        assert_eq!(config.mail.from.name.as_deref(), Some("Photos"));
        let MailTransport::Smtp(smtp) = &config.mail.transport else {
            panic!("expected SMTP");
        };
        assert_eq!(smtp.port, 2525);
        assert_eq!(smtp.tls, SmtpTls::None);
        let (username, password) = smtp.credentials.as_ref().unwrap();
        assert_eq!(username, "kiln");
        assert_eq!(password.expose_secret(), "mail-secret-hunter2");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn implicit_tls_defaults_to_port_465() {
        let config = config(&[("SMTP_HOST", "mail.example.com"), ("SMTP_TLS", "tls")]).unwrap();
        let MailTransport::Smtp(smtp) = config.mail.transport else {
            panic!("expected SMTP");
        };
        assert_eq!((smtp.port, smtp.tls), (465, SmtpTls::Tls));
    }

    #[test]
    fn bad_smtp_settings_name_their_variable() {
        let host = ("SMTP_HOST", "mail.example.com");
        for (vars, variable) in [
            (vec![host, ("SMTP_TLS", "ssl")], "SMTP_TLS"),
            (vec![host, ("SMTP_PORT", "smtp")], "SMTP_PORT"),
            (vec![host, ("SMTP_PORT", "0")], "SMTP_PORT"),
            (vec![host, ("SMTP_PORT", "70000")], "SMTP_PORT"),
            (vec![host, ("SMTP_USERNAME", "kiln")], "SMTP_PASSWORD"),
            (vec![host, ("SMTP_PASSWORD", "secret")], "SMTP_USERNAME"),
            (vec![("SMTP_FROM", "not an address")], "SMTP_FROM"),
            (vec![("SMTP_PORT", "2525")], "SMTP_HOST"),
            (vec![("SMTP_USERNAME", "kiln")], "SMTP_HOST"),
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{vars:?}: {err}");
        }
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

    #[test]
    fn sizes_and_durations_take_human_units() {
        let config = config(&[("MAX_UPLOAD_SIZE", "10MiB"), ("JOB_TIMEOUT", "90s")]).unwrap();
        assert_eq!(config.max_upload_size, 10 * 1024 * 1024);
        assert_eq!(config.job_timeout, Duration::from_secs(90));
    }

    #[test]
    fn oauth_providers_are_enabled_by_their_client_id_and_secret() {
        let none = config(&[]).unwrap();
        assert!(none.oauth.google.is_none() && none.oauth.github.is_none());

        let config = config(&[
            ("GOOGLE_CLIENT_ID", "google-id"),
            ("GOOGLE_CLIENT_SECRET", "google-secret-hunter2"),
            ("GITHUB_CLIENT_ID", "github-id"),
            ("GITHUB_CLIENT_SECRET", "github-secret"),
            ("GITHUB_TOKEN_URL", "http://127.0.0.1:9999/token"),
        ])
        .unwrap();
        let google = config.oauth.google.as_ref().unwrap();
        assert_eq!(google.client_id, "google-id");
        assert_eq!(
            google.auth_url.as_str(),
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        assert!(google.emails_url.is_none());
        let github = config.oauth.github.as_ref().unwrap();
        assert_eq!(github.token_url.as_str(), "http://127.0.0.1:9999/token");
        assert_eq!(github.userinfo_url.as_str(), "https://api.github.com/user");
        assert_eq!(
            github.emails_url.as_ref().unwrap().as_str(),
            "https://api.github.com/user/emails"
        );
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn incomplete_or_bad_oauth_settings_name_their_variable() {
        let id = ("GITHUB_CLIENT_ID", "github-id");
        let secret = ("GITHUB_CLIENT_SECRET", "github-secret");
        let ftp = ("GITHUB_AUTH_URL", "ftp://x.test/a");
        let garbage = ("GITHUB_EMAILS_URL", "not a url");
        let lone_url = ("GOOGLE_AUTH_URL", "http://x.test/a");
        for (vars, variable) in [
            (vec![id], "GITHUB_CLIENT_SECRET"),
            (vec![("GOOGLE_CLIENT_SECRET", "s")], "GOOGLE_CLIENT_ID"),
            (vec![lone_url], "GOOGLE_CLIENT_ID"),
            (vec![id, secret, ftp], "GITHUB_AUTH_URL"),
            (vec![id, secret, garbage], "GITHUB_EMAILS_URL"),
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{vars:?}: {err}");
        }
    }
}
