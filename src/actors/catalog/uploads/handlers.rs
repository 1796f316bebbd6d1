//! Handlers of the uploads aggregate.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use tracing::info_span;

use super::messages::*;
use super::records::{Claim, Upload};
use crate::actors::catalog::queries::{give_back_usage, take_usage, usage_of};
use crate::actors::catalog::{Catalog, CatalogError, begin_write};
use crate::actors::storage::uploads::UploadState;
use crate::entities::uploads;

/// `now + lease`, saturating.
fn until(lease: std::time::Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

/// What an unfinished upload holds of its owner's quota: its length, and one file.
fn reservation(upload: &uploads::Model) -> (i64, i64) {
    match upload.file_id {
        Some(_) => (0, 0),
        None => (upload.length, 1),
    }
}

impl Handler<CreateUpload> for Catalog {
    type Result = ResponseFuture<Result<Upload, CatalogError>>;

    fn handle(&mut self, msg: CreateUpload, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.create_upload", request_id = %msg.request_id, upload_id = %msg.id);
        let quotas = self.quotas;
        self.run("create_upload", span, move |db| async move {
            let now = Utc::now();
            let length = i64::try_from(msg.length).unwrap_or(i64::MAX);
            let txn = begin_write(&db).await?;
            if !take_usage(&txn, msg.user_id, length, 1, quotas).await? {
                let usage = usage_of(&txn, msg.user_id, quotas)
                    .await?
                    .unwrap_or_default();
                return Err(CatalogError::QuotaExceeded(usage));
            }
            let row = uploads::ActiveModel {
                id: Set(msg.id),
                user_id: Set(msg.user_id),
                length: Set(length),
                received_bytes: Set(0),
                filename: Set(msg.metadata.filename),
                processors: Set(msg.metadata.processors),
                options: Set(msg.metadata.options),
                multipart_id: Set(None),
                parts: Set("[]".into()),
                parts_bytes: Set(0),
                claimed_until: Set(None),
                file_id: Set(None),
                expires_at: Set(msg.expires_at),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            txn.commit().await?;
            Ok(row.into())
        })
    }
}

impl Handler<FindUpload> for Catalog {
    type Result = ResponseFuture<Result<Option<Upload>, CatalogError>>;

    fn handle(&mut self, msg: FindUpload, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.find_upload", request_id = %msg.request_id, upload_id = %msg.id);
        self.run("find_upload", span, move |db| async move {
            Ok(uploads::Entity::find_by_id(msg.id)
                .filter(uploads::Column::UserId.eq(msg.user_id))
                .filter(uploads::Column::ExpiresAt.gt(Utc::now()))
                .one(&db)
                .await?
                .map(Upload::from))
        })
    }
}

impl Handler<ClaimUpload> for Catalog {
    type Result = ResponseFuture<Result<Option<Claim>, CatalogError>>;

    fn handle(&mut self, msg: ClaimUpload, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.claim_upload", request_id = %msg.request_id, upload_id = %msg.id);
        self.run("claim_upload", span, move |db| async move {
            let now = Utc::now();
            let offset = i64::try_from(msg.offset).unwrap_or(i64::MAX);
            let claimed = uploads::Entity::update_many()
                .col_expr(uploads::Column::ClaimedUntil, Expr::value(until(msg.lease)))
                .filter(uploads::Column::Id.eq(msg.id))
                .filter(uploads::Column::UserId.eq(msg.user_id))
                .filter(uploads::Column::FileId.is_null())
                .filter(uploads::Column::ExpiresAt.gt(now))
                .filter(uploads::Column::ReceivedBytes.eq(offset))
                .filter(unclaimed(now))
                .exec(&db)
                .await?;
            let Some(upload) = uploads::Entity::find_by_id(msg.id)
                .filter(uploads::Column::UserId.eq(msg.user_id))
                .filter(uploads::Column::ExpiresAt.gt(now))
                .one(&db)
                .await?
            else {
                return Ok(None);
            };
            Ok(Some(match () {
                _ if claimed.rows_affected == 1 => Claim::Claimed(Box::new(upload.into())),
                _ if upload.file_id.is_some() => Claim::Finished,
                _ if upload.received_bytes != offset => Claim::OffsetMismatch {
                    received: u64::try_from(upload.received_bytes).unwrap_or(0),
                },
                _ => Claim::Busy,
            }))
        })
    }
}

impl Handler<RenewUploadClaim> for Catalog {
    type Result = ResponseFuture<Result<(), CatalogError>>;

    fn handle(&mut self, msg: RenewUploadClaim, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.renew_upload_claim", upload_id = %msg.id);
        self.run("renew_upload_claim", span, move |db| async move {
            uploads::Entity::update_many()
                .col_expr(uploads::Column::ClaimedUntil, Expr::value(until(msg.lease)))
                .filter(uploads::Column::Id.eq(msg.id))
                .filter(uploads::Column::ClaimedUntil.is_not_null())
                .exec(&db)
                .await?;
            Ok(())
        })
    }
}

impl Handler<RecordChunk> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: RecordChunk, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.record_chunk", request_id = %msg.request_id, upload_id = %msg.id);
        self.run("record_chunk", span, move |db| async move {
            let from = i64::try_from(msg.from).unwrap_or(i64::MAX);
            let mut update = uploads::Entity::update_many()
                .col_expr(uploads::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(uploads::Column::Id.eq(msg.id))
                .filter(uploads::Column::ReceivedBytes.eq(from));
            // The lease ends, unless the upload is now complete: then it holds
            // while the append that completed it makes the file.
            if !msg.state.as_ref().is_some_and(UploadState::is_complete) {
                update = update.col_expr(
                    uploads::Column::ClaimedUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
            }
            if let Some(state) = msg.state {
                let parts = serde_json::to_string(&state.parts).unwrap_or_else(|_| "[]".into());
                update = update
                    .col_expr(
                        uploads::Column::ReceivedBytes,
                        Expr::value(i64::try_from(state.received).unwrap_or(i64::MAX)),
                    )
                    .col_expr(uploads::Column::Parts, Expr::value(parts))
                    .col_expr(
                        uploads::Column::PartsBytes,
                        Expr::value(i64::try_from(state.parts_bytes).unwrap_or(i64::MAX)),
                    )
                    .col_expr(
                        uploads::Column::MultipartId,
                        Expr::value(state.multipart_id),
                    );
            }
            Ok(update.exec(&db).await?.rows_affected == 1)
        })
    }
}

impl Handler<DeleteUpload> for Catalog {
    type Result = ResponseFuture<Result<Option<Upload>, CatalogError>>;

    fn handle(&mut self, msg: DeleteUpload, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.delete_upload", request_id = %msg.request_id, upload_id = %msg.id);
        self.run("delete_upload", span, move |db| async move {
            let txn = begin_write(&db).await?;
            let Some(upload) = uploads::Entity::find_by_id(msg.id)
                .filter(uploads::Column::UserId.eq(msg.user_id))
                .one(&txn)
                .await?
            else {
                return Ok(None);
            };
            forget(&txn, &upload).await?;
            txn.commit().await?;
            Ok(Some(upload.into()))
        })
    }
}

/// Deletes the upload's row and gives back what it reserved.
async fn forget<C: sea_orm::ConnectionTrait>(
    db: &C,
    upload: &uploads::Model,
) -> Result<(), CatalogError> {
    uploads::Entity::delete_by_id(upload.id).exec(db).await?;
    let (bytes, files) = reservation(upload);
    give_back_usage(db, upload.user_id, bytes, files).await?;
    Ok(())
}

impl Handler<FindExpiredUploads> for Catalog {
    type Result = ResponseFuture<Result<Vec<Upload>, CatalogError>>;

    fn handle(&mut self, msg: FindExpiredUploads, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_expired_uploads");
        self.run("find_expired_uploads", span, move |db| async move {
            Ok(uploads::Entity::find()
                .filter(uploads::Column::ExpiresAt.lt(Utc::now()))
                .order_by_asc(uploads::Column::ExpiresAt)
                .limit(msg.limit)
                .all(&db)
                .await?
                .into_iter()
                .map(Upload::from)
                .collect())
        })
    }
}

impl Handler<FindStrandedUploads> for Catalog {
    type Result = ResponseFuture<Result<Vec<Upload>, CatalogError>>;

    fn handle(&mut self, msg: FindStrandedUploads, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_stranded_uploads");
        self.run("find_stranded_uploads", span, move |db| async move {
            let now = Utc::now();
            Ok(uploads::Entity::find()
                .filter(Expr::col(uploads::Column::ReceivedBytes).equals(uploads::Column::Length))
                .filter(uploads::Column::FileId.is_null())
                .filter(uploads::Column::ExpiresAt.gt(now))
                .filter(unclaimed(now))
                .order_by_asc(uploads::Column::UpdatedAt)
                .limit(msg.limit)
                .all(&db)
                .await?
                .into_iter()
                .map(Upload::from)
                .collect())
        })
    }
}

impl Handler<ForgetExpiredUpload> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: ForgetExpiredUpload, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.forget_expired_upload", upload_id = %msg.id);
        self.run("forget_expired_upload", span, move |db| async move {
            let txn = begin_write(&db).await?;
            let Some(upload) = uploads::Entity::find_by_id(msg.id)
                .filter(uploads::Column::ExpiresAt.lt(Utc::now()))
                .one(&txn)
                .await?
            else {
                return Ok(false);
            };
            forget(&txn, &upload).await?;
            txn.commit().await?;
            Ok(true)
        })
    }
}

/// Uploads no append holds: never leased, or their lease has run out.
fn unclaimed(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(uploads::Column::ClaimedUntil.is_null())
        .add(uploads::Column::ClaimedUntil.lt(now))
}
