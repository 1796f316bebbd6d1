//! Webhooks: a user's endpoints (add, list, delete), each one's latest
//! deliveries, and a test event on request. What is sent and when is the
//! outbox's and the Courier's (`actors::webhooks`); these handlers only keep
//! the endpoints.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::actors::catalog::webhooks::{
    CreateWebhook, DeleteWebhook, Delivery, ListDeliveries, ListWebhooks, MAX_WEBHOOKS_PER_USER,
    QueueTestDelivery, TestQueued, Webhook, WebhookCreation,
};
use crate::domain::webhooks::{
    generate_secret, is_public, literal_address, parse_endpoint, parse_subscriptions,
};
use crate::http::auth::Authenticated;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .route("/webhooks/{id}", web::delete().to(delete))
    .route("/webhooks/{id}/deliveries", web::get().to(deliveries))
    .route("/webhooks/{id}/test", web::post().to(send_test));
}

/// Longest description of an endpoint, in characters.
const MAX_DESCRIPTION_CHARS: usize = 200;
/// Deliveries listed per endpoint: the latest.
const DELIVERIES_LISTED: u64 = 50;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    /// Where deliveries are POSTed: an absolute http(s) URL.
    #[schema(examples("https://hooks.example.com/kiln"))]
    url: String,
    /// The events to send: `file.ready`, `file.failed`, `job.dead`.
    #[schema(examples(json!(["file.ready", "file.failed"])))]
    events: Vec<String>,
    /// A note for people, up to 200 characters.
    description: Option<String>,
}

/// `webhook` as the API shows it; `secret` only in the answer that made it.
#[derive(Serialize, ToSchema)]
#[schema(as = Webhook)]
struct WebhookBody {
    id: Uuid,
    url: String,
    events: Vec<String>,
    description: Option<String>,
    created_at: DateTime<Utc>,
    /// Set when deliveries failed for `WEBHOOK_GIVE_UP_AFTER` and Kiln
    /// stopped sending to it; add it again to start over.
    disabled_at: Option<DateTime<Utc>>,
    /// `whsec_...`: the key of every delivery's `webhook-signature`; shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<Webhook> for WebhookBody {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events,
            description: webhook.description,
            created_at: webhook.created_at,
            disabled_at: webhook.disabled_at,
            secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct WebhookEnvelope {
    webhook: WebhookBody,
}

#[derive(Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<WebhookBody>,
}

/// A delivery, as its endpoint's owner sees it.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
struct DeliveryBody {
    /// Also its `webhook-id` header: the same on every attempt.
    id: Uuid,
    event: String,
    /// `pending`, `delivered` or `failed` (given up).
    status: String,
    /// What the endpoint answered the last attempt with, if it answered.
    status_code: Option<i32>,
    attempts: i32,
    /// When the next attempt is due, while pending.
    next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, if it did.
    last_error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryBody {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: delivery.id,
            event: delivery.event,
            status: delivery.status,
            status_code: delivery.status_code,
            attempts: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            last_error: delivery.last_error,
            created_at: delivery.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct DeliveryList {
    deliveries: Vec<DeliveryBody>,
}

#[derive(Serialize, ToSchema)]
struct DeliveryEnvelope {
    delivery: DeliveryBody,
}

/// Adds an endpoint; its signing secret is shown this once.
#[utoipa::path(
    post,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "create_webhook",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "The endpoint, with its secret.", body = WebhookEnvelope,
            links(
                ("WebhookDeliveries" = (operation_id = "list_webhook_deliveries", parameters(("id" = "$response.body#/webhook/id")))),
                ("TestWebhook" = (operation_id = "test_webhook", parameters(("id" = "$response.body#/webhook/id")))),
                ("DeleteWebhook" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/webhook/id")))),
            )),
        (status = 403, description = "`email_unverified`: verify the account's address first; `account_disabled`", body = ErrorBody),
        (status = 422, description = "`invalid_url` (not an absolute http(s) URL, or a private address), \
            `invalid_events`, `invalid_description`, `too_many_webhooks`", body = ErrorBody),
    ),
)]
async fn create(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    body: web::Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let NewWebhook {
        url,
        events,
        description,
    } = body.into_inner();
    let added = add_endpoint(
        &state,
        request_id,
        caller.user_id,
        &url,
        &events,
        description,
    )
    .await?;
    let mut webhook = WebhookBody::from(added.webhook);
    webhook.secret = Some(added.secret);
    Ok(HttpResponse::Created().json(WebhookEnvelope { webhook }))
}

/// An endpoint just added, with its secret (shown this once).
pub(crate) struct AddedEndpoint {
    pub webhook: Webhook,
    pub secret: String,
}

/// Adds an endpoint for `user_id`, as the API and the settings page ask:
/// checks the URL (absolute http(s); not a private address written out,
/// unless allowed), the events and the description, and makes its secret.
pub(crate) async fn add_endpoint(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
    url: &str,
    events: &[String],
    description: Option<String>,
) -> Result<AddedEndpoint, ApiError> {
    let url = parse_endpoint(url).map_err(|m| ApiError::unprocessable("invalid_url", m))?;
    if let Some(address) = literal_address(&url)
        && !state.config.webhooks.allow_private_networks
        && !is_public(address)
    {
        return Err(ApiError::unprocessable(
            "invalid_url",
            format!("{address} is not a public address; Kiln sends webhooks only to public ones"),
        ));
    }
    let events =
        parse_subscriptions(events).map_err(|m| ApiError::unprocessable("invalid_events", m))?;
    let description = description
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty());
    if description
        .as_ref()
        .is_some_and(|text| text.chars().count() > MAX_DESCRIPTION_CHARS)
    {
        return Err(ApiError::unprocessable(
            "invalid_description",
            format!("description must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if description
        .as_ref()
        .is_some_and(|text| text.chars().any(char::is_control))
    {
        return Err(ApiError::unprocessable(
            "invalid_description",
            "description must not contain control characters",
        ));
    }
    let secret = generate_secret();
    let create = CreateWebhook {
        request_id,
        user_id,
        url: url.to_string(),
        description,
        events,
        secret: secret.clone(),
    };
    let webhook = match ask(&state.actors.catalog, create).await? {
        WebhookCreation::Created(webhook) => webhook,
        WebhookCreation::AddressUnverified => return Err(ApiError::EmailUnverified),
        WebhookCreation::TooMany => {
            return Err(ApiError::unprocessable(
                "too_many_webhooks",
                format!("an account has at most {MAX_WEBHOOKS_PER_USER} webhook endpoints"),
            ));
        }
    };
    tracing::info!(webhook_id = %webhook.id, "webhook endpoint added");
    Ok(AddedEndpoint { webhook, secret })
}

/// The caller's endpoints, without their secrets.
#[utoipa::path(
    get,
    path = "/api/webhooks",
    tag = "webhooks",
    operation_id = "list_webhooks",
    responses((status = 200, description = "The endpoints, newest first.", body = WebhookList)),
)]
async fn list(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let listing = ListWebhooks {
        request_id,
        user_id: caller.user_id,
    };
    let webhooks = ask(&state.actors.catalog, listing).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        webhooks: webhooks.into_iter().map(WebhookBody::from).collect(),
    }))
}

/// Deletes an endpoint: nothing more is sent to it.
#[utoipa::path(
    delete,
    path = "/api/webhooks/{id}",
    tag = "webhooks",
    operation_id = "delete_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 204, description = "The endpoint and its deliveries are gone.")),
)]
async fn delete(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    webhook_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let delete = DeleteWebhook {
        request_id,
        user_id: caller.user_id,
        webhook_id: webhook_id.into_inner(),
    };
    match ask(&state.actors.catalog, delete).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(ApiError::NotFound("webhook")),
    }
}

/// The endpoint's latest deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "list_webhook_deliveries",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, description = "Up to 50 deliveries.", body = DeliveryList)),
)]
async fn deliveries(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    webhook_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let listing = ListDeliveries {
        request_id,
        user_id: caller.user_id,
        webhook_id: webhook_id.into_inner(),
        limit: DELIVERIES_LISTED,
    };
    let deliveries = ask(&state.actors.catalog, listing)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        deliveries: deliveries.into_iter().map(DeliveryBody::from).collect(),
    }))
}

/// Sends the endpoint a `webhook.test` event, to try it out.
#[utoipa::path(
    post,
    path = "/api/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "test_webhook",
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 202, description = "The test delivery is queued.", body = DeliveryEnvelope),
        (status = 409, description = "`webhook_disabled`: Kiln gave up on the endpoint", body = ErrorBody),
    ),
)]
async fn send_test(
    state: web::Data<AppState>,
    request_id: RequestId,
    caller: Authenticated,
    webhook_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let delivery = queue_test(&state, request_id, caller.user_id, webhook_id.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(DeliveryEnvelope {
        delivery: delivery.into(),
    }))
}

/// Queues a `webhook.test` delivery to one of `user_id`'s endpoints, as the
/// API and the settings page ask.
pub(crate) async fn queue_test(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
    webhook_id: Uuid,
) -> Result<Delivery, ApiError> {
    let test = QueueTestDelivery {
        request_id,
        user_id,
        webhook_id,
    };
    match ask(&state.actors.catalog, test).await? {
        TestQueued::Queued(delivery) => Ok(delivery),
        TestQueued::NoSuchWebhook => Err(ApiError::NotFound("webhook")),
        TestQueued::Disabled => Err(ApiError::Conflict {
            code: "webhook_disabled",
            message: "Kiln gave up on this endpoint and sends it nothing; add it again".into(),
        }),
    }
}
