//! Messages of the files aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::{FileCounts, FileDetails, VariantOfFile};
use crate::actors::catalog::{CatalogError, File, Job};
use crate::domain::jobs::FileStatus;
use crate::processing::JobSpec;
use crate::telemetry::RequestId;

/// An original already in storage, to be recorded with its jobs.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub id: Uuid,
    pub user_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub extension: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

/// Records a file and its jobs in one transaction (the outbox): either both
/// exist afterwards or neither does. When the user already stored these bytes
/// (same SHA-256 and size), the file names the stored original instead
/// (`deduplicated`; the caller then deletes its own copy), and each job asked
/// for that the earlier file already ran with the same options is recorded as
/// succeeded with copies of its variant rows, so only the others run. The file takes its size and one file of
/// its owner's quota in the same transaction, or is refused with
/// `CatalogError::QuotaExceeded`.
#[derive(Message)]
#[rtype(result = "Result<(File, Vec<Job>), CatalogError>")]
pub struct RecordUpload {
    pub request_id: RequestId,
    pub file: NewFile,
    pub jobs: Vec<JobSpec>,
    /// The resumable upload the file comes from: its reservation of the
    /// quota is given back in the same transaction, and it names the file.
    pub from_upload: Option<Uuid>,
}

/// Where a page of files starts: after this file in newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// One page of the user's files, newest first; `limit + 1` are fetched so the
/// caller knows whether another page follows.
#[derive(Message)]
#[rtype(result = "Result<Vec<File>, CatalogError>")]
pub struct ListFiles {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub limit: u64,
    pub after: Option<FileCursor>,
    pub status: Option<FileStatus>,
    /// Only files whose name contains this, ignoring case (on SQLite only
    /// ASCII letters fold). `%`, `_` and `\` in it match themselves.
    pub name_contains: Option<String>,
    /// How many files to skip first: the web UI's numbered pages (the API pages
    /// with `after` and passes 0).
    pub offset: u64,
}

/// How many of the user's files there are in each status, among those whose
/// name contains `name_contains` (as [`ListFiles`] matches it).
#[derive(Message)]
#[rtype(result = "Result<FileCounts, CatalogError>")]
pub struct CountFiles {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name_contains: Option<String>,
}

/// Which of `names` each of the user's `file_ids` has as a variant: the
/// `(file id, variant name)` pairs that exist (another user's files have none).
/// The file grid asks it to show a thumbnail only where there is one.
#[derive(Message)]
#[rtype(result = "Result<Vec<(Uuid, String)>, CatalogError>")]
pub struct ListVariantNames {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_ids: Vec<Uuid>,
    pub names: Vec<String>,
}

#[derive(Message)]
#[rtype(result = "Result<Option<FileDetails>, CatalogError>")]
pub struct FindFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// Deletes a file's rows (variants, jobs and cached transforms go with it),
/// gives back the quota its original and variants took, and replies with the
/// storage keys no row names any more, for the caller to delete: an object
/// the user's other files share stays. `None`: no such file of the user's.
#[derive(Message)]
#[rtype(result = "Result<Option<Vec<String>>, CatalogError>")]
pub struct DeleteFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// One of the user's file's variants, by name, with the file's name.
#[derive(Message)]
#[rtype(result = "Result<Option<VariantOfFile>, CatalogError>")]
pub struct FindVariant {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    pub name: String,
}

/// Finds the file a watermark job names as its mark: one of the user's own files,
/// or `None` when it does not exist or belongs to someone else (the two are not
/// told apart). The process endpoint asks before queueing the job, the runner again
/// before each attempt, since the mark may be deleted in between.
#[derive(Message)]
#[rtype(result = "Result<Option<File>, CatalogError>")]
pub struct FindWatermarkImage {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

impl FindWatermarkImage {
    /// The question for the mark a watermark's `image` option names, or `None`
    /// when `image` is not a file id at all.
    pub fn named(request_id: &RequestId, user_id: Uuid, image: &str) -> Option<Self> {
        Some(Self {
            request_id: request_id.clone(),
            user_id,
            file_id: Uuid::parse_str(image).ok()?,
        })
    }
}

/// Starts an operator's purge of a file: marks it, so no upload is
/// deduplicated onto its objects from now on, and replies with the keys of
/// its objects that no other file names, which the purge deletes before the
/// rows. `None`: the file is gone.
#[derive(Message)]
#[rtype(result = "Result<Option<Vec<String>>, CatalogError>")]
pub struct BeginPurge {
    pub request_id: RequestId,
    pub file_id: Uuid,
}

/// Of `keys`, those no file or variant row names: objects that may be
/// deleted. (An object a deduplicated file shares is named by its rows.)
#[derive(Message)]
#[rtype(result = "Result<Vec<String>, CatalogError>")]
pub struct FindUnnamed {
    pub request_id: RequestId,
    pub keys: Vec<String>,
}
