//! One file's page, `GET /files/{id}`: the original (a preview, its facts and
//! a download), every variant (preview, size, dimensions, download), the jobs
//! with their status, and the forms that change the file: run a processor
//! (`POST /files/{id}/process`), retry a dead job
//! (`POST /files/{id}/jobs/{job_id}/retry`) and delete the file
//! (`POST /files/{id}/delete`); and its Share panel (`share`). Each form carries the session's CSRF token and
//! answers with a redirect and a notice, or the page again with the reason next
//! to the form.
//!
//! Another user's file answers 404, as it does in the API.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use uuid::Uuid;

use super::process_form::{self, Submitted};
use super::share::{Sharing, sharing};
use super::{dimensions, human_bytes, type_label, variant_href};
use crate::actors::catalog::files::FileDetails;
use crate::actors::catalog::jobs::JobScope;
use crate::actors::catalog::{Job, Variant};
use crate::actors::ingest::{DeleteFile, RequestProcessing, RetryJob, ShowFile};
use crate::domain::jobs::JobStatus;
use crate::domain::requests::ProcessRequest;
use crate::http::error::ApiError;
use crate::http::request_context::request_id_of;
use crate::http::session::SignedIn;
use crate::http::ui::{CsrfForm, Notice, Page, SignedInForm, UiError, see_other_with};
use crate::http::ui::{When, form_error, parse_id};
use crate::http::{AppState, ask};
use crate::processing::MediaKind;

/// Variants that preview the original, best first: a resized copy a page can
/// show sharply, else the original itself (see [`ORIGINAL_PREVIEW_LIMIT`]),
/// else a thumbnail. The script reads the list from the page to pick a preview
/// when variants arrive.
pub(super) const PREVIEW_ORDER: [&str; 4] = ["md", "sm", "lg", "xl"];
pub(super) const THUMBNAIL_PREVIEWS: [&str; 2] = ["thumbnail", "pdf_thumbnail"];
/// Largest original shown as its own preview (a browser shows JPEG, PNG, GIF
/// and WebP itself; a larger one waits for its resized copies).
const ORIGINAL_PREVIEW_LIMIT: i64 = 8 * 1024 * 1024;

#[derive(Serialize)]
struct FileView {
    id: Uuid,
    filename: String,
    status: &'static str,
    kind: String,
    content_type: String,
    size: String,
    size_bytes: i64,
    dimensions: Option<String>,
    page_count: Option<i32>,
    created: When,
    sha256: String,
    content_href: String,
    /// Painted in the preview's place while it loads (`kiln.js`).
    thumbhash: Option<String>,
}

#[derive(Serialize)]
struct Preview {
    src: String,
    contain: bool,
}

#[derive(Serialize)]
struct VariantView {
    name: String,
    kind: String,
    size: String,
    dimensions: String,
    href: String,
    /// The image to show, when the variant is one.
    src: Option<String>,
    /// Changes when the variant is made again (the script's test for a
    /// changed card; it computes the same from the API's variant).
    version: String,
}

impl VariantView {
    fn new(file_id: Uuid, variant: &Variant) -> Self {
        let href = variant_href(file_id, &variant.name);
        // A query that changes when the variant is made again, so a browser
        // never shows the previous one from its cache.
        let version = format!(
            "{}-{}x{}-{}",
            variant.size_bytes,
            variant.width,
            variant.height,
            variant.created_at.timestamp_millis()
        );
        Self {
            name: variant.name.clone(),
            kind: type_label(&variant.content_type),
            size: human_bytes(variant.size_bytes),
            dimensions: format!("{} × {}", variant.width, variant.height),
            src: variant
                .content_type
                .starts_with("image/")
                .then(|| format!("{href}?v={version}")),
            href,
            version,
        }
    }

    /// The empty card the script fills in for a variant that arrives.
    fn blank() -> Self {
        Self {
            name: String::new(),
            kind: String::new(),
            size: String::new(),
            dimensions: String::new(),
            href: String::new(),
            src: None,
            version: String::new(),
        }
    }
}

#[derive(Serialize)]
struct JobView {
    id: Uuid,
    processor: String,
    variant: String,
    status: &'static str,
    attempts: i32,
    error: Option<String>,
    created: When,
    finished: Option<When>,
    retryable: bool,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            processor: job.processor,
            variant: job.variant,
            status: job.status.as_str(),
            attempts: job.attempts,
            error: job.error,
            created: job.created_at.into(),
            finished: job.finished_at.map(When::from),
            retryable: job.status == JobStatus::Dead,
        }
    }
}

impl JobView {
    /// The empty row the script fills in for a job that appears.
    fn blank() -> Self {
        Self {
            id: Uuid::nil(),
            processor: String::new(),
            variant: String::new(),
            status: JobStatus::Queued.as_str(),
            attempts: 0,
            error: None,
            created: chrono::Utc::now().into(),
            finished: None,
            retryable: false,
        }
    }
}

/// The best preview of the original: see [`PREVIEW_ORDER`].
fn preview(details: &FileDetails) -> Option<Preview> {
    let file = &details.file;
    let kind = MediaKind::from_extension(&file.extension);
    let contain = kind == Some(MediaKind::Pdf);
    let variant = |names: &[&str]| {
        names.iter().find_map(|name| {
            details
                .variants
                .iter()
                .find(|v| v.name == *name)
                .map(|v| Preview {
                    src: VariantView::new(file.id, v).src.unwrap_or_default(),
                    contain,
                })
        })
    };
    let shows_itself = matches!(
        kind,
        Some(MediaKind::Jpeg | MediaKind::Png | MediaKind::Gif | MediaKind::Webp)
    ) && file.size_bytes <= ORIGINAL_PREVIEW_LIMIT;
    variant(&PREVIEW_ORDER)
        .or_else(|| {
            shows_itself.then(|| Preview {
                src: format!("/api/files/{}/content", file.id),
                contain,
            })
        })
        .or_else(|| variant(&THUMBNAIL_PREVIEWS))
        .filter(|preview| !preview.src.is_empty())
}

/// A refused form, shown again next to the form it came from.
pub(super) struct Refusal {
    status: StatusCode,
    message: String,
    /// `process`, `jobs` or `share`.
    at: &'static str,
    submitted: Option<Submitted>,
}

pub(super) async fn find_file(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    file_id: Uuid,
) -> Result<FileDetails, UiError> {
    let show = ShowFile {
        request_id: request_id_of(req),
        user_id: signed_in.user.id,
        file_id,
    };
    Ok(ask(&state.actors.ingest, show).await?)
}

/// The file's page again, with a form's refusal (a client mistake) shown
/// beside the form `at`; a server failure or a rate limit is an error page.
pub(super) async fn show_refused(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    file_id: Uuid,
    err: ApiError,
    at: &'static str,
    submitted: Option<Submitted>,
) -> Result<HttpResponse, UiError> {
    let (status, message) = form_error(err)?;
    let details = find_file(state, req, signed_in, file_id).await?;
    let sharing = sharing(state, req, signed_in, &details, None).await?;
    let refusal = Refusal {
        status,
        message,
        at,
        submitted,
    };
    render(req, signed_in, details, sharing, Some(refusal))
}

/// The page of `details`, with its Share panel as `sharing` has it and a
/// form's refusal, if any.
pub(super) fn render(
    req: &HttpRequest,
    signed_in: &SignedIn,
    details: FileDetails,
    sharing: Sharing,
    refusal: Option<Refusal>,
) -> Result<HttpResponse, UiError> {
    let file = &details.file;
    let kind = MediaKind::from_extension(&file.extension);
    let processors = process_form::choices(
        kind,
        file.page_count,
        refusal.as_ref().and_then(|r| r.submitted.as_ref()),
    );
    let preview = preview(&details);
    let variants: Vec<VariantView> = details
        .variants
        .iter()
        .map(|v| VariantView::new(file.id, v))
        .collect();
    let view = FileView {
        id: file.id,
        filename: file.filename.clone(),
        status: file.status.as_str(),
        kind: type_label(&file.content_type),
        content_type: file.content_type.clone(),
        size: human_bytes(file.size_bytes),
        size_bytes: file.size_bytes,
        dimensions: dimensions(file.width, file.height),
        page_count: file.page_count,
        created: file.created_at.into(),
        sha256: file.sha256.clone(),
        content_href: format!("/api/files/{}/content", file.id),
        thumbhash: file.thumbhash.clone(),
    };
    let jobs: Vec<JobView> = details.jobs.into_iter().map(JobView::from).collect();
    let preview_order: Vec<&str> = PREVIEW_ORDER
        .iter()
        .chain(&THUMBNAIL_PREVIEWS)
        .copied()
        .collect();
    let mut page = Page::new("pages/file.html")
        .with("file", &view)
        .with("preview", &preview)
        .with("preview_order", &preview_order.join(" "))
        .with("variants", &variants)
        .with("jobs", &jobs)
        .with("blank_variant", &VariantView::blank())
        .with("blank_job", &JobView::blank())
        .with("processors", &processors)
        .with("sharing", &sharing)
        .with(
            "variant_value",
            &refusal
                .as_ref()
                .and_then(|r| r.submitted.as_ref())
                .and_then(|s| s.variant.clone())
                .unwrap_or_default(),
        );
    if let Some(refusal) = refusal {
        page = page
            .with("error", &refusal.message)
            .with("error_at", &refusal.at)
            .status(refusal.status);
    }
    page.render(req, Some(signed_in))
}

pub(super) async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    file_id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let file_id = parse_id(&file_id, "file")?;
    let details = find_file(&state, &req, &signed_in, file_id).await?;
    let sharing = sharing(&state, &req, &signed_in, &details, None).await?;
    render(&req, &signed_in, details, sharing, None)
}

pub(super) async fn process(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    file_id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let mut fields = form.into_inner();
    let token = fields
        .iter()
        .position(|(name, _)| name == "csrf_token")
        .map(|at| fields.swap_remove(at).1)
        .unwrap_or_default();
    signed_in.check_csrf(&token)?;
    let file_id = parse_id(&file_id, "file")?;
    let submitted = Submitted::from_fields(fields);
    let queued = match submitted.options() {
        Ok((processor, options)) => {
            let request = RequestProcessing {
                request_id: request_id_of(&req),
                user_id: signed_in.user.id,
                file_id,
                request: ProcessRequest {
                    processor: processor.name().to_string(),
                    variant: submitted.variant.clone(),
                    options: Some(options),
                },
            };
            ask(&state.actors.ingest, request).await
        }
        Err(message) => Err(ApiError::unprocessable("invalid_options", message)),
    };
    match queued {
        Ok(job) => {
            tracing::info!(%file_id, job_id = %job.id, processor = %job.processor, "processing asked for from the file page");
            Ok(see_other_with(
                &state.config,
                &format!("/files/{file_id}#jobs"),
                Notice::ProcessingQueued,
            ))
        }
        Err(err) => {
            show_refused(
                &state,
                &req,
                &signed_in,
                file_id,
                err,
                "process",
                Some(submitted),
            )
            .await
        }
    }
}

pub(super) async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, UiError> {
    let (file_id, job_id) = path.into_inner();
    let file_id = parse_id(&file_id, "file")?;
    let job_id = parse_id(&job_id, "job")?;
    let retry = RetryJob {
        request_id: request_id_of(&req),
        scope: JobScope::OwnedBy(signed_in.user.id),
        job_id,
        file_id: Some(file_id),
    };
    match ask(&state.actors.ingest, retry).await {
        Ok(_) => Ok(see_other_with(
            &state.config,
            &format!("/files/{file_id}#jobs"),
            Notice::JobRetried,
        )),
        Err(err) => show_refused(&state, &req, &signed_in, file_id, err, "jobs", None).await,
    }
}

pub(super) async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    file_id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let file_id = parse_id(&file_id, "file")?;
    let delete = DeleteFile {
        request_id: request_id_of(&req),
        user_id: signed_in.user.id,
        file_id,
    };
    ask(&state.actors.ingest, delete).await?;
    Ok(see_other_with(&state.config, "/files", Notice::FileDeleted))
}
