//! What the uploads aggregate replies with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actors::storage::uploads::UploadState;
use crate::domain::tus::UploadMetadata;
use crate::entities::uploads;

/// A resumable upload as the database records it.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: Uuid,
    pub user_id: Uuid,
    pub metadata: UploadMetadata,
    /// Where its bytes stand, for the Storage actor.
    pub state: UploadState,
    /// The file it became, once finished.
    pub file_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

impl From<uploads::Model> for Upload {
    fn from(model: uploads::Model) -> Self {
        let state = UploadState {
            id: model.id,
            length: u64::try_from(model.length).unwrap_or(0),
            received: u64::try_from(model.received_bytes).unwrap_or(0),
            multipart_id: model.multipart_id,
            // Only the Catalog writes the column, always a JSON list of strings.
            parts: serde_json::from_str(&model.parts).unwrap_or_default(),
            parts_bytes: u64::try_from(model.parts_bytes).unwrap_or(0),
        };
        Self {
            id: model.id,
            user_id: model.user_id,
            metadata: UploadMetadata {
                filename: model.filename,
                processors: model.processors,
                options: model.options,
            },
            state,
            file_id: model.file_id,
            expires_at: model.expires_at,
        }
    }
}

/// What a claim to append found.
#[derive(Debug, Clone)]
pub enum Claim {
    /// The caller holds the upload until it records its chunk or lets go.
    Claimed(Box<Upload>),
    /// The upload is at another offset than the request says.
    OffsetMismatch { received: u64 },
    /// Another request is appending now.
    Busy,
    /// Finished already: no more bytes.
    Finished,
}
