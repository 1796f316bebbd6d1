//! How files, variants and jobs look in API responses (`shared/API.md`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actors::catalog::{File, Job, Variant};

#[derive(Serialize, ToSchema)]
#[schema(as = File)]
pub struct FileBody {
    id: Uuid,
    filename: String,
    content_type: String,
    size_bytes: i64,
    sha256: String,
    /// `processing`, `ready` or `failed`.
    #[schema(examples("ready"))]
    status: &'static str,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_count: Option<i32>,
    /// A ThumbHash of the image (base64), for a placeholder while it loads.
    #[serde(skip_serializing_if = "Option::is_none")]
    thumbhash: Option<String>,
    /// Kept once: the user stored these bytes before (see API.md "Quotas").
    deduplicated: bool,
}

impl From<File> for FileBody {
    fn from(file: File) -> Self {
        Self {
            id: file.id,
            filename: file.filename,
            content_type: file.content_type,
            size_bytes: file.size_bytes,
            sha256: file.sha256,
            status: file.status.as_str(),
            created_at: file.created_at,
            width: file.width,
            height: file.height,
            page_count: file.page_count,
            thumbhash: file.thumbhash,
            deduplicated: file.deduplicated,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Variant)]
pub struct VariantBody {
    name: String,
    content_type: String,
    size_bytes: i64,
    width: i32,
    height: i32,
    created_at: DateTime<Utc>,
}

impl From<Variant> for VariantBody {
    fn from(variant: Variant) -> Self {
        Self {
            name: variant.name,
            content_type: variant.content_type,
            size_bytes: variant.size_bytes,
            width: variant.width,
            height: variant.height,
            created_at: variant.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobBody {
    id: Uuid,
    file_id: Uuid,
    processor: String,
    variant: String,
    options: serde_json::Value,
    /// `queued`, `running`, `retrying`, `succeeded` or `dead`.
    #[schema(examples("succeeded"))]
    status: &'static str,
    attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobBody {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            file_id: job.file_id,
            processor: job.processor,
            variant: job.variant,
            options: job.options,
            status: job.status.as_str(),
            attempts: job.attempts,
            error: job.error,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

/// A file just taken in, with the jobs it started (`POST /api/upload`, and a
/// finished resumable upload).
#[derive(Serialize, ToSchema)]
pub struct FileAccepted {
    pub file: FileBody,
    pub jobs: Vec<JobBody>,
}

/// A file with its variants and every job it has had.
#[derive(Serialize, ToSchema)]
pub struct FileDetails {
    pub file: FileBody,
    pub variants: Vec<VariantBody>,
    pub jobs: Vec<JobBody>,
}

/// A page of files, newest first.
#[derive(Serialize, ToSchema)]
pub struct FilePage {
    pub files: Vec<FileBody>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct JobEnvelope {
    pub job: JobBody,
}

/// A short-lived URL, as the download routes answer with `?redirect=false`.
#[derive(Serialize, ToSchema)]
pub struct Link {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// An answer that only says what happens next.
#[derive(Serialize, ToSchema)]
pub struct Notice {
    pub message: &'static str,
}
