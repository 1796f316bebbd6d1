//! Handlers of the webhooks aggregate.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::outbox;
use super::records::*;
use crate::actors::catalog::{Catalog, CatalogError, begin_write};
use crate::domain::webhooks::{EventType, retry_delay};
use crate::entities::{users, webhook_deliveries, webhooks};

/// The user's endpoint `webhook_id`, if it is theirs.
async fn owned<C: sea_orm::ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    webhook_id: Uuid,
) -> Result<Option<webhooks::Model>, sea_orm::DbErr> {
    webhooks::Entity::find_by_id(webhook_id)
        .filter(webhooks::Column::UserId.eq(user_id))
        .one(db)
        .await
}

impl Handler<CreateWebhook> for Catalog {
    type Result = ResponseFuture<Result<WebhookCreation, CatalogError>>;

    fn handle(&mut self, msg: CreateWebhook, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.create_webhook", request_id = %msg.request_id);
        self.run("create_webhook", span, |db| async move {
            let verified = users::Entity::find_by_id(msg.user_id)
                .one(&db)
                .await?
                .is_some_and(|user| user.email_verified);
            if !verified {
                return Ok(WebhookCreation::AddressUnverified);
            }
            let txn = begin_write(&db).await?;
            let existing = webhooks::Entity::find()
                .filter(webhooks::Column::UserId.eq(msg.user_id))
                .count(&txn)
                .await?;
            if existing >= MAX_WEBHOOKS_PER_USER {
                return Ok(WebhookCreation::TooMany);
            }
            let webhook = webhooks::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(msg.user_id),
                url: Set(msg.url),
                description: Set(msg.description),
                events: Set(msg.events),
                secret: Set(msg.secret),
                created_at: Set(Utc::now()),
                disabled_at: Set(None),
            }
            .insert(&txn)
            .await?;
            txn.commit().await?;
            Ok(WebhookCreation::Created(webhook.into()))
        })
    }
}

impl Handler<ListWebhooks> for Catalog {
    type Result = ResponseFuture<Result<Vec<Webhook>, CatalogError>>;

    fn handle(&mut self, msg: ListWebhooks, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_webhooks", request_id = %msg.request_id);
        self.run("list_webhooks", span, |db| async move {
            let endpoints = webhooks::Entity::find()
                .filter(webhooks::Column::UserId.eq(msg.user_id))
                .order_by_desc(webhooks::Column::CreatedAt)
                .order_by_desc(webhooks::Column::Id)
                .all(&db)
                .await?;
            Ok(endpoints.into_iter().map(Webhook::from).collect())
        })
    }
}

impl Handler<DeleteWebhook> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: DeleteWebhook, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.delete_webhook", request_id = %msg.request_id, webhook_id = %msg.webhook_id);
        self.run("delete_webhook", span, |db| async move {
            let txn = begin_write(&db).await?;
            if owned(&txn, msg.user_id, msg.webhook_id).await?.is_none() {
                return Ok(false);
            }
            // Its deliveries first: SQLite enforces the cascade only with
            // foreign keys on, and this must not depend on it.
            webhook_deliveries::Entity::delete_many()
                .filter(webhook_deliveries::Column::WebhookId.eq(msg.webhook_id))
                .exec(&txn)
                .await?;
            webhooks::Entity::delete_by_id(msg.webhook_id)
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(true)
        })
    }
}

impl Handler<ListDeliveries> for Catalog {
    type Result = ResponseFuture<Result<Option<Vec<Delivery>>, CatalogError>>;

    fn handle(&mut self, msg: ListDeliveries, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_deliveries", request_id = %msg.request_id, webhook_id = %msg.webhook_id);
        self.run("list_deliveries", span, |db| async move {
            if owned(&db, msg.user_id, msg.webhook_id).await?.is_none() {
                return Ok(None);
            }
            let deliveries = webhook_deliveries::Entity::find()
                .filter(webhook_deliveries::Column::WebhookId.eq(msg.webhook_id))
                .order_by_desc(webhook_deliveries::Column::CreatedAt)
                .order_by_desc(webhook_deliveries::Column::Id)
                .limit(msg.limit)
                .all(&db)
                .await?;
            Ok(Some(deliveries.into_iter().map(Delivery::from).collect()))
        })
    }
}

impl Handler<QueueTestDelivery> for Catalog {
    type Result = ResponseFuture<Result<TestQueued, CatalogError>>;

    fn handle(&mut self, msg: QueueTestDelivery, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.queue_test_delivery", request_id = %msg.request_id, webhook_id = %msg.webhook_id);
        self.run("queue_test_delivery", span, |db| async move {
            let Some(endpoint) = owned(&db, msg.user_id, msg.webhook_id).await? else {
                return Ok(TestQueued::NoSuchWebhook);
            };
            if endpoint.disabled_at.is_some() {
                return Ok(TestQueued::Disabled);
            }
            let now = Utc::now();
            let data = json!({ "webhook": { "id": endpoint.id, "url": endpoint.url } });
            let payload = outbox::payload(EventType::Test, now, data);
            let delivery = outbox::insert(&db, endpoint.id, EventType::Test, &payload, now).await?;
            Ok(TestQueued::Queued(delivery.into()))
        })
    }
}

/// Condition: the delivery is pending, due, and no live lease holds it.
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(webhook_deliveries::Column::Status.eq(PENDING))
        .add(webhook_deliveries::Column::NextAttemptAt.lte(now))
        .add(
            Condition::any()
                .add(webhook_deliveries::Column::LeasedUntil.is_null())
                .add(webhook_deliveries::Column::LeasedUntil.lt(now)),
        )
}

impl Handler<ClaimDeliveries> for Catalog {
    type Result = ResponseFuture<Result<Vec<DueDelivery>, CatalogError>>;

    fn handle(&mut self, msg: ClaimDeliveries, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.claim_deliveries");
        self.run("claim_deliveries", span, |db| async move {
            let now = Utc::now();
            let candidates = webhook_deliveries::Entity::find()
                .find_also_related(webhooks::Entity)
                .filter(claimable(now))
                .filter(webhooks::Column::DisabledAt.is_null())
                .order_by_asc(webhook_deliveries::Column::NextAttemptAt)
                .limit(msg.limit)
                .all(&db)
                .await?;
            let lease = chrono::Duration::from_std(msg.lease).unwrap_or(chrono::Duration::MAX);
            // The lease is also the claim's token (`RecordAttempt` matches it):
            // whole microseconds, as PostgreSQL keeps them.
            let leased_until = (now + lease).trunc_subsecs(6);
            let mut claimed = Vec::new();
            for (delivery, endpoint) in candidates {
                let Some(endpoint) = endpoint else { continue };
                // Another process may claim the same row now: one update wins.
                let taken = webhook_deliveries::Entity::update_many()
                    .col_expr(
                        webhook_deliveries::Column::LeasedUntil,
                        Expr::value(leased_until),
                    )
                    .filter(webhook_deliveries::Column::Id.eq(delivery.id))
                    .filter(claimable(now))
                    .exec(&db)
                    .await?;
                if taken.rows_affected == 1 {
                    claimed.push(DueDelivery {
                        id: delivery.id,
                        event: delivery.event,
                        payload: delivery.payload,
                        attempts: delivery.attempts,
                        url: endpoint.url,
                        secret: endpoint.secret.into(),
                        created_at: delivery.created_at,
                        leased_until,
                    });
                }
            }
            Ok(claimed)
        })
    }
}

impl Handler<RecordAttempt> for Catalog {
    type Result = ResponseFuture<Result<AttemptRecorded, CatalogError>>;

    fn handle(&mut self, msg: RecordAttempt, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.record_attempt", delivery_id = %msg.delivery_id);
        self.run("record_attempt", span, |db| async move {
            let txn = begin_write(&db).await?;
            let held = Condition::all()
                .add(webhook_deliveries::Column::Id.eq(msg.delivery_id))
                .add(webhook_deliveries::Column::Status.eq(PENDING))
                .add(webhook_deliveries::Column::LeasedUntil.eq(msg.leased_until));
            let Some((delivery, Some(endpoint))) = webhook_deliveries::Entity::find()
                .find_also_related(webhooks::Entity)
                .filter(held.clone())
                .one(&txn)
                .await?
            else {
                return Ok(AttemptRecorded::LeaseLost);
            };
            let now = Utc::now();
            let attempts = delivery.attempts.saturating_add(1);
            let update = webhook_deliveries::Entity::update_many()
                .col_expr(webhook_deliveries::Column::Attempts, Expr::value(attempts))
                .col_expr(
                    webhook_deliveries::Column::LeasedUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(held);
            let (status_code, error) = match &msg.attempt {
                Attempt::Delivered { status_code } => (Some(*status_code), None),
                Attempt::Failed { status_code, error } => (*status_code, Some(error.clone())),
            };
            let update = update
                .col_expr(
                    webhook_deliveries::Column::StatusCode,
                    Expr::value(status_code.map(i32::from)),
                )
                .col_expr(webhook_deliveries::Column::LastError, Expr::value(error));
            let given_up_at = delivery.created_at
                + chrono::Duration::from_std(msg.policy.give_up_after)
                    .unwrap_or(chrono::Duration::MAX);
            let delay = retry_delay(
                u32::try_from(attempts).unwrap_or(u32::MAX),
                msg.policy.first,
                msg.policy.longest,
            );
            let retry_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
            let recorded = match msg.attempt {
                Attempt::Delivered { .. } => {
                    update
                        .col_expr(webhook_deliveries::Column::Status, Expr::value(DELIVERED))
                        .col_expr(webhook_deliveries::Column::FinishedAt, Expr::value(now))
                        .exec(&txn)
                        .await?;
                    AttemptRecorded::Delivered
                }
                Attempt::Failed { .. } if retry_at <= given_up_at => {
                    update
                        .col_expr(
                            webhook_deliveries::Column::NextAttemptAt,
                            Expr::value(retry_at),
                        )
                        .exec(&txn)
                        .await?;
                    AttemptRecorded::WillRetry(retry_at)
                }
                Attempt::Failed { .. } => {
                    update
                        .col_expr(webhook_deliveries::Column::Status, Expr::value(FAILED))
                        .col_expr(webhook_deliveries::Column::FinishedAt, Expr::value(now))
                        .exec(&txn)
                        .await?;
                    // The first to give up disables it; later ones find it so.
                    let disabled = webhooks::Entity::update_many()
                        .col_expr(webhooks::Column::DisabledAt, Expr::value(now))
                        .filter(webhooks::Column::Id.eq(endpoint.id))
                        .filter(webhooks::Column::DisabledAt.is_null())
                        .exec(&txn)
                        .await?;
                    // Nothing more goes to it, so what else waited for it has
                    // failed too (and no longer counts as pending).
                    webhook_deliveries::Entity::update_many()
                        .col_expr(webhook_deliveries::Column::Status, Expr::value(FAILED))
                        .col_expr(
                            webhook_deliveries::Column::LastError,
                            Expr::value("not sent: the endpoint was disabled"),
                        )
                        .col_expr(webhook_deliveries::Column::FinishedAt, Expr::value(now))
                        .filter(webhook_deliveries::Column::WebhookId.eq(endpoint.id))
                        .filter(webhook_deliveries::Column::Status.eq(PENDING))
                        .exec(&txn)
                        .await?;
                    let owner = users::Entity::find_by_id(endpoint.user_id)
                        .one(&txn)
                        .await?;
                    match (disabled.rows_affected, owner) {
                        (1, Some(owner)) => AttemptRecorded::GaveUp {
                            owner_email: owner.email,
                            url: endpoint.url,
                        },
                        _ => AttemptRecorded::LeaseLost,
                    }
                }
            };
            txn.commit().await?;
            Ok(recorded)
        })
    }
}

impl Handler<MeasureOutbox> for Catalog {
    type Result = ResponseFuture<Result<OutboxDepth, CatalogError>>;

    fn handle(&mut self, _: MeasureOutbox, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.measure_outbox");
        self.run("measure_outbox", span, |db| async move {
            let pending = webhook_deliveries::Entity::find()
                .filter(webhook_deliveries::Column::Status.eq(PENDING))
                .count(&db)
                .await?;
            let oldest = webhook_deliveries::Entity::find()
                .filter(webhook_deliveries::Column::Status.eq(PENDING))
                .order_by_asc(webhook_deliveries::Column::CreatedAt)
                .one(&db)
                .await?;
            let oldest_pending_seconds = oldest.map_or(0.0, |delivery| {
                (Utc::now() - delivery.created_at).num_milliseconds().max(0) as f64 / 1000.0
            });
            Ok(OutboxDepth {
                pending,
                oldest_pending_seconds,
            })
        })
    }
}
