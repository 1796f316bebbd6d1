//! Catalog handlers for what an account changes about itself in settings (its
//! name, its password) and for administration: the failed jobs of every user,
//! and who is an administrator.
//!
//! A password change ends every earlier sign-in in the same transaction that
//! stores the new hash, as a reset does (`link_handlers`): a browser or token
//! that knew the old password must not outlive it by a single request.

use std::collections::HashMap;

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::info_span;
use uuid::Uuid;

use super::messages::{ChangePassword, ListFailedJobs, RenameUser, SetUserRole};
use super::records::{FailedJob, FailedJobsPage, Job, User};
use super::{Catalog, CatalogError, begin_write};
use crate::domain::jobs::JobStatus;
use crate::entities::{files, password_resets, processing_jobs, sessions, users};

impl Handler<RenameUser> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: RenameUser, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.rename_user", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("rename_user", span, |db| async move {
            users::Entity::update_many()
                .col_expr(users::Column::Name, Expr::value(msg.name))
                .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(users::Column::Id.eq(msg.user_id))
                .exec(&db)
                .await?;
            Ok(users::Entity::find_by_id(msg.user_id)
                .one(&db)
                .await?
                .map(User::from))
        })
    }
}

impl Handler<ChangePassword> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: ChangePassword, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.change_password", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("change_password", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            let still_current = match msg.replaces {
                Some(hash) => users::Column::PasswordHash.eq(hash),
                None => users::Column::PasswordHash.is_null(),
            };
            let changed = users::Entity::update_many()
                .col_expr(users::Column::PasswordHash, Expr::value(msg.password_hash))
                .col_expr(
                    users::Column::TokenGeneration,
                    Expr::col(users::Column::TokenGeneration).add(1),
                )
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(msg.user_id))
                .filter(still_current)
                .exec(&txn)
                .await?;
            if changed.rows_affected == 0 {
                // Gone, or its password changed since the caller checked it;
                // the transaction rolls back when dropped.
                return Ok(false);
            }
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(msg.user_id))
                .exec(&txn)
                .await?;
            // A reset link asked for before the change would undo it.
            password_resets::Entity::update_many()
                .col_expr(password_resets::Column::UsedAt, Expr::value(now))
                .filter(password_resets::Column::UserId.eq(msg.user_id))
                .filter(password_resets::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(true)
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
            Ok(users::Entity::find()
                .filter(users::Column::Email.eq(msg.email))
                .one(&db)
                .await?
                .map(User::from))
        })
    }
}
