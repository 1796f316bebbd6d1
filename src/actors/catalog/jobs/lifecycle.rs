//! Catalog handlers for a job's life in the pipeline: claim, complete, fail,
//! finding the jobs the transport must carry again, and measuring the queue.
//!
//! Every transition is one conditional UPDATE on the job's current status (and,
//! for a running job, on the consumer holding its lease), so concurrent workers
//! and reconcilers can race without a job running twice or a result landing
//! for a lease that was lost.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use crate::actors::catalog::queries::{
    give_back_usage, lock_file_row, orphaned, refresh_file_status, take_usage, usage_of,
};
use crate::actors::catalog::{Catalog, CatalogError, File, Job, begin_write, webhooks};
use crate::domain::jobs::{AfterFailure, FileStatus, JobStatus, after_failure};
use crate::domain::quota::QuotaDefaults;
use crate::entities::{file_variants, files, processing_jobs};

/// Condition: the job waits for a retry whose time has come.
fn retry_due(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(processing_jobs::Column::Status.eq(JobStatus::Retrying.as_str()))
        .add(processing_jobs::Column::RunAfter.lte(now))
}

/// Condition: the job was running, but its worker's lease ran out (it died).
fn lease_expired(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(processing_jobs::Column::Status.eq(JobStatus::Running.as_str()))
        .add(processing_jobs::Column::LeaseExpiresAt.lt(now))
}

/// Condition: the job is running under `consumer`'s lease.
fn held_by(job_id: Uuid, consumer: &str) -> Condition {
    Condition::all()
        .add(processing_jobs::Column::Id.eq(job_id))
        .add(processing_jobs::Column::Status.eq(JobStatus::Running.as_str()))
        .add(processing_jobs::Column::LeasedBy.eq(consumer))
}

async fn transition<C: ConnectionTrait>(
    db: &C,
    job_id: Uuid,
) -> Result<Option<Transition>, CatalogError> {
    let Some((job, Some(file))) = processing_jobs::Entity::find_by_id(job_id)
        .find_also_related(files::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let before = FileStatus::parse(&file.status);
    let file_status = refresh_file_status(db, file.id).await?;
    let job = Job::from(job);
    webhooks::outbox::job_transition(db, file.user_id, &job, before, file_status).await?;
    Ok(Some(Transition {
        job,
        user_id: file.user_id,
        file_status,
    }))
}

impl Handler<ClaimJob> for Catalog {
    type Result = ResponseFuture<Result<Claim, CatalogError>>;

    fn handle(&mut self, msg: ClaimJob, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.claim_job", job_id = %msg.job_id, consumer = %msg.consumer);
        self.run("claim_job", span, |db| async move {
            let now = Utc::now();
            let runnable = Condition::any()
                .add(processing_jobs::Column::Status.eq(JobStatus::Queued.as_str()))
                .add(retry_due(now))
                .add(lease_expired(now));
            // A job whose workers died on every attempt would otherwise crash
            // workers forever: past its attempts it is dead instead of claimed.
            let txn = begin_write(&db).await?;
            let exhausted = processing_jobs::Entity::update_many()
                .col_expr(
                    processing_jobs::Column::Status,
                    Expr::value(JobStatus::Dead.as_str()),
                )
                .col_expr(
                    processing_jobs::Column::Error,
                    Expr::value("the job stopped its worker on every attempt (crash or timeout)"),
                )
                .col_expr(
                    processing_jobs::Column::LeaseExpiresAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(processing_jobs::Column::FinishedAt, Expr::value(now))
                .col_expr(processing_jobs::Column::UpdatedAt, Expr::value(now))
                .filter(processing_jobs::Column::Id.eq(msg.job_id))
                .filter(runnable.clone())
                .filter(processing_jobs::Column::Attempts.gte(msg.max_attempts as i32))
                .exec(&txn)
                .await?;
            if exhausted.rows_affected > 0 {
                let dead = transition(&txn, msg.job_id).await?;
                txn.commit().await?;
                return Ok(dead.map_or(Claim::NotRunnable, Claim::Exhausted));
            }
            txn.commit().await?;
            let lease = chrono::Duration::from_std(msg.lease).unwrap_or(chrono::Duration::MAX);
            let claimed = processing_jobs::Entity::update_many()
                .col_expr(
                    processing_jobs::Column::Status,
                    Expr::value(JobStatus::Running.as_str()),
                )
                .col_expr(
                    processing_jobs::Column::Attempts,
                    Expr::col(processing_jobs::Column::Attempts).add(1),
                )
                .col_expr(
                    processing_jobs::Column::LeaseExpiresAt,
                    Expr::value(now + lease),
                )
                .col_expr(
                    processing_jobs::Column::LeasedBy,
                    Expr::value(msg.consumer.clone()),
                )
                .col_expr(processing_jobs::Column::StartedAt, Expr::value(now))
                .col_expr(processing_jobs::Column::UpdatedAt, Expr::value(now))
                .filter(processing_jobs::Column::Id.eq(msg.job_id))
                .filter(runnable)
                .exec(&db)
                .await?;
            if claimed.rows_affected == 0 {
                return Ok(Claim::NotRunnable);
            }
            let Some((job, Some(file))) = processing_jobs::Entity::find_by_id(msg.job_id)
                .find_also_related(files::Entity)
                .one(&db)
                .await?
            else {
                return Ok(Claim::NotRunnable);
            };
            // A job is runnable from `run_after` (its creation, or its retry's
            // backoff); a clock step back makes the wait zero, not negative.
            let queue_wait = (now - job.run_after).to_std().unwrap_or_default();
            Ok(Claim::Claimed(Box::new(ClaimedJob {
                job: Job::from(job),
                file: File::from(file),
                queue_wait,
            })))
        })
    }
}

/// Why a conditional update on a held job matched nothing.
async fn not_held<C: ConnectionTrait>(db: &C, job_id: Uuid) -> Result<Recorded, CatalogError> {
    Ok(
        match processing_jobs::Entity::find_by_id(job_id).one(db).await? {
            Some(_) => Recorded::LeaseLost,
            None => Recorded::JobGone,
        },
    )
}

fn stored(transition: Option<Transition>, released: Vec<String>) -> Recorded {
    transition.map_or(Recorded::JobGone, |transition| Recorded::Stored {
        transition: Box::new(transition),
        released,
    })
}

impl Handler<CompleteJob> for Catalog {
    type Result = ResponseFuture<Result<Recorded, CatalogError>>;

    fn handle(&mut self, msg: CompleteJob, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.complete_job", job_id = %msg.job_id);
        let quotas = self.quotas;
        self.run("complete_job", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            let done = processing_jobs::Entity::update_many()
                .col_expr(
                    processing_jobs::Column::Status,
                    Expr::value(JobStatus::Succeeded.as_str()),
                )
                .col_expr(
                    processing_jobs::Column::Error,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    processing_jobs::Column::LeaseExpiresAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(processing_jobs::Column::FinishedAt, Expr::value(now))
                .col_expr(processing_jobs::Column::UpdatedAt, Expr::value(now))
                .filter(held_by(msg.job_id, &msg.consumer))
                .exec(&txn)
                .await?;
            if done.rows_affected == 0 {
                return not_held(&txn, msg.job_id).await;
            }
            let Some(file_id) = processing_jobs::Entity::find_by_id(msg.job_id)
                .one(&txn)
                .await?
                .map(|job| job.file_id)
            else {
                return Ok(Recorded::JobGone);
            };
            // Before the variant rows: another job of this file may be
            // completing now (see `lock_file_row`).
            lock_file_row(&txn, file_id).await?;
            let released = match take_variants_usage(&txn, file_id, &msg.variants, quotas).await? {
                Ok(released) => released,
                // Dropping the transaction undoes the job's success too.
                Err(refused) => return Ok(refused),
            };
            for variant in msg.variants {
                let row = file_variants::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    file_id: Set(file_id),
                    name: Set(variant.name),
                    storage_key: Set(variant.storage_key),
                    content_type: Set(variant.content_type),
                    size_bytes: Set(variant.size_bytes),
                    width: Set(variant.width),
                    height: Set(variant.height),
                    sha256: Set(Some(variant.sha256)),
                    created_at: Set(now),
                    updated_at: Set(now),
                };
                // A job that runs twice overwrites its variant; it never duplicates.
                file_variants::Entity::insert(row)
                    .on_conflict(
                        OnConflict::columns([
                            file_variants::Column::FileId,
                            file_variants::Column::Name,
                        ])
                        .update_columns([
                            file_variants::Column::StorageKey,
                            file_variants::Column::ContentType,
                            file_variants::Column::SizeBytes,
                            file_variants::Column::Width,
                            file_variants::Column::Height,
                            file_variants::Column::Sha256,
                            file_variants::Column::UpdatedAt,
                        ])
                        .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
            let facts = msg.facts;
            let mut learnt = files::Entity::update_many().filter(files::Column::Id.eq(file_id));
            let mut any = false;
            for (column, value) in [
                (files::Column::Width, facts.width),
                (files::Column::Height, facts.height),
                (files::Column::PageCount, facts.page_count),
            ] {
                if let Some(value) = value {
                    learnt = learnt.col_expr(column, Expr::value(value));
                    any = true;
                }
            }
            if let Some(thumbhash) = facts.thumbhash {
                learnt = learnt.col_expr(files::Column::Thumbhash, Expr::value(thumbhash));
                any = true;
            }
            if any {
                learnt.exec(&txn).await?;
            }
            let transition = transition(&txn, msg.job_id).await?;
            txn.commit().await?;
            Ok(stored(transition, released))
        })
    }
}

/// Takes what the job's variants add to their owner's usage, or gives back
/// what they free. Usage counts objects: a variant whose object another row
/// names already (the same bytes made again) adds nothing, and a variant it
/// replaces frees its object only when no other row names it. Replies with
/// the objects the replaced rows leave unnamed, for the worker to delete; or,
/// when the quota has no room, the refusal, naming the objects the job stored
/// that no row names.
async fn take_variants_usage<C: ConnectionTrait>(
    db: &C,
    file_id: Uuid,
    variants: &[NewVariant],
    quotas: QuotaDefaults,
) -> Result<Result<Vec<String>, Recorded>, CatalogError> {
    let Some(user_id) = files::Entity::find_by_id(file_id)
        .select_only()
        .column(files::Column::UserId)
        .into_tuple::<Uuid>()
        .one(db)
        .await?
    else {
        return Ok(Err(Recorded::JobGone));
    };
    let made: Vec<(String, i64)> = variants
        .iter()
        .map(|variant| (variant.storage_key.clone(), variant.size_bytes))
        .collect();
    let names = variants.iter().map(|variant| variant.name.clone());
    let replaced: Vec<(String, i64)> = file_variants::Entity::find()
        .select_only()
        .column(file_variants::Column::StorageKey)
        .column(file_variants::Column::SizeBytes)
        .filter(file_variants::Column::FileId.eq(file_id))
        .filter(file_variants::Column::Name.is_in(names))
        .into_tuple::<(String, i64)>()
        .all(db)
        .await?
        .into_iter()
        .filter(|(key, _)| !made.iter().any(|(made, _)| made == key))
        .collect();
    let (fresh, added) = orphaned(db, &made, None).await?;
    // Keys hold the variant's name, so no other row of this file names them.
    let (released, freed) = orphaned(db, &replaced, Some(file_id)).await?;
    let change = added - freed;
    if change <= 0 {
        give_back_usage(db, user_id, -change, 0).await?;
        return Ok(Ok(released));
    }
    if take_usage(db, user_id, change, 0, quotas).await? {
        return Ok(Ok(released));
    }
    let usage = usage_of(db, user_id, quotas).await?.unwrap_or_default();
    Ok(Err(Recorded::OverQuota {
        usage,
        unrecorded: fresh,
    }))
}

impl Handler<FailJob> for Catalog {
    type Result = ResponseFuture<Result<Recorded, CatalogError>>;

    fn handle(&mut self, msg: FailJob, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.fail_job", job_id = %msg.job_id);
        self.run("fail_job", span, |db| async move {
            let txn = begin_write(&db).await?;
            let Some(job) = processing_jobs::Entity::find()
                .filter(held_by(msg.job_id, &msg.consumer))
                .one(&txn)
                .await?
            else {
                return not_held(&txn, msg.job_id).await;
            };
            let now = Utc::now();
            let jitter: f64 = rand::random();
            let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
            let (status, run_after, finished_at, counted) =
                match after_failure(attempts, msg.max_retries, msg.failure, jitter) {
                    AfterFailure::Retry { delay, counted } => (
                        JobStatus::Retrying,
                        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                        None,
                        counted,
                    ),
                    AfterFailure::Dead => (JobStatus::Dead, now, Some(now), true),
                };
            // The claim counted this attempt; a deferred one gives it back.
            let attempts_after = match counted {
                true => job.attempts,
                false => job.attempts.saturating_sub(1),
            };
            processing_jobs::Entity::update_many()
                .col_expr(
                    processing_jobs::Column::Status,
                    Expr::value(status.as_str()),
                )
                .col_expr(processing_jobs::Column::Error, Expr::value(msg.error))
                .col_expr(
                    processing_jobs::Column::Attempts,
                    Expr::value(attempts_after),
                )
                .col_expr(processing_jobs::Column::RunAfter, Expr::value(run_after))
                .col_expr(
                    processing_jobs::Column::LeaseExpiresAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    processing_jobs::Column::FinishedAt,
                    Expr::value(finished_at),
                )
                .col_expr(processing_jobs::Column::UpdatedAt, Expr::value(now))
                .filter(held_by(msg.job_id, &msg.consumer))
                .exec(&txn)
                .await?;
            let transition = transition(&txn, msg.job_id).await?;
            txn.commit().await?;
            Ok(stored(transition, Vec::new()))
        })
    }
}

impl Handler<FindDueJobs> for Catalog {
    type Result = ResponseFuture<Result<DueJobs, CatalogError>>;

    fn handle(&mut self, msg: FindDueJobs, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_due_jobs");
        self.run("find_due_jobs", span, |db| async move {
            let now = Utc::now();
            let stale_before =
                now - chrono::Duration::from_std(msg.stale_after).unwrap_or(chrono::Duration::MAX);
            let runnable_again = due_jobs(
                &db,
                Condition::any().add(retry_due(now)).add(lease_expired(now)),
                msg.limit,
            )
            .await?;
            let mut stale = Condition::all()
                .add(processing_jobs::Column::Status.eq(JobStatus::Queued.as_str()))
                .add(processing_jobs::Column::UpdatedAt.lt(stale_before));
            if let Some(from) = msg.stale_from {
                stale = stale.add(
                    Condition::any()
                        .add(processing_jobs::Column::UpdatedAt.gt(from.updated_at))
                        .add(
                            Condition::all()
                                .add(processing_jobs::Column::UpdatedAt.eq(from.updated_at))
                                .add(processing_jobs::Column::Id.gt(from.id)),
                        ),
                );
            }
            let stale = due_jobs(&db, stale, msg.limit).await?;
            Ok(DueJobs {
                runnable_again,
                stale,
            })
        })
    }
}

/// Up to `limit` jobs matching `due`, oldest change first.
async fn due_jobs<C: ConnectionTrait>(
    db: &C,
    due: Condition,
    limit: u64,
) -> Result<Vec<DueJob>, CatalogError> {
    let rows: Vec<(Uuid, String, DateTime<Utc>)> = processing_jobs::Entity::find()
        .select_only()
        .columns([
            processing_jobs::Column::Id,
            processing_jobs::Column::Status,
            processing_jobs::Column::UpdatedAt,
        ])
        .filter(due)
        .order_by_asc(processing_jobs::Column::UpdatedAt)
        .order_by_asc(processing_jobs::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, status, updated_at)| {
            Some(DueJob {
                id,
                status: JobStatus::parse(&status)?,
                updated_at,
            })
        })
        .collect())
}

impl Handler<RequeueJobs> for Catalog {
    type Result = ResponseFuture<Result<Vec<Uuid>, CatalogError>>;

    fn handle(&mut self, msg: RequeueJobs, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.requeue_jobs", jobs = msg.jobs.len());
        self.run("requeue_jobs", span, |db| async move {
            let now = Utc::now();
            let mut taken = Vec::with_capacity(msg.jobs.len());
            for job in msg.jobs {
                // Conditional on what was read. A running job keeps its
                // attempt count: the next claim decides whether it has
                // attempts left.
                let result = processing_jobs::Entity::update_many()
                    .col_expr(
                        processing_jobs::Column::Status,
                        Expr::value(JobStatus::Queued.as_str()),
                    )
                    .col_expr(
                        processing_jobs::Column::LeaseExpiresAt,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(processing_jobs::Column::UpdatedAt, Expr::value(now))
                    .filter(processing_jobs::Column::Id.eq(job.id))
                    .filter(processing_jobs::Column::Status.eq(job.status.as_str()))
                    .filter(processing_jobs::Column::UpdatedAt.eq(job.updated_at))
                    .exec(&db)
                    .await?;
                if result.rows_affected == 1 {
                    taken.push(job.id);
                }
            }
            Ok(taken)
        })
    }
}

impl Handler<MeasureJobs> for Catalog {
    type Result = ResponseFuture<Result<JobCounts, CatalogError>>;

    fn handle(&mut self, _: MeasureJobs, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.measure_jobs");
        self.run("measure_jobs", span, |db| async move {
            let counted: Vec<(String, i64)> = processing_jobs::Entity::find()
                .select_only()
                .column(processing_jobs::Column::Status)
                .column_as(processing_jobs::Column::Id.count(), "jobs")
                .group_by(processing_jobs::Column::Status)
                .into_tuple()
                .all(&db)
                .await?;
            let by_status = counted
                .into_iter()
                .filter_map(|(status, jobs)| Some((JobStatus::parse(&status)?, jobs as u64)))
                .collect();
            let waiting = Condition::any()
                .add(processing_jobs::Column::Status.eq(JobStatus::Queued.as_str()))
                .add(retry_due(Utc::now()));
            let oldest_runnable_since: Option<DateTime<Utc>> = processing_jobs::Entity::find()
                .select_only()
                .column(processing_jobs::Column::RunAfter)
                .filter(waiting)
                .order_by_asc(processing_jobs::Column::RunAfter)
                .limit(1)
                .into_tuple()
                .one(&db)
                .await?;
            Ok(JobCounts {
                by_status,
                oldest_runnable_since,
            })
        })
    }
}
