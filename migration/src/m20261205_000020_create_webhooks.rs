//! `webhooks` and `webhook_deliveries`: the endpoints users subscribe to
//! Kiln's events, and the outbox of what is to be sent to them.
//!
//! - `webhooks.events` is a comma list of event types (`file.ready`, ...);
//!   `secret` (`whsec_...`) signs every delivery, so it is kept as given out;
//!   `disabled_at` is set when deliveries kept failing for the give-up time.
//! - A delivery row is written in the same transaction as the event it tells
//!   of. Its `id` is the `webhook-id` receivers dedupe on; `payload` is the
//!   exact body, signed anew on each attempt. `status` is `pending` until it is
//!   `delivered` or `failed` (given up); `next_attempt_at` is when it is due,
//!   `leased_until` the lease of the worker sending it now.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261128_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(pk_uuid(Webhooks::Id))
                    .col(uuid(Webhooks::UserId))
                    .col(text(Webhooks::Url))
                    .col(text_null(Webhooks::Description))
                    .col(text(Webhooks::Events))
                    .col(text(Webhooks::Secret))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(timestamp_with_time_zone_null(Webhooks::DisabledAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhooks_user_id")
                            .from(Webhooks::Table, Webhooks::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhooks_user_id")
                    .table(Webhooks::Table)
                    .col(Webhooks::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(pk_uuid(WebhookDeliveries::Id))
                    .col(uuid(WebhookDeliveries::WebhookId))
                    .col(text(WebhookDeliveries::Event))
                    .col(text(WebhookDeliveries::Payload))
                    .col(text(WebhookDeliveries::Status))
                    .col(integer(WebhookDeliveries::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LeasedUntil,
                    ))
                    .col(integer_null(WebhookDeliveries::StatusCode))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_webhook_id")
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_webhook_id")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::WebhookId)
                    .col(WebhookDeliveries::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    UserId,
    Url,
    Description,
    Events,
    Secret,
    CreatedAt,
    DisabledAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    Event,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeasedUntil,
    StatusCode,
    LastError,
    CreatedAt,
    FinishedAt,
}
