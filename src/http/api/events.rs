//! `GET /api/files/{id}/events`: a `text/event-stream` of the file's job and
//! file status changes. It opens with the current state (so a watcher that
//! connects late misses nothing), then relays events as they happen, from any
//! worker, with a comment line every 15 s to keep proxies from closing it.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::actors::catalog::messages::FindFile;
use crate::actors::events::{StatusEvent, Subscribe};
use crate::http::auth::Authenticated;
use crate::http::error::ApiError;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/files/{id}/events", web::get().to(events));
}

const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn frame(event: &StatusEvent) -> Bytes {
    let name = match event {
        StatusEvent::Job { .. } => "job",
        StatusEvent::File { .. } => "file",
    };
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

async fn events(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let file_id = file_id.into_inner();
    // Subscribe before reading the state, so nothing falls between the two.
    let receiver = state.actors.events.send(Subscribe).await?;
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

    let now = chrono::Utc::now();
    let user_id = details.file.user_id;
    let mut snapshot: Vec<StatusEvent> = details
        .jobs
        .iter()
        .map(|job| StatusEvent::job(user_id, job, now))
        .collect();
    snapshot.push(StatusEvent::file(
        user_id,
        file_id,
        details.file.status,
        now,
    ));

    let live = stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match tokio::time::timeout(KEEP_ALIVE, receiver.recv()).await {
                Ok(Ok(event)) if event.file_id() == file_id => {
                    return Some((frame(&event), receiver));
                }
                Ok(Ok(_)) => continue,
                Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    tracing::warn!(missed, "an event watcher fell behind");
                    continue;
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                Err(_) => return Some((Bytes::from_static(b": keep-alive\n\n"), receiver)),
            }
        }
    });
    let body = stream::iter(snapshot.iter().map(frame).collect::<Vec<_>>())
        .chain(live)
        .map(Ok::<_, std::convert::Infallible>);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body))
}
