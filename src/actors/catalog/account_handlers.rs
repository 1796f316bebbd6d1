//! Catalog handlers for accounts, sign-in and API tokens.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlErr,
};
use tracing::info_span;
use uuid::Uuid;

use super::link_handlers::email_verification_row;
use super::messages::*;
use super::records::{ApiToken, LoginCandidate, User};
use super::{Catalog, CatalogError, begin_write};
use crate::entities::{api_tokens, revoked_tokens, users};

impl Handler<PingDatabase> for Catalog {
    type Result = ResponseFuture<Result<(), CatalogError>>;

    fn handle(&mut self, _: PingDatabase, _: &mut Self::Context) -> Self::Result {
        self.run("ping", info_span!("catalog.ping"), |db| async move {
            db.execute_unprepared("SELECT 1")
                .await
                .map_err(CatalogError::Unavailable)?;
            Ok(())
        })
    }
}

impl Handler<CreateUser> for Catalog {
    type Result = ResponseFuture<Result<User, CatalogError>>;

    fn handle(&mut self, msg: CreateUser, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.create_user", request_id = %msg.request_id);
        self.run("create_user", span, |db| async move {
            let now = Utc::now();
            let user = users::ActiveModel {
                id: Set(Uuid::now_v7()),
                email: Set(msg.email),
                name: Set(msg.name),
                password_hash: Set(Some(msg.password_hash)),
                email_verified: Set(msg.verification.is_none()),
                is_admin: Set(msg.is_admin),
                created_at: Set(now),
                updated_at: Set(now),
                token_generation: Set(0),
                disabled_at: Set(None),
            };
            let txn = begin_write(&db).await?;
            let user = match user.insert(&txn).await {
                Ok(model) => model,
                Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    return Err(CatalogError::EmailTaken);
                }
                Err(err) => return Err(err.into()),
            };
            if let Some(verification) = msg.verification {
                email_verification_row(&user, verification, now)
                    .insert(&txn)
                    .await?;
            }
            txn.commit().await?;
            Ok(user.into())
        })
    }
}

impl Handler<FindLoginCandidate> for Catalog {
    type Result = ResponseFuture<Result<Option<LoginCandidate>, CatalogError>>;

    fn handle(&mut self, msg: FindLoginCandidate, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_login_candidate", request_id = %msg.request_id);
        self.run("find_login_candidate", span, |db| async move {
            let found = users::Entity::find()
                .filter(users::Column::Email.eq(msg.email))
                .one(&db)
                .await?;
            Ok(found.map(|mut model| LoginCandidate {
                password_hash: model.password_hash.take(),
                token_generation: model.token_generation,
                user: model.into(),
            }))
        })
    }
}

impl Handler<FindUser> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: FindUser, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.find_user", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("find_user", span, |db| async move {
            Ok(users::Entity::find_by_id(msg.user_id)
                .one(&db)
                .await?
                .map(User::from))
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
