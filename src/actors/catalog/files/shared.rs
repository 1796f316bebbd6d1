//! Objects a user's files share (deduplication): a file whose bytes its owner
//! already stored names the stored original, and the variants made for it are
//! copied as rows naming the same objects. An object goes with the last row
//! that names it, so every delete asks which of its keys no row names any more
//! (`queries::orphaned`): a reference count kept by the rows themselves.
//!
//! Every transaction here holds the owner's row lock (see `queries`), so a
//! delete and a deduplicating upload of the same user never interleave: one
//! sees the other's rows. Sharing never crosses users.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::actors::catalog::jobs::job_row;
use crate::actors::catalog::{CatalogError, Job};
use crate::domain::jobs::JobStatus;
use crate::entities::{file_variants, files, processing_jobs};
use crate::processing::{self, JobSpec};

/// The user's earliest file with these bytes that no purge is removing.
pub(super) async fn same_bytes<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    sha256: &str,
    size_bytes: i64,
) -> Result<Option<files::Model>, CatalogError> {
    Ok(files::Entity::find()
        .filter(files::Column::UserId.eq(user_id))
        .filter(files::Column::Sha256.eq(sha256))
        .filter(files::Column::SizeBytes.eq(size_bytes))
        .filter(files::Column::PurgeStartedAt.is_null())
        .order_by_asc(files::Column::CreatedAt)
        .order_by_asc(files::Column::Id)
        .one(db)
        .await?)
}

/// What a deduplicated upload takes over from `source`: the jobs it asked for
/// that `source` already ran with the same options, recorded as succeeded
/// with copies of the variant rows they made; and the jobs still to run.
pub(super) struct TakenOver {
    pub succeeded: Vec<(
        processing_jobs::ActiveModel,
        Vec<file_variants::ActiveModel>,
    )>,
    pub to_run: Vec<JobSpec>,
}

pub(super) async fn take_over<C: ConnectionTrait>(
    db: &C,
    source: &files::Model,
    new_file_id: Uuid,
    asked: Vec<JobSpec>,
    now: DateTime<Utc>,
) -> Result<TakenOver, CatalogError> {
    let done = processing_jobs::Entity::find()
        .filter(processing_jobs::Column::FileId.eq(source.id))
        .filter(processing_jobs::Column::Status.eq(JobStatus::Succeeded.as_str()))
        .all(db)
        .await?;
    let variants = file_variants::Entity::find()
        .filter(file_variants::Column::FileId.eq(source.id))
        .all(db)
        .await?;
    let mut taken = TakenOver {
        succeeded: Vec::new(),
        to_run: Vec::new(),
    };
    for spec in asked {
        let ran = done.iter().any(|job| {
            job.processor == spec.processor
                && job.variant == spec.variant
                && job.options == spec.options
        });
        let names = processing::variant_names(&spec.processor, &spec.variant, &spec.options);
        let made: Vec<&file_variants::Model> = variants
            .iter()
            .filter(|variant| names.contains(&variant.name))
            .collect();
        if !ran || made.len() != names.len() {
            taken.to_run.push(spec);
            continue;
        }
        let mut job = job_row(new_file_id, spec, now);
        job.status = Set(JobStatus::Succeeded.as_str().into());
        job.finished_at = Set(Some(now));
        let copies = made
            .into_iter()
            .map(|variant| file_variants::ActiveModel {
                id: Set(Uuid::now_v7()),
                file_id: Set(new_file_id),
                name: Set(variant.name.clone()),
                storage_key: Set(variant.storage_key.clone()),
                content_type: Set(variant.content_type.clone()),
                size_bytes: Set(variant.size_bytes),
                width: Set(variant.width),
                height: Set(variant.height),
                sha256: Set(variant.sha256.clone()),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .collect();
        taken.succeeded.push((job, copies));
    }
    Ok(taken)
}

/// Inserts what [`take_over`] found, returning the jobs recorded.
pub(super) async fn record_taken_over<C: ConnectionTrait>(
    db: &C,
    succeeded: Vec<(
        processing_jobs::ActiveModel,
        Vec<file_variants::ActiveModel>,
    )>,
) -> Result<Vec<Job>, CatalogError> {
    use sea_orm::ActiveModelTrait;
    let mut jobs = Vec::with_capacity(succeeded.len());
    for (job, copies) in succeeded {
        jobs.push(Job::from(job.insert(db).await?));
        for copy in copies {
            copy.insert(db).await?;
        }
    }
    Ok(jobs)
}

/// The keys of a file's original and variants, with their sizes.
pub(super) async fn keys_of<C: ConnectionTrait>(
    db: &C,
    file: &files::Model,
) -> Result<Vec<(String, i64)>, CatalogError> {
    let variants: Vec<(String, i64)> = file_variants::Entity::find()
        .select_only()
        .column(file_variants::Column::StorageKey)
        .column(file_variants::Column::SizeBytes)
        .filter(file_variants::Column::FileId.eq(file.id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(std::iter::once((file.storage_key.clone(), file.size_bytes))
        .chain(variants)
        .collect())
}
