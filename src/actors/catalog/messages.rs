//! Messages the Catalog accepts. Each carries the request id it serves, recorded
//! on the handler's span.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::CatalogError;
use super::records::{
    ApiToken, File, FileDetails, Job, LinkCheck, LoginCandidate, OpenSession, User, VariantOfFile,
};
use crate::domain::jobs::{Failure, FileStatus, JobStatus};
use crate::telemetry::RequestId;

/// Answers when the database answers a trivial query.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct PingDatabase;

/// Creates an account and, in the same transaction, the token of the link that
/// verifies its address. Without one (an operator made the account with
/// `kiln user create`) the address counts as verified.
#[derive(Message)]
#[rtype(result = "Result<User, CatalogError>")]
pub struct CreateUser {
    pub request_id: RequestId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub verification: Option<NewLinkToken>,
    pub is_admin: bool,
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

/// What a presented credential (an access token, an API token) opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialCheck {
    /// This account.
    Valid(Uuid),
    /// Nothing: unknown, expired, revoked, or its account is gone.
    Invalid,
    /// An account an operator has disabled.
    AccountDisabled,
}

/// Whether an access token still opens its account: it was not logged out, the
/// account exists and is not disabled, and the token was issued under the
/// account's current token generation (a password reset since then ended it).
#[derive(Message)]
#[rtype(result = "Result<CredentialCheck, CatalogError>")]
pub struct CheckAccessToken {
    pub request_id: RequestId,
    pub jti: Uuid,
    pub user_id: Uuid,
    pub generation: i32,
}

/// Stores a new API token (its hash) for the account; with
/// `only_if_verified`, only when the account's address is verified, checked
/// in the transaction that stores it.
#[derive(Message)]
#[rtype(result = "Result<ApiTokenCreation, CatalogError>")]
pub struct CreateApiToken {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub only_if_verified: bool,
}

#[derive(Debug)]
pub enum ApiTokenCreation {
    Created(ApiToken),
    /// Refused: the address is not verified.
    AddressUnverified,
    /// The account does not exist (any more).
    NoAccount,
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

/// Finds the owner of an unexpired token by its hash and, unless the owner is
/// disabled, stamps `last_used_at`.
#[derive(Message)]
#[rtype(result = "Result<CredentialCheck, CatalogError>")]
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
/// every other reset link it has, and every API token), and counts the address
/// as verified (the link reached it). Replies with the account's id.
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
#[rtype(result = "Result<super::records::FileCounts, CatalogError>")]
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

/// Deletes a file's rows (variants and jobs go with it) and replies with the
/// storage keys that were in use, for the caller to delete.
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

/// Puts a dead job back in the queue with a fresh set of attempts. `None` when
/// there is no such job within `scope` (the owner's own, or any for an
/// administrator).
#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct RetryDeadJob {
    pub request_id: RequestId,
    pub scope: JobScope,
    pub job_id: Uuid,
    pub handoff: Handoff,
}

/// How a job put back in the queue reaches a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// `queued`: the caller hands it to its own Dispatcher right away.
    Announced,
    /// `retrying`, due now: for a caller with no transport (the command line),
    /// since every running Kiln's reconciler publishes due retries on its next
    /// round (a queued job would wait for `REQUEUE_AFTER`).
    ByReconciler,
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
    /// How long the job had been runnable when this claim took it.
    pub queue_wait: Duration,
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
    /// Shown to the job's owner: a sentence safe for them to read.
    pub error: String,
    pub failure: Failure,
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

/// Counts jobs by status and finds how long the oldest runnable job has
/// waited, for the queue gauges of `/metrics`.
#[derive(Message)]
#[rtype(result = "Result<JobCounts, CatalogError>")]
pub struct MeasureJobs;

#[derive(Debug, Clone)]
pub struct JobCounts {
    /// Only statuses that have jobs appear.
    pub by_status: Vec<(JobStatus, u64)>,
    /// The oldest time a job still waiting to run became runnable.
    pub oldest_runnable_since: Option<DateTime<Utc>>,
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

// ---- web sessions ----------------------------------------------------------------

/// Stores a new session for `user_id`; `replaces` (the hash of the session the
/// browser held before signing in) is deleted in the same transaction, so a
/// sign-in always rotates the id.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct CreateSession {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id_hash: String,
    pub csrf_token_hash: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub replaces: Option<String>,
}

/// The open session with this id hash: not past its absolute expiry and seen
/// within `idle_timeout`. A session past either is deleted and `None` returned;
/// an open one has `last_seen_at` brought forward (at most once a minute).
#[derive(Message)]
#[rtype(result = "Result<Option<OpenSession>, CatalogError>")]
pub struct FindSession {
    pub request_id: RequestId,
    pub id_hash: String,
    pub idle_timeout: Duration,
}

/// Ends one session (sign-out); ending one that is gone is not an error.
#[derive(Message)]
#[rtype(result = "Result<(), CatalogError>")]
pub struct EndSession {
    pub request_id: RequestId,
    pub id_hash: String,
}

// ---- OAuth accounts ----------------------------------------------------------------

/// Signs in with an identity a provider vouched for, in one write transaction
/// (so two callbacks racing for a new identity make one account): the account
/// linked to it; else the account with its address, linked now, when the
/// provider says the address is verified; else a new account without a
/// password.
#[derive(Message)]
#[rtype(result = "Result<OAuthSignInOutcome, CatalogError>")]
pub struct OAuthSignIn {
    pub request_id: RequestId,
    pub identity: crate::auth::oauth::Identity,
}

#[derive(Debug, Clone)]
pub enum OAuthSignInOutcome {
    /// The identity was linked to this account already.
    SignedIn(User),
    /// The account with the provider-verified address, linked now. If the
    /// account had not verified that address itself, nothing proved that its
    /// password was set by the address's owner: the password is removed and
    /// the account's sessions, access and API tokens end (its address counts as
    /// verified now).
    Linked(User),
    /// A new account: no password, the address verified as the provider says,
    /// the provider's name or else the address's local part.
    Created(User),
    /// An account has this address but the provider does not vouch for it:
    /// refused; the owner signs in with the password and links from settings.
    EmailInUseUnverified,
    /// The account with this address already has another identity at this
    /// provider: refused rather than give one account two.
    OtherIdentityLinked,
    /// No link, and the provider gave no address to make an account with.
    NoEmail,
}

/// Links an identity to a signed-in account (from settings).
#[derive(Message)]
#[rtype(result = "Result<OAuthLinkOutcome, CatalogError>")]
pub struct LinkOAuthAccount {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub identity: crate::auth::oauth::Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthLinkOutcome {
    /// Linked now, or it was linked to this account already.
    Linked,
    /// That identity signs in to another account.
    AlreadyLinkedElsewhere,
    /// The account has a different identity at this provider.
    ProviderAlreadyLinked,
    /// The account was deleted meanwhile.
    AccountGone,
}

/// Removes the account's link to `provider`, unless it is the account's last
/// way to sign in.
#[derive(Message)]
#[rtype(result = "Result<OAuthUnlinkOutcome, CatalogError>")]
pub struct UnlinkOAuthAccount {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub provider: crate::auth::oauth::Provider,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthUnlinkOutcome {
    Unlinked,
    NotLinked,
    /// No password and no other provider: unlinking would lock the owner out.
    LastSignInMethod,
}

/// The account's linked providers and whether it has a password.
#[derive(Message)]
#[rtype(result = "Result<super::records::SignInMethods, CatalogError>")]
pub struct ListOAuthAccounts {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

// ---- settings and administration -------------------------------------------------

/// Whose jobs a job message may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobScope {
    /// Only jobs of this user's files: another user's job answers as absent.
    OwnedBy(Uuid),
    /// Any user's job: for administrators, who were checked by the caller.
    AnyUser,
}

/// Sets the account's display name; replies with the account as it is now
/// (`None`: it is gone).
#[derive(Message)]
#[rtype(result = "Result<Option<User>, CatalogError>")]
pub struct RenameUser {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub name: String,
}

/// Sets a new password hash and, in one transaction, ends every sign-in the
/// account had: a new token generation (its access tokens stop working), all
/// its web sessions deleted, its unused reset links spent. API tokens stay.
///
/// `replaces` is the hash the caller checked the current password against
/// (`None`: the account had no password): the change happens only if it is
/// still the stored one, so two changes racing with one old password cannot
/// both win. Replies whether the password was changed.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct ChangePassword {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub password_hash: String,
    pub replaces: Option<String>,
}

/// One page of the jobs that failed across all users (dead, or retrying after a
/// failure), most recently changed first, with their file and owner, and how
/// many of each kind there are.
#[derive(Message)]
#[rtype(result = "Result<super::records::FailedJobsPage, CatalogError>")]
pub struct ListFailedJobs {
    pub request_id: RequestId,
    /// `Dead` or `Retrying`; `None` for both.
    pub status: Option<crate::domain::jobs::JobStatus>,
    pub offset: u64,
    pub limit: u64,
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

// ---- the operator's command line (`kiln user|jobs|files|storage ...`) --------------

/// Every account, oldest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<User>, CatalogError>")]
pub struct ListUsers {
    pub request_id: RequestId,
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
