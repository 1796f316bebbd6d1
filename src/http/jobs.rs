//! Bringing a dead job back, whichever door asks: the JSON API
//! (`POST /api/jobs/{id}/retry`, the owner) and the administrators' jobs page
//! (`ui/admin`, any user's job) both call [`retry_dead_job`], so a retried job
//! is queued and published the same way.

use uuid::Uuid;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::catalog::Job;
use crate::actors::catalog::jobs::{Handoff, JobScope, RetryDeadJob};
use crate::actors::dispatcher::announce_queued;
use crate::telemetry::RequestId;

/// Puts a dead job within `scope` back in the queue with fresh attempts and
/// hands it to the Dispatcher. 404 when there is no such job in `scope`, 409
/// when it is not dead.
pub async fn retry_dead_job(
    state: &AppState,
    request_id: RequestId,
    scope: JobScope,
    job_id: Uuid,
) -> Result<Job, ApiError> {
    let job = ask(
        &state.actors.catalog,
        RetryDeadJob {
            request_id,
            scope,
            job_id,
            handoff: Handoff::Announced,
        },
    )
    .await?
    .ok_or(ApiError::NotFound("job"))?;
    announce_queued(state.actors.dispatcher.as_ref(), std::slice::from_ref(&job));
    tracing::info!(job_id = %job.id, ?scope, "dead job queued again");
    Ok(job)
}
