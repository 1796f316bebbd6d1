//! The Catalog actor owns the database connection pool; every SQL query in Kiln
//! lives behind its messages.
//!
//! - Accepts: the messages of its aggregates, below, [`PingDatabase`] and
//!   [`MeasurePool`].
//! - Replies: plain records (never sea-orm models) or a [`CatalogError`].
//! - Supervised by the [`Supervisor`](crate::actors::supervisor): restarted with
//!   backoff if it stops; the pool itself reconnects dropped connections.
//!
//! Handlers clone the pool into a future, so slow queries never block the mailbox.
//!
//! # Aggregates
//!
//! Each aggregate is a folder with its messages, the records it replies with and
//! its handlers side by side:
//!
//! - [`accounts`]: `users`: making, finding and renaming an account; its password.
//! - [`sessions`]: what a request signs in with: web sessions (`sessions`),
//!   logged-out access tokens (`revoked_tokens`) and API tokens (`api_tokens`).
//! - [`links`]: the single-use links Kiln mails (`email_verifications`,
//!   `password_resets`).
//! - [`oauth`]: identities at OAuth providers (`oauth_accounts`).
//! - [`files`]: originals and their variants (`files`, `file_variants`).
//! - [`jobs`]: `processing_jobs`: the jobs a user asks for and a job's life in
//!   the pipeline.
//! - [`shares`]: `file_shares`: public links to a file.
//! - [`transforms`]: `transforms`: a cache of the images transformed on request,
//!   evicted least recently used beyond `TRANSFORM_CACHE_SIZE` and deleted with
//!   their file.
//! - [`uploads`]: `uploads`: resumable (tus) uploads in progress, each holding
//!   a reservation of its owner's quota until it becomes a file or goes.
//! - [`webhooks`]: `webhooks` and `webhook_deliveries`: the endpoints a user
//!   subscribes to events, and the outbox of deliveries to them, written in
//!   the transaction that records each event.
//! - [`admin`]: the operator's (`kiln user|jobs|files|storage`) and the
//!   administrators' messages, which reach across every user.
//!
//! The rule: a message only an operator or an administrator sends, about every
//! user at once or about who may administer, is [`admin`]'s. Any other belongs to
//! the aggregate of the table it mainly writes or, for a query, reads; when one
//! transaction writes several tables, the table of the row the message makes or
//! names (`RecordUpload` writes jobs too, but makes a file; `ResetPassword`
//! writes the account too, but spends a reset link). [`PingDatabase`] reads no
//! table: it asks the pool itself, so it stays here, as does [`MeasurePool`].
//!
//! Callers name a message or a reply by its aggregate
//! (`catalog::jobs::ClaimJob`), and what every aggregate shares by the catalog
//! itself: the actor, [`CatalogError`], and the [`User`], [`File`], [`Variant`]
//! and [`Job`] records (`catalog::Job`). The queries several aggregates run
//! inside their own transactions (row locks, a user's own file, a file's status)
//! are in `queries`, written once. An aggregate that makes rows of another's
//! table borrows that aggregate's row builder, lent by its `mod.rs`, so the
//! aggregates depend on each other one way only: accounts on links, files on
//! jobs, admin on files and jobs.

pub mod accounts;
pub mod admin;
pub mod files;
pub mod jobs;
pub mod links;
pub mod oauth;
mod queries;
mod records;
pub mod sessions;
pub mod shares;
pub mod transforms;
pub mod uploads;
pub mod webhooks;

pub use records::{File, Job, User, Variant};

use std::future::Future;
use std::time::Instant;

use actix::{Actor, Context, Handler, Message, MessageResult, ResponseFuture, Supervised};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, IsolationLevel, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret;
use tracing::{Instrument, Span, info_span};

use crate::actors::restart::RestartBackoff;
use crate::config::DatabaseConfig;
use crate::domain::quota::{QuotaDefaults, Usage};
use crate::telemetry::metrics;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("only a dead job can be retried; this one is {0}")]
    JobNotDead(crate::domain::jobs::JobStatus),
    #[error("this email address is already verified")]
    AlreadyVerified,
    /// Another mail of the kind asked for went out too recently.
    #[error("a mail was sent moments ago; retry in {} seconds", .0.as_secs().max(1))]
    TooSoon(std::time::Duration),
    /// The resumable upload a file was to be made of is gone (terminated or
    /// expired meanwhile).
    #[error("the upload is gone")]
    UploadGone,
    /// The account's quota has no room for what was to be stored.
    #[error("quota exceeded: {}", .0.describe())]
    QuotaExceeded(Usage),
    #[error("the database is unavailable")]
    Unavailable(#[source] DbErr),
    #[error("database query failed")]
    Query(#[source] DbErr),
}

impl From<DbErr> for CatalogError {
    fn from(err: DbErr) -> Self {
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(err),
            other => Self::Query(other),
        }
    }
}

pub struct Catalog {
    db: DatabaseConnection,
    /// The limits of accounts without their own (`DEFAULT_QUOTA_*`).
    quotas: QuotaDefaults,
    restarts: RestartBackoff,
}

impl Catalog {
    pub fn new(db: DatabaseConnection, quotas: QuotaDefaults) -> Self {
        Self {
            db,
            quotas,
            restarts: RestartBackoff::default(),
        }
    }
}

impl Catalog {
    /// Runs `query` on a clone of the pool under `span`, off the actor's
    /// mailbox, and records its latency (and failure) as the database
    /// `operation`: every handler is one call to this.
    fn run<T, Q, Fut>(
        &self,
        operation: &'static str,
        span: Span,
        query: Q,
    ) -> ResponseFuture<Result<T, CatalogError>>
    where
        Q: FnOnce(DatabaseConnection) -> Fut,
        Fut: Future<Output = Result<T, CatalogError>> + 'static,
    {
        let started = Instant::now();
        let query = query(self.db.clone());
        Box::pin(
            async move {
                let result = query.await;
                // Refusals the rules make (a taken e-mail, a job not dead) are
                // answers, not database failures.
                let failed = matches!(
                    result,
                    Err(CatalogError::Unavailable(_) | CatalogError::Query(_))
                );
                metrics::db_operation(operation, started.elapsed(), !failed);
                result
            }
            .instrument(span),
        )
    }
}

/// Starts a transaction that will write. SQLite takes its write lock at BEGIN
/// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout: a
/// deferred transaction that reads first fails at its first write, with no
/// wait, whenever another writer committed in between. PostgreSQL ignores the
/// mode.
pub(super) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Starts a transaction that only reads, for an answer drawn from several
/// tables that must agree with itself (a file, its variants and its jobs): every
/// statement in it sees the database as it was at the first. PostgreSQL's
/// default (READ COMMITTED) would let each statement see what committed since
/// the one before, so it asks for REPEATABLE READ. SQLite gives a transaction
/// one snapshot from its first read anyway, and sea-orm only warns when asked
/// for an isolation level there, so it gets none.
pub(super) async fn begin_snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = match db.get_database_backend() {
        DbBackend::Postgres => TransactionOptions {
            isolation_level: Some(IsolationLevel::RepeatableRead),
            access_mode: Some(AccessMode::ReadOnly),
            ..TransactionOptions::default()
        },
        _ => TransactionOptions::default(),
    };
    db.begin_with_options(options).await
}

impl Actor for Catalog {
    type Context = Context<Self>;
}

impl Supervised for Catalog {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("catalog", ctx);
    }
}

/// Answers when the database answers a trivial query.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct PingDatabase;

impl Handler<PingDatabase> for Catalog {
    type Result = ResponseFuture<Result<(), CatalogError>>;

    fn handle(&mut self, _: PingDatabase, _: &mut Self::Context) -> Self::Result {
        self.run("ping", info_span!("catalog.ping"), |db| async move {
            db.execute_unprepared("SELECT 1")
                .await
                .map_err(CatalogError::Unavailable)?;
            Ok(())
        })
    }
}

/// How many connections the pool holds now, and how many of them are idle.
#[derive(Message)]
#[rtype(result = "metrics::PoolUse")]
pub struct MeasurePool;

impl Handler<MeasurePool> for Catalog {
    type Result = MessageResult<MeasurePool>;

    fn handle(&mut self, _: MeasurePool, _: &mut Self::Context) -> Self::Result {
        MessageResult(match self.db.get_database_backend() {
            DbBackend::Postgres => pool_use(self.db.get_postgres_connection_pool()),
            _ => pool_use(self.db.get_sqlite_connection_pool()),
        })
    }
}

fn pool_use<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> metrics::PoolUse {
    metrics::PoolUse {
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

/// Opens the pool of `DATABASE_POOL_SIZE` connections. SQLite runs in WAL
/// mode, so readers never wait for the writer and writers queue briefly
/// instead of backing off in steps.
pub async fn connect(config: &DatabaseConfig) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(config.url.expose_secret().to_string());
    options
        .max_connections(config.pool_size)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                // Durable at every checkpoint; the recommended pairing with WAL.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10))
        });
    Database::connect(options).await
}
