//! Kiln: a self-hosted file processing service.
//!
//! People upload files over the HTTP API or the web UI; Kiln keeps the original in
//! object storage, records it in SQL, and a supervised pool of actors makes
//! variants. The map of the crate:
//!
//! ```text
//!  main ─▶ cli, config, telemetry ─▶ startup::Application          (process_cli: `kiln process`)
//!                                        │                         (admin_cli: `kiln user|token|jobs|
//!                                        │                          files|storage`, on a Catalog and
//!                                        │                          Storage of its own, no server)
//!                                        │                         (migrate_backend: SQLite + local
//!                                        │                          objects ─▶ PostgreSQL + S3, a bulk
//!                                        │                          copy beside the actor graph)
//!  http (handlers) ──typed messages──▶ actors::ActorHandles
//!                                        │
//!  actors::supervisor::Supervisor ─┬─ Catalog      owns the database pool     (entities/, migration/)
//!                                  ├─ Storage      owns the object store      (local dir or S3)
//!                                  ├─ Ingest       upload → Storage → Catalog (file + jobs in one transaction)
//!                                  ├─ Dispatcher   publishes jobs on the transport; reconciles from the DB
//!                                  ├─ StreamReader reads deliveries for free slots; acks after the outcome
//!                                  │    └─ JobRunner ─▶ ProcessorPool ─▶ slots, each a `kiln processor`
//!                                  │                    child process (isolation; processing::run)
//!                                  ├─ Events       status fan-out (Redis pub/sub when scaled out)
//!                                  ├─ Limiter      counts sign-ins, registrations, mails asked for (Redis when scaled out)
//!                                  ├─ Mailer       account mail: SMTP, or .eml files under DATA_DIR/mail
//!                                  └─ Credentials  password hashing threads   (auth::password_hash)
//!
//!  transport: Redis Streams consumer group, or an in-process channel
//! ```
//!
//! Plain logic with no actor lives in [`domain`] (validated values, the job state
//! machine) and [`auth`] (tokens and hashes), each with its own unit tests;
//! [`processing`] holds the processors (bytes in, variants out) that the processor
//! actors run.

pub mod actors;
pub mod admin_cli;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod entities;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod isolation;
pub mod migrate_backend;
pub mod process_cli;
pub mod processing;
pub mod startup;
pub mod telemetry;
pub mod transport;

/// Formats an error with its whole `source` chain, for logs.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
