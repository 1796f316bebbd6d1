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
    pub created_at: DateTime<Utc>,
}

impl From<users::Model> for User {
    fn from(model: users::Model) -> Self {
        Self {
            id: model.id,
            email: model.email,
            name: model.name,
            email_verified: model.email_verified,
            created_at: model.created_at,
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

/// A file with everything made from it.
#[derive(Debug, Clone)]
pub struct FileDetails {
    pub file: File,
    pub variants: Vec<Variant>,
    pub jobs: Vec<Job>,
}
