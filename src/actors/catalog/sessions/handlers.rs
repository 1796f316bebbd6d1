//! Handlers of the sessions aggregate.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::{ApiToken, OpenSession};
use crate::actors::catalog::{Catalog, CatalogError, begin_write};
use crate::entities::{api_tokens, revoked_tokens, sessions, users};

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

impl Handler<RevokeAccessToken> for Catalog {
    type Result = ResponseFuture<Result<(), CatalogError>>;

    fn handle(&mut self, msg: RevokeAccessToken, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.revoke_access_token", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("revoke_access_token", span, |db| async move {
            let now = Utc::now();
            let revoked = revoked_tokens::ActiveModel {
                jti: Set(msg.jti.to_string()),
                user_id: Set(msg.user_id),
                expires_at: Set(msg.expires_at),
                revoked_at: Set(now),
            };
            // Tokens that expired already need no record; revoking twice is a no-op.
            revoked_tokens::Entity::delete_many()
                .filter(revoked_tokens::Column::ExpiresAt.lt(now))
                .exec(&db)
                .await?;
            match revoked_tokens::Entity::insert(revoked)
                .on_conflict_do_nothing()
                .exec(&db)
                .await
            {
                Ok(_) | Err(sea_orm::DbErr::RecordNotInserted) => Ok(()),
                Err(err) => Err(err.into()),
            }
        })
    }
}

impl Handler<CheckAccessToken> for Catalog {
    type Result = ResponseFuture<Result<CredentialCheck, CatalogError>>;

    fn handle(&mut self, msg: CheckAccessToken, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.check_access_token", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("check_access_token", span, |db| async move {
            let revoked = revoked_tokens::Entity::find_by_id(msg.jti.to_string())
                .one(&db)
                .await?
                .is_some();
            if revoked {
                return Ok(CredentialCheck::Invalid);
            }
            let account: Option<(i32, Option<DateTime<Utc>>)> =
                users::Entity::find_by_id(msg.user_id)
                    .select_only()
                    .columns([users::Column::TokenGeneration, users::Column::DisabledAt])
                    .into_tuple()
                    .one(&db)
                    .await?;
            Ok(match account {
                Some((generation, _)) if generation != msg.generation => CredentialCheck::Invalid,
                Some((_, Some(_))) => CredentialCheck::AccountDisabled,
                Some((_, None)) => CredentialCheck::Valid(msg.user_id),
                None => CredentialCheck::Invalid,
            })
        })
    }
}

impl Handler<CreateApiToken> for Catalog {
    type Result = ResponseFuture<Result<ApiTokenCreation, CatalogError>>;

    fn handle(&mut self, msg: CreateApiToken, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.create_api_token", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("create_api_token", span, |db| async move {
            let txn = begin_write(&db).await?;
            let Some(owner) = users::Entity::find_by_id(msg.user_id).one(&txn).await? else {
                return Ok(ApiTokenCreation::NoAccount);
            };
            if msg.only_if_verified && !owner.email_verified {
                return Ok(ApiTokenCreation::AddressUnverified);
            }
            let token = api_tokens::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(msg.user_id),
                name: Set(msg.name),
                prefix: Set(msg.prefix),
                token_hash: Set(msg.token_hash),
                created_at: Set(Utc::now()),
                last_used_at: Set(None),
                expires_at: Set(msg.expires_at),
            };
            let token = token.insert(&txn).await?;
            txn.commit().await?;
            Ok(ApiTokenCreation::Created(token.into()))
        })
    }
}

impl Handler<ListApiTokens> for Catalog {
    type Result = ResponseFuture<Result<Vec<ApiToken>, CatalogError>>;

    fn handle(&mut self, msg: ListApiTokens, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.list_api_tokens", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("list_api_tokens", span, |db| async move {
            let tokens = api_tokens::Entity::find()
                .filter(api_tokens::Column::UserId.eq(msg.user_id))
                .order_by_desc(api_tokens::Column::CreatedAt)
                .all(&db)
                .await?;
            Ok(tokens.into_iter().map(ApiToken::from).collect())
        })
    }
}

impl Handler<DeleteApiToken> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: DeleteApiToken, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.delete_api_token", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("delete_api_token", span, |db| async move {
            let deleted = api_tokens::Entity::delete_many()
                .filter(api_tokens::Column::Id.eq(msg.token_id))
                .filter(api_tokens::Column::UserId.eq(msg.user_id))
                .exec(&db)
                .await?;
            Ok(deleted.rows_affected > 0)
        })
    }
}

impl Handler<AuthenticateApiToken> for Catalog {
    type Result = ResponseFuture<Result<CredentialCheck, CatalogError>>;

    fn handle(&mut self, msg: AuthenticateApiToken, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.authenticate_api_token", request_id = %msg.request_id);
        self.run("authenticate_api_token", span, |db| async move {
            let Some((token, Some(owner))) = api_tokens::Entity::find()
                .find_also_related(users::Entity)
                .filter(api_tokens::Column::TokenHash.eq(msg.token_hash))
                .one(&db)
                .await?
            else {
                return Ok(CredentialCheck::Invalid);
            };
            let now = Utc::now();
            if token.expires_at.is_some_and(|expiry| expiry <= now) {
                return Ok(CredentialCheck::Invalid);
            }
            if owner.disabled_at.is_some() {
                return Ok(CredentialCheck::AccountDisabled);
            }
            let user_id = token.user_id;
            let mut touched: api_tokens::ActiveModel = token.into();
            touched.last_used_at = Set(Some(now));
            touched.update(&db).await?;
            Ok(CredentialCheck::Valid(user_id))
        })
    }
}
