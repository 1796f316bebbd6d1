//! What the Catalog replies with: plain data, decoupled from the entity models so
//! a schema detail never leaks into HTTP handlers.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::jobs::{FileStatus, JobStatus};
use crate::entities::{api_tokens, file_variants, files, processing_jobs, users};

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    /// May see and retry every user's jobs in the web UI.
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    /// When an operator disabled the account; `None` while it is in use.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

impl From<users::Model> for User {
    fn from(model: users::Model) -> Self {
        Self {
            id: model.id,
            email: model.email,
            name: model.name,
            email_verified: model.email_verified,
            is_admin: model.is_admin,
            created_at: model.created_at,
            disabled_at: model.disabled_at,
        }
    }
}

/// An account looked up for sign-in, with its password hash (none for accounts
/// that only sign in through OAuth) and the token generation a new access token
/// is issued under.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub user: User,
    pub password_hash: Option<String>,
    pub token_generation: i32,
}

/// What a presented single-use link token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck<T> {
    Valid(T),
    /// It existed, unused, but its time ran out.
    Expired,
    /// Unknown, already used, or no longer meaningful.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_tokens::Model> for ApiToken {
    fn from(model: api_tokens::Model) -> Self {
        Self {
            id: model.id,
            name: model.name,
            prefix: model.prefix,
            created_at: model.created_at,
            last_used_at: model.last_used_at,
            expires_at: model.expires_at,
        }
    }
}

/// A stored original, as the Catalog knows it.
#[derive(Debug, Clone)]
pub struct File {
    pub id: Uuid,
    pub user_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub extension: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub status: FileStatus,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub page_count: Option<i32>,
    pub created_at: DateTime<Utc>,
}

impl From<files::Model> for File {
    fn from(model: files::Model) -> Self {
        Self {
            id: model.id,
            user_id: model.user_id,
            filename: model.filename,
            content_type: model.content_type,
            extension: model.extension,
            size_bytes: model.size_bytes,
            sha256: model.sha256,
            storage_key: model.storage_key,
            // Only the Catalog writes this column, always from `FileStatus`.
            status: FileStatus::parse(&model.status).unwrap_or(FileStatus::Failed),
            width: model.width,
            height: model.height,
            page_count: model.page_count,
            created_at: model.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
    pub created_at: DateTime<Utc>,
}

/// A variant with the stored name of the file it was made from, which names
/// its download.
#[derive(Debug, Clone)]
pub struct VariantOfFile {
    pub filename: String,
    pub variant: Variant,
}

impl From<file_variants::Model> for Variant {
    fn from(model: file_variants::Model) -> Self {
        Self {
            name: model.name,
            storage_key: model.storage_key,
            content_type: model.content_type,
            size_bytes: model.size_bytes,
            width: model.width,
            height: model.height,
            created_at: model.created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub file_id: Uuid,
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
    pub status: JobStatus,
    pub attempts: i32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<processing_jobs::Model> for Job {
    fn from(model: processing_jobs::Model) -> Self {
        Self {
            id: model.id,
            file_id: model.file_id,
            processor: model.processor,
            variant: model.variant,
            options: model.options,
            // Only the Catalog writes this column, always from `JobStatus`.
            status: JobStatus::parse(&model.status).unwrap_or(JobStatus::Dead),
            attempts: model.attempts,
            error: model.error,
            created_at: model.created_at,
            started_at: model.started_at,
            finished_at: model.finished_at,
        }
    }
}

/// How many files there are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub processing: u64,
    pub ready: u64,
    pub failed: u64,
}

impl FileCounts {
    pub fn total(&self) -> u64 {
        self.processing + self.ready + self.failed
    }

    /// The count of one status, or of all for `None`.
    pub fn of(&self, status: Option<FileStatus>) -> u64 {
        match status {
            None => self.total(),
            Some(FileStatus::Processing) => self.processing,
            Some(FileStatus::Ready) => self.ready,
            Some(FileStatus::Failed) => self.failed,
        }
    }
}

/// A file with everything made from it.
#[derive(Debug, Clone)]
pub struct FileDetails {
    pub file: File,
    pub variants: Vec<Variant>,
    pub jobs: Vec<Job>,
}

/// A web session that is still open, with its account.
#[derive(Debug, Clone)]
pub struct OpenSession {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A provider linked to an account, as settings lists it.
#[derive(Debug, Clone)]
pub struct LinkedProvider {
    pub provider: crate::auth::oauth::Provider,
    /// The address the provider gave when the link was made.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An account's ways to sign in: its linked providers, and whether it has a
/// password (so settings can keep the last way from being unlinked).
#[derive(Debug, Clone)]
pub struct SignInMethods {
    pub linked: Vec<LinkedProvider>,
    pub has_password: bool,
}

/// A job that failed (dead, or waiting for a retry), with whose file it is,
/// for the administrators' jobs page.
#[derive(Debug, Clone)]
pub struct FailedJob {
    pub job: Job,
    pub filename: String,
    pub owner_id: Uuid,
    pub owner_email: String,
    /// When the job last changed: when it died, or when its last attempt failed.
    pub updated_at: DateTime<Utc>,
    /// When a retrying job is tried next.
    pub run_after: DateTime<Utc>,
}

/// One page of failed jobs, and how many there are of each kind in all.
#[derive(Debug, Clone)]
pub struct FailedJobsPage {
    pub jobs: Vec<FailedJob>,
    pub dead: u64,
    pub retrying: u64,
}
