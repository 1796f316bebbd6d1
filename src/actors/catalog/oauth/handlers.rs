//! Handlers of the OAuth aggregate.

use actix::{Handler, ResponseFuture};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use tracing::info_span;
use uuid::Uuid;

use super::messages::*;
use super::records::{LinkedProvider, SignInMethods};
use crate::actors::catalog::queries::{is_unique_violation, lock_user};
use crate::actors::catalog::{Catalog, CatalogError, begin_write};
use crate::auth::oauth::{Identity, Provider};
use crate::entities::{api_tokens, oauth_accounts, sessions, users};

/// The link of this exact identity, whoever it belongs to.
async fn find_link<C: ConnectionTrait>(
    db: &C,
    identity: &Identity,
) -> Result<Option<oauth_accounts::Model>, DbErr> {
    oauth_accounts::Entity::find()
        .filter(oauth_accounts::Column::Provider.eq(identity.provider.id()))
        .filter(oauth_accounts::Column::ProviderUserId.eq(&identity.provider_user_id))
        .one(db)
        .await
}

/// The account this exact identity is linked to.
async fn linked_user<C: ConnectionTrait>(
    db: &C,
    identity: &Identity,
) -> Result<Option<users::Model>, DbErr> {
    let Some(link) = find_link(db, identity).await? else {
        return Ok(None);
    };
    // Links go with their account (ON DELETE CASCADE), so it exists.
    users::Entity::find_by_id(link.user_id).one(db).await
}

/// Whether the account has an identity (any) at `provider`.
async fn has_link_at<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    provider: Provider,
) -> Result<bool, DbErr> {
    Ok(oauth_accounts::Entity::find()
        .filter(oauth_accounts::Column::UserId.eq(user_id))
        .filter(oauth_accounts::Column::Provider.eq(provider.id()))
        .one(db)
        .await?
        .is_some())
}

async fn insert_link<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    identity: &Identity,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    oauth_accounts::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        provider: Set(identity.provider.id().to_string()),
        provider_user_id: Set(identity.provider_user_id.clone()),
        email: Set(identity.email.clone()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

impl Handler<OAuthSignIn> for Catalog {
    type Result = ResponseFuture<Result<OAuthSignInOutcome, CatalogError>>;

    fn handle(&mut self, msg: OAuthSignIn, _: &mut Self::Context) -> Self::Result {
        let span = info_span!(
            "catalog.oauth_sign_in",
            request_id = %msg.request_id,
            provider = msg.identity.provider.id(),
        );
        self.run("oauth_sign_in", span, |db| async move {
            match sign_in(&db, &msg.identity).await {
                // Another callback for the same identity or address committed
                // first: this attempt now finds what it made.
                Err(err) if is_unique_violation(&err) => Ok(sign_in(&db, &msg.identity).await?),
                other => Ok(other?),
            }
        })
    }
}

async fn sign_in(
    db: &DatabaseConnection,
    identity: &Identity,
) -> Result<OAuthSignInOutcome, DbErr> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    if let Some(user) = linked_user(&txn, identity).await? {
        txn.commit().await?;
        return Ok(OAuthSignInOutcome::SignedIn(user.into()));
    }
    let Some(email) = identity.email.as_deref() else {
        return Ok(OAuthSignInOutcome::NoEmail);
    };
    if let Some(user) = lock_user(&txn, users::Column::Email.eq(email).into()).await? {
        // A callback for the same identity may have linked it while this one
        // waited for the lock.
        if let Some(user) = linked_user(&txn, identity).await? {
            txn.commit().await?;
            return Ok(OAuthSignInOutcome::SignedIn(user.into()));
        }
        if !identity.email_verified {
            return Ok(OAuthSignInOutcome::EmailInUseUnverified);
        }
        if has_link_at(&txn, user.id, identity.provider).await? {
            return Ok(OAuthSignInOutcome::OtherIdentityLinked);
        }
        insert_link(&txn, user.id, identity, now).await?;
        let user = match user.email_verified {
            true => user,
            false => take_over(&txn, user, now).await?,
        };
        txn.commit().await?;
        tracing::info!(user_id = %user.id, "provider identity linked by its verified address");
        return Ok(OAuthSignInOutcome::Linked(user.into()));
    }
    let name = identity
        .name
        .clone()
        .unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_string());
    let user = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.to_string()),
        name: Set(name),
        password_hash: Set(None),
        email_verified: Set(identity.email_verified),
        is_admin: Set(false),
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
    }
    .insert(&txn)
    .await?;
    insert_link(&txn, user.id, identity, now).await?;
    txn.commit().await?;
    tracing::info!(user_id = %user.id, "account created through a provider");
    Ok(OAuthSignInOutcome::Created(user.into()))
}

/// The provider proved the address belongs to who signs in now, while nothing
/// proved that the account's password was set by them (someone may have
/// registered the address first, to share the account later): the password
/// goes, with every sign-in made with it, and the address counts as verified.
/// The owner can set a password again through a reset link.
async fn take_over<C: ConnectionTrait>(
    txn: &C,
    user: users::Model,
    now: DateTime<Utc>,
) -> Result<users::Model, DbErr> {
    let user_id = user.id;
    let had_password = user.password_hash.is_some();
    let generation = user.token_generation + 1;
    let mut account: users::ActiveModel = user.into();
    account.password_hash = Set(None);
    account.email_verified = Set(true);
    account.token_generation = Set(generation);
    account.updated_at = Set(now);
    let user = account.update(txn).await?;
    sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    api_tokens::Entity::delete_many()
        .filter(api_tokens::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    if had_password {
        tracing::warn!(
            %user_id,
            "the account's address was never verified: its password and sign-ins were removed \
             when a provider vouched for the address"
        );
    }
    Ok(user)
}

impl Handler<LinkOAuthAccount> for Catalog {
    type Result = ResponseFuture<Result<OAuthLinkOutcome, CatalogError>>;

    fn handle(&mut self, msg: LinkOAuthAccount, _: &mut Self::Context) -> Self::Result {
        let span = info_span!(
            "catalog.link_oauth_account",
            request_id = %msg.request_id,
            user_id = %msg.user_id,
            provider = msg.identity.provider.id(),
        );
        self.run("link_oauth_account", span, |db| async move {
            let txn = begin_write(&db).await?;
            if lock_user(&txn, users::Column::Id.eq(msg.user_id).into())
                .await?
                .is_none()
            {
                return Ok(OAuthLinkOutcome::AccountGone);
            }
            if let Some(link) = find_link(&txn, &msg.identity).await? {
                return Ok(match link.user_id == msg.user_id {
                    true => OAuthLinkOutcome::Linked,
                    false => OAuthLinkOutcome::AlreadyLinkedElsewhere,
                });
            }
            if has_link_at(&txn, msg.user_id, msg.identity.provider).await? {
                return Ok(OAuthLinkOutcome::ProviderAlreadyLinked);
            }
            match insert_link(&txn, msg.user_id, &msg.identity, Utc::now()).await {
                Ok(()) => {}
                // Another account took the identity since the lookup.
                Err(err) if is_unique_violation(&err) => {
                    return Ok(OAuthLinkOutcome::AlreadyLinkedElsewhere);
                }
                Err(err) => return Err(err.into()),
            }
            txn.commit().await?;
            Ok(OAuthLinkOutcome::Linked)
        })
    }
}

impl Handler<UnlinkOAuthAccount> for Catalog {
    type Result = ResponseFuture<Result<OAuthUnlinkOutcome, CatalogError>>;

    fn handle(&mut self, msg: UnlinkOAuthAccount, _: &mut Self::Context) -> Self::Result {
        let span = info_span!(
            "catalog.unlink_oauth_account",
            request_id = %msg.request_id,
            user_id = %msg.user_id,
            provider = msg.provider.id(),
        );
        self.run("unlink_oauth_account", span, |db| async move {
            let txn = begin_write(&db).await?;
            let Some(user) = lock_user(&txn, users::Column::Id.eq(msg.user_id).into()).await?
            else {
                return Ok(OAuthUnlinkOutcome::NotLinked);
            };
            let providers: Vec<String> = oauth_accounts::Entity::find()
                .select_only()
                .column(oauth_accounts::Column::Provider)
                .filter(oauth_accounts::Column::UserId.eq(msg.user_id))
                .into_tuple()
                .all(&txn)
                .await?;
            let (this, others): (Vec<_>, Vec<_>) = providers
                .iter()
                .partition(|provider| *provider == msg.provider.id());
            if this.is_empty() {
                return Ok(OAuthUnlinkOutcome::NotLinked);
            }
            if user.password_hash.is_none() && others.is_empty() {
                return Ok(OAuthUnlinkOutcome::LastSignInMethod);
            }
            oauth_accounts::Entity::delete_many()
                .filter(oauth_accounts::Column::UserId.eq(msg.user_id))
                .filter(oauth_accounts::Column::Provider.eq(msg.provider.id()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            Ok(OAuthUnlinkOutcome::Unlinked)
        })
    }
}

impl Handler<ListOAuthAccounts> for Catalog {
    type Result = ResponseFuture<Result<SignInMethods, CatalogError>>;

    fn handle(&mut self, msg: ListOAuthAccounts, _: &mut Self::Context) -> Self::Result {
        let span = info_span!(
            "catalog.list_oauth_accounts",
            request_id = %msg.request_id,
            user_id = %msg.user_id,
        );
        self.run("list_oauth_accounts", span, |db| async move {
            let password_hash: Option<Option<String>> = users::Entity::find_by_id(msg.user_id)
                .select_only()
                .column(users::Column::PasswordHash)
                .into_tuple()
                .one(&db)
                .await?;
            let links = oauth_accounts::Entity::find()
                .filter(oauth_accounts::Column::UserId.eq(msg.user_id))
                .order_by_asc(oauth_accounts::Column::CreatedAt)
                .all(&db)
                .await?;
            Ok(SignInMethods {
                // A provider Kiln no longer knows is not shown (nor offered).
                linked: links
                    .into_iter()
                    .filter_map(|link| {
                        Some(LinkedProvider {
                            provider: Provider::parse(&link.provider)?,
                            email: link.email,
                            created_at: link.created_at,
                        })
                    })
                    .collect(),
                has_password: password_hash.flatten().is_some(),
            })
        })
    }
}
