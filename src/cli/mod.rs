//! The command line, every door into Kiln: `kiln [serve|api|worker]` start the
//! server's roles ([`serve`]), `kiln migrate` the schema ([`migrate`]), `kiln
//! process` one processor on local files ([`process`]), `kiln user|token|jobs|
//! files|storage` the operator's commands ([`admin`]), `kiln migrate-backend` the
//! move from the embedded backends to PostgreSQL and S3 ([`migrate_backend`]),
//! and the hidden `kiln processor`, the sandboxed child a worker starts
//! ([`processor`]).
//!
//! [`main`] parses the line and runs the command; each command's arguments live
//! beside it. `serve` is the composition root that starts the server
//! ([`crate::startup`]); no other door reaches the web layer.

pub mod admin;
pub mod migrate;
pub mod migrate_backend;
pub mod process;
pub mod processor;
pub mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::Role;

use admin::{jobs, purge, storage, tokens, users};
use migrate::MigrateAction;
use process::ProcessArgs;
use processor::ProcessorChildArgs;
use serve::RunArgs;

#[derive(Debug, Parser)]
#[command(name = "kiln", version, about = "Self-hosted file processing service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// API, web UI and workers in one process (the default).
    Serve(RunArgs),
    /// HTTP only: accepts uploads and enqueues work.
    Api(RunArgs),
    /// Consumes jobs and runs processors.
    Worker(RunArgs),
    /// Applies or rolls back database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Runs one processor on a local file, exactly as a worker would.
    Process(ProcessArgs),
    /// Manages accounts on the configured database.
    User {
        #[command(subcommand)]
        action: users::UserAction,
    },
    /// Makes API tokens for scripts.
    Token {
        #[command(subcommand)]
        action: tokens::TokenAction,
    },
    /// Lists failed jobs and runs dead ones again.
    Jobs {
        #[command(subcommand)]
        action: jobs::JobsAction,
    },
    /// Removes old files with everything made from them.
    Files {
        #[command(subcommand)]
        action: purge::FilesAction,
    },
    /// Checks the object store against the database.
    Storage {
        #[command(subcommand)]
        action: storage::StorageAction,
    },
    /// Copies an embedded installation (SQLite, local objects) to PostgreSQL
    /// and S3, resumably and verified, and prints what to set afterwards.
    MigrateBackend(migrate_backend::MigrateBackendArgs),
    /// Runs jobs' processors for the worker that started it, over its stdin
    /// and stdout (see `isolation`). Workers start it; people do not.
    #[command(hide = true)]
    Processor(ProcessorChildArgs),
}

/// Runs the command the line names and says how it ended.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // A child reads no configuration and starts no runtime, so that it
        // confines itself while it is the only thread.
        Some(Command::Processor(args)) => processor::run(args),
        command => actix_web::rt::System::new().block_on(configured(command)),
    }
}

/// Loads the configuration and logging every other command needs, then runs it.
async fn configured(command: Option<Command>) -> ExitCode {
    // A missing .env is normal; a broken one is reported when its values are read.
    let _ = dotenvy::dotenv();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("kiln: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = crate::telemetry::init(&config.log) {
        eprintln!("kiln: {err}");
        return ExitCode::from(2);
    }
    match run(command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("kiln: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Option<Command>, config: Config) -> anyhow::Result<()> {
    match command {
        None => serve::run(Role::Serve, RunArgs::default(), config).await,
        Some(Command::Serve(args)) => serve::run(Role::Serve, args, config).await,
        Some(Command::Api(args)) => serve::run(Role::Api, args, config).await,
        Some(Command::Worker(args)) => serve::run(Role::Worker, args, config).await,
        Some(Command::Migrate { action }) => migrate::run(&config, action).await,
        Some(Command::Process(args)) => process::run(&config, args),
        Some(Command::User { action }) => users::run(&config, action).await,
        Some(Command::Token { action }) => tokens::run(&config, action).await,
        Some(Command::Jobs { action }) => jobs::run(&config, action).await,
        Some(Command::Files { action }) => purge::run(&config, action).await,
        Some(Command::Storage { action }) => storage::run(&config, action).await,
        Some(Command::MigrateBackend(args)) => migrate_backend::run(&config, args).await,
        Some(Command::Processor(_)) => anyhow::bail!("`kiln processor` is started by workers"),
    }
}
