//! `GET|HEAD /objects/{key}?expires=&type=&name=[&v=]&signature=`: serves an
//! object of the local backend through a link the Storage actor signed, with
//! the delivery headers ([`Delivery::headers`]) of the type and name the link
//! carries (signed with it). S3 serves its own links, so with S3 configured
//! this route answers 404.
//!
//! The link names its bytes' version (`v`, their SHA-256) when Kiln knows it;
//! the response then has that as a strong `ETag`, answers `If-None-Match` with
//! 304, and may be kept until the link expires (`immutable`): another version
//! is another link. Every response honours one `Range` (206, or 416) and
//! answers `HEAD` with the headers alone.

use actix_web::body::SizedStream;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use chrono::Utc;
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::storage::messages::{OpenObject, OpenSignedObject, OpenedObject, Read};
use crate::actors::storage::{ObjectKey, signing::ROUTE_PREFIX};
use crate::domain::delivery::{ByteRange, Delivery, none_match};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("/{ROUTE_PREFIX}/{{key:.+}}"),
        web::route()
            .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
            .to(open_signed),
    );
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: i64,
    #[serde(rename = "type")]
    content_type: String,
    name: String,
    /// The SHA-256 of the bytes, when the link names their version.
    v: Option<String>,
    signature: String,
}

async fn open_signed(
    state: web::Data<AppState>,
    request_id: RequestId,
    req: HttpRequest,
    key: web::Path<String>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = ObjectKey::parse(&key).map_err(|_| ApiError::NotFound("object"))?;
    let query = query.into_inner();
    let delivery = Delivery::new(query.content_type, query.name).of_version(query.v);
    let etag = delivery.etag();
    let (read, client_holds_it) = what_to_read(&req, etag.as_deref());
    let object = ask(
        &state.actors.storage,
        OpenSignedObject {
            request_id,
            key,
            expires: query.expires,
            delivery: delivery.clone(),
            signature: query.signature,
            read,
        },
    )
    .await?;
    // The signature held, so these are the type, name and version Kiln signed.
    let max_age = (query.expires - Utc::now().timestamp()).max(0);
    let cache_control = match &etag {
        Some(_) => format!("public, max-age={max_age}, immutable"),
        None => format!("private, max-age={}", max_age.min(60)),
    };
    Ok(respond(
        &delivery,
        &cache_control,
        &[],
        client_holds_it,
        object,
    ))
}

/// Answers a request for the object at `key` that the caller has already let
/// in (a share link's, a transform's): the delivery headers, its `ETag` with
/// 304s, `cache_control`, one `Range` and `HEAD`. `more_headers` are added
/// to every answer (a 304 too).
pub(super) async fn deliver_object(
    state: &AppState,
    request_id: RequestId,
    req: &HttpRequest,
    key: ObjectKey,
    delivery: &Delivery,
    cache_control: &str,
    more_headers: &[(header::HeaderName, String)],
) -> Result<HttpResponse, ApiError> {
    let etag = delivery.etag();
    let (read, client_holds_it) = what_to_read(req, etag.as_deref());
    let object = ask(
        &state.actors.storage,
        OpenObject {
            request_id,
            key,
            read,
        },
    )
    .await?;
    Ok(respond(
        delivery,
        cache_control,
        more_headers,
        client_holds_it,
        object,
    ))
}

/// The answer carrying `object` (or a 304 when the client holds it): the
/// delivery headers, the `ETag` of its version, `cache_control` and
/// `more_headers`.
fn respond(
    delivery: &Delivery,
    cache_control: &str,
    more_headers: &[(header::HeaderName, String)],
    client_holds_it: bool,
    object: OpenedObject,
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    for (name, value) in delivery.headers() {
        response.insert_header((name, value));
    }
    if let Some(etag) = delivery.etag() {
        response.insert_header((header::ETAG, etag));
    }
    for (name, value) in more_headers {
        response.insert_header((name.clone(), value.as_str()));
    }
    response
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::ACCEPT_RANGES, "bytes"));
    if client_holds_it {
        return response.status(StatusCode::NOT_MODIFIED).finish();
    }
    with_bytes(response, object)
}

/// What a request for bytes whose `ETag` is `etag` needs read, and whether the
/// client already holds them (its `If-None-Match` names the tag: a 304).
fn what_to_read(req: &HttpRequest, etag: Option<&str>) -> (Read, bool) {
    let header_of = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let client_holds_it = match (etag, header_of(header::IF_NONE_MATCH)) {
        (Some(etag), Some(if_none_match)) => none_match(if_none_match, etag),
        _ => false,
    };
    let read = match *req.method() == Method::HEAD || client_holds_it {
        true => Read::Size,
        false => Read::Bytes {
            range: header_of(header::RANGE).map(str::to_string),
        },
    };
    (read, client_holds_it)
}

/// The response carrying `object`'s bytes, or the part of them it holds.
fn with_bytes(mut response: HttpResponseBuilder, object: OpenedObject) -> HttpResponse {
    let OpenedObject { size, part, body } = object;
    match (part, body) {
        (ByteRange::Unsatisfiable, _) => response
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
            .finish(),
        (ByteRange::Part { start, end }, Some(body)) => response
            .status(StatusCode::PARTIAL_CONTENT)
            .insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")))
            .body(SizedStream::new(end - start + 1, body)),
        (_, Some(body)) => response.body(SizedStream::new(size, body)),
        // A HEAD: the length of what a GET would send. Actix sends no body
        // in answer to HEAD, so this stream is never read.
        (_, None) => {
            let nothing = futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
            response.body(SizedStream::new(size, nothing))
        }
    }
}
