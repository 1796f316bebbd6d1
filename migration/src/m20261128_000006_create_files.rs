//! `files`: one row per uploaded original. (user_id, created_at, id) serves
//! keyset pagination of a user's files, newest first, with `id` as the
//! tie-breaker; (user_id, status) serves "my files that are still processing".

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
                    .table(Files::Table)
                    .col(pk_uuid(Files::Id))
                    .col(uuid(Files::UserId))
                    .col(text(Files::Filename))
                    .col(text(Files::ContentType))
                    .col(text(Files::Extension))
                    .col(big_integer(Files::SizeBytes))
                    .col(text(Files::Sha256))
                    .col(text(Files::StorageKey))
                    .col(text(Files::Status))
                    .col(integer_null(Files::Width))
                    .col(integer_null(Files::Height))
                    .col(integer_null(Files::PageCount))
                    .col(timestamp_with_time_zone(Files::CreatedAt))
                    .col(timestamp_with_time_zone(Files::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_files_user_id")
                            .from(Files::Table, Files::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_files_user_created_id")
                    .table(Files::Table)
                    .col(Files::UserId)
                    .col(Files::CreatedAt)
                    .col(Files::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_files_user_status")
                    .table(Files::Table)
                    .col(Files::UserId)
                    .col(Files::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Files::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Files {
    Table,
    Id,
    UserId,
    Filename,
    ContentType,
    Extension,
    SizeBytes,
    Sha256,
    StorageKey,
    Status,
    Width,
    Height,
    PageCount,
    CreatedAt,
    UpdatedAt,
}
