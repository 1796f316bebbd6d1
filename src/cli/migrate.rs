//! `kiln migrate up|down|status`: the database schema, applied or rolled back
//! by the `migration` crate, then listed with each migration's state.

use clap::Subcommand;
use migration::{Migrator, MigratorTrait};

use crate::config::{Config, DatabaseBackend};

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

pub async fn run(config: &Config, action: MigrateAction) -> anyhow::Result<()> {
    if let DatabaseBackend::Sqlite = config.database.backend {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let db = crate::actors::catalog::connect(&config.database).await?;
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
