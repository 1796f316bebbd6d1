//! Queries that handlers of several aggregates run inside their own
//! transactions: locking an account's or a file's row, finding a user's own file,
//! recomputing a file's status from its jobs, taking or giving back an
//! account's usage, and finding the objects no row names any more (rows share
//! objects when a file is deduplicated). Written once here so every aggregate locks in the same way
//! and order.
//!
//! Usage is taken with one conditional update of the account's row, so two
//! transactions can never both pass the last free bytes: the second waits on
//! the row and re-checks the condition against the first's total. A
//! transaction that also locks a file's row locks it first.
//!
//! Row locks matter on PostgreSQL; SQLite's write transactions are serial
//! already (see `begin_write`).

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, SqlErr,
    UpdateMany,
};
use uuid::Uuid;

use super::CatalogError;
use crate::domain::jobs::{FileStatus, JobStatus};
use crate::domain::quota::{OwnQuota, QuotaDefaults, Usage};
use crate::entities::{file_variants, files, processing_jobs, users};

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

/// Locks the row of the account `user_id` until the transaction ends: what
/// every transaction that adds or removes rows naming a user's objects takes,
/// after the file's row where it takes one (see `lock_file_row`).
pub(super) async fn lock_owner<C: ConnectionTrait>(db: &C, user_id: Uuid) -> Result<(), DbErr> {
    lock_user(db, Condition::all().add(users::Column::Id.eq(user_id))).await?;
    Ok(())
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

/// Locks the rows of the file's jobs until the transaction ends: what a
/// transaction that deletes the file (and with it, by cascade, these rows)
/// takes before the file's row. A job's own transitions change its row first
/// and lock the file's row after (`refresh_file_status`), so a delete that
/// locked the file first and then reached a job row would deadlock with them.
pub(super) async fn lock_jobs_of_file<C: ConnectionTrait>(
    db: &C,
    file_id: Uuid,
) -> Result<(), CatalogError> {
    processing_jobs::Entity::find()
        .select_only()
        .column(processing_jobs::Column::Id)
        .filter(processing_jobs::Column::FileId.eq(file_id))
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(db)
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

/// The account's usage against the limits that hold for it, or `None` when
/// the account does not exist.
pub(super) async fn usage_of<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    defaults: QuotaDefaults,
) -> Result<Option<Usage>, DbErr> {
    Ok(users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|user| usage_in(&user, defaults)))
}

/// The usage an account's row records.
pub(super) fn usage_in(user: &users::Model, defaults: QuotaDefaults) -> Usage {
    let own = OwnQuota {
        bytes: user.quota_bytes.and_then(|q| u64::try_from(q).ok()),
        files: user.quota_files.and_then(|q| u64::try_from(q).ok()),
        unlimited: user.quota_unlimited,
    };
    Usage::new(user.used_bytes, user.used_files, defaults.limits_for(own))
}

/// Adds `bytes` and `files` to the account's usage if the result stays within
/// its limits; `false` (nothing changed) when it would not. Within a
/// transaction, the account's row stays locked until it ends.
pub(super) async fn take_usage<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    bytes: i64,
    files: i64,
    defaults: QuotaDefaults,
) -> Result<bool, DbErr> {
    // used + added <= COALESCE(own limit, default), unless there is no limit.
    let within = |used: users::Column, own: users::Column, default: Option<u64>, added: i64| {
        let default = default.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let limit = SimpleExpr::from(Func::coalesce([Expr::col(own), Expr::val(default)]));
        Condition::any()
            .add(Expr::col(users::Column::QuotaUnlimited).eq(true))
            .add(limit.clone().is_null())
            .add(Expr::col(used).add(added).lte(limit))
    };
    let taken = usage_change(user_id, bytes, files)
        .filter(within(
            users::Column::UsedBytes,
            users::Column::QuotaBytes,
            defaults.bytes,
            bytes,
        ))
        .filter(within(
            users::Column::UsedFiles,
            users::Column::QuotaFiles,
            defaults.files,
            files,
        ))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Subtracts `bytes` and `files` from the account's usage: what a deleted file
/// or variant stored.
pub(super) async fn give_back_usage<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    bytes: i64,
    files: i64,
) -> Result<(), DbErr> {
    usage_change(user_id, -bytes, -files).exec(db).await?;
    Ok(())
}

/// The update that adds `bytes` and `files` to the account's usage.
fn usage_change(user_id: Uuid, bytes: i64, files: i64) -> UpdateMany<users::Entity> {
    users::Entity::update_many()
        .col_expr(
            users::Column::UsedBytes,
            Expr::col(users::Column::UsedBytes).add(bytes),
        )
        .col_expr(
            users::Column::UsedFiles,
            Expr::col(users::Column::UsedFiles).add(files),
        )
        .filter(users::Column::Id.eq(user_id))
}

/// Of `keys` (with their sizes), those no file or variant row names, apart
/// from the rows of `apart_from`: the objects to delete, and the bytes they
/// free. A key listed twice counts once.
pub(super) async fn orphaned<C: ConnectionTrait>(
    db: &C,
    keys: &[(String, i64)],
    apart_from: Option<Uuid>,
) -> Result<(Vec<String>, i64), CatalogError> {
    let wanted: Vec<String> = keys.iter().map(|(key, _)| key.clone()).collect();
    let mut originals = files::Entity::find()
        .select_only()
        .column(files::Column::StorageKey)
        .filter(files::Column::StorageKey.is_in(wanted.clone()));
    let mut variants = file_variants::Entity::find()
        .select_only()
        .column(file_variants::Column::StorageKey)
        .filter(file_variants::Column::StorageKey.is_in(wanted));
    if let Some(file_id) = apart_from {
        originals = originals.filter(files::Column::Id.ne(file_id));
        variants = variants.filter(file_variants::Column::FileId.ne(file_id));
    }
    let named: HashSet<String> = originals
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .chain(variants.into_tuple::<String>().all(db).await?)
        .collect();
    let mut seen = HashSet::new();
    let mut freed = 0;
    let mut orphans = Vec::new();
    for (key, size) in keys {
        if named.contains(key) || !seen.insert(key.clone()) {
            continue;
        }
        freed += size;
        orphans.push(key.clone());
    }
    Ok((orphans, freed))
}
