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
use crate::actors::catalog::queries::refresh_file_status;
use crate::actors::catalog::transforms::CachedTransform;
use crate::actors::catalog::{Catalog, CatalogError, Job, User, Variant, begin_write};
use crate::domain::jobs::JobStatus;
use crate::entities::{file_variants, files, processing_jobs, transforms, users};

impl Handler<ListUsers> for Catalog {
    type Result = ResponseFuture<Result<Vec<User>, CatalogError>>;

    fn handle(&mut self, msg: ListUsers, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_users", request_id = %msg.request_id);
        self.run("list_users", span, |db| async move {
            let users = users::Entity::find()
                .order_by_asc(users::Column::CreatedAt)
                .order_by_asc(users::Column::Id)
                .all(&db)
                .await?;
            Ok(users.into_iter().map(User::from).collect())
        })
    }
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
                .all(&db)
                .await?;
            let ids: Vec<Uuid> = page.iter().map(|file| file.id).collect();
            let mut variants = file_variants::Entity::find()
                .filter(file_variants::Column::FileId.is_in(ids.clone()))
                .order_by_asc(file_variants::Column::Name)
                .all(&db)
                .await?;
            let mut jobs = processing_jobs::Entity::find()
                .filter(processing_jobs::Column::FileId.is_in(ids))
                .order_by_asc(processing_jobs::Column::CreatedAt)
                .order_by_asc(processing_jobs::Column::Id)
                .all(&db)
                .await?;
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
            file_variants::Entity::delete_many()
                .filter(file_variants::Column::FileId.eq(msg.file_id))
                .filter(file_variants::Column::Name.eq(msg.name))
                .exec(&txn)
                .await?;
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
