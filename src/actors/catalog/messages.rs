//! Messages the Catalog accepts. Each carries the request id it serves, recorded
//! on the handler's span.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::CatalogError;
use super::records::{ApiToken, File, FileDetails, Job, LinkCheck, LoginCandidate, User, Variant};
use crate::domain::jobs::FileStatus;
use crate::telemetry::RequestId;

/// Answers when the database answers a trivial query.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct PingDatabase;

/// Creates an account and, in the same transaction, the token of the link that
/// verifies its address.
#[derive(Message)]
#[rtype(result = "Result<User, CatalogError>")]
pub struct CreateUser {
    pub request_id: RequestId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub verification: NewLinkToken,
}

/// A single-use link token to store: only its hash, and when it stops working.
#[derive(Debug, Clone)]
pub struct NewLinkToken {
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Message)]
#[rtype(result = "Result<Option<LoginCandidate>, CatalogError>")]
pub struct FindLoginCandidate {
    pub request_id: RequestId,
    pub email: String,
}

#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct FindUser {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

/// Records a logged-out access token so it is refused until it would expire.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct RevokeAccessToken {
    pub request_id: RequestId,
    pub jti: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Whether an access token still opens its account: it was not logged out, the
/// account exists, and the token was issued under the account's current token
/// generation (a password reset since then ended it).
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct CheckAccessToken {
    pub request_id: RequestId,
    pub jti: Uuid,
    pub user_id: Uuid,
    pub generation: i32,
}

#[derive(Message)]
#[rtype(result = "Result<ApiToken, CatalogError>")]
pub struct CreateApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Message)]
#[rtype(result = "Result<Vec<ApiToken>, CatalogError>")]
pub struct ListApiTokens {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

/// Deletes one of the user's tokens; replies whether there was one to delete.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct DeleteApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub token_id: Uuid,
}

/// Finds the owner of an unexpired token by its hash and stamps `last_used_at`.
#[derive(Message)]
#[rtype(result = "Result<Option<Uuid>, CatalogError>")]
pub struct AuthenticateApiToken {
    pub request_id: RequestId,
    pub token_hash: String,
}

// ---- mailed links: e-mail verification and password reset ----------------------

/// Stores another verification token for the user's current address and replies
/// with the account to mail it to (`None`: the account is gone). Refused with
/// [`CatalogError::AlreadyVerified`], or [`CatalogError::TooSoon`] when the last
/// one was made less than `interval` ago.
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct IssueEmailVerification {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub token: NewLinkToken,
    pub interval: Duration,
}

/// Uses a verification token: the address it was sent to is verified, if it is
/// still the account's address. Replies with the account's id.
#[derive(Message)]
#[rtype(result = "Result<LinkCheck<Uuid>, CatalogError>")]
pub struct VerifyEmail {
    pub request_id: RequestId,
    pub token_hash: String,
}

/// Stores a reset token for the account with `email` and replies with the
/// account to mail it to. `None`, with nothing stored, when there is no such
/// account or the last reset for it was made less than `interval` ago: the
/// caller answers both alike, so nobody learns which addresses have accounts.
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct IssuePasswordReset {
    pub request_id: RequestId,
    pub email: String,
    pub token: NewLinkToken,
    pub interval: Duration,
}

/// The account a reset token is for, leaving the token unused (the new
/// password is checked against the account before the token is spent).
#[derive(Message)]
#[rtype(result = "Result<LinkCheck<User>, CatalogError>")]
pub struct FindPasswordReset {
    pub request_id: RequestId,
    pub token_hash: String,
}

/// Uses a reset token, in one transaction: stores the new password hash, ends
/// the account's sign-ins (a new token generation; web sessions deleted) and
/// every other reset link it has, and counts the address as verified (the link
/// reached it). API tokens stay. Replies with the account's id.
#[derive(Message)]
#[rtype(result = "Result<LinkCheck<Uuid>, CatalogError>")]
pub struct ResetPassword {
    pub request_id: RequestId,
    pub token_hash: String,
    pub password_hash: String,
}

// ---- files ------------------------------------------------------------------

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

#[derive(Debug, Clone)]
pub struct NewJob {
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
}

/// Records a file and its jobs in one transaction (the outbox): either both
/// exist afterwards or neither does.
#[derive(Message)]
#[rtype(result = "Result<(File, Vec<Job>), CatalogError>")]
pub struct RecordUpload {
    pub request_id: RequestId,
    pub file: NewFile,
    pub jobs: Vec<NewJob>,
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
}

#[derive(Message)]
#[rtype(result = "Result<Option<FileDetails>, CatalogError>")]
pub struct FindFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// Deletes a file's rows (variants and jobs go with it) and replies with the
/// storage keys that were in use, for the caller to delete.
#[derive(Message)]
#[rtype(result = "Result<Option<Vec<String>>, CatalogError>")]
pub struct DeleteFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

#[derive(Message)]
#[rtype(result = "Result<Option<Variant>, CatalogError>")]
pub struct FindVariant {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    pub name: String,
}

// ---- jobs -------------------------------------------------------------------

/// Queues another job for one of the user's files; the file is `processing`
/// again until it finishes.
#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct AddJob {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    pub job: NewJob,
}

#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct FindJob {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub job_id: Uuid,
}

/// Puts a dead job back in the queue with a fresh set of attempts.
#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct RetryDeadJob {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub job_id: Uuid,
}

/// Claims a job for one attempt with one conditional UPDATE, so two consumers
/// never run it at once.
#[derive(Message)]
#[rtype(result = "Result<Claim, CatalogError>")]
pub struct ClaimJob {
    pub job_id: Uuid,
    pub consumer: String,
    pub lease: Duration,
    /// A job that already ran this many times (its workers died) is dead.
    pub max_attempts: u32,
}

#[derive(Debug, Clone)]
pub enum Claim {
    /// Run it: the caller holds the lease.
    Claimed(ClaimedJob),
    /// It had used up its attempts and is now dead.
    Exhausted(Transition),
    /// Someone else has it, it finished, or it is not due: just acknowledge.
    NotRunnable,
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job: Job,
    pub file: File,
}

/// A variant already in storage, to be recorded with the job's success.
#[derive(Debug, Clone)]
pub struct NewVariant {
    pub name: String,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
}

/// What a job learnt about its original (PDF page count, oriented size).
#[derive(Debug, Clone, Default)]
pub struct LearntFacts {
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub page_count: Option<i32>,
}

/// Upserts the variants and marks the job succeeded in one transaction, if the
/// consumer still holds the job's lease.
#[derive(Message)]
#[rtype(result = "Result<Recorded, CatalogError>")]
pub struct CompleteJob {
    pub job_id: Uuid,
    pub consumer: String,
    pub variants: Vec<NewVariant>,
    pub facts: LearntFacts,
}

/// Records a failed attempt: `retrying` with backoff, or `dead`.
#[derive(Message)]
#[rtype(result = "Result<Recorded, CatalogError>")]
pub struct FailJob {
    pub job_id: Uuid,
    pub consumer: String,
    pub error: String,
    pub permanent: bool,
    pub max_retries: u32,
}

/// What became of an attempt's outcome.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// Stored; the job and its file are now as the transition says.
    Stored(Box<Transition>),
    /// Another consumer holds the job now (this one's lease expired).
    LeaseLost,
    /// The job is gone: its file was deleted while it ran.
    JobGone,
}

/// A job's new status and its file's, for events.
#[derive(Debug, Clone)]
pub struct Transition {
    pub job: Job,
    pub user_id: Uuid,
    pub file_status: FileStatus,
}

/// Finds jobs the transport must carry again and marks them queued: retries now
/// due, runs whose lease expired (the worker died), and queued jobs untouched
/// for `stale_after` (their transport entry may be lost).
#[derive(Message)]
#[rtype(result = "Result<Vec<Uuid>, CatalogError>")]
pub struct TakeDueJobs {
    pub stale_after: Duration,
    pub limit: u64,
}

// ---- watermarks -------------------------------------------------------------

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
