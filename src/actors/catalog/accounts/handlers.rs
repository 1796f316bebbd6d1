//! Handlers of the accounts aggregate.

use actix::{Handler, ResponseFuture};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use tracing::info_span;
use uuid::Uuid;

use super::messages::{
    ChangePassword, CreateUser, FindLoginCandidate, FindUsage, FindUser, RenameUser,
};
use super::records::LoginCandidate;
use crate::actors::catalog::links::email_verification_row;
use crate::actors::catalog::queries::{is_unique_violation, usage_of};
use crate::actors::catalog::{Catalog, CatalogError, User, begin_write};
use crate::domain::quota::Usage;
use crate::entities::{password_resets, sessions, users};

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
                // Nothing used yet, under the default quota.
                used_bytes: Set(0),
                used_files: Set(0),
                quota_bytes: Set(None),
                quota_files: Set(None),
                quota_unlimited: Set(false),
            };
            let txn = begin_write(&db).await?;
            let user = match user.insert(&txn).await {
                Ok(model) => model,
                Err(err) if is_unique_violation(&err) => {
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

impl Handler<FindUsage> for Catalog {
    type Result = ResponseFuture<Result<Option<Usage>, CatalogError>>;

    fn handle(&mut self, msg: FindUsage, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.find_usage", request_id = %msg.request_id, user_id = %msg.user_id);
        let quotas = self.quotas;
        self.run("find_usage", span, move |db| async move {
            Ok(usage_of(&db, msg.user_id, quotas).await?)
        })
    }
}

impl Handler<RenameUser> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: RenameUser, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("catalog.rename_user", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("rename_user", span, |db| async move {
            users::Entity::update_many()
                .col_expr(users::Column::Name, Expr::value(msg.name))
                .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(users::Column::Id.eq(msg.user_id))
                .exec(&db)
                .await?;
            Ok(users::Entity::find_by_id(msg.user_id)
                .one(&db)
                .await?
                .map(User::from))
        })
    }
}

impl Handler<ChangePassword> for Catalog {
    type Result = ResponseFuture<Result<bool, CatalogError>>;

    fn handle(&mut self, msg: ChangePassword, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.change_password", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("change_password", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            let still_current = match msg.replaces {
                Some(hash) => users::Column::PasswordHash.eq(hash),
                None => users::Column::PasswordHash.is_null(),
            };
            let changed = users::Entity::update_many()
                .col_expr(users::Column::PasswordHash, Expr::value(msg.password_hash))
                .col_expr(
                    users::Column::TokenGeneration,
                    Expr::col(users::Column::TokenGeneration).add(1),
                )
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(msg.user_id))
                .filter(still_current)
                .exec(&txn)
                .await?;
            if changed.rows_affected == 0 {
                // Gone, or its password changed since the caller checked it;
                // the transaction rolls back when dropped.
                return Ok(false);
            }
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(msg.user_id))
                .exec(&txn)
                .await?;
            // A reset link asked for before the change would undo it.
            password_resets::Entity::update_many()
                .col_expr(password_resets::Column::UsedAt, Expr::value(now))
                .filter(password_resets::Column::UserId.eq(msg.user_id))
                .filter(password_resets::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(true)
        })
    }
}
