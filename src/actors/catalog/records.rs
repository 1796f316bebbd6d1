//! The records every aggregate of the Catalog may reply with: an account, a
//! stored original, a variant made from it and a job. Plain data, decoupled from
//! the entity models so a schema detail never leaks into HTTP handlers; each
//! aggregate's own replies sit in its folder.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::jobs::{FileStatus, JobStatus};
use crate::entities::{file_variants, files, processing_jobs, users};

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
    /// ThumbHash placeholder (standard base64), once a job has made one.
    pub thumbhash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Kept as a reference to the objects of an earlier file of the same
    /// user with the same bytes.
    pub deduplicated: bool,
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
            thumbhash: model.thumbhash,
            created_at: model.created_at,
            deduplicated: model.deduplicated,
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
    /// SHA-256 (hex) of the bytes; `None` for variants made before it was kept.
    pub sha256: Option<String>,
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
            sha256: model.sha256,
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
