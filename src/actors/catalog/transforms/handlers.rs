//! Handlers of the transforms aggregate.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Alias, Expr, Func, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::CachedTransform;
use crate::actors::catalog::File;
use crate::actors::catalog::{Catalog, CatalogError, begin_write};
use crate::entities::{files, transforms};

/// How old a transform's `last_used_at` may grow before a hit writes it again:
/// eviction needs the order of use only roughly, and a popular transform must
/// not cost a write on every request.
const TOUCH_AFTER: TimeDelta = TimeDelta::seconds(60);

/// Rows an eviction reads, and deletes, at a time, least recently used first.
const EVICTION_PAGE: u64 = 256;

impl Handler<FindTransform> for Catalog {
    type Result = ResponseFuture<Result<Option<CachedTransform>, CatalogError>>;

    fn handle(&mut self, msg: FindTransform, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_transform", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("find_transform", span, |db| async move {
            let Some(cached) = cached_transform(&db, msg.file_id, &msg.spec_hash).await? else {
                return Ok(None);
            };
            let now = Utc::now();
            if cached.last_used_at < now - TOUCH_AFTER {
                transforms::Entity::update_many()
                    .col_expr(transforms::Column::LastUsedAt, Expr::value(now))
                    .filter(transforms::Column::Id.eq(cached.id))
                    .exec(&db)
                    .await?;
            }
            Ok(Some(cached.into()))
        })
    }
}

impl Handler<RecordTransform> for Catalog {
    type Result = ResponseFuture<Result<Option<CachedTransform>, CatalogError>>;

    fn handle(&mut self, msg: RecordTransform, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.record_transform", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("record_transform", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            // The file's row stays until the commit (a key-share lock on
            // PostgreSQL; SQLite's write transactions are serial already), so
            // the row below never names a file deleted meanwhile.
            let file = files::Entity::find_by_id(msg.file_id)
                .select_only()
                .column(files::Column::Id)
                .lock(LockType::KeyShare)
                .into_tuple::<Uuid>()
                .one(&txn)
                .await?;
            if file.is_none() {
                return Ok(None);
            }
            let row = transforms::ActiveModel {
                id: Set(Uuid::now_v7()),
                file_id: Set(msg.file_id),
                spec_hash: Set(msg.spec_hash.clone()),
                storage_key: Set(msg.storage_key),
                content_type: Set(msg.content_type),
                size_bytes: Set(i64::try_from(msg.size_bytes).unwrap_or(i64::MAX)),
                width: Set(i32::try_from(msg.width).unwrap_or(i32::MAX)),
                height: Set(i32::try_from(msg.height).unwrap_or(i32::MAX)),
                sha256: Set(msg.sha256),
                created_at: Set(now),
                last_used_at: Set(now),
            };
            // Another process may have recorded the same transform first: its
            // row stays as it is, and is the reply.
            transforms::Entity::insert(row)
                .on_conflict_do_nothing_on([
                    transforms::Column::FileId,
                    transforms::Column::SpecHash,
                ])
                .exec_without_returning(&txn)
                .await?;
            let cached = cached_transform(&txn, msg.file_id, &msg.spec_hash).await?;
            txn.commit().await?;
            Ok(cached.map(CachedTransform::from))
        })
    }
}

impl Handler<EvictTransforms> for Catalog {
    type Result = ResponseFuture<Result<Vec<String>, CatalogError>>;

    fn handle(&mut self, msg: EvictTransforms, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.evict_transforms", request_id = %msg.request_id, budget_bytes = msg.budget_bytes);
        self.run("evict_transforms", span, |db| async move {
            if cache_size(&db).await? <= msg.budget_bytes {
                return Ok(Vec::new());
            }
            let txn = begin_write(&db).await?;
            // Measured again: another eviction may have run since.
            let mut excess = cache_size(&txn).await?.saturating_sub(msg.budget_bytes);
            let mut keys = Vec::new();
            let mut after: Option<(DateTime<Utc>, Uuid)> = None;
            while excess > 0 {
                let mut oldest = transforms::Entity::find()
                    .select_only()
                    .columns([
                        transforms::Column::Id,
                        transforms::Column::LastUsedAt,
                        transforms::Column::SizeBytes,
                    ])
                    .order_by_asc(transforms::Column::LastUsedAt)
                    .order_by_asc(transforms::Column::Id)
                    .limit(EVICTION_PAGE);
                if let Some((last_used_at, id)) = after {
                    oldest = oldest.filter(
                        Condition::any()
                            .add(transforms::Column::LastUsedAt.gt(last_used_at))
                            .add(
                                Condition::all()
                                    .add(transforms::Column::LastUsedAt.eq(last_used_at))
                                    .add(transforms::Column::Id.gt(id)),
                            ),
                    );
                }
                let page: Vec<(Uuid, DateTime<Utc>, i64)> = oldest.into_tuple().all(&txn).await?;
                let Some(&(id, last_used_at, _)) = page.last() else {
                    break;
                };
                after = Some((last_used_at, id));
                let mut evicted = Vec::new();
                for (id, _, size_bytes) in page {
                    if excess == 0 {
                        break;
                    }
                    evicted.push(id);
                    excess = excess.saturating_sub(u64::try_from(size_bytes).unwrap_or(0));
                }
                // A row a concurrent eviction deleted first is not returned
                // (its keys are that eviction's), and still counts as gone.
                let deleted = transforms::Entity::delete_many()
                    .filter(transforms::Column::Id.is_in(evicted))
                    .exec_with_returning(&txn)
                    .await?;
                keys.extend(deleted.into_iter().map(|row| row.storage_key));
            }
            txn.commit().await?;
            Ok(keys)
        })
    }
}

impl Handler<TransformCacheSize> for Catalog {
    type Result = ResponseFuture<Result<u64, CatalogError>>;

    fn handle(&mut self, msg: TransformCacheSize, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.transform_cache_size", request_id = %msg.request_id);
        self.run("transform_cache_size", span, |db| async move {
            cache_size(&db).await
        })
    }
}

/// The row of `file_id`'s transform by the spec hashing to `spec_hash`.
async fn cached_transform<C: ConnectionTrait>(
    db: &C,
    file_id: Uuid,
    spec_hash: &str,
) -> Result<Option<transforms::Model>, CatalogError> {
    Ok(transforms::Entity::find()
        .filter(transforms::Column::FileId.eq(file_id))
        .filter(transforms::Column::SpecHash.eq(spec_hash))
        .one(db)
        .await?)
}

/// The bytes every cached transform takes together, in one query.
async fn cache_size<C: ConnectionTrait>(db: &C) -> Result<u64, CatalogError> {
    // PostgreSQL sums a BIGINT column as NUMERIC, and an empty table to NULL.
    let total = Func::cast_as(
        Func::coalesce([
            Func::sum(Expr::col(transforms::Column::SizeBytes)).into(),
            Expr::val(0i64),
        ]),
        Alias::new("BIGINT"),
    );
    let total: Option<i64> = transforms::Entity::find()
        .select_only()
        .expr(total)
        .into_tuple()
        .one(db)
        .await?;
    Ok(total.map_or(0, |total| u64::try_from(total).unwrap_or(0)))
}

impl Handler<FindTransformSource> for Catalog {
    type Result = ResponseFuture<Result<Option<File>, CatalogError>>;

    fn handle(&mut self, msg: FindTransformSource, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_transform_source", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("find_transform_source", span, |db| async move {
            let mut find = files::Entity::find_by_id(msg.file_id);
            if let Some(owner) = msg.owner {
                find = find.filter(files::Column::UserId.eq(owner));
            }
            Ok(find.one(&db).await?.map(File::from))
        })
    }
}
