//! Handlers of the admin aggregate.

use std::collections::HashMap;

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::{FailedJob, FailedJobsPage};
use crate::actors::catalog::files::FileDetails;
use crate::actors::catalog::jobs::{Handoff, run_again};
use crate::actors::catalog::queries::{
    give_back_usage, lock_file_row, lock_owner, lock_user, orphaned, refresh_file_status, usage_in,
};
use crate::actors::catalog::transforms::CachedTransform;
use crate::actors::catalog::{
    Catalog, CatalogError, Job, User, Variant, begin_snapshot, begin_write,
};
use crate::domain::jobs::JobStatus;
use crate::domain::quota::Usage;
use crate::entities::{file_variants, files, processing_jobs, transforms, uploads, users};

impl Handler<ListUsers> for Catalog {
    type Result = ResponseFuture<Result<Vec<(User, Usage)>, CatalogError>>;

    fn handle(&mut self, msg: ListUsers, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_users", request_id = %msg.request_id);
        let quotas = self.quotas;
        self.run("list_users", span, move |db| async move {
            let users = users::Entity::find()
                .order_by_asc(users::Column::CreatedAt)
                .order_by_asc(users::Column::Id)
                .all(&db)
                .await?;
            Ok(users
                .into_iter()
                .map(|user| {
                    let usage = usage_in(&user, quotas);
                    (User::from(user), usage)
                })
                .collect())
        })
    }
}

impl Handler<SetQuota> for Catalog {
    type Result = ResponseFuture<Result<Option<(User, Usage)>, CatalogError>>;

    fn handle(&mut self, msg: SetQuota, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.set_quota", request_id = %msg.request_id, unlimited = msg.unlimited);
        let quotas = self.quotas;
        self.run("set_quota", span, move |db| async move {
            let mut update = users::Entity::update_many()
                .col_expr(users::Column::QuotaUnlimited, Expr::value(msg.unlimited))
                .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(users::Column::Email.eq(msg.email.clone()));
            for (column, limit) in [
                (users::Column::QuotaBytes, msg.bytes),
                (users::Column::QuotaFiles, msg.files),
            ] {
                let own = match limit {
                    _ if msg.unlimited => None,
                    QuotaLimit::Keep => continue,
                    QuotaLimit::Default => None,
                    QuotaLimit::Own(limit) => Some(i64::try_from(limit).unwrap_or(i64::MAX)),
                };
                update = update.col_expr(column, Expr::value(own));
            }
            update.exec(&db).await?;
            let row = users::Entity::find()
                .filter(users::Column::Email.eq(msg.email))
                .one(&db)
                .await?;
            Ok(row.map(|user| {
                let usage = usage_in(&user, quotas);
                (User::from(user), usage)
            }))
        })
    }
}

impl Handler<RecountUsage> for Catalog {
    type Result = ResponseFuture<Result<Vec<UsageDrift>, CatalogError>>;

    fn handle(&mut self, msg: RecountUsage, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.recount_usage", request_id = %msg.request_id, fix = msg.fix);
        self.run("recount_usage", span, move |db| async move {
            let mut drifts = Vec::new();
            let ids: Vec<Uuid> = users::Entity::find()
                .select_only()
                .column(users::Column::Id)
                .order_by_asc(users::Column::Id)
                .into_tuple()
                .all(&db)
                .await?;
            for user_id in ids {
                // One account at a time, its row locked while it is counted,
                // so no upload or delete of its files lands in between.
                let txn = begin_write(&db).await?;
                let Some(user) =
                    lock_user(&txn, Condition::all().add(users::Column::Id.eq(user_id))).await?
                else {
                    continue;
                };
                let counted = count_usage(&txn, user_id).await?;
                let recorded = (user.used_bytes, user.used_files);
                if counted == recorded {
                    continue;
                }
                if msg.fix {
                    users::Entity::update_many()
                        .col_expr(users::Column::UsedBytes, Expr::value(counted.0))
                        .col_expr(users::Column::UsedFiles, Expr::value(counted.1))
                        .filter(users::Column::Id.eq(user_id))
                        .exec(&txn)
                        .await?;
                    txn.commit().await?;
                }
                drifts.push(UsageDrift {
                    email: user.email,
                    recorded,
                    counted,
                });
            }
            Ok(drifts)
        })
    }
}

/// (bytes, files) of the account's originals and variants, as their rows say
/// (an object several rows name, a deduplicated file's, counts once), and of
/// its resumable uploads in progress.
async fn count_usage<C: sea_orm::ConnectionTrait>(
    db: &C,
    user_id: Uuid,
) -> Result<(i64, i64), sea_orm::DbErr> {
    let originals: Vec<(String, i64)> = files::Entity::find()
        .select_only()
        .column(files::Column::StorageKey)
        .column(files::Column::SizeBytes)
        .filter(files::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    let files = i64::try_from(originals.len()).unwrap_or(i64::MAX);
    let variants: Vec<(String, i64)> = file_variants::Entity::find()
        .select_only()
        .column(file_variants::Column::StorageKey)
        .column(file_variants::Column::SizeBytes)
        .inner_join(files::Entity)
        .filter(files::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    let objects: HashMap<String, i64> = originals.into_iter().chain(variants).collect();
    // Resumable uploads in progress hold their length and a file.
    let reserved: Vec<i64> = uploads::Entity::find()
        .select_only()
        .column(uploads::Column::Length)
        .filter(uploads::Column::UserId.eq(user_id))
        .filter(uploads::Column::FileId.is_null())
        .into_tuple()
        .all(db)
        .await?;
    let reserved_files = i64::try_from(reserved.len()).unwrap_or(i64::MAX);
    Ok((
        objects.values().sum::<i64>() + reserved.iter().sum::<i64>(),
        files + reserved_files,
    ))
}

impl Handler<SetUserDisabled> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: SetUserDisabled, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.set_user_disabled", request_id = %msg.request_id, disabled = msg.disabled);
        self.run("set_user_disabled", span, |db| async move {
            let now = Utc::now();
            let (disabled_at, unless) = match msg.disabled {
                true => (Some(now), users::Column::DisabledAt.is_null()),
                false => (None, users::Column::DisabledAt.is_not_null()),
            };
            users::Entity::update_many()
                .col_expr(users::Column::DisabledAt, Expr::value(disabled_at))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Email.eq(msg.email.clone()))
                .filter(unless)
                .exec(&db)
                .await?;
            Ok(account_at(&db, msg.email).await?)
        })
    }
}

/// The account at `email`, as an operator's change left it.
async fn account_at(
    db: &sea_orm::DatabaseConnection,
    email: String,
) -> Result<Option<User>, sea_orm::DbErr> {
    let row = users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(db)
        .await?;
    Ok(row.map(User::from))
}

impl Handler<SetUserRole> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: SetUserRole, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.set_user_role", request_id = %msg.request_id, is_admin = msg.is_admin);
        self.run("set_user_role", span, |db| async move {
            users::Entity::update_many()
                .col_expr(users::Column::IsAdmin, Expr::value(msg.is_admin))
                .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(users::Column::Email.eq(msg.email.clone()))
                .exec(&db)
                .await?;
            Ok(account_at(&db, msg.email).await?)
        })
    }
}

/// The statuses of jobs that failed: dead, or retrying after a failure.
const FAILED: [JobStatus; 2] = [JobStatus::Dead, JobStatus::Retrying];

impl Handler<ListFailedJobs> for Catalog {
    type Result = ResponseFuture<Result<FailedJobsPage, CatalogError>>;

    fn handle(&mut self, msg: ListFailedJobs, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_failed_jobs", request_id = %msg.request_id);
        self.run("list_failed_jobs", span, |db| async move {
            let statuses: Vec<&str> = match msg.status {
                Some(status) => vec![status.as_str()],
                None => FAILED.iter().map(|s| s.as_str()).collect(),
            };
            let rows = processing_jobs::Entity::find()
                .find_also_related(files::Entity)
                .filter(processing_jobs::Column::Status.is_in(statuses))
                .order_by_desc(processing_jobs::Column::UpdatedAt)
                .order_by_desc(processing_jobs::Column::Id)
                .offset(msg.offset)
                .limit(msg.limit)
                .all(&db)
                .await?;
            let mut owner_ids: Vec<Uuid> = rows
                .iter()
                .filter_map(|(_, file)| file.as_ref().map(|f| f.user_id))
                .collect();
            owner_ids.sort_unstable();
            owner_ids.dedup();
            let owners: HashMap<Uuid, String> = users::Entity::find()
                .select_only()
                .columns([users::Column::Id, users::Column::Email])
                .filter(users::Column::Id.is_in(owner_ids))
                .into_tuple::<(Uuid, String)>()
                .all(&db)
                .await?
                .into_iter()
                .collect();
            let jobs = rows
                .into_iter()
                // A job always has its file (the foreign key cascades).
                .filter_map(|(job, file)| file.map(|file| (job, file)))
                .map(|(job, file)| FailedJob {
                    filename: file.filename,
                    owner_email: owners.get(&file.user_id).cloned().unwrap_or_default(),
                    owner_id: file.user_id,
                    updated_at: job.updated_at,
                    run_after: job.run_after,
                    job: Job::from(job),
                })
                .collect();
            let counts: Vec<(String, i64)> = processing_jobs::Entity::find()
                .select_only()
                .column(processing_jobs::Column::Status)
                .column_as(processing_jobs::Column::Id.count(), "jobs")
                .filter(processing_jobs::Column::Status.is_in(FAILED.iter().map(|s| s.as_str())))
                .group_by(processing_jobs::Column::Status)
                .into_tuple()
                .all(&db)
                .await?;
            let count_of = |status: JobStatus| {
                counts
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
            };
            Ok(FailedJobsPage {
                jobs,
                dead: count_of(JobStatus::Dead),
                retrying: count_of(JobStatus::Retrying),
            })
        })
    }
}

impl Handler<ScanFiles> for Catalog {
    type Result = ResponseFuture<Result<Vec<FileDetails>, CatalogError>>;

    fn handle(&mut self, msg: ScanFiles, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.scan_files", request_id = %msg.request_id);
        self.run("scan_files", span, |db| async move {
            let txn = begin_snapshot(&db).await?;
            let mut query = files::Entity::find();
            if let Some(before) = msg.created_before {
                query = query.filter(files::Column::CreatedAt.lt(before));
            }
            if let Some(owner) = msg.owner {
                query = query.filter(files::Column::UserId.eq(owner));
            }
            if let Some(after) = msg.after {
                query = query.filter(
                    Condition::any()
                        .add(files::Column::CreatedAt.gt(after.created_at))
                        .add(
                            Condition::all()
                                .add(files::Column::CreatedAt.eq(after.created_at))
                                .add(files::Column::Id.gt(after.id)),
                        ),
                );
            }
            let page = query
                .order_by_asc(files::Column::CreatedAt)
                .order_by_asc(files::Column::Id)
                .limit(msg.limit)
                .all(&txn)
                .await?;
            let ids: Vec<Uuid> = page.iter().map(|file| file.id).collect();
            let mut variants = file_variants::Entity::find()
                .filter(file_variants::Column::FileId.is_in(ids.clone()))
                .order_by_asc(file_variants::Column::Name)
                .all(&txn)
                .await?;
            let mut jobs = processing_jobs::Entity::find()
                .filter(processing_jobs::Column::FileId.is_in(ids))
                .order_by_asc(processing_jobs::Column::CreatedAt)
                .order_by_asc(processing_jobs::Column::Id)
                .all(&txn)
                .await?;
            txn.commit().await?;
            Ok(page
                .into_iter()
                .map(|file| FileDetails {
                    variants: variants
                        .extract_if(.., |v| v.file_id == file.id)
                        .map(Variant::from)
                        .collect(),
                    jobs: jobs
                        .extract_if(.., |j| j.file_id == file.id)
                        .map(Job::from)
                        .collect(),
                    file: file.into(),
                })
                .collect())
        })
    }
}

impl Handler<ScanTransforms> for Catalog {
    type Result = ResponseFuture<Result<Vec<CachedTransform>, CatalogError>>;

    fn handle(&mut self, msg: ScanTransforms, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.scan_transforms", request_id = %msg.request_id);
        self.run("scan_transforms", span, |db| async move {
            let mut query = transforms::Entity::find();
            if let Some(after) = msg.after {
                query = query.filter(transforms::Column::Id.gt(after));
            }
            let page = query
                .order_by_asc(transforms::Column::Id)
                .limit(msg.limit)
                .all(&db)
                .await?;
            Ok(page.into_iter().map(CachedTransform::from).collect())
        })
    }
}

impl Handler<RemakeVariant> for Catalog {
    type Result = ResponseFuture<Result<Vec<Uuid>, CatalogError>>;

    fn handle(&mut self, msg: RemakeVariant, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.remake_variant", request_id = %msg.request_id, file_id = %msg.file_id, variant = %msg.name);
        self.run("remake_variant", span, |db| async move {
            let txn = begin_write(&db).await?;
            lock_file_row(&txn, msg.file_id).await?;
            let lost = file_variants::Entity::find()
                .find_also_related(files::Entity)
                .filter(file_variants::Column::FileId.eq(msg.file_id))
                .filter(file_variants::Column::Name.eq(msg.name.clone()))
                .one(&txn)
                .await?;
            if let Some((variant, Some(file))) = lost {
                lock_owner(&txn, file.user_id).await?;
                file_variants::Entity::delete_by_id(variant.id)
                    .exec(&txn)
                    .await?;
                // The job made again takes its bytes anew; an object another
                // file still names stays counted.
                let named = [(variant.storage_key, variant.size_bytes)];
                let (_, freed) = orphaned(&txn, &named, None).await?;
                give_back_usage(&txn, file.user_id, freed, 0).await?;
            }
            // A job still queued or running makes the variant anyway.
            let finished = [JobStatus::Succeeded, JobStatus::Dead].map(|s| s.as_str());
            let mut again = Vec::with_capacity(msg.job_ids.len());
            for job_id in msg.job_ids {
                let updated = run_again(job_id, Handoff::ByReconciler)
                    .filter(processing_jobs::Column::FileId.eq(msg.file_id))
                    .filter(processing_jobs::Column::Status.is_in(finished))
                    .exec(&txn)
                    .await?;
                if updated.rows_affected > 0 {
                    again.push(job_id);
                }
            }
            refresh_file_status(&txn, msg.file_id).await?;
            txn.commit().await?;
            Ok(again)
        })
    }
}
