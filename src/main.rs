//! `kiln`: parse the command line, load configuration, start logging, run.
//!
//! `kiln processor` is the exception: a worker's child that reads no
//! configuration and starts no runtime, so it confines itself while it is the
//! only thread.

use clap::Parser;
use kiln::admin_cli;
use kiln::cli::{Cli, Command, MigrateAction, ProcessorChildArgs, RunArgs};
use kiln::config::Config;
use kiln::isolation::child::{self, ChildSettings};
use kiln::isolation::memory::KilnAllocator;
use kiln::startup::{Application, Role};
use migration::{Migrator, MigratorTrait};

#[global_allocator]
static ALLOCATOR: KilnAllocator = KilnAllocator;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Processor(args)) = cli.command {
        return processor_child(args);
    }
    actix_web::rt::System::new().block_on(serve(cli))
}

/// `kiln processor`: serves jobs until the worker closes its stdin.
fn processor_child(args: ProcessorChildArgs) -> std::process::ExitCode {
    let settings = ChildSettings {
        memory_limit: args.memory_limit,
        pdfium_library: args.pdfium,
        test_faults: args.test_faults,
    };
    match child::serve(settings) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kiln processor: {}", kiln::error_chain(&err));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> std::process::ExitCode {
    // A missing .env is normal; a broken one is reported when its values are read.
    let _ = dotenvy::dotenv();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("kiln: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Err(err) = kiln::telemetry::init(&config.log) {
        eprintln!("kiln: {err}");
        return std::process::ExitCode::from(2);
    }
    match run(cli, config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("kiln: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, mut config: Config) -> anyhow::Result<()> {
    let (role, args) = match cli.command {
        None => (Role::Serve, RunArgs::default()),
        Some(Command::Serve(args)) => (Role::Serve, args),
        Some(Command::Api(args)) => (Role::Api, args),
        Some(Command::Worker(args)) => (Role::Worker, args),
        Some(Command::Migrate { action }) => return migrate(&config, action).await,
        Some(Command::Process(args)) => return kiln::process_cli::run(&config, args),
        Some(Command::User { action }) => return admin_cli::users::run(&config, action).await,
        Some(Command::Token { action }) => return admin_cli::tokens::run(&config, action).await,
        Some(Command::Jobs { action }) => return admin_cli::jobs::run(&config, action).await,
        Some(Command::Files { action }) => return admin_cli::files::run(&config, action).await,
        Some(Command::Storage { action }) => {
            return admin_cli::storage::run(&config, action).await;
        }
        Some(Command::MigrateBackend(args)) => {
            return kiln::migrate_backend::run(&config, args).await;
        }
        Some(Command::Processor(_)) => anyhow::bail!("`kiln processor` is started by workers"),
    };
    if args.no_migrate {
        config.auto_migrate = false;
    }
    Application::build(config, role)
        .await?
        .run_until_stopped()
        .await
}

async fn migrate(config: &Config, action: MigrateAction) -> anyhow::Result<()> {
    if let kiln::config::DatabaseBackend::Sqlite = config.database.backend {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let db = kiln::actors::catalog::connect(&config.database).await?;
    match action {
        MigrateAction::Up => Migrator::up(&db, None).await?,
        MigrateAction::Down { steps, all } => Migrator::down(&db, (!all).then_some(steps)).await?,
        MigrateAction::Status => {}
    }
    for migration in Migrator::get_migration_with_status(&db).await? {
        println!(
            "{:<10} {}",
            format!("{:?}", migration.status()).to_lowercase(),
            migration.name()
        );
    }
    Ok(())
}
