//! Messages of the transforms aggregate.

use actix::Message;
use uuid::Uuid;

use super::records::CachedTransform;
use crate::actors::catalog::CatalogError;
use crate::actors::catalog::File;
use crate::telemetry::RequestId;

/// The cached transform of `file_id` by the spec hashing to `spec_hash`;
/// `None` when there is none. A hit counts as a use, written at most once a
/// minute per transform, so a popular one does not cost a write per request.
#[derive(Message)]
#[rtype(result = "Result<Option<CachedTransform>, CatalogError>")]
pub struct FindTransform {
    pub request_id: RequestId,
    pub file_id: Uuid,
    pub spec_hash: String,
}

/// Records a transform just stored under `storage_key`, used now. When another
/// process recorded the same one first, replies with its row, unchanged;
/// `None` when the file no longer exists (nothing is recorded).
#[derive(Message)]
#[rtype(result = "Result<Option<CachedTransform>, CatalogError>")]
pub struct RecordTransform {
    pub request_id: RequestId,
    pub file_id: Uuid,
    pub spec_hash: String,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub width: u32,
    pub height: u32,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
}

/// Deletes the least recently used transforms, across every file, until the
/// rest take at most `budget_bytes`, and replies with the deleted rows'
/// storage keys, for the caller to delete the objects. Within budget, it costs
/// one sum and deletes nothing.
#[derive(Message)]
#[rtype(result = "Result<Vec<String>, CatalogError>")]
pub struct EvictTransforms {
    pub request_id: RequestId,
    pub budget_bytes: u64,
}

/// The bytes every cached transform takes together (0 when there is none).
#[derive(Message)]
#[rtype(result = "Result<u64, CatalogError>")]
pub struct TransformCacheSize {
    pub request_id: RequestId,
}

/// The file a transform reads: `owner`'s file with that id, or for `None` (a
/// signed URL) anyone's; `None` when there is no such file.
#[derive(Message)]
#[rtype(result = "Result<Option<File>, CatalogError>")]
pub struct FindTransformSource {
    pub request_id: RequestId,
    pub file_id: Uuid,
    pub owner: Option<Uuid>,
}
