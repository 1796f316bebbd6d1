//! Writes webhook deliveries into the outbox, inside the caller's
//! transaction: the one that records the event.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use super::records::PENDING;
use crate::actors::catalog::{File, Job, Variant};
use crate::domain::jobs::{FileStatus, JobStatus};
use crate::domain::webhooks::{EventType, subscriptions};
use crate::entities::{file_variants, files, webhook_deliveries, webhooks};
use crate::http::api::bodies::{FileBody, JobBody, VariantBody};

/// Records the deliveries a job's transition calls for: `job.dead` when the
/// job died, and `file.ready` or `file.failed` when its file's status became
/// that (from `before`). Only endpoints of the file's owner that subscribe to
/// the event and are enabled get one.
pub async fn job_transition<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    job: &Job,
    before: Option<FileStatus>,
    after: FileStatus,
) -> Result<(), DbErr> {
    let mut events = Vec::new();
    if job.status == JobStatus::Dead {
        events.push(EventType::JobDead);
    }
    if before != Some(after) {
        match after {
            FileStatus::Ready => events.push(EventType::FileReady),
            FileStatus::Failed => events.push(EventType::FileFailed),
            FileStatus::Processing => {}
        }
    }
    if events.is_empty() {
        return Ok(());
    }
    let endpoints = webhooks::Entity::find()
        .filter(webhooks::Column::UserId.eq(user_id))
        .filter(webhooks::Column::DisabledAt.is_null())
        .all(db)
        .await?;
    let subscribed = |event: EventType| {
        endpoints
            .iter()
            .filter(move |endpoint| {
                subscriptions(&endpoint.events)
                    .iter()
                    .any(|e| e == event.as_str())
            })
            .map(|endpoint| endpoint.id)
    };
    if events
        .iter()
        .all(|event| subscribed(*event).next().is_none())
    {
        return Ok(());
    }
    // The file as it is now, in this transaction, with what was made of it.
    let Some(file) = files::Entity::find_by_id(job.file_id).one(db).await? else {
        return Ok(());
    };
    let variants: Vec<VariantBody> = file_variants::Entity::find()
        .filter(file_variants::Column::FileId.eq(file.id))
        .order_by_asc(file_variants::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|variant| VariantBody::from(Variant::from(variant)))
        .collect();
    let file = FileBody::from(File::from(file));
    let now = Utc::now();
    for event in events {
        let data = match event {
            EventType::JobDead => json!({ "file": file, "job": JobBody::from(job.clone()) }),
            _ => json!({ "file": file, "variants": variants }),
        };
        let payload = payload(event, now, data);
        for webhook_id in subscribed(event) {
            insert(db, webhook_id, event, &payload, now).await?;
        }
    }
    Ok(())
}

/// The body every delivery has: `{type, timestamp, data}`.
pub fn payload(event: EventType, at: DateTime<Utc>, data: Value) -> String {
    json!({
        "type": event.as_str(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}

/// Queues one delivery of `payload` to `webhook_id`, due now.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    webhook_id: Uuid,
    event: EventType,
    payload: &str,
    now: DateTime<Utc>,
) -> Result<webhook_deliveries::Model, DbErr> {
    let row = webhook_deliveries::ActiveModel {
        id: Set(Uuid::now_v7()),
        webhook_id: Set(webhook_id),
        event: Set(event.as_str().to_string()),
        payload: Set(payload.to_string()),
        status: Set(PENDING.to_string()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        leased_until: Set(None),
        status_code: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        finished_at: Set(None),
    };
    webhook_deliveries::Entity::insert(row)
        .exec_with_returning(db)
        .await
}
