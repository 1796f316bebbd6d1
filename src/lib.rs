//! Kiln: a self-hosted file processing service.
//!
//! People upload files over the HTTP API or the web UI; Kiln keeps the original in
//! object storage, records it in SQL, and a supervised pool of actors makes
//! variants. The map of the crate:
//!
//! ```text
//!  main ─▶ cli ─┬─ serve (serve|api|worker) ─▶ config, telemetry ─▶ startup::Application
//!               ├─ migrate, process, migrate_backend   (no server: a Catalog and a Storage of
//!               ├─ admin (user|token|jobs|files|storage) their own, the same typed messages)
//!               └─ processor (hidden): the sandboxed child ─▶ isolation::child ─▶ processing::run
//!
//!  http (handlers: api/, ui/) ──one typed message per use case──▶ actors::ActorHandles
//!                                        │
//!  actors::supervisor::Supervisor ─┬─ Accounts     account use cases: register, sign in, passwords,
//!                                  │               mailed links, API tokens, OAuth sign-in
//!                                  ├─ Ingest       file use cases: upload (stage → commit), process,
//!                                  │               delete, purge, retry, show, link
//!                                  ├─ Catalog      owns the database pool     (entities/, migration/)
//!                                  ├─ Storage      owns the object store      (local dir or S3)
//!                                  ├─ Redis        owns Redis's connections (when REDIS_URL is set)
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
//! Plain logic with no actor lives in [`domain`] (validated values, what a
//! client may ask for, the job state machine, throttling, delivery headers)
//! and [`auth`] (tokens and hashes), each with its own unit tests;
//! [`processing`] holds the processors (bytes in, variants out) that the
//! processor children run (their resampling and JPEG encoding are called
//! through the workspace's `kernels/` crate, so that dev builds run them
//! optimised), and [`isolation`] the boundary to those children
//! (frames, sandbox, the child's loop); [`tls`] makes ring the TLS crypto of
//! every connection Kiln opens. ARCHITECTURE.md draws the whole and
//! follows an upload and a sign-in through it.

pub mod actors;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod entities;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod isolation;
pub mod processing;
pub mod startup;
pub mod telemetry;
pub mod tls;
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
