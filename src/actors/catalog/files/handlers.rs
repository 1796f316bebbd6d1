//! Handlers of the files aggregate.

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::{FileCounts, FileDetails, VariantOfFile};
use super::shared::{TakenOver, keys_of, record_taken_over, same_bytes, take_over};
use crate::actors::catalog::jobs::job_row;
use crate::actors::catalog::queries::{
    give_back_usage, lock_file_row, lock_jobs_of_file, lock_owner, orphaned, owned_file,
    take_usage, usage_of,
};
use crate::actors::catalog::{
    Catalog, CatalogError, File, Job, Variant, begin_snapshot, begin_write,
};
use crate::domain::jobs::FileStatus;
use crate::entities::{file_variants, files, processing_jobs, transforms, uploads};

impl Handler<RecordUpload> for Catalog {
    type Result = ResponseFuture<Result<(File, Vec<Job>), CatalogError>>;

    fn handle(&mut self, msg: RecordUpload, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.record_upload", request_id = %msg.request_id, file_id = %msg.file.id);
        let quotas = self.quotas;
        self.run("record_upload", span, |db| async move {
            let now = Utc::now();
            let new = msg.file;
            let txn = begin_write(&db).await?;
            // The owner's row first: their deletes wait, so a file found with
            // the same bytes keeps its objects until this commits.
            lock_owner(&txn, new.user_id).await?;
            let from_upload = match msg.from_upload {
                Some(id) => Some(hand_over_reservation(&txn, id).await?),
                None => None,
            };
            let source = same_bytes(&txn, new.user_id, &new.sha256, new.size_bytes).await?;
            // A deduplicated file stores no new bytes.
            let stored_bytes = if source.is_some() { 0 } else { new.size_bytes };
            if !take_usage(&txn, new.user_id, stored_bytes, 1, quotas).await? {
                let usage = usage_of(&txn, new.user_id, quotas)
                    .await?
                    .unwrap_or_default();
                return Err(CatalogError::QuotaExceeded(usage));
            }
            let taken_over = match &source {
                Some(source) => take_over(&txn, source, new.id, msg.jobs, now).await?,
                None => TakenOver {
                    succeeded: Vec::new(),
                    to_run: msg.jobs,
                },
            };
            let status = match taken_over.to_run.is_empty() {
                true => FileStatus::Ready,
                false => FileStatus::Processing,
            };
            let learnt = |own: Option<i32>, of_source: fn(&files::Model) -> Option<i32>| {
                own.or_else(|| source.as_ref().and_then(of_source))
            };
            let file = files::ActiveModel {
                id: Set(new.id),
                user_id: Set(new.user_id),
                filename: Set(new.filename),
                content_type: Set(new.content_type),
                extension: Set(new.extension),
                size_bytes: Set(new.size_bytes),
                sha256: Set(new.sha256),
                storage_key: Set(source
                    .as_ref()
                    .map_or(new.storage_key, |source| source.storage_key.clone())),
                status: Set(status.as_str().into()),
                width: Set(learnt(new.width, |source| source.width)),
                height: Set(learnt(new.height, |source| source.height)),
                page_count: Set(learnt(None, |source| source.page_count)),
                thumbhash: Set(source.as_ref().and_then(|source| source.thumbhash.clone())),
                created_at: Set(now),
                updated_at: Set(now),
                deduplicated: Set(source.is_some()),
                purge_started_at: Set(None),
            }
            .insert(&txn)
            .await?;
            if let Some(upload) = from_upload {
                uploads::Entity::update_many()
                    .col_expr(uploads::Column::FileId, Expr::value(file.id))
                    .filter(uploads::Column::Id.eq(upload))
                    .exec(&txn)
                    .await?;
            }
            let mut jobs = record_taken_over(&txn, taken_over.succeeded).await?;
            for job in taken_over.to_run {
                jobs.push(Job::from(job_row(file.id, job, now).insert(&txn).await?));
            }
            txn.commit().await?;
            Ok((file.into(), jobs))
        })
    }
}

/// Gives back what the resumable upload `id` reserved, for the file made of
/// it to take what it stores; replies with its id.
async fn hand_over_reservation<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Uuid, CatalogError> {
    let upload = uploads::Entity::find_by_id(id)
        .filter(uploads::Column::FileId.is_null())
        .one(db)
        .await?
        .ok_or(CatalogError::UploadGone)?;
    give_back_usage(db, upload.user_id, upload.length, 1).await?;
    Ok(upload.id)
}

impl Handler<ListFiles> for Catalog {
    type Result = ResponseFuture<Result<Vec<File>, CatalogError>>;

    fn handle(&mut self, msg: ListFiles, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.list_files", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("list_files", span, |db| async move {
            let mut query = files::Entity::find().filter(files::Column::UserId.eq(msg.user_id));
            if let Some(status) = msg.status {
                query = query.filter(files::Column::Status.eq(status.as_str()));
            }
            if let Some(needle) = msg.name_contains.as_deref() {
                query = query.filter(filename_contains(needle));
            }
            if let Some(after) = msg.after {
                query = query.filter(
                    Condition::any()
                        .add(files::Column::CreatedAt.lt(after.created_at))
                        .add(
                            Condition::all()
                                .add(files::Column::CreatedAt.eq(after.created_at))
                                .add(files::Column::Id.lt(after.id)),
                        ),
                );
            }
            let rows = query
                .order_by_desc(files::Column::CreatedAt)
                .order_by_desc(files::Column::Id)
                .offset((msg.offset > 0).then_some(msg.offset))
                .limit(msg.limit + 1)
                .all(&db)
                .await?;
            Ok(rows.into_iter().map(File::from).collect())
        })
    }
}

/// The LIKE pattern that finds `needle` anywhere in a name, its wildcards and
/// the escape character escaped (with `\`), lower-cased to compare with
/// `LOWER(filename)`.
fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Condition: the file's name contains `needle`, ignoring case. `LOWER` and
/// `LIKE ... ESCAPE` mean the same on SQLite and PostgreSQL (SQLite folds only
/// ASCII letters).
fn filename_contains(needle: &str) -> Expr {
    let filename = Expr::col((files::Entity, files::Column::Filename));
    Expr::expr(Func::lower(filename)).like(LikeExpr::new(contains_pattern(needle)).escape('\\'))
}

impl Handler<CountFiles> for Catalog {
    type Result = ResponseFuture<Result<FileCounts, CatalogError>>;

    fn handle(&mut self, msg: CountFiles, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.count_files", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("count_files", span, |db| async move {
            let mut query = files::Entity::find()
                .select_only()
                .column(files::Column::Status)
                .column_as(files::Column::Id.count(), "count")
                .filter(files::Column::UserId.eq(msg.user_id))
                .group_by(files::Column::Status);
            if let Some(needle) = msg.name_contains.as_deref() {
                query = query.filter(filename_contains(needle));
            }
            let rows: Vec<(String, i64)> = query.into_tuple().all(&db).await?;
            let mut counts = FileCounts::default();
            for (status, count) in rows {
                let count = u64::try_from(count).unwrap_or(0);
                match FileStatus::parse(&status) {
                    Some(FileStatus::Processing) => counts.processing += count,
                    Some(FileStatus::Ready) => counts.ready += count,
                    // Only the Catalog writes the column; see `File::from`.
                    Some(FileStatus::Failed) | None => counts.failed += count,
                }
            }
            Ok(counts)
        })
    }
}

impl Handler<ListVariantNames> for Catalog {
    type Result = ResponseFuture<Result<Vec<(Uuid, String)>, CatalogError>>;

    fn handle(&mut self, msg: ListVariantNames, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_variant_names", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("list_variant_names", span, |db| async move {
            if msg.file_ids.is_empty() || msg.names.is_empty() {
                return Ok(Vec::new());
            }
            Ok(file_variants::Entity::find()
                .select_only()
                .column(file_variants::Column::FileId)
                .column(file_variants::Column::Name)
                .inner_join(files::Entity)
                .filter(files::Column::UserId.eq(msg.user_id))
                .filter(file_variants::Column::FileId.is_in(msg.file_ids))
                .filter(file_variants::Column::Name.is_in(msg.names))
                .into_tuple()
                .all(&db)
                .await?)
        })
    }
}

impl Handler<FindFile> for Catalog {
    type Result = ResponseFuture<Result<Option<FileDetails>, CatalogError>>;

    fn handle(&mut self, msg: FindFile, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.find_file", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("find_file", span, |db| async move {
            // One snapshot: a job that ends commits its status, its variant
            // and the file's status together, and the answer shows all or none.
            let txn = begin_snapshot(&db).await?;
            let Some(file) = owned_file(&txn, msg.user_id, msg.file_id).await? else {
                return Ok(None);
            };
            let variants = file_variants::Entity::find()
                .filter(file_variants::Column::FileId.eq(file.id))
                .order_by_asc(file_variants::Column::Name)
                .all(&txn)
                .await?;
            let jobs = processing_jobs::Entity::find()
                .filter(processing_jobs::Column::FileId.eq(file.id))
                .order_by_asc(processing_jobs::Column::CreatedAt)
                .order_by_asc(processing_jobs::Column::Id)
                .all(&txn)
                .await?;
            txn.commit().await?;
            Ok(Some(FileDetails {
                file: file.into(),
                variants: variants.into_iter().map(Variant::from).collect(),
                jobs: jobs.into_iter().map(Job::from).collect(),
            }))
        })
    }
}

impl Handler<DeleteFile> for Catalog {
    type Result = ResponseFuture<Result<Option<Vec<String>>, CatalogError>>;

    fn handle(&mut self, msg: DeleteFile, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.delete_file", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("delete_file", span, |db| async move {
            let txn = begin_write(&db).await?;
            let Some(file) = owned_file(&txn, msg.user_id, msg.file_id).await? else {
                return Ok(None);
            };
            // Nothing adds a row naming an object to the file from here on
            // (a transform being recorded waits), so every key is read below;
            // and with the owner's row, no other delete or deduplicating
            // upload of theirs runs until this commits. The jobs' rows,
            // which go with the file, are taken first, as a job's own
            // transition takes them (see `lock_jobs_of_file`).
            lock_jobs_of_file(&txn, file.id).await?;
            lock_file_row(&txn, file.id).await?;
            lock_owner(&txn, file.user_id).await?;
            let stored = keys_of(&txn, &file).await?;
            let cached: Vec<String> = transforms::Entity::find()
                .select_only()
                .column(transforms::Column::StorageKey)
                .filter(transforms::Column::FileId.eq(file.id))
                .into_tuple()
                .all(&txn)
                .await?;
            // Variants, jobs and cached transforms go with the file (ON DELETE
            // CASCADE).
            files::Entity::delete_by_id(file.id).exec(&txn).await?;
            // An object another file of the owner's still names stays, and
            // stays counted.
            let (mut keys, freed) = orphaned(&txn, &stored, None).await?;
            give_back_usage(&txn, file.user_id, freed, 1).await?;
            txn.commit().await?;
            keys.extend(cached);
            Ok(Some(keys))
        })
    }
}

impl Handler<BeginPurge> for Catalog {
    type Result = ResponseFuture<Result<Option<Vec<String>>, CatalogError>>;

    fn handle(&mut self, msg: BeginPurge, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.begin_purge", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("begin_purge", span, |db| async move {
            let txn = begin_write(&db).await?;
            let Some(file) = files::Entity::find_by_id(msg.file_id).one(&txn).await? else {
                return Ok(None);
            };
            lock_file_row(&txn, file.id).await?;
            lock_owner(&txn, file.user_id).await?;
            files::Entity::update_many()
                .col_expr(files::Column::PurgeStartedAt, Expr::value(Utc::now()))
                .filter(files::Column::Id.eq(file.id))
                .exec(&txn)
                .await?;
            let stored = keys_of(&txn, &file).await?;
            let (own, _) = orphaned(&txn, &stored, Some(file.id)).await?;
            txn.commit().await?;
            Ok(Some(own))
        })
    }
}

impl Handler<FindUnnamed> for Catalog {
    type Result = ResponseFuture<Result<Vec<String>, CatalogError>>;

    fn handle(&mut self, msg: FindUnnamed, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_unnamed", request_id = %msg.request_id);
        self.run("find_unnamed", span, |db| async move {
            // Sizes play no part here.
            let keys: Vec<(String, i64)> = msg.keys.into_iter().map(|key| (key, 0)).collect();
            Ok(orphaned(&db, &keys, None).await?.0)
        })
    }
}

impl Handler<FindVariant> for Catalog {
    type Result = ResponseFuture<Result<Option<VariantOfFile>, CatalogError>>;

    fn handle(&mut self, msg: FindVariant, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_variant", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("find_variant", span, |db| async move {
            let Some(file) = owned_file(&db, msg.user_id, msg.file_id).await? else {
                return Ok(None);
            };
            Ok(file_variants::Entity::find()
                .filter(file_variants::Column::FileId.eq(msg.file_id))
                .filter(file_variants::Column::Name.eq(msg.name))
                .one(&db)
                .await?
                .map(|variant| VariantOfFile {
                    filename: file.filename,
                    variant: variant.into(),
                }))
        })
    }
}

impl Handler<FindWatermarkImage> for Catalog {
    type Result = ResponseFuture<Result<Option<File>, CatalogError>>;

    fn handle(&mut self, msg: FindWatermarkImage, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_watermark_image", request_id = %msg.request_id, file_id = %msg.file_id);
        self.run("find_watermark_image", span, |db| async move {
            Ok(owned_file(&db, msg.user_id, msg.file_id)
                .await?
                .map(File::from))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn a_name_search_matches_wildcards_literally_and_ignores_case() {
        assert_eq!(contains_pattern("Cat"), "%cat%");
        assert_eq!(contains_pattern("100%_off\\"), "%100\\%\\_off\\\\%");
    }
}
