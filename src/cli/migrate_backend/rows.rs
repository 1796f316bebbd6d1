//! Copies every row of every Kiln table from the SQLite database to PostgreSQL,
//! parents before children, keeping every value: ids, timestamps, password,
//! token and session hashes.
//!
//! This is a one-off bulk copy outside the actor graph: it talks to both
//! databases through sea-orm connections of its own (opened by
//! `catalog::connect`) instead of the Catalog's messages, because the Catalog
//! answers questions about the product (an account, a file, a job) and has no
//! business offering "every row of table X", which only this tool needs. The
//! entities drive the copy, so a column added to an entity is copied with no
//! change here; a new *table* must be added to [`tables`] (or, when it is not
//! to be copied, to [`NOT_COPIED`]), and the source check refuses a database
//! holding a table neither list knows.
//!
//! Each batch is one `INSERT ... ON CONFLICT (primary key) DO NOTHING`, so a run
//! interrupted anywhere can run again: rows it copied before are left alone, the
//! rest are added, and no other conflict is silenced. Kiln's tables have UUID
//! or text keys, so no sequence needs to move, but [`advance_sequences`] moves
//! any serial column's sequence past the copied ids should one ever appear.

use futures::future::BoxFuture;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IntoActiveModel, Iterable,
    PaginatorTrait, PrimaryKeyToColumn, QueryOrder, Statement, TryInsertResult,
};

use crate::cli::admin::progress::Progress;
use crate::domain::jobs::JobStatus;
use crate::entities::{
    api_tokens, email_verifications, file_shares, file_variants, files, oauth_accounts,
    password_resets, processing_jobs, revoked_tokens, sessions, users, webhook_deliveries,
    webhooks,
};

/// A table's rows, as copied.
#[derive(Debug)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    /// Rows this run added; the others were there from an earlier run.
    pub inserted: u64,
}

/// A Kiln table and how its rows are copied and counted.
pub struct Table {
    pub name: &'static str,
    copy: for<'a> fn(&'a RowCopy<'a>) -> BoxFuture<'a, Result<TableReport, DbErr>>,
    count: for<'a> fn(&'a DatabaseConnection) -> BoxFuture<'a, Result<u64, DbErr>>,
}

/// Every Kiln table, each after the tables its foreign keys point at.
pub fn tables() -> [Table; 13] {
    [
        table::<users::Entity>(),
        table::<sessions::Entity>(),
        table::<oauth_accounts::Entity>(),
        table::<api_tokens::Entity>(),
        table::<revoked_tokens::Entity>(),
        table::<files::Entity>(),
        table::<file_variants::Entity>(),
        table::<file_shares::Entity>(),
        table::<processing_jobs::Entity>(),
        table::<password_resets::Entity>(),
        table::<email_verifications::Entity>(),
        table::<webhooks::Entity>(),
        table::<webhook_deliveries::Entity>(),
    ]
}

/// Kiln tables deliberately left behind: `transforms` is a cache, which the new
/// deployment refills on demand (its objects stay behind too); `uploads` are
/// resumable uploads in progress, whose bytes wait in a form only the source's
/// backend continues: their clients find them gone (404) and start again, and
/// the accounts' usage is counted again without their reservations.
pub const NOT_COPIED: [&str; 2] = ["transforms", "uploads"];

/// How a table's rows change on the way; most arrive exactly as they were.
pub trait CopiedTable: EntityTrait {
    fn adjust(model: Self::Model) -> Self::Model {
        model
    }
}

impl CopiedTable for users::Entity {}
impl CopiedTable for sessions::Entity {}
impl CopiedTable for oauth_accounts::Entity {}
impl CopiedTable for api_tokens::Entity {}
impl CopiedTable for revoked_tokens::Entity {}
impl CopiedTable for files::Entity {}
impl CopiedTable for file_variants::Entity {}
impl CopiedTable for file_shares::Entity {}
impl CopiedTable for password_resets::Entity {}
impl CopiedTable for email_verifications::Entity {}
impl CopiedTable for webhooks::Entity {}

/// A delivery the stopped source was sending arrives due, with no lease: it
/// goes out again (receivers dedupe on its id).
impl CopiedTable for webhook_deliveries::Entity {
    fn adjust(mut delivery: webhook_deliveries::Model) -> webhook_deliveries::Model {
        delivery.leased_until = None;
        delivery
    }
}

/// A job the stopped source was running arrives queued, with no lease: its
/// worker is gone for good. The source check lets only expired leases through,
/// so the job was last touched more than `JOB_TIMEOUT` ago and the new
/// deployment's reconciler publishes it on its first pass, like any queued job
/// untouched for `REQUEUE_AFTER`. The attempt it was on still counts.
impl CopiedTable for processing_jobs::Entity {
    fn adjust(mut job: processing_jobs::Model) -> processing_jobs::Model {
        if job.status == JobStatus::Running.as_str() {
            job.status = JobStatus::Queued.as_str().to_string();
            job.lease_expires_at = None;
            job.leased_by = None;
        }
        job
    }
}

fn table<E: CopiedTable>() -> Table
where
    E::Model: IntoActiveModel<E::ActiveModel> + Sync,
    E::ActiveModel: Send,
{
    Table {
        name: E::default().table_name(),
        copy: copy_table::<E>,
        count: count_rows::<E>,
    }
}

/// The two databases and the batch size.
pub struct RowCopy<'a> {
    pub source: &'a DatabaseConnection,
    pub target: &'a DatabaseConnection,
    pub batch_size: u64,
}

impl RowCopy<'_> {
    /// Copies every table, then checks each holds as many rows as its source.
    pub async fn all(&self) -> anyhow::Result<Vec<TableReport>> {
        let mut reports = Vec::new();
        for table in tables() {
            let report = (table.copy)(self).await?;
            let in_target = (table.count)(self.target).await?;
            if in_target != report.rows {
                anyhow::bail!(
                    "table {}: {} rows in the source but {in_target} in the target",
                    table.name,
                    report.rows
                );
            }
            reports.push(report);
        }
        Ok(reports)
    }
}

fn copy_table<'a, E: CopiedTable>(
    copy: &'a RowCopy<'a>,
) -> BoxFuture<'a, Result<TableReport, DbErr>>
where
    E::Model: IntoActiveModel<E::ActiveModel> + Sync,
    E::ActiveModel: Send,
{
    Box::pin(async move {
        let name = E::default().table_name();
        let total = E::find().count(copy.source).await?;
        let mut progress = Progress::start(name, Some(total));
        // A stable order, so the offset pages neither skip nor repeat rows.
        let mut select = E::find();
        for key in E::PrimaryKey::iter() {
            select = select.order_by_asc(key.into_column());
        }
        let mut pages = select.paginate(copy.source, copy.batch_size);
        let (mut rows, mut inserted) = (0, 0);
        while let Some(batch) = pages.fetch_and_next().await? {
            let read = batch.len() as u64;
            let models = batch
                .into_iter()
                .map(E::adjust)
                .map(IntoActiveModel::into_active_model);
            inserted += match E::insert_many(models)
                .on_conflict_do_nothing()
                .exec_without_returning(copy.target)
                .await?
            {
                TryInsertResult::Inserted(count) => count,
                TryInsertResult::Conflicted | TryInsertResult::Empty => 0,
            };
            rows += read;
            progress.advance(read);
        }
        progress.finish();
        Ok(TableReport {
            table: name,
            rows,
            inserted,
        })
    })
}

fn count_rows<E: EntityTrait>(db: &DatabaseConnection) -> BoxFuture<'_, Result<u64, DbErr>>
where
    E::Model: Sync,
{
    Box::pin(E::find().count(db))
}

/// Rows already in Kiln's tables of `db`, all tables together.
pub async fn count_all(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut total = 0;
    for table in tables() {
        total += (table.count)(db).await?;
    }
    Ok(total)
}

/// Refuses a source whose schema this binary cannot copy whole: migrations
/// still pending (its rows would not fit the entities), or a table no entry of
/// [`tables`] copies and [`NOT_COPIED`] does not name (it would be silently
/// left behind).
pub async fn check_source_schema(source: &DatabaseConnection) -> anyhow::Result<()> {
    let pending = Migrator::get_pending_migrations(source).await?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the source database has {} pending migrations (is DATA_DIR right?); \
             run `kiln migrate up` on it first",
            pending.len()
        );
    }
    let known: Vec<&str> = tables().iter().map(|table| table.name).collect();
    let rows = source
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'",
        ))
        .await?;
    let mut unknown = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        if !known.contains(&name.as_str()) && !NOT_COPIED.contains(&name.as_str()) {
            unknown.push(name);
        }
    }
    if !unknown.is_empty() {
        anyhow::bail!(
            "the source database has tables this kiln does not copy: {}",
            unknown.join(", ")
        );
    }
    Ok(())
}

/// Moves the sequence of every serial column in `target` past the largest
/// copied value, so the next generated id does not collide; returns how many
/// sequences it set.
pub async fn advance_sequences(target: &DatabaseConnection) -> Result<usize, DbErr> {
    let serials = target
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                    pg_get_serial_sequence(quote_ident(table_name), column_name) AS sequence \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() \
               AND pg_get_serial_sequence(quote_ident(table_name), column_name) IS NOT NULL",
        ))
        .await?;
    for serial in &serials {
        let table: String = serial.try_get("", "table_name")?;
        let column: String = serial.try_get("", "column_name")?;
        let sequence: String = serial.try_get("", "sequence")?;
        target
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT setval($1::regclass, COALESCE(MAX({}), 0) + 1, false) FROM {}",
                    quote(&column),
                    quote(&table)
                ),
                [sequence.into()],
            ))
            .await?;
    }
    Ok(serials.len())
}

/// A PostgreSQL identifier in double quotes.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    #[tokio::test]
    async fn every_table_of_the_schema_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("kiln.db").display());
        let db = sea_orm::Database::connect(url).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        check_source_schema(&db)
            .await
            .expect("tables() names every table the migrations make");
        assert_eq!(count_all(&db).await.unwrap(), 0);
    }

    #[test]
    fn a_running_job_arrives_queued_without_its_lease_and_others_as_they_were() {
        let now = Utc::now();
        let job = |status: &str| processing_jobs::Model {
            id: Uuid::new_v4(),
            file_id: Uuid::new_v4(),
            processor: "thumbnail".into(),
            variant: "thumbnail".into(),
            options: json!({}),
            status: status.into(),
            attempts: 1,
            error: None,
            run_after: now,
            lease_expires_at: Some(now),
            leased_by: Some("worker-1".into()),
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
        };
        let moved = processing_jobs::Entity::adjust(job("running"));
        assert_eq!(moved.status, "queued");
        assert_eq!((moved.lease_expires_at, moved.leased_by), (None, None));
        assert_eq!(moved.attempts, 1, "the attempt still counts");
        let retrying = job("retrying");
        assert_eq!(processing_jobs::Entity::adjust(retrying.clone()), retrying);
    }
}
