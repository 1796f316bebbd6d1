//! Handlers of the jobs a user asks for: adding one to a file, finding one,
//! retrying a dead one.

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, UpdateMany,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::{AddJob, FindJob, Handoff, JobScope, RetryDeadJob};
use crate::actors::catalog::queries::{lock_file_row, owned_file, refresh_file_status};
use crate::actors::catalog::{Catalog, CatalogError, Job, begin_write};
use crate::domain::jobs::JobStatus;
use crate::entities::{files, processing_jobs};
use crate::processing::JobSpec;

/// The row of a new job of `file_id`, queued and due now.
pub(in crate::actors::catalog) fn job_row(
    file_id: Uuid,
    job: JobSpec,
    now: chrono::DateTime<Utc>,
) -> processing_jobs::ActiveModel {
    processing_jobs::ActiveModel {
        id: Set(Uuid::now_v7()),
        file_id: Set(file_id),
        processor: Set(job.processor),
        variant: Set(job.variant),
        options: Set(job.options),
        status: Set(JobStatus::Queued.as_str().into()),
        attempts: Set(0),
        error: Set(None),
        run_after: Set(now),
        lease_expires_at: Set(None),
        leased_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
    }
}

impl Handler<AddJob> for Catalog {
    type Result = ResponseFuture<Result<Option<Job>, CatalogError>>;

    fn handle(&mut self, msg: AddJob, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.add_job", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("add_job", span, |db| async move {
            let txn = begin_write(&db).await?;
            if owned_file(&txn, msg.user_id, msg.file_id).await?.is_none() {
                return Ok(None);
            }
            // Before the job row, whose insert holds a key-share lock on the file.
            lock_file_row(&txn, msg.file_id).await?;
            let job = job_row(msg.file_id, msg.job, Utc::now())
                .insert(&txn)
                .await?;
            refresh_file_status(&txn, msg.file_id).await?;
            txn.commit().await?;
            Ok(Some(job.into()))
        })
    }
}

/// The UPDATE that runs a finished job again with fresh attempts, due now, in
/// the status `handoff` asks for; the caller adds which statuses it may leave.
pub(in crate::actors::catalog) fn run_again(
    job_id: Uuid,
    handoff: Handoff,
) -> UpdateMany<processing_jobs::Entity> {
    let now = Utc::now();
    let status = match handoff {
        Handoff::Announced => JobStatus::Queued,
        Handoff::ByReconciler => JobStatus::Retrying,
    };
    processing_jobs::Entity::update_many()
        .col_expr(
            processing_jobs::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(processing_jobs::Column::Attempts, Expr::value(0))
        .col_expr(
            processing_jobs::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .col_expr(processing_jobs::Column::RunAfter, Expr::value(now))
        .col_expr(
            processing_jobs::Column::FinishedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(processing_jobs::Column::UpdatedAt, Expr::value(now))
        .filter(processing_jobs::Column::Id.eq(job_id))
}

/// The user's job, found through its file so another user's id answers `None`.
async fn owned_job<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    job_id: Uuid,
) -> Result<Option<processing_jobs::Model>, CatalogError> {
    let Some((job, Some(_))) = processing_jobs::Entity::find_by_id(job_id)
        .find_also_related(files::Entity)
        .filter(files::Column::UserId.eq(user_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(job))
}

impl Handler<FindJob> for Catalog {
    type Result = ResponseFuture<Result<Option<Job>, CatalogError>>;

    fn handle(&mut self, msg: FindJob, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.find_job", request_id = %msg.request_id, job_id = %msg.job_id);
        self.run("find_job", span, |db| async move {
            Ok(owned_job(&db, msg.user_id, msg.job_id)
                .await?
                .map(Job::from))
        })
    }
}

impl Handler<RetryDeadJob> for Catalog {
    type Result = ResponseFuture<Result<Option<Job>, CatalogError>>;

    fn handle(&mut self, msg: RetryDeadJob, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.retry_dead_job", request_id = %msg.request_id, job_id = %msg.job_id);
        self.run("retry_dead_job", span, |db| async move {
            let txn = begin_write(&db).await?;
            let job = match msg.scope {
                JobScope::OwnedBy(user_id) => owned_job(&txn, user_id, msg.job_id).await?,
                JobScope::AnyUser => {
                    processing_jobs::Entity::find_by_id(msg.job_id)
                        .one(&txn)
                        .await?
                }
            };
            let Some(job) = job else {
                return Ok(None);
            };
            let revived = run_again(job.id, msg.handoff)
                .filter(processing_jobs::Column::Status.eq(JobStatus::Dead.as_str()))
                .exec(&txn)
                .await?;
            if revived.rows_affected == 0 {
                return Err(CatalogError::JobNotDead(
                    JobStatus::parse(&job.status).unwrap_or(JobStatus::Dead),
                ));
            }
            refresh_file_status(&txn, job.file_id).await?;
            let job = processing_jobs::Entity::find_by_id(job.id)
                .one(&txn)
                .await?;
            txn.commit().await?;
            Ok(job.map(Job::from))
        })
    }
}
