//! `GET /api/files/{id}/events`: a `text/event-stream` of the file's job and
//! file status changes. It opens with the current state (so a watcher that
//! connects late misses nothing), then relays events as they happen, from any
//! worker, with a comment line every 15 s to keep proxies from closing it.
//!
//! `GET /api/events` (an extension, for the web UI's file grid and upload
//! page): the same events for every file of the caller, from now on. It has no
//! opening state (a user may have many files); a client that needs the state
//! reads it from `/api/files` once the stream is open.
//!
//! Both count towards the caller's `MAX_EVENT_STREAMS_PER_USER` (the Events
//! actor keeps the count); one more is refused with 429 `too_many_streams`.
//! A stream's place is given back when its response ends: when the client
//! goes away.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tokio::sync::broadcast;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::actors::events::{FileWatch, StatusEvent, Subscribe, Subscription, WatchFile};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/files/{id}/events", web::get().to(events))
        .route("/events", web::get().to(user_events));
}

const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One event of the streams, as the API's document describes it (an OpenAPI
/// 3.1 event-stream schema describes each event): named `job` or `file`
/// ([`frame`]), its data a [`StatusEvent`] in JSON.
struct StatusEventFrame;

impl PartialSchema for StatusEventFrame {
    fn schema() -> RefOr<Schema> {
        let name = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["job", "file"]));
        let data = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/json")
            .content_schema(Some(Ref::from_schema_name("StatusEvent")));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("event", name)
            .property("data", data)
            .required("event")
            .required("data")
            .into()
    }
}

impl ToSchema for StatusEventFrame {}

fn frame(event: &StatusEvent) -> Bytes {
    let name = match event {
        StatusEvent::Job { .. } => "job",
        StatusEvent::File { .. } => "file",
    };
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The file's current state, then its job and file changes as they happen.
#[utoipa::path(
    get,
    path = "/api/files/{id}/events",
    tag = "events",
    operation_id = "file_events",
    params(("id" = Uuid, Path, description = "The file's id")),
    responses(
        (status = 200, description = "Server-sent events named `job` and `file`, whose data is a `StatusEvent`.",
            content_type = "text/event-stream", body = inline(StatusEventFrame)),
        (status = 429, description = "`too_many_streams`: close one of your streams first", body = ErrorBody),
    ),
)]
async fn events(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    file_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let file_id = file_id.into_inner();
    let watch = WatchFile {
        request_id,
        user_id: caller.user_id,
        file_id,
    };
    let FileWatch {
        opening,
        subscription,
    } = ask(&state.actors.events, watch).await?;
    let opening = opening.iter().map(frame).collect();
    Ok(event_stream(opening, subscription, move |event| {
        event.file_id() == file_id
    }))
}

/// Job and file changes of all the caller's files, from now on.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    operation_id = "user_events",
    responses(
        (status = 200, description = "Server-sent events named `job` and `file`, whose data is a `StatusEvent`.",
            content_type = "text/event-stream", body = inline(StatusEventFrame)),
        (status = 429, description = "`too_many_streams`: close one of your streams first", body = ErrorBody),
    ),
)]
async fn user_events(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user_id = caller.user_id;
    let subscription = ask(&state.actors.events, Subscribe { user_id }).await?;
    // An EventSource reconnects after 2 s rather than its default 3 s; the
    // frame also gets the response under way at once.
    let opening = vec![Bytes::from_static(b"retry: 2000\n\n")];
    Ok(event_stream(opening, subscription, move |event| {
        let (StatusEvent::Job { user_id: owner, .. } | StatusEvent::File { user_id: owner, .. }) =
            event;
        *owner == user_id
    }))
}

/// The `text/event-stream` response: `opening`, then every event of the
/// `subscription` that `wanted` keeps, with a keep-alive comment when idle.
/// The body owns the subscription, so it is dropped when the response ends.
fn event_stream(
    opening: Vec<Bytes>,
    subscription: Subscription,
    wanted: impl Fn(&StatusEvent) -> bool + 'static,
) -> HttpResponse {
    let live = stream::unfold(
        (subscription, wanted),
        |(mut subscription, wanted)| async move {
            loop {
                match tokio::time::timeout(KEEP_ALIVE, subscription.receiver.recv()).await {
                    Ok(Ok(event)) if wanted(&event) => {
                        return Some((frame(&event), (subscription, wanted)));
                    }
                    Ok(Ok(_)) => continue,
                    Ok(Err(broadcast::error::RecvError::Lagged(missed))) => {
                        tracing::warn!(missed, "an event watcher fell behind");
                        continue;
                    }
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Err(_) => {
                        let keep_alive = Bytes::from_static(b": keep-alive\n\n");
                        return Some((keep_alive, (subscription, wanted)));
                    }
                }
            }
        },
    );
    let body = stream::iter(opening)
        .chain(live)
        .map(Ok::<_, std::convert::Infallible>);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}
