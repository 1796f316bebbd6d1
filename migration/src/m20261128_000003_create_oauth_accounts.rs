//! `oauth_accounts`: links a user to an identity at an OAuth provider. The pair
//! (provider, provider_user_id) is unique so one external identity can belong to
//! one user only; `user_id` is indexed to list a user's linked providers.

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
                    .table(OauthAccounts::Table)
                    .col(pk_uuid(OauthAccounts::Id))
                    .col(uuid(OauthAccounts::UserId))
                    .col(text(OauthAccounts::Provider))
                    .col(text(OauthAccounts::ProviderUserId))
                    .col(text_null(OauthAccounts::Email))
                    .col(timestamp_with_time_zone(OauthAccounts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oauth_accounts_user_id")
                            .from(OauthAccounts::Table, OauthAccounts::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oauth_accounts_provider_user")
                    .table(OauthAccounts::Table)
                    .col(OauthAccounts::Provider)
                    .col(OauthAccounts::ProviderUserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oauth_accounts_user_id")
                    .table(OauthAccounts::Table)
                    .col(OauthAccounts::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthAccounts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OauthAccounts {
    Table,
    Id,
    UserId,
    Provider,
    ProviderUserId,
    Email,
    CreatedAt,
}
