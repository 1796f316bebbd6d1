//! Files: upload, list, show, delete, download links, and asking for more
//! processing. Uploads, processing requests and deletion are the Ingest
//! actor's use cases, shared with the web UI.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::oneshot;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::bodies::{
    FileAccepted, FileBody, FileDetails, FilePage, JobBody, JobEnvelope, Link, VariantBody,
};
use super::upload_form::{UploadForm, read_upload_form};
use crate::actors::catalog::files::{FileCursor, FindFile, ListFiles};
use crate::actors::ingest::{
    DeleteFile, IngestError, LinkToFile, RequestProcessing, SubmitUpload, UploadRest,
};
use crate::domain::file_names::name_search;
use crate::domain::jobs::FileStatus;
use crate::domain::requests::ProcessRequest;
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/upload", web::post().to(upload))
        .route("/files", web::get().to(list))
        .service(
            web::resource("/files/{id}")
                .route(web::get().to(show))
                .route(web::delete().to(delete)),
        )
        .route("/files/{id}/content", web::get().to(content))
        .route("/files/{id}/variants/{name}", web::get().to(variant))
        .route("/files/{id}/process", web::post().to(process));
}

/// The multipart form `POST /api/upload` reads (see `upload_form`).
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for the API's document; read by `read_upload_form`.
struct UploadFields {
    /// The file, with its name in the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Processors to run instead of the defaults, comma-separated: `thumbnail,webp`.
    processors: Option<String>,
    /// A JSON object of options keyed by processor: `{"thumbnail": {"width": 200}}`.
    options: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/upload",
    tag = "files",
    operation_id = "upload",
    summary = "Upload a file",
    description = "Stores the file and queues the jobs that make its variants: by default a \
        thumbnail and resizes of an image, a preview of a PDF.",
    request_body(content = UploadFields, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "The file is stored and its jobs are queued.", body = FileAccepted,
            links(
                ("ShowFile" = (operation_id = "show_file", parameters(("id" = "$response.body#/file/id")))),
                ("FileContent" = (operation_id = "file_content", parameters(("id" = "$response.body#/file/id")))),
                ("ProcessFile" = (operation_id = "process_file", parameters(("id" = "$response.body#/file/id")))),
                ("ShareFile" = (operation_id = "create_share", parameters(("id" = "$response.body#/file/id")))),
                ("ListShares" = (operation_id = "list_shares", parameters(("id" = "$response.body#/file/id")))),
                ("TransformUrl" = (operation_id = "transform_url", parameters(("id" = "$response.body#/file/id")))),
                ("DeleteFile" = (operation_id = "delete_file", parameters(("id" = "$response.body#/file/id")))),
            )),
        (status = 400, description = "`invalid_multipart`, `missing_file`, `empty_file`, `invalid_body`, \
            `invalid_processors` or `invalid_options` (a field that is not text or too long)", body = ErrorBody),
        (status = 413, description = "`file_too_large`, `quota_exceeded`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: not a type Kiln takes", body = ErrorBody),
        (status = 422, description = "`invalid_processors`, `invalid_options`, `invalid_watermark_image`", body = ErrorBody),
    ),
)]
/// Takes an upload in with one message to Ingest: the form is read here (the
/// file's bytes stream to Ingest as they arrive), and the rest of the form (the
/// file name, `processors`, `options`) follows once the body is read, since a
/// client may send those after the file. A form that fails once the file has
/// begun leaves Ingest to delete what it stored.
async fn upload(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let (rest_sender, rest) = oneshot::channel();
    let ingest = state.actors.ingest.clone();
    let submit = |body| {
        let submit = SubmitUpload {
            request_id,
            user_id: caller.user_id,
            body,
            rest,
        };
        // Sent now, so Ingest stores the bytes while the form is read on.
        let submitted = actix_rt::spawn(ingest.send(submit));
        async move { Ok(submitted) }
    };
    let mut form = UploadForm::default();
    let read = read_upload_form(payload, &mut form, submit).await;
    let Some((submitted, filename)) = form.file else {
        read?;
        return Err(ApiError::bad_request(
            "missing_file",
            "the multipart body has no file field",
        ));
    };
    if read.is_ok() {
        // Ingest may have refused the file already and gone: then its reply
        // says why.
        let _ = rest_sender.send(UploadRest {
            filename,
            processors: form.processors,
            options: form.options,
        });
    } else {
        drop(rest_sender);
    }
    let submitted = submitted
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)?;
    let (file, jobs) = match (submitted, read) {
        (Ok(recorded), _) => recorded,
        // The form broke after the file began: what was wrong with the form.
        (Err(IngestError::Abandoned), Err(err)) => return Err(err),
        (Err(refusal), _) => return Err(refusal.into()),
    };
    tracing::info!(file_id = %file.id, jobs = jobs.len(), "upload accepted");
    Ok(HttpResponse::Accepted().json(FileAccepted {
        file: FileBody::from(file),
        jobs: jobs.into_iter().map(JobBody::from).collect(),
    }))
}

/// Largest page of files.
const MAX_PAGE: u64 = 100;
const DEFAULT_PAGE: u64 = 20;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// At most this many files (1 to 100; 20 by default).
    limit: Option<u64>,
    /// `next_cursor` of the page before.
    cursor: Option<String>,
    /// Only files with this status: `processing`, `ready` or `failed`.
    status: Option<String>,
    /// Only files whose name contains this, ignoring case (an extension).
    q: Option<String>,
}

fn encode_cursor(cursor: &FileCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", cursor.created_at.to_rfc3339(), cursor.id))
}

fn decode_cursor(raw: &str) -> Option<FileCursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (at, id) = text.split_once('|')?;
    Some(FileCursor {
        created_at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
        id: Uuid::parse_str(id).ok()?,
    })
}

/// The caller's files, newest first.
#[utoipa::path(
    get,
    path = "/api/files",
    tag = "files",
    operation_id = "list_files",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of files.", body = FilePage),
        (status = 422, description = "`invalid_limit`, `invalid_cursor`, `invalid_status`", body = ErrorBody),
    ),
)]
async fn list(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = match query.limit {
        None => DEFAULT_PAGE,
        Some(limit @ 1..=MAX_PAGE) => limit,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
    };
    let after = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(decode_cursor(raw).ok_or_else(|| {
            ApiError::unprocessable("invalid_cursor", "cursor is not one this API returned")
        })?),
    };
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(FileStatus::parse(raw).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_status",
                "status must be processing, ready or failed",
            )
        })?),
    };
    let mut files = ask(
        &state.actors.catalog,
        ListFiles {
            request_id,
            user_id: caller.user_id,
            limit,
            after,
            status,
            name_contains: name_search(query.q.as_deref()),
            offset: 0,
        },
    )
    .await?;
    let next_cursor = if files.len() as u64 > limit {
        files.truncate(limit as usize);
        files.last().map(|last| {
            encode_cursor(&FileCursor {
                created_at: last.created_at,
                id: last.id,
            })
        })
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(FilePage {
        files: files.into_iter().map(FileBody::from).collect(),
        next_cursor,
    }))
}

/// A file, its variants and its jobs.
#[utoipa::path(
    get,
    path = "/api/files/{id}",
    tag = "files",
    operation_id = "show_file",
    params(("id" = Uuid, Path, description = "The file's id")),
    responses((status = 200, description = "The file, its variants and its jobs.", body = FileDetails,
        links(("FileVariant" = (operation_id = "file_variant", parameters(
            ("id" = "$request.path.id"),
            ("name" = "$response.body#/variants/0/name"),
        )))))),
)]
async fn show(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let details = ask(
        &state.actors.catalog,
        FindFile {
            request_id,
            user_id: caller.user_id,
            file_id: file_id.into_inner(),
        },
    )
    .await?
    .ok_or(ApiError::NotFound("file"))?;
    Ok(HttpResponse::Ok().json(FileDetails {
        file: FileBody::from(details.file),
        variants: details
            .variants
            .into_iter()
            .map(VariantBody::from)
            .collect(),
        jobs: details.jobs.into_iter().map(JobBody::from).collect(),
    }))
}

/// Deletes the file: its original, its variants and its rows.
#[utoipa::path(
    delete,
    path = "/api/files/{id}",
    tag = "files",
    operation_id = "delete_file",
    params(("id" = Uuid, Path, description = "The file's id")),
    responses((status = 204, description = "The file is gone.")),
)]
async fn delete(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let delete = DeleteFile {
        request_id,
        user_id: caller.user_id,
        file_id: file_id.into_inner(),
    };
    ask(&state.actors.ingest, delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LinkQuery {
    /// `false`: answer 200 with the link as JSON instead of redirecting to it.
    redirect: Option<bool>,
}

/// Answers with a short-lived link to the file's original (`variant` `None`)
/// or one of its variants: a 302 to it, or its JSON form.
async fn link_to(
    state: &AppState,
    request_id: RequestId,
    caller: Authenticated,
    file_id: Uuid,
    variant: Option<String>,
    query: LinkQuery,
) -> Result<HttpResponse, ApiError> {
    let link = LinkToFile {
        request_id,
        user_id: caller.user_id,
        file_id,
        variant,
    };
    let link = ask(&state.actors.ingest, link).await?;
    if query.redirect == Some(false) {
        return Ok(HttpResponse::Ok().json(Link {
            url: link.url.to_string(),
            expires_at: link.expires_at,
        }));
    }
    // The link stays the same for a while (windows of `PRESIGN_TTL`), so this
    // browser may keep the redirect too, until a minute before the link
    // expires; only for the same caller (`Vary`), never in a shared cache.
    let keep = (link.expires_at - chrono::Utc::now()).num_seconds() - REDIRECT_MARGIN_SECS;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, link.url.as_str()))
        .insert_header((
            header::CACHE_CONTROL,
            format!("private, max-age={}", keep.max(0)),
        ))
        .insert_header((header::VARY, "Authorization, Cookie"))
        .finish())
}

/// How long before its link expires a kept redirect is dropped.
const REDIRECT_MARGIN_SECS: i64 = 60;

/// A short-lived link to the original's bytes.
#[utoipa::path(
    get,
    path = "/api/files/{id}/content",
    tag = "files",
    operation_id = "file_content",
    params(("id" = Uuid, Path, description = "The file's id"), LinkQuery),
    responses(
        (status = 302, description = "To a short-lived URL of the original (the same URL for a while, so it can be cached).",
            headers(("Location" = String, description = "The URL"))),
        (status = 200, description = "With `redirect=false`: the URL.", body = Link),
    ),
)]
async fn content(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let file_id = file_id.into_inner();
    link_to(
        &state,
        request_id,
        caller,
        file_id,
        None,
        query.into_inner(),
    )
    .await
}

/// A short-lived link to a variant's bytes.
#[utoipa::path(
    get,
    path = "/api/files/{id}/variants/{name}",
    tag = "files",
    operation_id = "file_variant",
    params(
        ("id" = Uuid, Path, description = "The file's id"),
        ("name" = String, Path, description = "The variant's name, such as `thumbnail` or `md`"),
        LinkQuery,
    ),
    responses(
        (status = 302, description = "To a short-lived URL of the variant.",
            headers(("Location" = String, description = "The URL"))),
        (status = 200, description = "With `redirect=false`: the URL.", body = Link),
        (status = 404, description = "`not_found`: no such file of yours, or no such variant (yet)", body = ErrorBody),
    ),
)]
async fn variant(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    path: web::Path<(Uuid, String)>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let (file_id, name) = path.into_inner();
    link_to(
        &state,
        request_id,
        caller,
        file_id,
        Some(name),
        query.into_inner(),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
struct ProcessBody {
    /// `thumbnail`, `resize`, `webp`, `watermark` or `pdf_thumbnail`.
    processor: String,
    /// The name of what it makes; the processor's own name by default.
    variant: Option<String>,
    /// The processor's options (see the API's processor options).
    #[serde(default)]
    options: Option<serde_json::Value>,
}

/// Asks for one more variant of a file.
#[utoipa::path(
    post,
    path = "/api/files/{id}/process",
    tag = "files",
    operation_id = "process_file",
    params(("id" = Uuid, Path, description = "The file's id")),
    request_body = ProcessBody,
    responses(
        (status = 202, description = "The job is queued.", body = JobEnvelope,
            links(
                ("ShowJob" = (operation_id = "show_job", parameters(("id" = "$response.body#/job/id")))),
                ("RetryJob" = (operation_id = "retry_job", parameters(("id" = "$response.body#/job/id")))),
            )),
        (status = 422, description = "`unknown_processor`, `unsupported_processor`, `invalid_options`, \
            `invalid_variant`, `invalid_watermark_image`", body = ErrorBody),
    ),
)]
async fn process(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
    body: web::Json<ProcessBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = RequestProcessing {
        request_id,
        user_id: caller.user_id,
        file_id: file_id.into_inner(),
        request: ProcessRequest {
            processor: body.processor,
            variant: body.variant,
            options: body.options,
        },
    };
    let job = ask(&state.actors.ingest, request).await?;
    Ok(HttpResponse::Accepted().json(JobEnvelope {
        job: JobBody::from(job),
    }))
}
