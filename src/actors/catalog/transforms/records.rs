//! What the transforms aggregate replies with.

use uuid::Uuid;

use crate::entities::transforms;

/// One cached transform (a row of `transforms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedTransform {
    pub id: Uuid,
    pub file_id: Uuid,
    /// The hash of the transform's spec, unique with `file_id`.
    pub spec_hash: String,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub width: u32,
    pub height: u32,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
}

impl From<transforms::Model> for CachedTransform {
    fn from(model: transforms::Model) -> Self {
        // Only the Catalog writes the row, from these same unsigned values.
        Self {
            id: model.id,
            file_id: model.file_id,
            spec_hash: model.spec_hash,
            storage_key: model.storage_key,
            content_type: model.content_type,
            size_bytes: u64::try_from(model.size_bytes).unwrap_or(0),
            width: u32::try_from(model.width).unwrap_or(0),
            height: u32::try_from(model.height).unwrap_or(0),
            sha256: model.sha256,
        }
    }
}
