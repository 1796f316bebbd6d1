//! `kiln migrate-backend`: moves an installation on the embedded default
//! (SQLite and a local object directory under `DATA_DIR`) to PostgreSQL and an
//! S3-compatible bucket without losing a byte, then says what to set in the
//! environment of the new deployment.
//!
//! The order of a run, and why:
//! 1. The source must be the embedded backends, with its schema complete, and
//!    stopped: a job running under a live lease means a worker is still at it.
//! 2. The target database is migrated to the current schema, and must hold no
//!    Kiln data unless the resume marker ([`state`]) says this command was
//!    filling it. A marker of a finished run makes a rerun a no-op.
//! 3. Objects first ([`objects`]), each verified by reading it back, so that
//!    once rows exist in the target every one of them has its object.
//! 4. Rows ([`rows`]), table by table in batches that a rerun skips; sequences
//!    are moved past the copied ids; row counts are compared.
//! 5. The marker is marked finished, and [`handover`] prints the environment.
//!
//! Interrupting any step (Ctrl-C, a crash) loses nothing: running the same
//! command again skips what is already there and verified, and finishes.
//!
//! The cache of transformed images (`transforms` and the objects its rows name)
//! is not copied: it is a cache, and the new deployment refills it on demand.

mod handover;
pub mod objects;
pub mod rows;
mod state;
mod target;

use actix::{Actor, Addr};
use anyhow::{Context as _, bail};
use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use secrecy::SecretString;
use url::Url;

use crate::actors::catalog::{self, Catalog, admin::RecountUsage};
use crate::actors::storage::Storage;
use crate::actors::storage::messages::CheckStorage;
use crate::cli::admin::{ask, open_storage};
use crate::config::{Config, DatabaseBackend, StorageBackend};
use crate::domain::jobs::JobStatus;
use crate::entities::processing_jobs;
use crate::telemetry::RequestId;
use state::Marker;
use target::{Target, parse_secret};

/// `kiln migrate-backend`'s flags. Each has an environment fallback, so
/// secrets need not appear on a command line (where `ps` shows them); the
/// names differ from `DATABASE_URL` and `MINIO_*`, which still describe the
/// source.
#[derive(Debug, clap::Args)]
pub struct MigrateBackendArgs {
    /// The PostgreSQL database to fill: postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    /// It is migrated to the current schema first and must hold no Kiln data,
    /// unless it is the target of an unfinished run of this command.
    #[arg(long, value_name = "URL", env = "MIGRATE_TO_DATABASE_URL", hide_env_values = true, value_parser = parse_secret)]
    pub to_database: SecretString,
    /// Where objects go: s3://BUCKET or s3://BUCKET/PREFIX (the new deployment's
    /// MINIO_BUCKET and STORAGE_PREFIX). The bucket must exist.
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]", env = "MIGRATE_TO_STORAGE")]
    pub to_storage: String,
    /// The S3-compatible endpoint, e.g. http://minio.internal:9000.
    #[arg(long, value_name = "URL", env = "MIGRATE_TO_S3_ENDPOINT")]
    pub s3_endpoint: Url,
    #[arg(long, value_name = "KEY", env = "MIGRATE_TO_S3_ACCESS_KEY")]
    pub s3_access_key: String,
    #[arg(long, value_name = "SECRET", env = "MIGRATE_TO_S3_SECRET_KEY", hide_env_values = true, value_parser = parse_secret)]
    pub s3_secret_key: SecretString,
    #[arg(
        long,
        value_name = "REGION",
        env = "MIGRATE_TO_S3_REGION",
        default_value = "us-east-1"
    )]
    pub s3_region: String,
    /// Rows per INSERT.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=5000))]
    pub batch_size: u64,
    /// Objects copied at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

pub async fn run(config: &Config, args: MigrateBackendArgs) -> anyhow::Result<()> {
    check_source_backends(config)?;
    let target = Target::from_args(&args)?;

    let source_db = catalog::connect(&config.database)
        .await
        .context("cannot open the source database (DATABASE_URL, DATA_DIR)")?;
    rows::check_source_schema(&source_db).await?;
    check_source_stopped(&source_db).await?;

    let target_db = catalog::connect(&target.database)
        .await
        .with_context(|| format!("cannot open {} (--to-database)", target.database_label))?;
    Migrator::up(&target_db, None)
        .await
        .context("cannot migrate the target database")?;

    let marker = match Marker::load(&config.data_dir)? {
        Some(marker) if marker.is_for(&target) => {
            if let Some(finished_at) = marker.finished_at {
                eprintln!(
                    "migrate-backend: this copy finished at {finished_at}; nothing to do \
                     (the marker is {})",
                    state::path(&config.data_dir).display()
                );
                handover::print(config, &target);
                return Ok(());
            }
            eprintln!(
                "migrate-backend: resuming the copy started at {}",
                marker.started_at
            );
            marker
        }
        _ => {
            let rows = rows::count_all(&target_db).await?;
            if rows > 0 {
                bail!(
                    "{} already holds Kiln data ({rows} rows) that this command did not \
                     copy; give an empty database",
                    target.database_label
                );
            }
            let marker = Marker::new(&target);
            marker.save(&config.data_dir)?;
            marker
        }
    };

    let source_store = open_storage(config)?;
    let target_store = open_target_storage(&target)?;
    target_store.send(CheckStorage).await?.with_context(|| {
        format!(
            "cannot reach {} (does the bucket exist?)",
            target.storage_label
        )
    })?;

    eprintln!(
        "migrate-backend: copying objects to {}",
        target.storage_label
    );
    let objects = objects::copy_all(
        &source_db,
        &source_store,
        &target_store,
        usize::from(args.concurrency),
    )
    .await?;
    eprintln!(
        "migrate-backend: objects: {} copied ({}), {} already there, {} failed",
        objects.copied,
        bytesize::ByteSize::b(objects.bytes_copied),
        objects.skipped,
        objects.failed.len()
    );

    eprintln!("migrate-backend: copying rows to {}", target.database_label);
    let tables = rows::RowCopy {
        source: &source_db,
        target: &target_db,
        batch_size: args.batch_size,
    }
    .all()
    .await?;
    for table in &tables {
        eprintln!(
            "migrate-backend: rows: {:<20} {:>8} ({} added now)",
            table.table, table.rows, table.inserted
        );
    }
    rows::advance_sequences(&target_db).await?;
    // The usage copied counts the reservations of uploads left behind.
    let recount = RecountUsage {
        request_id: RequestId::generate(),
        fix: true,
    };
    let target_catalog = Catalog::new(target_db.clone(), config.quotas).start();
    let recounted = ask(&target_catalog, recount).await?;
    if !recounted.is_empty() {
        eprintln!(
            "migrate-backend: usage counted again for {} accounts with uploads in progress left behind",
            recounted.len()
        );
    }

    report_source_problems(&objects);
    if !objects.failed.is_empty() {
        bail!(
            "{} objects were not copied or did not verify (listed above); run the same \
             command again to finish",
            objects.failed.len()
        );
    }
    Marker {
        finished_at: Some(Utc::now()),
        ..marker
    }
    .save(&config.data_dir)?;
    println!(
        "Copied and verified: {} rows in {} tables, {} objects ({} skipped as already there).",
        tables.iter().map(|table| table.rows).sum::<u64>(),
        tables.len(),
        objects.copied + objects.skipped,
        objects.skipped
    );
    handover::print(config, &target);
    Ok(())
}

/// The source must be the embedded default's backends: what else would be
/// copied from is already scaled out.
fn check_source_backends(config: &Config) -> anyhow::Result<()> {
    if config.database.backend != DatabaseBackend::Sqlite {
        bail!(
            "DATABASE_URL points at PostgreSQL: migrate-backend copies from the embedded \
             SQLite database; run it with the source instance's settings (unset DATABASE_URL)"
        );
    }
    if let StorageBackend::S3 { .. } = config.storage.backend {
        bail!(
            "MINIO_ENDPOINT is set: migrate-backend copies from local storage under DATA_DIR; \
             run it with the source instance's settings (unset MINIO_ENDPOINT)"
        );
    }
    Ok(())
}

/// A running Kiln writes while we read: refuse when a job is running under a
/// lease that has not expired. Leases of a stopped (or crashed) instance run
/// out after `JOB_TIMEOUT`, and its jobs are then copied as queued.
async fn check_source_stopped(source: &DatabaseConnection) -> anyhow::Result<()> {
    let leased = processing_jobs::Entity::find()
        .filter(processing_jobs::Column::Status.eq(JobStatus::Running.as_str()))
        .filter(processing_jobs::Column::LeaseExpiresAt.gt(Utc::now()))
        .count(source)
        .await?;
    if leased > 0 {
        bail!(
            "{leased} jobs are running under a live lease: stop the source Kiln first \
             (a stopped instance's leases expire after JOB_TIMEOUT; run this again then)"
        );
    }
    Ok(())
}

fn open_target_storage(target: &Target) -> anyhow::Result<Addr<Storage>> {
    // Only streams go through it: the base URL and key that sign local
    // download links are never used for S3.
    let storage = Storage::open(
        &target.storage,
        Url::parse("http://localhost/").expect("a fixed URL parses"),
        rand::random(),
    )
    .with_context(|| format!("cannot open {}", target.storage_label))?;
    Ok(storage.start())
}

fn report_source_problems(objects: &objects::ObjectReport) {
    if !objects.damaged_sources.is_empty() {
        eprintln!(
            "migrate-backend: warning: {} objects on disk differ from their rows and were \
             copied as they are: {}",
            objects.damaged_sources.len(),
            objects.damaged_sources.join(", ")
        );
    }
    if !objects.missing_sources.is_empty() {
        eprintln!(
            "migrate-backend: warning: {} objects named by rows are missing on disk (nothing \
             to copy; `kiln storage verify` reports them): {}",
            objects.missing_sources.len(),
            objects.missing_sources.join(", ")
        );
    }
}
