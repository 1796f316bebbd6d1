//! Copies every object of the local store to the S3 bucket under the same key,
//! and proves each copy by reading it back.
//!
//! Both stores are Storage actors opened from their configuration, so an object
//! travels exactly as an upload does: streamed chunk by chunk, large ones as a
//! multipart upload that is aborted on failure (never buffered whole), with the
//! content type S3 serves on presigned links. The content type and the recorded
//! size and SHA-256 come from the `files` and `file_variants` rows; an object no
//! row names is copied too, typed by its extension. An object several rows
//! name (a deduplicated file shares its original and variants with an earlier
//! file) is one key, copied once; the rows copied with it keep naming it. The objects of cached
//! transforms (named by `transforms` rows) are not: the cache stays behind; nor
//! are the bytes of resumable uploads in progress (under `uploads/`).
//!
//! An object is *verified* when the bytes read back from the bucket hash to the
//! SHA-256 of the bytes read from the disk (and their size matches). The disk
//! is also checked against the rows: an original whose bytes no longer match
//! its recorded `sha256` or `size_bytes` is copied as it is and reported, since
//! the copy cannot repair it. An object already in the bucket with the same
//! size and hash is skipped, which is what makes an interrupted run resumable:
//! S3 writes an object whole or not at all, and the check reads it back.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use actix::Addr;
use anyhow::{Context as _, bail};
use futures::{StreamExt, TryStreamExt};
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};
use sha2::{Digest, Sha256};

use crate::actors::storage::messages::{GetObject, ListAllObjects, ListedObject, PutObject};
use crate::actors::storage::{ObjectKey, Storage};
use crate::cli::admin::progress::Progress;
use crate::entities::{file_variants, files, transforms};
use crate::telemetry::RequestId;

/// What the rows say about an object.
struct Recorded {
    content_type: String,
    size: u64,
    /// Recorded for originals only.
    sha256: Option<String>,
}

#[derive(Debug, Default)]
pub struct ObjectReport {
    pub copied: u64,
    pub skipped: u64,
    pub bytes_copied: u64,
    /// Objects that could not be copied or whose copy did not read back
    /// right, with the reason: a rerun tries them again.
    pub failed: Vec<String>,
    /// Objects on disk that differ from their rows (copied as they are).
    pub damaged_sources: Vec<String>,
    /// Keys the rows name that are not on disk (nothing to copy).
    pub missing_sources: Vec<String>,
}

enum Outcome {
    Skipped,
    Copied { size: u64, damaged: Option<String> },
}

/// Copies every object of `source` to `target`, `concurrency` at a time.
pub async fn copy_all(
    source_db: &DatabaseConnection,
    source: &Addr<Storage>,
    target: &Addr<Storage>,
    concurrency: usize,
) -> anyhow::Result<ObjectReport> {
    let mut recorded = recorded_objects(source_db).await?;
    let cached: HashSet<String> = transforms::Entity::find()
        .select_only()
        .column(transforms::Column::StorageKey)
        .into_tuple()
        .all(source_db)
        .await?
        .into_iter()
        .collect();
    let on_disk: Vec<ListedObject> = list(source)
        .await
        .context("cannot list the local objects")?
        .into_iter()
        .filter(|object| !cached.contains(&object.key))
        // Resumable uploads in progress stay behind with their rows (`rows::NOT_COPIED`).
        .filter(|object| !object.key.starts_with("uploads/"))
        .collect();
    let in_bucket: HashMap<String, u64> = list(target)
        .await
        .context("cannot list the target bucket")?
        .into_iter()
        .map(|object| (object.key, object.size))
        .collect();

    let mut report = ObjectReport::default();
    let mut progress = Progress::start("copying objects", Some(on_disk.len() as u64));
    let copies = on_disk.into_iter().map(|object| {
        let recorded = recorded.remove(&object.key);
        let existing = in_bucket.get(&object.key).copied();
        async move {
            let outcome = copy_one(source, target, &object, recorded, existing).await;
            (object.key, outcome)
        }
    });
    let mut copies = futures::stream::iter(copies).buffer_unordered(concurrency);
    while let Some((key, outcome)) = copies.next().await {
        progress.advance(1);
        match outcome {
            Ok(Outcome::Skipped) => report.skipped += 1,
            Ok(Outcome::Copied { size, damaged }) => {
                report.copied += 1;
                report.bytes_copied += size;
                if let Some(why) = damaged {
                    progress.println(&format!("warning: {key}: {why}; copied as it is"));
                    report.damaged_sources.push(key);
                }
            }
            Err(err) => {
                progress.println(&format!("failed: {key}: {err:#}"));
                report.failed.push(format!("{key}: {err:#}"));
            }
        }
    }
    progress.finish();
    // The copies borrow `recorded`; whatever they left was never on disk.
    drop(copies);
    report.missing_sources = recorded.into_keys().collect();
    report.missing_sources.sort();
    Ok(report)
}

async fn copy_one(
    source: &Addr<Storage>,
    target: &Addr<Storage>,
    object: &ListedObject,
    recorded: Option<Recorded>,
    existing_size: Option<u64>,
) -> anyhow::Result<Outcome> {
    let key = ObjectKey::parse(&object.key)?;
    if existing_size == Some(object.size) {
        let (source_sha256, _) = sha256_of(source, &key).await?;
        let (target_sha256, _) = sha256_of(target, &key).await?;
        if source_sha256 == target_sha256 {
            return Ok(Outcome::Skipped);
        }
    }

    let content_type = match &recorded {
        Some(recorded) => recorded.content_type.clone(),
        None => mime_guess::from_path(&object.key)
            .first_or_octet_stream()
            .to_string(),
    };
    let opened = source
        .send(GetObject {
            request_id: RequestId::generate(),
            key: key.clone(),
        })
        .await??;
    // The bytes are hashed on their way through, so the disk is read once.
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let hashing = hasher.clone();
    let body = opened
        .body
        .inspect_ok(move |chunk| lock(&hashing).update(chunk))
        .boxed();
    let stored = target
        .send(PutObject {
            request_id: RequestId::generate(),
            key: key.clone(),
            content_type,
            body,
        })
        .await??;
    let sent_sha256 = hex::encode(lock(&hasher).clone().finalize());

    let (copy_sha256, copy_size) = sha256_of(target, &key).await?;
    if copy_sha256 != sent_sha256 || copy_size != stored.size {
        bail!(
            "the copy reads back as {copy_size} bytes with SHA-256 {copy_sha256}, \
             not the {} bytes with SHA-256 {sent_sha256} sent",
            stored.size
        );
    }
    let damaged = recorded.and_then(|recorded| {
        if recorded.size != stored.size {
            Some(format!(
                "{} bytes on disk, {} recorded",
                stored.size, recorded.size
            ))
        } else {
            recorded
                .sha256
                .filter(|sha256| *sha256 != sent_sha256)
                .map(|sha256| format!("SHA-256 on disk {sent_sha256}, recorded {sha256}"))
        }
    });
    Ok(Outcome::Copied {
        size: stored.size,
        damaged,
    })
}

/// The hex SHA-256 and size of an object, read as a stream.
async fn sha256_of(store: &Addr<Storage>, key: &ObjectKey) -> anyhow::Result<(String, u64)> {
    let object = store
        .send(GetObject {
            request_id: RequestId::generate(),
            key: key.clone(),
        })
        .await??;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut body = object.body;
    while let Some(chunk) = body.try_next().await? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

async fn list(store: &Addr<Storage>) -> anyhow::Result<Vec<ListedObject>> {
    Ok(store
        .send(ListAllObjects {
            request_id: RequestId::generate(),
        })
        .await??)
}

/// Every object key the source rows name, with what they record of it.
async fn recorded_objects(db: &DatabaseConnection) -> anyhow::Result<HashMap<String, Recorded>> {
    let originals: Vec<(String, String, i64, String)> = files::Entity::find()
        .select_only()
        .columns([
            files::Column::StorageKey,
            files::Column::ContentType,
            files::Column::SizeBytes,
            files::Column::Sha256,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let variants: Vec<(String, String, i64)> = file_variants::Entity::find()
        .select_only()
        .columns([
            file_variants::Column::StorageKey,
            file_variants::Column::ContentType,
            file_variants::Column::SizeBytes,
        ])
        .into_tuple()
        .all(db)
        .await?;
    let originals = originals
        .into_iter()
        .map(|(key, content_type, size, sha256)| (key, content_type, size, Some(sha256)));
    let variants = variants
        .into_iter()
        .map(|(key, content_type, size)| (key, content_type, size, None));
    Ok(originals
        .chain(variants)
        .map(|(key, content_type, size, sha256)| {
            let recorded = Recorded {
                content_type,
                size: u64::try_from(size).unwrap_or_default(),
                sha256,
            };
            (key, recorded)
        })
        .collect())
}

/// The hasher's lock; a panic while holding it cannot leave a half-updated
/// hash that matters, since the copy is then abandoned anyway.
fn lock(hasher: &Mutex<Sha256>) -> std::sync::MutexGuard<'_, Sha256> {
    hasher
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
