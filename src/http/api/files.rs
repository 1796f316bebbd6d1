//! Files: upload, list, show, delete, download links, and asking for more
//! processing. Processing requests and deletion are [`crate::http::files`]'s,
//! shared with the web UI.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::bodies::{FileBody, JobBody, VariantBody};
use super::upload_form::{UploadForm, read_upload_form};
use crate::actors::catalog::messages::{FileCursor, FindFile, FindVariant, ListFiles};
use crate::actors::ingest::{
    CommitUpload, DiscardStaged, IngestError, RequestedJob, StageOriginal, parse_processors,
    sanitize_filename,
};
use crate::actors::storage::ObjectKey;
use crate::actors::storage::messages::PresignGet;
use crate::domain::jobs::FileStatus;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::files::{
    ProcessRequest, check_watermark_image, delete_file, name_search, request_processing,
};
use crate::http::{AppState, ask};
use crate::processing;
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

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::Empty => ApiError::bad_request("empty_file", err.to_string()),
            IngestError::TooLarge { .. } => ApiError::PayloadTooLarge(err.to_string()),
            IngestError::UnsupportedType => ApiError::UnsupportedType(err.to_string()),
            IngestError::InvalidProcessors(message) => {
                ApiError::unprocessable("invalid_processors", message)
            }
            IngestError::InvalidOptions(message) => {
                ApiError::unprocessable("invalid_options", message)
            }
            IngestError::Body(_) => {
                ApiError::bad_request("invalid_body", "the upload body could not be read")
            }
            IngestError::Storage(err) => err.into(),
            IngestError::Catalog(err) => err.into(),
            IngestError::Mailbox(err) => err.into(),
        }
    }
}

async fn upload(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let mut form = UploadForm::default();
    let (ingest, user_id) = (&state.actors.ingest, caller.user_id);
    let stage = |body| {
        let request_id = request_id.clone();
        async move {
            let staged = ask(
                ingest,
                StageOriginal {
                    request_id,
                    user_id,
                    body,
                },
            )
            .await?;
            Ok(staged)
        }
    };
    let read = read_upload_form(payload, &mut form, stage).await;
    let UploadForm {
        file,
        processors,
        options,
    } = form;
    let Some((staged, filename)) = file else {
        read?;
        return Err(ApiError::bad_request(
            "missing_file",
            "the multipart body has no file field",
        ));
    };
    let requested = match read {
        Ok(()) => requested_jobs(&state, &request_id, &caller, processors, options).await,
        Err(err) => Err(err),
    };
    let requested = match requested {
        Ok(requested) => requested,
        Err(err) => {
            state
                .actors
                .ingest
                .do_send(DiscardStaged { request_id, staged });
            return Err(err);
        }
    };
    let extension = staged.kind.extension.clone();
    let (file, jobs) = ask(
        &state.actors.ingest,
        CommitUpload {
            request_id,
            staged,
            filename: sanitize_filename(filename.as_deref(), &extension),
            requested,
        },
    )
    .await?;
    tracing::info!(file_id = %file.id, jobs = jobs.len(), "upload accepted");
    let jobs: Vec<JobBody> = jobs.into_iter().map(JobBody::from).collect();
    Ok(HttpResponse::Accepted().json(json!({ "file": FileBody::from(file), "jobs": jobs })))
}

/// Largest page of files.
const MAX_PAGE: u64 = 100;
const DEFAULT_PAGE: u64 = 20;

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u64>,
    cursor: Option<String>,
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
    let files: Vec<FileBody> = files.into_iter().map(FileBody::from).collect();
    Ok(HttpResponse::Ok().json(json!({ "files": files, "next_cursor": next_cursor })))
}

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
    let variants: Vec<VariantBody> = details
        .variants
        .into_iter()
        .map(VariantBody::from)
        .collect();
    let jobs: Vec<JobBody> = details.jobs.into_iter().map(JobBody::from).collect();
    Ok(HttpResponse::Ok()
        .json(json!({ "file": FileBody::from(details.file), "variants": variants, "jobs": jobs })))
}

async fn delete(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    delete_file(&state, request_id, caller.user_id, file_id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct LinkQuery {
    redirect: Option<bool>,
}

/// Answers with a short-lived link to `key`: a 302 to it, or its JSON form.
async fn link_to(
    state: &AppState,
    request_id: RequestId,
    key: &str,
    query: LinkQuery,
) -> Result<HttpResponse, ApiError> {
    let key = ObjectKey::parse(key)?;
    let link = ask(
        &state.actors.storage,
        PresignGet {
            request_id,
            key,
            ttl: state.config.presign_ttl,
        },
    )
    .await?;
    if query.redirect == Some(false) {
        return Ok(HttpResponse::Ok()
            .json(json!({ "url": link.url.as_str(), "expires_at": link.expires_at })));
    }
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, link.url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

async fn content(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let details = ask(
        &state.actors.catalog,
        FindFile {
            request_id: request_id.clone(),
            user_id: caller.user_id,
            file_id: file_id.into_inner(),
        },
    )
    .await?
    .ok_or(ApiError::NotFound("file"))?;
    link_to(
        &state,
        request_id,
        &details.file.storage_key,
        query.into_inner(),
    )
    .await
}

async fn variant(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    path: web::Path<(Uuid, String)>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let (file_id, name) = path.into_inner();
    let variant = ask(
        &state.actors.catalog,
        FindVariant {
            request_id: request_id.clone(),
            user_id: caller.user_id,
            file_id,
            name,
        },
    )
    .await?
    .ok_or(ApiError::NotFound("variant"))?;
    link_to(&state, request_id, &variant.storage_key, query.into_inner()).await
}

#[derive(Deserialize)]
struct ProcessBody {
    processor: String,
    variant: Option<String>,
    #[serde(default)]
    options: Option<serde_json::Value>,
}

async fn process(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
    body: web::Json<ProcessBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let job = request_processing(
        &state,
        request_id,
        caller.user_id,
        file_id.into_inner(),
        ProcessRequest {
            processor: body.processor,
            variant: body.variant,
            options: body.options,
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(json!({ "job": JobBody::from(job) })))
}

/// The jobs an upload's `processors` and `options` fields ask for (`None`: the
/// defaults), with every watermark image checked as the process endpoint does.
async fn requested_jobs(
    state: &AppState,
    request_id: &RequestId,
    caller: &Authenticated,
    processors: Option<String>,
    options: Option<String>,
) -> Result<Option<Vec<RequestedJob>>, ApiError> {
    let Some(processors) = processors else {
        return match options {
            Some(_) => Err(ApiError::unprocessable(
                "invalid_options",
                "options applies to the processors named in the processors field, and there is none",
            )),
            None => Ok(None),
        };
    };
    let jobs = parse_processors(&processors, options.as_deref())?;
    for job in &jobs {
        if let Some(image) = processing::watermark_image(&job.processor, &job.options) {
            check_watermark_image(state, request_id, caller.user_id, &image).await?;
        }
    }
    Ok(Some(jobs))
}
