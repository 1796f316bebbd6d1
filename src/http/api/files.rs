//! Files: upload, list, show, delete, download links, and asking for more
//! processing. Uploads, processing requests and deletion are the Ingest
//! actor's use cases, shared with the web UI.

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::bodies::{FileBody, JobBody, VariantBody};
use crate::actors::catalog::files::{FileCursor, FindFile, ListFiles};
use crate::actors::ingest::{
    CommitUpload, DeleteFile, DiscardStaged, IngestError, LinkToFile, RequestProcessing,
    StageOriginal, StagedOriginal,
};
use crate::domain::file_names::{name_search, sanitize_filename};
use crate::domain::jobs::FileStatus;
use crate::domain::requests::{ProcessRequest, parse_processors};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::{AppState, ask};
use crate::processing::JobSpec;
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

/// Longest `processors` field accepted.
const PROCESSORS_FIELD_LIMIT: usize = 1024;
/// Longest `options` field accepted.
const OPTIONS_FIELD_LIMIT: usize = 16 * 1024;
/// Chunks in flight between the request and the storage upload.
const UPLOAD_PIPE_DEPTH: usize = 4;

async fn upload(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    mut payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let mut staged: Option<(StagedOriginal, Option<String>)> = None;
    let mut processors: Option<String> = None;
    let mut options: Option<String> = None;
    let read = async {
        while let Some(mut field) = payload.try_next().await.map_err(multipart_error)? {
            match field.name() {
                Some("file") if staged.is_none() => {
                    let filename = field
                        .content_disposition()
                        .and_then(|cd| cd.get_filename())
                        .map(str::to_string);
                    // The multipart field cannot leave this task; a channel
                    // carries its chunks to the Ingest actor as they arrive.
                    let (sender, receiver) = mpsc::channel(UPLOAD_PIPE_DEPTH);
                    let body = futures::stream::unfold(receiver, |mut receiver| async move {
                        receiver.recv().await.map(|chunk| (chunk, receiver))
                    });
                    let stage = ask(
                        &state.actors.ingest,
                        StageOriginal {
                            request_id: request_id.clone(),
                            user_id: caller.user_id,
                            body: Box::pin(body),
                        },
                    );
                    let pump = async move {
                        while let Some(chunk) = field.next().await {
                            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
                            // A closed channel: Ingest has refused the file.
                            if sender.send(chunk).await.is_err() {
                                break;
                            }
                        }
                    };
                    let (result, ()) = futures::join!(stage, pump);
                    staged = Some((result?, filename));
                }
                Some("processors") if processors.is_none() => {
                    processors = Some(
                        read_text_field(
                            field,
                            "processors",
                            "invalid_processors",
                            PROCESSORS_FIELD_LIMIT,
                        )
                        .await?,
                    );
                }
                Some("options") if options.is_none() => {
                    options = Some(
                        read_text_field(field, "options", "invalid_options", OPTIONS_FIELD_LIMIT)
                            .await?,
                    );
                }
                // Other fields are ignored, but read so the body stays in sync.
                _ => while field.try_next().await.map_err(multipart_error)?.is_some() {},
            }
        }
        Ok(())
    };
    let read: Result<(), ApiError> = read.await;
    let Some((staged, filename)) = staged else {
        read?;
        return Err(ApiError::bad_request(
            "missing_file",
            "the multipart body has no file field",
        ));
    };
    let requested = read.and_then(|()| requested_jobs(processors, options));
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

fn multipart_error(err: actix_multipart::MultipartError) -> ApiError {
    ApiError::bad_request(
        "invalid_multipart",
        format!("invalid multipart body: {err}"),
    )
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

/// Reads a small text field of the upload form, at most `limit` bytes of UTF-8.
async fn read_text_field(
    mut field: actix_multipart::Field,
    name: &str,
    code: &'static str,
    limit: usize,
) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        text.extend_from_slice(&chunk);
        if text.len() > limit {
            return Err(ApiError::bad_request(
                code,
                format!("the {name} field is longer than {limit} bytes"),
            ));
        }
    }
    String::from_utf8(text)
        .map_err(|_| ApiError::bad_request(code, format!("the {name} field is not text")))
}

/// The jobs an upload's `processors` and `options` fields ask for (`None`: the
/// defaults); Ingest checks them against the file.
fn requested_jobs(
    processors: Option<String>,
    options: Option<String>,
) -> Result<Option<Vec<JobSpec>>, ApiError> {
    let Some(processors) = processors else {
        return match options {
            Some(_) => Err(ApiError::unprocessable(
                "invalid_options",
                "options applies to the processors named in the processors field, and there is none",
            )),
            None => Ok(None),
        };
    };
    let jobs = parse_processors(&processors, options.as_deref())
        .map_err(|err| ApiError::from(IngestError::of_upload(err)))?;
    Ok(Some(jobs))
}
