//! Messages of the uploads aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::{Claim, Upload};
use crate::actors::catalog::CatalogError;
use crate::actors::storage::uploads::UploadState;
use crate::domain::tus::UploadMetadata;
use crate::telemetry::RequestId;

/// Records a new upload of `length` bytes, taking its length and one file
/// from the user's quota (`CatalogError::QuotaExceeded` when they do not fit).
#[derive(Message)]
#[rtype(result = "Result<Upload, CatalogError>")]
pub struct CreateUpload {
    pub request_id: RequestId,
    pub id: Uuid,
    pub user_id: Uuid,
    pub length: u64,
    pub metadata: UploadMetadata,
    pub expires_at: DateTime<Utc>,
}

/// The user's upload; `None` when it does not exist, is someone else's, or
/// has expired.
#[derive(Message)]
#[rtype(result = "Result<Option<Upload>, CatalogError>")]
pub struct FindUpload {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id: Uuid,
}

/// Leases the user's upload for one append at `offset`, for `lease`; `None`
/// when there is no such upload.
#[derive(Message)]
#[rtype(result = "Result<Option<Claim>, CatalogError>")]
pub struct ClaimUpload {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id: Uuid,
    pub offset: u64,
    pub lease: Duration,
}

/// Extends the lease of an append still running.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct RenewUploadClaim {
    pub id: Uuid,
    pub lease: Duration,
}

/// Records what an append stored (`state`, begun at `from`) and ends its
/// lease, unless that completed the upload (the lease then holds while the
/// file is made); or, with no new state, only ends the lease. Replies whether the
/// state was recorded (it is not when the upload moved on or went meanwhile).
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct RecordChunk {
    pub request_id: RequestId,
    pub id: Uuid,
    pub from: u64,
    pub state: Option<UploadState>,
}

/// Deletes the user's unfinished upload and gives back its reservation;
/// replies with it, for its bytes to be discarded (`None`: no such upload).
#[derive(Message)]
#[rtype(result = "Result<Option<Upload>, CatalogError>")]
pub struct DeleteUpload {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id: Uuid,
}

/// Up to `limit` uploads unfinished past their expiry, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<Upload>, CatalogError>")]
pub struct FindExpiredUploads {
    pub limit: u64,
}

/// Up to `limit` unexpired uploads that have every byte but no file, and no
/// live lease: the process that was making their file stopped.
#[derive(Message)]
#[rtype(result = "Result<Vec<Upload>, CatalogError>")]
pub struct FindStrandedUploads {
    pub limit: u64,
}

/// Deletes an expired upload's row and gives back its reservation, once its
/// bytes are gone; replies whether it was still there.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct ForgetExpiredUpload {
    pub id: Uuid,
}
