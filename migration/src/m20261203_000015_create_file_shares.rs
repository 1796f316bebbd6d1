//! `file_shares`: public links to a file. The link's token is kept only as its
//! SHA-256 (`token_hash`, unique, so a presented token finds one row); `variants`
//! is a JSON array of what the link opens (`"original"` and variant names), or
//! NULL for everything the file has. A revoked link's row is deleted, so every
//! api process refuses it from the next request on. Rows go with their file.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261128_000006_create_files::Files;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FileShares::Table)
                    .col(pk_uuid(FileShares::Id))
                    .col(uuid(FileShares::FileId))
                    .col(text(FileShares::TokenHash))
                    .col(text_null(FileShares::Variants))
                    .col(timestamp_with_time_zone(FileShares::ExpiresAt))
                    .col(timestamp_with_time_zone(FileShares::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_file_shares_file_id")
                            .from(FileShares::Table, FileShares::FileId)
                            .to(Files::Table, Files::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_file_shares_token_hash")
                    .table(FileShares::Table)
                    .col(FileShares::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_file_shares_file_id")
                    .table(FileShares::Table)
                    .col(FileShares::FileId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FileShares::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FileShares {
    Table,
    Id,
    FileId,
    TokenHash,
    Variants,
    ExpiresAt,
    CreatedAt,
}
