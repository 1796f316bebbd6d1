//! Catalog handlers for web sessions: open one at sign-in (rotating any the
//! browser held), look one up on every signed-in request (enforcing idle and
//! absolute expiry), and end one at sign-out. Ending all of an account's
//! sessions happens where the password changes, in the same transaction.

use actix::{Handler, ResponseFuture};
use chrono::{TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use tracing::info_span;

use super::messages::{CreateSession, EndSession, FindSession};
use super::records::OpenSession;
use super::{Catalog, CatalogError, begin_write};
use crate::entities::{sessions, users};

/// `last_seen_at` is written at most this often, so browsing is not one write
/// per page.
const TOUCH_INTERVAL: TimeDelta = TimeDelta::minutes(1);

impl Handler<CreateSession> for Catalog {
    type Result = ResponseFuture<Result<(), CatalogError>>;

    fn handle(&mut self, msg: CreateSession, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.create_session", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("create_session", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            if let Some(previous) = msg.replaces {
                sessions::Entity::delete_by_id(previous).exec(&txn).await?;
            }
            // Expired sessions of this account go whenever it signs in again.
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(msg.user_id))
                .filter(sessions::Column::ExpiresAt.lt(now))
                .exec(&txn)
                .await?;
            sessions::ActiveModel {
                id_hash: Set(msg.id_hash),
                user_id: Set(msg.user_id),
                csrf_token_hash: Set(msg.csrf_token_hash),
                user_agent: Set(msg.user_agent),
                ip: Set(msg.ip),
                created_at: Set(now),
                last_seen_at: Set(now),
                expires_at: Set(msg.expires_at),
            }
            .insert(&txn)
            .await?;
            txn.commit().await?;
            Ok(())
        })
    }
}

impl Handler<FindSession> for Catalog {
    type Result = ResponseFuture<Result<Option<OpenSession>, CatalogError>>;

    fn handle(&mut self, msg: FindSession, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_session", request_id = %msg.request_id);
        self.run("find_session", span, |db| async move {
            let Some((session, Some(user))) = sessions::Entity::find_by_id(msg.id_hash.clone())
                .find_also_related(users::Entity)
                .one(&db)
                .await?
            else {
                return Ok(None);
            };
            let now = Utc::now();
            // An idle timeout too large to add never ends a session by idleness.
            let idle_until = TimeDelta::from_std(msg.idle_timeout)
                .ok()
                .and_then(|idle| session.last_seen_at.checked_add_signed(idle));
            if session.expires_at <= now || idle_until.is_some_and(|until| until <= now) {
                sessions::Entity::delete_by_id(msg.id_hash)
                    .exec(&db)
                    .await?;
                return Ok(None);
            }
            if now - session.last_seen_at >= TOUCH_INTERVAL {
                sessions::Entity::update_many()
                    .col_expr(sessions::Column::LastSeenAt, Expr::value(now))
                    .filter(sessions::Column::IdHash.eq(msg.id_hash))
                    .exec(&db)
                    .await?;
            }
            Ok(Some(OpenSession {
                user: user.into(),
                created_at: session.created_at,
                expires_at: session.expires_at,
            }))
        })
    }
}

impl Handler<EndSession> for Catalog {
    type Result = ResponseFuture<Result<(), CatalogError>>;

    fn handle(&mut self, msg: EndSession, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.end_session", request_id = %msg.request_id);
        self.run("end_session", span, |db| async move {
            sessions::Entity::delete_by_id(msg.id_hash)
                .exec(&db)
                .await?;
            Ok(())
        })
    }
}
