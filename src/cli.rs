//! The command line: `kiln [serve|api|worker|migrate|process|user ...]`.

use clap::{Parser, Subcommand};

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
        action: UserAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Makes an account an administrator, who sees and retries every user's
    /// failed jobs in the web UI, or a regular user again.
    SetRole {
        /// The account's e-mail address.
        email: String,
        #[arg(value_enum)]
        role: UserRole,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserRole {
    Admin,
    User,
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
