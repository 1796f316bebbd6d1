//! Handlers of the shares aggregate.

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::{Share, SharedFile};
use crate::actors::catalog::queries::owned_file;
use crate::actors::catalog::{Catalog, CatalogError, Variant, begin_snapshot};
use crate::entities::{file_shares, file_variants, files};

impl Handler<RecordShare> for Catalog {
    type Result = ResponseFuture<Result<Option<Share>, CatalogError>>;

    fn handle(&mut self, msg: RecordShare, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.record_share", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("record_share", span, |db| async move {
            if owned_file(&db, msg.user_id, msg.file_id).await?.is_none() {
                return Ok(None);
            }
            let names = msg
                .names
                .map(|names| serde_json::Value::from(names).to_string());
            let share = file_shares::ActiveModel {
                id: Set(Uuid::now_v7()),
                file_id: Set(msg.file_id),
                token_hash: Set(msg.token_hash),
                variants: Set(names),
                expires_at: Set(msg.expires_at),
                created_at: Set(Utc::now()),
            }
            .insert(&db)
            .await?;
            Ok(Some(share.into()))
        })
    }
}

impl Handler<ListShares> for Catalog {
    type Result = ResponseFuture<Result<Option<Vec<Share>>, CatalogError>>;

    fn handle(&mut self, msg: ListShares, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.list_shares", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("list_shares", span, |db| async move {
            if owned_file(&db, msg.user_id, msg.file_id).await?.is_none() {
                return Ok(None);
            }
            let shares = file_shares::Entity::find()
                .filter(file_shares::Column::FileId.eq(msg.file_id))
                .filter(file_shares::Column::ExpiresAt.gt(Utc::now()))
                .order_by_desc(file_shares::Column::CreatedAt)
                .order_by_desc(file_shares::Column::Id)
                .all(&db)
                .await?;
            Ok(Some(shares.into_iter().map(Share::from).collect()))
        })
    }
}

impl Handler<DeleteShare> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: DeleteShare, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.delete_share", request_id = %msg.request_id, share_id = %msg.share_id);
        self.run("delete_share", span, |db| async move {
            let Some(share) = file_shares::Entity::find_by_id(msg.share_id)
                .one(&db)
                .await?
            else {
                return Ok(false);
            };
            if owned_file(&db, msg.user_id, share.file_id).await?.is_none() {
                return Ok(false);
            }
            let deleted = file_shares::Entity::delete_by_id(share.id)
                .exec(&db)
                .await?;
            Ok(deleted.rows_affected > 0)
        })
    }
}

impl Handler<FindShare> for Catalog {
    type Result = ResponseFuture<Result<Option<SharedFile>, CatalogError>>;

    fn handle(&mut self, msg: FindShare, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_share", request_id = %msg.request_id);
        self.run("find_share", span, |db| async move {
            // The file and its variants as of one moment (see `begin_snapshot`).
            let txn = begin_snapshot(&db).await?;
            let found = file_shares::Entity::find()
                .filter(file_shares::Column::TokenHash.eq(msg.token_hash))
                .filter(file_shares::Column::ExpiresAt.gt(Utc::now()))
                .find_also_related(files::Entity)
                .one(&txn)
                .await?;
            let Some((share, Some(file))) = found else {
                return Ok(None);
            };
            let share = Share::from(share);
            let variants = file_variants::Entity::find()
                .filter(file_variants::Column::FileId.eq(file.id))
                .order_by_asc(file_variants::Column::Name)
                .all(&txn)
                .await?
                .into_iter()
                .map(Variant::from)
                .filter(|variant| share.opens(&variant.name))
                .collect();
            txn.commit().await?;
            Ok(Some(SharedFile {
                share,
                file: file.into(),
                variants,
            }))
        })
    }
}
