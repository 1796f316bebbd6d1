//! Messages of the shares aggregate.

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::{Share, SharedFile};
use crate::actors::catalog::CatalogError;
use crate::telemetry::RequestId;

/// Records a link to one of the user's files; `None` when the file is not theirs.
#[derive(Message)]
#[rtype(result = "Result<Option<Share>, CatalogError>")]
pub struct RecordShare {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    /// SHA-256 (hex) of the link's token.
    pub token_hash: String,
    pub names: Option<Vec<String>>,
    pub expires_at: DateTime<Utc>,
}

/// The live links to one of the user's files, newest first; `None` when the
/// file is not theirs.
#[derive(Message)]
#[rtype(result = "Result<Option<Vec<Share>>, CatalogError>")]
pub struct ListShares {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// Deletes one of the user's links; `false` when there was none.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct DeleteShare {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub share_id: Uuid,
}

/// The live link whose token hashes to `token_hash`, with its file and the
/// variants it opens; `None` when there is none, or it has expired.
#[derive(Message)]
#[rtype(result = "Result<Option<SharedFile>, CatalogError>")]
pub struct FindShare {
    pub request_id: RequestId,
    pub token_hash: String,
}
