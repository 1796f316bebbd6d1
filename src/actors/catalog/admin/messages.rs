//! Messages of the admin aggregate. Each carries the request id it serves,
//! recorded on the handler's span.

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::FailedJobsPage;
use crate::actors::catalog::files::{FileCursor, FileDetails};
use crate::actors::catalog::transforms::CachedTransform;
use crate::actors::catalog::{CatalogError, User};
use crate::domain::jobs::JobStatus;
use crate::domain::quota::Usage;
use crate::telemetry::RequestId;

/// Every account with its usage, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<(User, Usage)>, CatalogError>")]
pub struct ListUsers {
    pub request_id: RequestId,
}

/// One limit of an account's quota, as an operator sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    /// Left as it is.
    Keep,
    /// The configured default (`DEFAULT_QUOTA_BYTES`, `DEFAULT_QUOTA_FILES`).
    Default,
    /// The account's own limit.
    Own(u64),
}

/// Sets the quota of the account with `email`: `unlimited` lifts every limit
/// (and clears the account's own); otherwise each limit is set as given.
/// Replies with the account and its usage as they are now (`None`: no
/// account uses `email`).
#[derive(Message)]
#[rtype(result = "Result<Option<(User, Usage)>, CatalogError>")]
pub struct SetQuota {
    pub request_id: RequestId,
    pub email: String,
    pub unlimited: bool,
    pub bytes: QuotaLimit,
    pub files: QuotaLimit,
}

/// Counts every account's usage again from its file and variant rows and
/// stores it when `fix` is set. Replies with the accounts whose recorded usage
/// differed: (email, recorded, counted), as (bytes, files).
#[derive(Message)]
#[rtype(result = "Result<Vec<UsageDrift>, CatalogError>")]
pub struct RecountUsage {
    pub request_id: RequestId,
    pub fix: bool,
}

/// An account whose recorded usage is not what its rows hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDrift {
    pub email: String,
    /// (bytes, files) as the account's row had them.
    pub recorded: (i64, i64),
    /// (bytes, files) as its files and variants add up.
    pub counted: (i64, i64),
}

/// Disables the account with `email` (nothing signs in with it; its sessions
/// and tokens are kept and refused), or enables it again. Disabling twice keeps
/// the first time. Replies with the account as it is now (`None`: no account
/// uses `email`).
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct SetUserDisabled {
    pub request_id: RequestId,
    pub email: String,
    pub disabled: bool,
}

/// Makes the account with `email` an administrator, or a regular user again.
/// Replies with the account as it is now (`None`: no account uses `email`).
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct SetUserRole {
    pub request_id: RequestId,
    pub email: String,
    pub is_admin: bool,
}

/// One page of the jobs that failed across all users (dead, or retrying after a
/// failure), most recently changed first, with their file and owner, and how
/// many of each kind there are.
#[derive(Message)]
#[rtype(result = "Result<FailedJobsPage, CatalogError>")]
pub struct ListFailedJobs {
    pub request_id: RequestId,
    /// `Dead` or `Retrying`; `None` for both.
    pub status: Option<JobStatus>,
    pub offset: u64,
    pub limit: u64,
}

/// One page of files with their variants and jobs, oldest first, after
/// `after` (in that order): those created before `created_before` and owned
/// by `owner`, when given.
#[derive(Message)]
#[rtype(result = "Result<Vec<FileDetails>, CatalogError>")]
pub struct ScanFiles {
    pub request_id: RequestId,
    pub created_before: Option<DateTime<Utc>>,
    pub owner: Option<Uuid>,
    pub after: Option<FileCursor>,
    pub limit: u64,
}

/// One page of cached transforms across every file, by id, after `after`: the
/// objects `kiln storage verify` must not call strays.
#[derive(Message)]
#[rtype(result = "Result<Vec<CachedTransform>, CatalogError>")]
pub struct ScanTransforms {
    pub request_id: RequestId,
    pub after: Option<Uuid>,
    pub limit: u64,
}

/// A variant whose object is missing or corrupt: its row is deleted and the
/// finished jobs of `job_ids` (those that make it) run again, due now, for
/// every running Kiln's reconciler to publish, in one transaction. Replies
/// with the jobs run again.
#[derive(Message)]
#[rtype(result = "Result<Vec<Uuid>, CatalogError>")]
pub struct RemakeVariant {
    pub request_id: RequestId,
    pub file_id: Uuid,
    pub name: String,
    pub job_ids: Vec<Uuid>,
}
