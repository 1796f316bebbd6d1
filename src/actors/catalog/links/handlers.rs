//! Handlers of the links aggregate.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::LinkCheck;
use super::table::{LinkTable, find_link, prune_dead, spend, wait_before_another};
use crate::actors::catalog::queries::lock_user;
use crate::actors::catalog::{Catalog, CatalogError, User, begin_write};
use crate::entities::{api_tokens, email_verifications, password_resets, sessions, users};

/// The row of a new verification token for the account's current address.
pub(in crate::actors::catalog) fn email_verification_row(
    user: &users::Model,
    token: NewLinkToken,
    now: DateTime<Utc>,
) -> email_verifications::ActiveModel {
    email_verifications::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        email: Set(user.email.clone()),
        token_hash: Set(token.token_hash),
        expires_at: Set(token.expires_at),
        used_at: Set(None),
        created_at: Set(now),
    }
}

impl Handler<IssueEmailVerification> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: IssueEmailVerification, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.issue_email_verification", request_id = %msg.request_id, user_id = %msg.user_id);
        self.run("issue_email_verification", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            let Some(user) = lock_user(&txn, users::Column::Id.eq(msg.user_id).into()).await?
            else {
                return Ok(None);
            };
            if user.email_verified {
                return Err(CatalogError::AlreadyVerified);
            }
            let wait = wait_before_another::<email_verifications::Entity, _>(
                &txn,
                user.id,
                now,
                msg.interval,
            )
            .await?;
            if let Some(wait) = wait {
                return Err(CatalogError::TooSoon(wait));
            }
            prune_dead::<email_verifications::Entity, _>(&txn, user.id, now).await?;
            email_verification_row(&user, msg.token, now)
                .insert(&txn)
                .await?;
            txn.commit().await?;
            Ok(Some(user.into()))
        })
    }
}

impl Handler<VerifyEmail> for Catalog {
    type Result = ResponseFuture<Result<LinkCheck<Uuid>, CatalogError>>;

    fn handle(&mut self, msg: VerifyEmail, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.verify_email", request_id = %msg.request_id);
        self.run("verify_email", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            let Some(row) =
                find_link::<email_verifications::Entity, _>(&txn, msg.token_hash).await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            let link = email_verifications::Entity::link(&row);
            if let Some(refused) = link.unusable(now) {
                return Ok(refused);
            }
            let Some(user) = lock_user(&txn, users::Column::Id.eq(link.user_id).into()).await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            // A link to an address the account no longer has proves nothing.
            if row.email != user.email {
                return Ok(LinkCheck::Invalid);
            }
            // Spending it spends the account's other links too: they have
            // nothing left to prove.
            if !spend::<email_verifications::Entity, _>(&txn, &link, now).await? {
                return Ok(LinkCheck::Invalid);
            }
            users::Entity::update_many()
                .col_expr(users::Column::EmailVerified, Expr::value(true))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(user.id))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(LinkCheck::Valid(user.id))
        })
    }
}

impl Handler<IssuePasswordReset> for Catalog {
    type Result = ResponseFuture<Result<Option<User>, CatalogError>>;

    fn handle(&mut self, msg: IssuePasswordReset, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.issue_password_reset", request_id = %msg.request_id);
        self.run("issue_password_reset", span, |db| async move {
            let now = Utc::now();
            // A write transaction whether or not the account exists, so both
            // cases do (nearly) the same work.
            let txn = begin_write(&db).await?;
            let Some(user) = lock_user(&txn, users::Column::Email.eq(msg.email).into()).await?
            else {
                return Ok(None);
            };
            let wait = wait_before_another::<password_resets::Entity, _>(
                &txn,
                user.id,
                now,
                msg.interval,
            )
            .await?;
            if wait.is_some() {
                tracing::info!(user_id = %user.id, "password reset asked for again too soon: no mail");
                return Ok(None);
            }
            prune_dead::<password_resets::Entity, _>(&txn, user.id, now).await?;
            password_resets::ActiveModel {
                id: Set(Uuid::now_v7()),
                user_id: Set(user.id),
                token_hash: Set(msg.token.token_hash),
                expires_at: Set(msg.token.expires_at),
                used_at: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
            txn.commit().await?;
            Ok(Some(user.into()))
        })
    }
}

impl Handler<FindPasswordReset> for Catalog {
    type Result = ResponseFuture<Result<LinkCheck<User>, CatalogError>>;

    fn handle(&mut self, msg: FindPasswordReset, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.find_password_reset", request_id = %msg.request_id);
        self.run("find_password_reset", span, |db| async move {
            let found = password_resets::Entity::find()
                .filter(password_resets::Column::TokenHash.eq(msg.token_hash))
                .find_also_related(users::Entity)
                .one(&db)
                .await?;
            Ok(match found {
                Some((row, Some(user))) => password_resets::Entity::link(&row)
                    .unusable(Utc::now())
                    .unwrap_or(LinkCheck::Valid(user.into())),
                _ => LinkCheck::Invalid,
            })
        })
    }
}

impl Handler<ResetPassword> for Catalog {
    type Result = ResponseFuture<Result<LinkCheck<Uuid>, CatalogError>>;

    fn handle(&mut self, msg: ResetPassword, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("catalog.reset_password", request_id = %msg.request_id);
        self.run("reset_password", span, |db| async move {
            let now = Utc::now();
            let txn = begin_write(&db).await?;
            let Some(row) = find_link::<password_resets::Entity, _>(&txn, msg.token_hash).await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            let link = password_resets::Entity::link(&row);
            if let Some(refused) = link.unusable(now) {
                return Ok(refused);
            }
            let Some(user) = lock_user(&txn, users::Column::Id.eq(link.user_id).into()).await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            let user_id = user.id;
            // The account's other reset links die with this one.
            if !spend::<password_resets::Entity, _>(&txn, &link, now).await? {
                return Ok(LinkCheck::Invalid);
            }
            users::Entity::update_many()
                .col_expr(users::Column::PasswordHash, Expr::value(msg.password_hash))
                .col_expr(
                    users::Column::TokenGeneration,
                    Expr::col(users::Column::TokenGeneration).add(1),
                )
                .col_expr(users::Column::EmailVerified, Expr::value(true))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(user_id))
                .exec(&txn)
                .await?;
            // A reset takes the account back: whatever signed in before ends
            // with the old password, in this same transaction. Access tokens
            // die with the generation above; sessions and API tokens here.
            sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(user_id))
                .exec(&txn)
                .await?;
            api_tokens::Entity::delete_many()
                .filter(api_tokens::Column::UserId.eq(user_id))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(LinkCheck::Valid(user_id))
        })
    }
}
