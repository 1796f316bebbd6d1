//! `GET /objects/{key}?expires=&type=&name=&signature=`: serves an object of
//! the local backend through a link the Storage actor signed, with the
//! delivery headers ([`Delivery::headers`]) of the type and name the link
//! carries (signed with it). S3 serves its own links, so with S3 configured
//! this route answers 404.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::storage::messages::OpenSignedObject;
use crate::actors::storage::{ObjectKey, signing::ROUTE_PREFIX};
use crate::domain::delivery::Delivery;
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
    #[serde(rename = "type")]
    content_type: String,
    name: String,
    signature: String,
}

async fn open_signed(
    state: web::Data<AppState>,
    request_id: RequestId,
    key: web::Path<String>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, ApiError> {
    let key = ObjectKey::parse(&key).map_err(|_| ApiError::NotFound("object"))?;
    let query = query.into_inner();
    let delivery = Delivery::new(query.content_type, query.name);
    let object = ask(
        &state.actors.storage,
        OpenSignedObject {
            request_id,
            key,
            expires: query.expires,
            delivery: delivery.clone(),
            signature: query.signature,
        },
    )
    .await?;
    // The signature held, so these are the type and name Kiln signed.
    let mut response = HttpResponse::Ok();
    for (name, value) in delivery.headers() {
        response.insert_header((name, value));
    }
    Ok(response
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .body(SizedStream::new(object.size, object.body)))
}
