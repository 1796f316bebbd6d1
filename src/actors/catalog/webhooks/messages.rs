//! Messages of the webhooks aggregate.

use std::time::Duration;

use actix::Message;
use uuid::Uuid;

use super::records::*;
use crate::actors::catalog::CatalogError;
use crate::telemetry::RequestId;

/// Adds an endpoint for `user_id`. `events` is the validated comma list.
/// Only an account whose address is verified may (the mail that says an
/// endpoint was disabled carries its URL), and it may have at most
/// [`MAX_WEBHOOKS_PER_USER`].
#[derive(Message)]
#[rtype(result = "Result<WebhookCreation, CatalogError>")]
pub struct CreateWebhook {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: String,
    pub secret: String,
}

/// The user's endpoints, newest first.
#[derive(Message)]
#[rtype(result = "Result<Vec<Webhook>, CatalogError>")]
pub struct ListWebhooks {
    pub request_id: RequestId,
    pub user_id: Uuid,
}

/// Deletes one of the user's endpoints and its deliveries; `false` when the
/// user has no such endpoint.
#[derive(Message)]
#[rtype(result = "Result<bool, CatalogError>")]
pub struct DeleteWebhook {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub webhook_id: Uuid,
}

/// The endpoint's latest deliveries, newest first; `None` when the user has
/// no such endpoint.
#[derive(Message)]
#[rtype(result = "Result<Option<Vec<Delivery>>, CatalogError>")]
pub struct ListDeliveries {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub webhook_id: Uuid,
    pub limit: u64,
}

/// Queues a `webhook.test` delivery to one of the user's enabled endpoints.
#[derive(Message)]
#[rtype(result = "Result<TestQueued, CatalogError>")]
pub struct QueueTestDelivery {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub webhook_id: Uuid,
}

/// Claims up to `limit` deliveries that are due, to enabled endpoints, for
/// `lease`.
#[derive(Message)]
#[rtype(result = "Result<Vec<DueDelivery>, CatalogError>")]
pub struct ClaimDeliveries {
    pub lease: Duration,
    pub limit: u64,
}

/// How an attempt went.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// The endpoint answered 2xx.
    Delivered { status_code: u16 },
    /// It answered something else (`status_code`), or could not be reached,
    /// or was refused before sending (`error` says which).
    Failed {
        status_code: Option<u16>,
        error: String,
    },
}

/// When a failed delivery is tried again: `first` after its first failure,
/// doubling up to `longest`; once `give_up_after` has passed since its event,
/// it has failed for good and its endpoint is disabled.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub first: Duration,
    pub longest: Duration,
    pub give_up_after: Duration,
}

/// Records the outcome of an attempt at a claimed delivery.
#[derive(Message)]
#[rtype(result = "Result<AttemptRecorded, CatalogError>")]
pub struct RecordAttempt {
    pub delivery_id: Uuid,
    pub leased_until: chrono::DateTime<chrono::Utc>,
    pub attempt: Attempt,
    pub policy: RetryPolicy,
}

/// Counts pending deliveries and the age of the oldest.
#[derive(Message)]
#[rtype(result = "Result<OutboxDepth, CatalogError>")]
pub struct MeasureOutbox;
