//! `/api/uploads`: uploads that resume, in tus 1.0.0 (creation,
//! creation-with-upload, termination, expiration, checksum). This module reads
//! and writes the protocol's headers; the use cases are the Ingest actor's
//! (`CreateResumable`, `AppendResumable`, `ShowResumable`,
//! `TerminateResumable`), and a finished upload is a file like any other.
//!
//! Every response carries `Tus-Resumable`; every request but `OPTIONS` must
//! send it too (412 otherwise, with the versions spoken).

use actix::{Addr, Handler, Message};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::bodies::{FileAccepted, FileBody, JobBody};
use super::pipe::pump_into;
use crate::actors::catalog::files::FindFile;
use crate::actors::ingest::{
    AppendResumable, Chunk, CreateResumable, Ingest, IngestError, Resumable, ShowResumable,
    TerminateResumable,
};
use crate::domain::tus::{self, Checksum, UploadMetadata};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/uploads")
            .wrap(DefaultHeaders::new().add(("Tus-Resumable", tus::VERSION)))
            .service(
                web::resource("")
                    .route(web::method(Method::OPTIONS).to(options))
                    .route(web::post().to(create)),
            )
            .service(
                web::resource("/{id}")
                    .route(web::head().to(head))
                    .route(web::patch().to(append))
                    .route(web::delete().to(terminate))
                    .route(web::get().to(show)),
            ),
    );
}

/// Sends a use case that carries a body to Ingest and waits for it however
/// long it takes: a chunk streams as fast as its client sends it, and the one
/// that completes an upload also stores the file, which for gigabytes takes
/// longer than [`ask`] waits. A client that gives up closes the connection.
async fn carry<M>(ingest: &Addr<Ingest>, msg: M) -> Result<Resumable, ApiError>
where
    M: Message<Result = Result<Resumable, IngestError>> + Send + 'static,
    Ingest: Handler<M>,
{
    Ok(ingest.send(msg).await??)
}

/// A request header as text, if present.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Refuses a request that does not speak tus 1.0.0.
fn check_version(req: &HttpRequest) -> Result<(), ApiError> {
    match header_text(req.headers(), "Tus-Resumable") {
        Some(tus::VERSION) => Ok(()),
        _ => Err(ApiError::TusVersion),
    }
}

/// A byte count from a header: digits only, as tus says.
fn header_number(req: &HttpRequest, name: &'static str) -> Result<u64, ApiError> {
    header_text(req.headers(), name)
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_header",
                format!("{name} must be a number of bytes"),
            )
        })
}

/// `Upload-Checksum`, when sent.
fn checksum(req: &HttpRequest) -> Result<Option<Checksum>, ApiError> {
    header_text(req.headers(), "Upload-Checksum")
        .map(Checksum::parse)
        .transpose()
        .map_err(|err| ApiError::bad_request("invalid_checksum", err.to_string()))
}

/// Whether the body is a chunk: `Content-Type: application/offset+octet-stream`.
fn is_chunk(req: &HttpRequest) -> bool {
    header_text(req.headers(), header::CONTENT_TYPE.as_str())
        .is_some_and(|value| value.trim() == tus::CHUNK_CONTENT_TYPE)
}

/// An HTTP date, as `Upload-Expires` has it.
fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The headers every answer about an upload carries.
fn describe(mut response: HttpResponseBuilder, upload: &Resumable) -> HttpResponseBuilder {
    response
        .insert_header(("Upload-Offset", upload.offset.to_string()))
        .insert_header(("Upload-Expires", http_date(upload.expires_at)));
    if let Some(file_id) = upload.file_id {
        response.insert_header(("Kiln-File-Id", file_id.to_string()));
    }
    response
}

/// What the server speaks of tus.
#[utoipa::path(
    options,
    path = "/api/uploads",
    tag = "uploads",
    operation_id = "tus_options",
    responses((status = 204, description = "The tus version, extensions, largest upload and checksum algorithms.",
        headers(
            ("Tus-Version" = String, description = "`1.0.0`"),
            ("Tus-Extension" = String, description = "`creation,creation-with-upload,termination,expiration,checksum`"),
            ("Tus-Max-Size" = u64, description = "The largest upload, in bytes"),
            ("Tus-Checksum-Algorithm" = String, description = "`sha1,sha256`"),
        ))),
)]
async fn options(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Tus-Version", tus::VERSION))
        .insert_header(("Tus-Extension", tus::EXTENSIONS))
        .insert_header(("Tus-Max-Size", state.config.max_upload_size.to_string()))
        .insert_header(("Tus-Checksum-Algorithm", tus::CHECKSUM_ALGORITHMS))
        .finish()
}

/// Creates an upload, optionally with its first chunk as the body
/// (`Content-Type: application/offset+octet-stream`).
#[utoipa::path(
    post,
    path = "/api/uploads",
    tag = "uploads",
    operation_id = "tus_create",
    params(
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Length" = u64, Header, description = "The file's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "tus metadata: `filename`, and optionally `processors` and `options`, each base64"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of the first chunk"),
    ),
    request_body(content = Option<Vec<u8>>, content_type = "application/offset+octet-stream",
        description = "The first chunk (creation-with-upload), or nothing"),
    responses(
        (status = 201, description = "The upload; with a first chunk, its new offset.",
            headers(
                ("Location" = String, description = "`/api/uploads/{id}`"),
                ("Upload-Expires" = String, description = "When an unfinished upload is dropped"),
                ("Upload-Offset" = Option<u64>, description = "With a first chunk: the bytes stored"),
            )),
        (status = 400, description = "`invalid_header`, `invalid_metadata`, `invalid_checksum`, `past_upload_length`, \
            `invalid_body`", body = ErrorBody),
        (status = 412, description = "`unsupported_tus_version`", body = ErrorBody),
        (status = 413, description = "`file_too_large`, `quota_exceeded`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`", body = ErrorBody),
        (status = 422, description = "`invalid_processors`, `invalid_options`", body = ErrorBody),
        (status = 460, description = "`checksum_mismatch`: the chunk does not have the digest sent", body = ErrorBody),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_version(&req)?;
    if req.headers().contains_key("Upload-Defer-Length") {
        return Err(ApiError::bad_request(
            "invalid_header",
            "Upload-Defer-Length is not supported: send Upload-Length",
        ));
    }
    let length = header_number(&req, "Upload-Length")?;
    let metadata = header_text(req.headers(), "Upload-Metadata")
        .map(UploadMetadata::parse)
        .transpose()
        .map_err(|err| ApiError::bad_request("invalid_metadata", err.to_string()))?
        .unwrap_or_default();
    let with_chunk = is_chunk(&req);
    let checksum = checksum(&req)?;
    let expires_at = Utc::now()
        + chrono::Duration::from_std(state.config.upload_expiry).unwrap_or(chrono::Duration::MAX);
    let ingest = state.actors.ingest.clone();
    let create = |first_chunk| {
        carry(
            &ingest,
            CreateResumable {
                request_id,
                user_id: caller.user_id,
                length,
                metadata,
                expires_at,
                first_chunk,
            },
        )
    };
    let upload = match with_chunk {
        true => pump_into(payload, |body| create(Some(Chunk { body, checksum }))).await?,
        false => create(None).await?,
    };
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/uploads/{}", upload.id)));
    let mut response = match with_chunk {
        true => describe(response, &upload),
        false => {
            response.insert_header(("Upload-Expires", http_date(upload.expires_at)));
            response
        }
    };
    Ok(response.finish())
}

/// How much of the upload the server has.
#[utoipa::path(
    head,
    path = "/api/uploads/{id}",
    tag = "uploads",
    operation_id = "tus_offset",
    params(("id" = Uuid, Path, description = "The upload's id"), ("Tus-Resumable" = String, Header, description = "`1.0.0`")),
    responses(
        (status = 200, description = "The offset to send from.",
            headers(
                ("Upload-Offset" = u64, description = "Bytes stored"),
                ("Upload-Length" = u64, description = "The file's size"),
                ("Upload-Expires" = String, description = "When an unfinished upload is dropped"),
                ("Kiln-File-Id" = Option<String>, description = "Once complete: the file it became"),
            )),
        (status = 412, description = "`unsupported_tus_version`", body = ErrorBody),
    ),
)]
async fn head(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    check_version(&req)?;
    let show = ShowResumable {
        request_id,
        user_id: caller.user_id,
        id: id.into_inner(),
    };
    let upload = ask(&state.actors.ingest, show).await?;
    let mut response = describe(HttpResponse::Ok(), &upload);
    response
        .insert_header(("Upload-Length", upload.length.to_string()))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    Ok(response.finish())
}

/// Appends a chunk at `Upload-Offset`; the chunk that completes the upload
/// also makes the file.
#[utoipa::path(
    patch,
    path = "/api/uploads/{id}",
    tag = "uploads",
    operation_id = "tus_append",
    params(
        ("id" = Uuid, Path, description = "The upload's id"),
        ("Tus-Resumable" = String, Header, description = "`1.0.0`"),
        ("Upload-Offset" = u64, Header, description = "Where the chunk goes: the offset the server has"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of the chunk"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored.",
            headers(
                ("Upload-Offset" = u64, description = "The new offset"),
                ("Upload-Expires" = String, description = "When an unfinished upload is dropped"),
                ("Kiln-File-Id" = Option<String>, description = "When this chunk completed the upload: the file it became"),
            )),
        (status = 400, description = "`invalid_header`, `invalid_checksum`, `past_upload_length`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "`offset_mismatch`: the server has another offset; `upload_complete`", body = ErrorBody),
        (status = 412, description = "`unsupported_tus_version`", body = ErrorBody),
        (status = 413, description = "`file_too_large`, `quota_exceeded`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: the body is not `application/offset+octet-stream`, \
            or the completed file is of a type Kiln does not take", body = ErrorBody),
        (status = 422, description = "`invalid_processors`, `invalid_options`", body = ErrorBody),
        (status = 423, description = "`locked`: another request is writing to this upload; retry shortly", body = ErrorBody),
        (status = 460, description = "`checksum_mismatch`", body = ErrorBody),
    ),
)]
async fn append(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_version(&req)?;
    if !is_chunk(&req) {
        return Err(ApiError::UnsupportedType(format!(
            "a PATCH body must be Content-Type: {}",
            tus::CHUNK_CONTENT_TYPE
        )));
    }
    let offset = header_number(&req, "Upload-Offset")?;
    let checksum = checksum(&req)?;
    let ingest = state.actors.ingest.clone();
    let upload = pump_into(payload, |body| {
        carry(
            &ingest,
            AppendResumable {
                request_id,
                user_id: caller.user_id,
                id: id.into_inner(),
                offset,
                chunk: Chunk { body, checksum },
            },
        )
    })
    .await?;
    Ok(describe(HttpResponse::NoContent(), &upload).finish())
}

/// Drops an unfinished upload and what it stored.
#[utoipa::path(
    delete,
    path = "/api/uploads/{id}",
    tag = "uploads",
    operation_id = "tus_terminate",
    params(("id" = Uuid, Path, description = "The upload's id"), ("Tus-Resumable" = String, Header, description = "`1.0.0`")),
    responses(
        (status = 204, description = "The upload and what it stored are gone (a file it became stays)."),
        (status = 412, description = "`unsupported_tus_version`", body = ErrorBody),
    ),
)]
async fn terminate(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    check_version(&req)?;
    let terminate = TerminateResumable {
        request_id,
        user_id: caller.user_id,
        id: id.into_inner(),
    };
    ask(&state.actors.ingest, terminate).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The file a finished upload became, with its jobs, as `/api/upload` answers.
#[utoipa::path(
    get,
    path = "/api/uploads/{id}",
    tag = "uploads",
    operation_id = "tus_file",
    params(("id" = Uuid, Path, description = "The upload's id")),
    responses(
        (status = 200, description = "The file and its jobs.", body = FileAccepted),
        (status = 409, description = "`upload_incomplete`: bytes are still missing", body = ErrorBody),
    ),
)]
async fn show(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let show = ShowResumable {
        request_id: request_id.clone(),
        user_id: caller.user_id,
        id: id.into_inner(),
    };
    let upload = ask(&state.actors.ingest, show).await?;
    let Some(file_id) = upload.file_id else {
        return Err(ApiError::Conflict {
            code: "upload_incomplete",
            message: format!(
                "the upload has {} of its {} bytes; send the rest first",
                upload.offset, upload.length
            ),
        });
    };
    let details = ask(
        &state.actors.catalog,
        FindFile {
            request_id,
            user_id: caller.user_id,
            file_id,
        },
    )
    .await?
    .ok_or(ApiError::NotFound("file"))?;
    Ok(HttpResponse::build(StatusCode::OK).json(FileAccepted {
        file: FileBody::from(details.file),
        jobs: details.jobs.into_iter().map(JobBody::from).collect(),
    }))
}
