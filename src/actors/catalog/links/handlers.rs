//! Handlers of the links aggregate.

use std::time::Duration;

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, Set,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::LinkCheck;
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

/// How much longer to wait before another mail, when the last one was made at
/// `latest` and mails may go out once per `interval`.
fn wait_left(latest: DateTime<Utc>, now: DateTime<Utc>, interval: Duration) -> Option<Duration> {
    let interval = TimeDelta::from_std(interval).unwrap_or(TimeDelta::MAX);
    let left = latest + interval - now;
    (left > TimeDelta::zero()).then(|| left.to_std().unwrap_or_default())
}

/// Why a token row cannot be used any more, or `None` when it can.
fn unusable<T>(
    used_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<LinkCheck<T>> {
    match used_at {
        Some(_) => Some(LinkCheck::Invalid),
        None if expires_at <= now => Some(LinkCheck::Expired),
        None => None,
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
            let latest = email_verifications::Entity::find()
                .filter(email_verifications::Column::UserId.eq(user.id))
                .order_by_desc(email_verifications::Column::CreatedAt)
                .one(&txn)
                .await?;
            if let Some(wait) = latest.and_then(|row| wait_left(row.created_at, now, msg.interval))
            {
                return Err(CatalogError::TooSoon(wait));
            }
            // Spent and expired tokens can never be used again: keep the table small.
            email_verifications::Entity::delete_many()
                .filter(email_verifications::Column::UserId.eq(user.id))
                .filter(
                    Condition::any()
                        .add(email_verifications::Column::UsedAt.is_not_null())
                        .add(email_verifications::Column::ExpiresAt.lte(now)),
                )
                .exec(&txn)
                .await?;
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
            let Some(row) = email_verifications::Entity::find()
                .filter(email_verifications::Column::TokenHash.eq(msg.token_hash))
                .one(&txn)
                .await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            if let Some(refused) = unusable(row.used_at, row.expires_at, now) {
                return Ok(refused);
            }
            let Some(user) = lock_user(&txn, users::Column::Id.eq(row.user_id).into()).await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            // A link to an address the account no longer has proves nothing.
            if row.email != user.email {
                return Ok(LinkCheck::Invalid);
            }
            let spent = email_verifications::Entity::update_many()
                .col_expr(email_verifications::Column::UsedAt, Expr::value(now))
                .filter(email_verifications::Column::Id.eq(row.id))
                .filter(email_verifications::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
            if spent.rows_affected == 0 {
                return Ok(LinkCheck::Invalid);
            }
            // The account's other links have nothing left to prove.
            email_verifications::Entity::update_many()
                .col_expr(email_verifications::Column::UsedAt, Expr::value(now))
                .filter(email_verifications::Column::UserId.eq(user.id))
                .filter(email_verifications::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
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
            let latest = password_resets::Entity::find()
                .filter(password_resets::Column::UserId.eq(user.id))
                .order_by_desc(password_resets::Column::CreatedAt)
                .one(&txn)
                .await?;
            if latest.is_some_and(|row| wait_left(row.created_at, now, msg.interval).is_some()) {
                tracing::info!(user_id = %user.id, "password reset asked for again too soon: no mail");
                return Ok(None);
            }
            password_resets::Entity::delete_many()
                .filter(password_resets::Column::UserId.eq(user.id))
                .filter(
                    Condition::any()
                        .add(password_resets::Column::UsedAt.is_not_null())
                        .add(password_resets::Column::ExpiresAt.lte(now)),
                )
                .exec(&txn)
                .await?;
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
                Some((row, Some(user))) => unusable(row.used_at, row.expires_at, Utc::now())
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
            let Some(row) = password_resets::Entity::find()
                .filter(password_resets::Column::TokenHash.eq(msg.token_hash))
                .one(&txn)
                .await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            if let Some(refused) = unusable(row.used_at, row.expires_at, now) {
                return Ok(refused);
            }
            let Some(user) = lock_user(&txn, users::Column::Id.eq(row.user_id).into()).await?
            else {
                return Ok(LinkCheck::Invalid);
            };
            let user_id = user.id;
            let spent = password_resets::Entity::update_many()
                .col_expr(password_resets::Column::UsedAt, Expr::value(now))
                .filter(password_resets::Column::Id.eq(row.id))
                .filter(password_resets::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
            if spent.rows_affected == 0 {
                return Ok(LinkCheck::Invalid);
            }
            // The account's other reset links die with this one.
            password_resets::Entity::update_many()
                .col_expr(password_resets::Column::UsedAt, Expr::value(now))
                .filter(password_resets::Column::UserId.eq(user_id))
                .filter(password_resets::Column::UsedAt.is_null())
                .exec(&txn)
                .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_mail_may_go_out_once_the_interval_has_passed() {
        let interval = Duration::from_secs(60);
        let now = Utc::now();
        let wait = wait_left(now - TimeDelta::seconds(45), now, interval);
        assert_eq!(wait, Some(Duration::from_secs(15)));
        assert_eq!(wait_left(now - TimeDelta::seconds(60), now, interval), None);
        assert_eq!(wait_left(now - TimeDelta::days(1), now, interval), None);
    }
}
