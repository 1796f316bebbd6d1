//! The command line: `kiln [serve|api|worker|migrate|process|user|token|jobs|files|storage|migrate-backend ...]`.
//! The operator's commands take their arguments from [`crate::admin_cli`].

use clap::{Parser, Subcommand};

use crate::admin_cli::{files, jobs, storage, tokens, users};

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
        action: files::FilesAction,
    },
    /// Checks the object store against the database.
    Storage {
        #[command(subcommand)]
        action: storage::StorageAction,
    },
    /// Copies an embedded installation (SQLite, local objects) to PostgreSQL
    /// and S3, resumably and verified, and prints what to set afterwards.
    MigrateBackend(crate::migrate_backend::MigrateBackendArgs),
    /// Runs jobs' processors for the worker that started it, over its stdin
    /// and stdout (see `isolation`). Workers start it; people do not.
    #[command(hide = true)]
    Processor(ProcessorChildArgs),
}

#[derive(Debug, clap::Args)]
pub struct ProcessorChildArgs {
    /// The address space the child may use, in bytes.
    #[arg(long)]
    pub memory_limit: u64,
    /// Where PDFium's shared library is.
    #[arg(long)]
    pub pdfium: std::path::PathBuf,
    /// Obey the test suite's fault markers (debug builds only).
    #[arg(long)]
    pub test_faults: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// thumbnail, resize, webp, watermark or pdf_thumbnail.
    pub processor: String,
    /// The original to read.
    pub input: std::path::PathBuf,
    /// Where to write the output; a directory when the processor makes several
    /// (e.g. resize's default sizes), each then named `{variant}.{ext}`.
    pub output: std::path::PathBuf,
    /// Processor options as JSON, e.g. '{"width":200,"fit":"cover"}'.
    #[arg(long, default_value = "{}")]
    pub options: String,
    /// The variant name (defaults to the processor's).
    #[arg(long)]
    pub variant: Option<String>,
    /// The image to draw with the watermark processor (instead of `text`). The
    /// options' `image`, which names one of a user's files in the service, may be
    /// left out; it defaults to this path.
    #[arg(long, value_name = "PATH")]
    pub watermark: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args, Default)]
pub struct RunArgs {
    /// Do not apply pending migrations at start (overrides AUTO_MIGRATE).
    #[arg(long)]
    pub no_migrate: bool,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Applies every pending migration.
    Up,
    /// Rolls back the latest migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1, conflicts_with = "all")]
        steps: u32,
        /// Roll back every migration (drops all of Kiln's tables).
        #[arg(long)]
        all: bool,
    },
    /// Lists migrations and whether each is applied.
    Status,
}
