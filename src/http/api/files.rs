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
use serde_json::json;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::bodies::{FileBody, JobBody, VariantBody};
use super::upload_form::{UploadForm, read_upload_form};
use crate::actors::catalog::files::{FileCursor, FindFile, ListFiles};
use crate::actors::ingest::{
    DeleteFile, IngestError, LinkToFile, RequestProcessing, SubmitUpload, UploadRest,
};
use crate::domain::file_names::name_search;
use crate::domain::jobs::FileStatus;
use crate::domain::requests::ProcessRequest;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
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
    let delete = DeleteFile {
        request_id,
        user_id: caller.user_id,
        file_id: file_id.into_inner(),
    };
    ask(&state.actors.ingest, delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct LinkQuery {
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
        return Ok(HttpResponse::Ok()
            .json(json!({ "url": link.url.as_str(), "expires_at": link.expires_at })));
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
    Ok(HttpResponse::Accepted().json(json!({ "job": JobBody::from(job) })))
}
