//! Catalog handlers for the operator's command line (`kiln user`, `kiln files
//! purge`, `kiln storage verify`): listing and disabling accounts, walking
//! every file with what was made from it, and putting back a variant whose
//! object was lost.
//!
//! They sit apart from the request handlers because no HTTP request reaches
//! them: they read across all users, in pages, for a person at a terminal.

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tracing::info_span;
use uuid::Uuid;

use super::file_handlers::{refresh_file_status, run_again};
use super::messages::{Handoff, ListUsers, RemakeVariant, ScanFiles, SetUserDisabled};
use super::records::{FileDetails, Job, User, Variant};
use super::{Catalog, CatalogError, begin_write};
use crate::domain::jobs::JobStatus;
use crate::entities::{file_variants, files, processing_jobs, users};

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
            Ok(users::Entity::find()
                .filter(users::Column::Email.eq(msg.email))
                .one(&db)
                .await?
                .map(User::from))
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
