//! Jobs: show one, and bring a dead one back.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use super::bodies::{JobBody, JobEnvelope};
use crate::actors::catalog::jobs::{FindJob, JobScope};
use crate::actors::ingest::RetryJob;
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs/{id}", web::get().to(show))
        .route("/jobs/{id}/retry", web::post().to(retry));
}

/// A job.
#[utoipa::path(
    get,
    path = "/api/jobs/{id}",
    tag = "jobs",
    operation_id = "show_job",
    params(("id" = Uuid, Path, description = "The job's id")),
    responses((status = 200, description = "The job.", body = JobEnvelope)),
)]
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
    Ok(HttpResponse::Ok().json(JobEnvelope {
        job: JobBody::from(job),
    }))
}

/// Queues a dead job again.
#[utoipa::path(
    post,
    path = "/api/jobs/{id}/retry",
    tag = "jobs",
    operation_id = "retry_job",
    params(("id" = Uuid, Path, description = "The job's id")),
    responses(
        (status = 202, description = "The job is queued again.", body = JobEnvelope),
        (status = 409, description = "`job_not_dead`: only a dead job is retried", body = ErrorBody),
    ),
)]
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
    Ok(HttpResponse::Accepted().json(JobEnvelope {
        job: JobBody::from(job),
    }))
}
