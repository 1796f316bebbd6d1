//! The Events actor fans job and file status changes out to whoever watches
//! (the SSE route). When `REDIS_URL` is set it publishes on Redis pub/sub (on
//! connections asked of the [`Redis`] actor), so an event raised by any worker
//! reaches subscribers on every API process; on the embedded default it is an
//! in-process broadcast.
//!
//! - Accepts: [`PublishEvent`] (notification; losing one only delays a
//!   watcher's view, never the work), [`Subscribe`] and [`WatchFile`] (which
//!   opens with the file's state, read from the Catalog).
//! - With Redis, a task it starts re-broadcasts the channel locally and
//!   resubscribes after a dropped connection.
//! - Supervised by the Supervisor.
//!
//! It also counts the streams each user has open, and refuses a subscription
//! beyond `MAX_EVENT_STREAMS_PER_USER`: each open stream holds a connection and
//! a receiver, so one account must not be able to hold hundreds. The count is
//! per process, which is exact for what it limits: a stream lives on the one
//! api process that accepted it, and holds that process's resources. A
//! [`Subscription`] gives its place back when it is dropped, that is when the
//! client goes away and the response ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, ResponseFuture, Supervised};
use chrono::{DateTime, Utc};
use deadpool_redis::redis::AsyncCommands;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::actors::catalog::Job;
use crate::actors::catalog::files::FindFile;
use crate::actors::catalog::{Catalog, CatalogError};
use crate::actors::redis::{CheckOut, OpenPubSub, Redis};
use crate::actors::restart::RestartBackoff;
use crate::domain::jobs::FileStatus;
use crate::telemetry::RequestId;

/// A change a watcher of a file cares about; the data of each server-sent
/// event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatusEvent {
    Job {
        user_id: Uuid,
        file_id: Uuid,
        job_id: Uuid,
        processor: String,
        variant: String,
        status: String,
        attempts: i32,
        error: Option<String>,
        at: DateTime<Utc>,
    },
    File {
        user_id: Uuid,
        file_id: Uuid,
        status: String,
        at: DateTime<Utc>,
    },
}

impl StatusEvent {
    /// The event saying `job` is now as it is.
    pub fn job(user_id: Uuid, job: &Job, at: DateTime<Utc>) -> Self {
        Self::Job {
            user_id,
            file_id: job.file_id,
            job_id: job.id,
            processor: job.processor.clone(),
            variant: job.variant.clone(),
            status: job.status.as_str().into(),
            attempts: job.attempts,
            error: job.error.clone(),
            at,
        }
    }

    pub fn file(user_id: Uuid, file_id: Uuid, status: FileStatus, at: DateTime<Utc>) -> Self {
        Self::File {
            user_id,
            file_id,
            status: status.as_str().into(),
            at,
        }
    }

    pub fn file_id(&self) -> Uuid {
        match self {
            Self::Job { file_id, .. } | Self::File { file_id, .. } => *file_id,
        }
    }
}

/// Events a slow subscriber may fall behind by before it misses some.
const BUFFER: usize = 1024;
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("too many open event streams: at most {limit} per user")]
    TooManyStreams { limit: usize },
    #[error("file not found")]
    FileNotFound,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("the catalog did not answer")]
    Mailbox(#[from] actix::MailboxError),
}

pub struct Events {
    /// Asked for a watched file's state when its stream opens.
    catalog: Addr<Catalog>,
    local: broadcast::Sender<StatusEvent>,
    redis: Option<RedisChannel>,
    streams: OpenStreams,
    /// `MAX_EVENT_STREAMS_PER_USER`.
    max_streams_per_user: usize,
    restarts: RestartBackoff,
}

/// How many streams each user has open on this process. Shared with the
/// [`StreamSlot`]s, which give their place back when dropped, without a
/// message: a slot must be freed even while the actor restarts.
#[derive(Clone, Default)]
struct OpenStreams(Arc<Mutex<HashMap<Uuid, usize>>>);

impl OpenStreams {
    /// A place for one more stream of `user_id`, unless they have `limit` open.
    fn take(&self, user_id: Uuid, limit: usize) -> Option<StreamSlot> {
        // A panic while the lock was held cannot leave the map inconsistent:
        // every change is a single insert or remove.
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(user_id).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            streams: self.clone(),
            user_id,
        })
    }
}

/// One user's place among the open streams, held as long as the stream is.
struct StreamSlot {
    streams: OpenStreams,
    user_id: Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

struct RedisChannel {
    /// Gives a pooled connection to publish, and a dedicated one to subscribe.
    owner: Addr<Redis>,
    channel: String,
}

impl Events {
    /// `redis`: the Redis actor and the key namespace, when `REDIS_URL` is set;
    /// `max_streams_per_user`: `MAX_EVENT_STREAMS_PER_USER`.
    pub fn new(
        catalog: Addr<Catalog>,
        redis: Option<(Addr<Redis>, &str)>,
        max_streams_per_user: usize,
    ) -> Self {
        let (local, _) = broadcast::channel(BUFFER);
        Self {
            catalog,
            local,
            redis: redis.map(|(owner, namespace)| RedisChannel {
                owner,
                channel: format!("{namespace}:events"),
            }),
            streams: OpenStreams::default(),
            max_streams_per_user,
            restarts: RestartBackoff::default(),
        }
    }
}

impl Actor for Events {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(redis) = &self.redis else { return };
        let owner = redis.owner.clone();
        let channel = redis.channel.clone();
        let local = self.local.clone();
        ctx.spawn(actix::fut::wrap_future(relay(owner, channel, local)));
    }
}

impl Supervised for Events {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("events", ctx);
    }
}

/// Re-broadcasts the Redis channel to local subscribers, forever.
async fn relay(owner: Addr<Redis>, channel: String, local: broadcast::Sender<StatusEvent>) {
    loop {
        match owner.send(OpenPubSub).await {
            Ok(Ok(mut pubsub)) => {
                if let Err(err) = pubsub.subscribe(&channel).await {
                    tracing::warn!(error = %err, "cannot subscribe to the events channel");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload: String = match message.get_payload() {
                            Ok(payload) => payload,
                            Err(_) => continue,
                        };
                        if let Ok(event) = serde_json::from_str::<StatusEvent>(&payload) {
                            // No subscriber is fine: nobody is watching.
                            let _ = local.send(event);
                        }
                    }
                    tracing::warn!("the events subscription ended; resubscribing");
                }
            }
            Ok(Err(err)) => tracing::warn!(error = %err, "cannot connect to redis for events"),
            Err(err) => tracing::warn!(error = %err, "cannot connect to redis for events"),
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct PublishEvent(pub StatusEvent);

/// Opens a stream for `user_id`: a receiver of every event from now on (the
/// caller filters what it needs), or `TooManyStreams` when the user has
/// `MAX_EVENT_STREAMS_PER_USER` open on this process already.
#[derive(Message)]
#[rtype(result = "Result<Subscription, EventsError>")]
pub struct Subscribe {
    pub user_id: Uuid,
}

/// An open stream: keep it as long as the stream is open, and drop it when
/// the stream ends, which gives the user's place back.
pub struct Subscription {
    pub receiver: broadcast::Receiver<StatusEvent>,
    _slot: StreamSlot,
}

impl Handler<PublishEvent> for Events {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: PublishEvent, _: &mut Self::Context) -> Self::Result {
        let Some(redis) = &mut self.redis else {
            let _ = self.local.send(msg.0);
            return Box::pin(async {});
        };
        let owner = redis.owner.clone();
        let channel = redis.channel.clone();
        let local = self.local.clone();
        Box::pin(async move {
            let payload = match serde_json::to_string(&msg.0) {
                Ok(payload) => payload,
                Err(err) => return tracing::error!(error = %err, "cannot encode an event"),
            };
            let published = match owner.send(CheckOut).await {
                Ok(Ok(mut connection)) => connection
                    .publish::<_, _, ()>(&channel, payload)
                    .await
                    .map_err(|e| e.to_string()),
                Ok(Err(err)) => Err(err.to_string()),
                Err(err) => Err(err.to_string()),
            };
            if let Err(err) = published {
                // Redis is down: watchers on this process still hear of it.
                tracing::warn!(error = %err, "cannot publish an event to redis; delivering it locally");
                let _ = local.send(msg.0);
            }
        })
    }
}

impl Events {
    /// A new stream for `user_id`, unless they hold too many.
    fn subscribe(&self, user_id: Uuid) -> Result<Subscription, EventsError> {
        let limit = self.max_streams_per_user;
        let slot = self
            .streams
            .take(user_id, limit)
            .ok_or(EventsError::TooManyStreams { limit })?;
        Ok(Subscription {
            receiver: self.local.subscribe(),
            _slot: slot,
        })
    }
}

impl Handler<Subscribe> for Events {
    type Result = Result<Subscription, EventsError>;

    fn handle(&mut self, msg: Subscribe, _: &mut Self::Context) -> Self::Result {
        self.subscribe(msg.user_id)
    }
}

/// Opens a stream of one of the user's files: subscribed first, then the
/// file's current state read, so nothing falls between the two.
#[derive(Message)]
#[rtype(result = "Result<FileWatch, EventsError>")]
pub struct WatchFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// A watched file's stream: its opening state (each job's status, then the
/// file's), and the subscription to what happens next (every event of the
/// user; the caller keeps this file's).
pub struct FileWatch {
    pub opening: Vec<StatusEvent>,
    pub subscription: Subscription,
}

impl Handler<WatchFile> for Events {
    type Result = ResponseFuture<Result<FileWatch, EventsError>>;

    fn handle(&mut self, msg: WatchFile, _: &mut Self::Context) -> Self::Result {
        let subscription = self.subscribe(msg.user_id);
        let catalog = self.catalog.clone();
        Box::pin(async move {
            let subscription = subscription?;
            let details = catalog
                .send(FindFile {
                    request_id: msg.request_id,
                    user_id: msg.user_id,
                    file_id: msg.file_id,
                })
                .await??
                .ok_or(EventsError::FileNotFound)?;
            let now = Utc::now();
            let user_id = details.file.user_id;
            let mut opening: Vec<StatusEvent> = details
                .jobs
                .iter()
                .map(|job| StatusEvent::job(user_id, job, now))
                .collect();
            opening.push(StatusEvent::file(
                user_id,
                msg.file_id,
                details.file.status,
                now,
            ));
            Ok(FileWatch {
                opening,
                subscription,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_the_limit_of_slots_and_a_dropped_one_frees_its_place() {
        let streams = OpenStreams::default();
        let (ada, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let held: Vec<StreamSlot> = (0..3).filter_map(|_| streams.take(ada, 3)).collect();
        assert_eq!(held.len(), 3);
        assert!(streams.take(ada, 3).is_none());
        // Another user's count is their own.
        assert!(streams.take(bob, 3).is_some());

        drop(held);
        let again: Vec<StreamSlot> = (0..3).filter_map(|_| streams.take(ada, 3)).collect();
        assert_eq!(again.len(), 3);
        assert!(
            streams.0.lock().unwrap().get(&bob).is_none(),
            "a user with none open takes no room"
        );
    }
}
