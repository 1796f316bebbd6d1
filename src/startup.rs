//! Builds a running Kiln from a [`Config`]: opens the database (migrating it
//! when asked), the object store and Redis, starts the actor graph, and binds the
//! HTTP server for the roles that serve HTTP. Tests build the same
//! [`Application`] on port 0.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use deadpool_redis::redis;
use hmac::{Hmac, Mac};
use migration::{Migrator, MigratorTrait};
use rand::RngCore;
use secrecy::ExposeSecret;
use sha2::Sha256;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::actors::ActorHandles;
use crate::actors::catalog;
use crate::actors::mailer::Mailer;
use crate::actors::processors::ChildCommand;
use crate::actors::reader::Drain;
use crate::actors::storage::Storage;
use crate::actors::supervisor::{GraphResources, PipelineSettings, RedisResources, Supervisor};
use crate::actors::webhooks::CourierSettings;
use crate::actors::webhooks::client::DeliveryClient;
use crate::auth::jwt::JwtKeys;
use crate::config::{Config, JwtSecret, RedisConfig};
use crate::domain::transforms::TransformKey;
use crate::http::{self, AppState, request_context::request_context};

/// Which parts of Kiln this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// API, web UI and workers in one process: the default.
    Serve,
    /// HTTP only: accepts uploads and enqueues work.
    Api,
    /// Consumes jobs; serves no HTTP.
    Worker,
}

impl Role {
    fn serves_http(self) -> bool {
        matches!(self, Self::Serve | Self::Api)
    }

    fn runs_jobs(self) -> bool {
        matches!(self, Self::Serve | Self::Worker)
    }
}

/// Opens `REDIS_URL`: a pool for commands, a client for blocking connections.
fn open_redis(config: &RedisConfig) -> anyhow::Result<RedisResources> {
    let url = config.url.expose_secret();
    let client = redis::Client::open(url).context("invalid configuration: REDIS_URL")?;
    let pool = deadpool_redis::Config::from_url(url)
        .builder()
        .context("invalid configuration: REDIS_URL")?
        .max_size(config.pool_size as usize)
        .wait_timeout(Some(Duration::from_secs(2)))
        .create_timeout(Some(Duration::from_secs(2)))
        .runtime(deadpool_redis::Runtime::Tokio1)
        .build()
        .context("invalid configuration: REDIS_URL")?;
    Ok(RedisResources {
        pool,
        client,
        namespace: config.namespace.clone(),
    })
}

pub struct Application {
    /// The bound port, for the roles that serve HTTP.
    port: Option<u16>,
    server: Option<Server>,
    /// The `OPS_PORT` listener, when configured; already running.
    ops: Option<OpsServer>,
    actors: ActorHandles,
    shutdown_timeout: Duration,
    /// What `run_until_stopped` says in its "kiln started" line.
    started: Started,
}

/// What this process runs on, as the "kiln started" line says it.
struct Started {
    role: Role,
    database: crate::config::DatabaseBackend,
    redis: bool,
    storage: &'static str,
    mail: &'static str,
}

impl Application {
    /// Opens every resource and starts the actors; must run inside an actix System.
    pub async fn build(config: Config, role: Role) -> anyhow::Result<Self> {
        let config = Arc::new(config);
        let jwt_secret = resolve_jwt_secret(&config)?;
        // Before any actor starts, so that nothing they count is lost.
        crate::telemetry::metrics::install();

        let db = catalog::connect(&config.database)
            .await
            .context("cannot open the database (DATABASE_URL)")?;
        if config.auto_migrate {
            Migrator::up(&db, None)
                .await
                .context("database migration failed")?;
        }
        // Bound before the store opens: on port 0 the signed links of the local
        // backend must name the port actually taken.
        let listener = match role.serves_http() {
            true => Some(TcpListener::bind(config.listen_addr()).with_context(|| {
                format!("cannot listen on {} (HOST, PORT)", config.listen_addr())
            })?),
            false => None,
        };
        let port = match &listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        };
        let public_url = config.public_url(port.unwrap_or(config.port));
        let storage = Storage::open(
            &config.storage,
            public_url.clone(),
            derive_key(&jwt_secret, b"kiln/local-object-links"),
        )
        .context("cannot open object storage (MINIO_* / DATA_DIR)")?;
        let mailer = Mailer::new(&config.mail, public_url)
            .context("cannot set up mail (SMTP_HOST, SMTP_TLS)")?;
        let redis = config.redis.as_ref().map(open_redis).transpose()?;
        let actors = Supervisor::start_graph(GraphResources {
            db,
            storage,
            mailer,
            redis,
            rate_limits: config.rate_limits,
            session_max_age: config.sessions.max_age,
            oauth: config.oauth.clone(),
            max_upload_size: config.max_upload_size,
            quotas: config.quotas,
            extra_allowed_types: config.extra_allowed_types.clone(),
            presign_ttl: config.presign_ttl,
            max_event_streams_per_user: config.max_event_streams_per_user,
            pipeline: PipelineSettings {
                runs_jobs: role.runs_jobs(),
                worker_concurrency: config.worker_concurrency,
                job_timeout: config.job_timeout,
                max_retries: config.max_retries,
                reconcile_interval: config.reconcile_interval,
                requeue_after: config.requeue_after,
                file_retention: config.file_retention,
                limits: config.limits(),
                child: processor_command(&config)?,
                transforms: role.serves_http().then(|| config.transforms.clone()),
                webhooks: match role.runs_jobs() {
                    true => Some(CourierSettings {
                        client: DeliveryClient::new(
                            config.webhooks.timeout,
                            config.webhooks.allow_private_networks,
                        )
                        .context("cannot make the webhook delivery client")?,
                        config: config.webhooks.clone(),
                    }),
                    false => None,
                },
            },
        });

        let state = web::Data::new(AppState {
            actors: actors.clone(),
            jwt: JwtKeys::new(&jwt_secret, config.jwt.ttl)?,
            cookie_key: derive_key(&jwt_secret, b"kiln/signed-cookies"),
            transform_key: match &config.transforms.key {
                Some(key) => TransformKey::new(key.expose_secret().as_bytes()),
                None => TransformKey::new(derive_key(&jwt_secret, b"kiln/transform-urls")),
            },
            config: config.clone(),
        });
        let server = if let Some(listener) = listener {
            http::check_templates().context("a web page template does not compile")?;
            let state = state.clone();
            let ops_port_set = config.ops_port.is_some();
            let server = HttpServer::new(move || {
                App::new()
                    .wrap(from_fn(http::refuse_cross_site))
                    .wrap(from_fn(request_context))
                    .app_data(state.clone())
                    .configure(|cfg| http::configure(cfg, ops_port_set))
            })
            // Nagle's algorithm off: a delivered object's headers and body
            // go out in separate writes, and on a kept-alive connection the
            // body would otherwise wait for the client's delayed ACK (~40 ms).
            .on_connect(|connection, _| {
                if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
                    && let Err(err) = tcp.set_nodelay(true)
                {
                    tracing::debug!(error = %err, "cannot set TCP_NODELAY");
                }
            })
            .shutdown_timeout(config.shutdown_timeout.as_secs())
            // A client that closes its side has gone away (no HTTP client of
            // Kiln's half-closes and waits): end its response at once, so an
            // event stream gives its place back without waiting for a write
            // to fail.
            .h1_allow_half_closed(false)
            // actix stops at once on SIGINT; Kiln drains on both signals instead.
            .disable_signals()
            .listen(listener)?
            .run();
            Some(server)
        } else {
            None
        };
        let ops = match config.ops_listen_addr() {
            Some(addr) => Some(start_ops_server(&addr, state)?),
            None => None,
        };
        let started = Started {
            role,
            database: config.database.backend,
            redis: config.redis.is_some(),
            storage: match config.storage.backend {
                crate::config::StorageBackend::Local { .. } => "local",
                crate::config::StorageBackend::S3 { .. } => "s3",
            },
            mail: match config.mail.transport {
                crate::config::MailTransport::Smtp(_) => "smtp",
                crate::config::MailTransport::Files { .. } => "files",
            },
        };
        Ok(Self {
            port,
            server,
            ops,
            actors,
            shutdown_timeout: config.shutdown_timeout,
            started,
        })
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The bound `OPS_PORT`, when set.
    pub fn ops_port(&self) -> Option<u16> {
        self.ops.as_ref().map(|ops| ops.port)
    }

    pub fn actors(&self) -> &ActorHandles {
        &self.actors
    }

    /// Runs until SIGINT or SIGTERM; the HTTP server then stops accepting and
    /// gives in-flight requests up to `SHUTDOWN_TIMEOUT` to finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown_timeout = self.shutdown_timeout;
        // Listening before saying Kiln started: a signal sent as soon as the
        // line is out drains Kiln instead of meeting the default handler.
        let signals = ShutdownSignals::listen().context("cannot listen for SIGINT and SIGTERM")?;
        let Started {
            role,
            database,
            redis,
            storage,
            mail,
        } = self.started;
        tracing::info!(
            ?role,
            port = self.port,
            ops_port = self.ops_port(),
            ?database,
            redis,
            storage,
            mail,
            "kiln started"
        );
        match self.server {
            Some(server) => {
                let handle = server.handle();
                actix_rt::spawn(async move {
                    signals.recv().await;
                    tracing::info!("shutting down: draining in-flight requests");
                    handle.stop(true).await;
                });
                server.await?
            }
            None => {
                signals.recv().await;
                tracing::info!("shutting down");
            }
        }
        if let Some(reader) = &self.actors.reader {
            match reader
                .send(Drain {
                    timeout: shutdown_timeout,
                })
                .await
            {
                Ok(0) => tracing::info!("running jobs finished"),
                Ok(left) => tracing::warn!(
                    jobs = left,
                    "stopped with jobs still running; their leases will expire and another worker takes them"
                ),
                Err(err) => tracing::warn!(error = %err, "cannot drain running jobs"),
            }
        }
        if let Some(ops) = self.ops {
            ops.handle.stop(true).await;
        }
        tracing::info!("kiln stopped");
        Ok(())
    }
}

/// The `OPS_PORT` listener: `/healthz`, `/readyz` and `/metrics` only.
struct OpsServer {
    port: u16,
    handle: ServerHandle,
}

/// Binds `addr` and starts serving the operational routes on it, with the
/// request middleware (ids, logs, HTTP metrics) but none of the API or pages.
fn start_ops_server(addr: &str, state: web::Data<AppState>) -> anyhow::Result<OpsServer> {
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} (HOST, OPS_PORT)"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(request_context))
            .app_data(state.clone())
            .configure(http::ops::configure)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_rt::spawn(async move {
        if let Err(err) = server.await {
            tracing::error!(error = %err, "the OPS_PORT listener stopped");
        }
    });
    Ok(OpsServer { port, handle })
}

/// SIGINT and SIGTERM, both of which stop Kiln with a drain.
struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl ShutdownSignals {
    /// Takes both signals over from their default handlers from now on.
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the first of them.
    async fn recv(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// How this process starts its `kiln processor` children: its own executable
/// unless `PROCESSOR_BINARY` names another, with absolute paths so the
/// children do not depend on the working directory.
fn processor_command(config: &Config) -> anyhow::Result<ChildCommand> {
    let binary = match &config.processor.binary {
        Some(binary) => binary.clone(),
        None => std::env::current_exe()
            .context("cannot find this executable to start processors (set PROCESSOR_BINARY)")?,
    };
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(ChildCommand {
        binary: absolute(&binary),
        memory_limit: config.processor.memory_limit,
        cpu_limit: config.processor.cpu_limit,
        pdfium_library: absolute(&config.pdfium_library),
        test_faults: config.processor.test_faults,
    })
}

/// The JWT secret: configured, or on the embedded default generated once and
/// kept in `DATA_DIR/jwt_secret` so tokens survive a restart.
fn resolve_jwt_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    match &config.jwt.secret {
        JwtSecret::Configured(secret) => Ok(secret.expose_secret().as_bytes().to_vec()),
        JwtSecret::KeptInDataDir => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create DATA_DIR {}", config.data_dir.display()))?;
            load_or_generate_secret(&config.data_dir.join("jwt_secret"))
        }
    }
}

fn load_or_generate_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let secret = hex::decode(existing.trim()).with_context(|| {
            format!(
                "{} is not a hex secret; delete it to make a new one",
                path.display()
            )
        })?;
        return Ok(secret);
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    write_private(path, hex::encode(secret).as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::warn!(
        path = %path.display(),
        "JWT_SECRET is not set: generated one and kept it in DATA_DIR; set JWT_SECRET when running more than one process"
    );
    Ok(secret.to_vec())
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)
}

/// A key for one purpose derived from the master secret, so a key leaked from
/// one use does not unlock another.
fn derive_key(secret: &[u8], purpose: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of every length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}
