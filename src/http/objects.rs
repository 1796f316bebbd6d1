//! `GET /objects/{key}?expires=&signature=`: serves an object of the local
//! backend through a link the Storage actor signed. S3 serves its own links, so
//! with S3 configured this route answers 404.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::storage::messages::OpenSignedObject;
use crate::actors::storage::{ObjectKey, signing::ROUTE_PREFIX};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        &format!("/{ROUTE_PREFIX}/{{key:.+}}"),
        web::get().to(open_signed),
    );
}

#[derive(Deserialize)]
struct LinkQuery {
    expires: i64,
    signature: String,
}

async fn open_signed(
    state: web::Data<AppState>,
    request_id: RequestId,
    key: web::Path<String>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = ObjectKey::parse(&key).map_err(|_| ApiError::NotFound("object"))?;
    let content_type = mime_guess::from_path(key.as_str()).first_or_octet_stream();
    let query = query.into_inner();
    let object = ask(
        &state.actors.storage,
        OpenSignedObject {
            request_id,
            key,
            expires: query.expires,
            signature: query.signature,
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type.as_ref())
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .body(SizedStream::new(object.size, object.body)))
}
