//! Jobs: show one, and bring a dead one back.

use actix_web::{HttpResponse, web};
use serde_json::json;
use uuid::Uuid;

use super::bodies::JobBody;
use crate::actors::catalog::jobs::{FindJob, JobScope};
use crate::actors::ingest::RetryJob;
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs/{id}", web::get().to(show))
        .route("/jobs/{id}/retry", web::post().to(retry));
}

async fn show(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    job_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let job = ask(
        &state.actors.catalog,
        FindJob {
            request_id,
            user_id: caller.user_id,
            job_id: job_id.into_inner(),
        },
    )
    .await?
    .ok_or(ApiError::NotFound("job"))?;
    Ok(HttpResponse::Ok().json(json!({ "job": JobBody::from(job) })))
}

async fn retry(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    job_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let retry = RetryJob {
        request_id,
        scope: JobScope::OwnedBy(caller.user_id),
        job_id: job_id.into_inner(),
        file_id: None,
    };
    let job = ask(&state.actors.ingest, retry).await?;
    Ok(HttpResponse::Accepted().json(json!({ "job": JobBody::from(job) })))
}
