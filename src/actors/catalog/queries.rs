//! Queries that handlers of several aggregates run inside their own
//! transactions: locking an account's or a file's row, finding a user's own file,
//! and recomputing a file's status from its jobs. Written once here so every
//! aggregate locks in the same way and order.
//!
//! Row locks matter on PostgreSQL; SQLite's write transactions are serial
//! already (see `begin_write`).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, SqlErr,
};
use uuid::Uuid;

use super::CatalogError;
use crate::domain::jobs::{FileStatus, JobStatus};
use crate::entities::{files, processing_jobs, users};

/// Whether the statement failed on a unique index (a row someone else made first).
pub(super) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Locks the account's row for the rest of the transaction and returns it.
pub(super) async fn lock_user<C: ConnectionTrait>(
    db: &C,
    condition: Condition,
) -> Result<Option<users::Model>, DbErr> {
    users::Entity::find()
        .filter(condition)
        .lock_exclusive()
        .one(db)
        .await
}

/// The user's file, or `None` when it does not exist or is someone else's.
pub(super) async fn owned_file<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    file_id: Uuid,
) -> Result<Option<files::Model>, CatalogError> {
    Ok(files::Entity::find_by_id(file_id)
        .filter(files::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// Locks the file's row until the transaction ends. A transaction that will
/// change the file's rows takes this first: two that took weaker locks first (a
/// variant insert holds a key-share lock on its file) and then this one would
/// deadlock.
pub(super) async fn lock_file_row<C: ConnectionTrait>(
    db: &C,
    file_id: Uuid,
) -> Result<(), CatalogError> {
    files::Entity::find_by_id(file_id)
        .select_only()
        .column(files::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    Ok(())
}

/// Recomputes a file's status from its jobs and stores it.
pub(super) async fn refresh_file_status<C: ConnectionTrait>(
    db: &C,
    file_id: Uuid,
) -> Result<FileStatus, CatalogError> {
    // Two jobs of one file finishing at once must not each read the other as
    // still running: the file's row lock orders them.
    lock_file_row(db, file_id).await?;
    let statuses: Vec<String> = processing_jobs::Entity::find()
        .select_only()
        .column(processing_jobs::Column::Status)
        .filter(processing_jobs::Column::FileId.eq(file_id))
        .into_tuple()
        .all(db)
        .await?;
    let status = FileStatus::from_jobs(statuses.iter().filter_map(|s| JobStatus::parse(s)));
    files::Entity::update_many()
        .col_expr(files::Column::Status, Expr::value(status.as_str()))
        .col_expr(files::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(files::Column::Id.eq(file_id))
        .exec(db)
        .await?;
    Ok(status)
}
