//! What the webhooks aggregate replies with.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use uuid::Uuid;

use crate::domain::webhooks::subscriptions;
use crate::entities::{webhook_deliveries, webhooks};

/// An endpoint, without its secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Set when deliveries kept failing until Kiln gave up on the endpoint.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<webhooks::Model> for Webhook {
    fn from(model: webhooks::Model) -> Self {
        Self {
            id: model.id,
            url: model.url,
            description: model.description,
            events: subscriptions(&model.events),
            created_at: model.created_at,
            disabled_at: model.disabled_at,
        }
    }
}

/// Most endpoints one account may have.
pub const MAX_WEBHOOKS_PER_USER: u64 = 16;

/// What asking for a new endpoint did.
#[derive(Debug, Clone)]
pub enum WebhookCreation {
    Created(Webhook),
    /// The account has not verified its address (or is gone).
    AddressUnverified,
    /// The account has [`MAX_WEBHOOKS_PER_USER`] already.
    TooMany,
}

/// A delivery as its endpoint's owner sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub event: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// The status the endpoint answered the last attempt with, if it answered.
    pub status_code: Option<i32>,
    pub attempts: i32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook_deliveries::Model> for Delivery {
    fn from(model: webhook_deliveries::Model) -> Self {
        let pending = model.status == PENDING;
        Self {
            id: model.id,
            event: model.event,
            status: model.status,
            status_code: model.status_code,
            attempts: model.attempts,
            next_attempt_at: pending.then_some(model.next_attempt_at),
            last_error: model.last_error,
            created_at: model.created_at,
        }
    }
}

/// A delivery a worker claimed, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: Uuid,
    pub event: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i32,
    pub url: String,
    /// The endpoint's signing secret: never printed, not even by `Debug`.
    pub secret: SecretString,
    pub created_at: DateTime<Utc>,
    /// The claim's lease: the outcome is recorded only while it holds.
    pub leased_until: DateTime<Utc>,
}

/// A delivery's states.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// What asking for a test delivery did.
#[derive(Debug, Clone)]
pub enum TestQueued {
    Queued(Delivery),
    NoSuchWebhook,
    /// Kiln gave up on the endpoint: nothing goes to it any more.
    Disabled,
}

/// What recording an attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptRecorded {
    Delivered,
    /// Failed; tried again at this time.
    WillRetry(DateTime<Utc>),
    /// Failed for the last time: the delivery failed and its endpoint is now
    /// disabled. Whom to tell, and about which endpoint.
    GaveUp {
        owner_email: String,
        url: String,
    },
    /// The lease ran out (another worker has it now), or the delivery or its
    /// endpoint is gone: nothing recorded.
    LeaseLost,
}

/// The outbox's depth, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxDepth {
    pub pending: u64,
    /// Seconds the oldest pending delivery has waited since its event.
    pub oldest_pending_seconds: f64,
}
