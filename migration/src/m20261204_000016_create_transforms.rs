//! `transforms`: a cache of the images Kiln transforms on request, one row per
//! file and transform spec (`spec_hash`, unique with `file_id`, so a request
//! finds its cached object and two processes making the same one keep one
//! row). `last_used_at` orders eviction, least recently used first, once the
//! cache outgrows its budget. Rows go with their file.

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
                    .table(Transforms::Table)
                    .col(pk_uuid(Transforms::Id))
                    .col(uuid(Transforms::FileId))
                    .col(text(Transforms::SpecHash))
                    .col(text(Transforms::StorageKey))
                    .col(text(Transforms::ContentType))
                    .col(big_integer(Transforms::SizeBytes))
                    .col(integer(Transforms::Width))
                    .col(integer(Transforms::Height))
                    .col(text(Transforms::Sha256))
                    .col(timestamp_with_time_zone(Transforms::CreatedAt))
                    .col(timestamp_with_time_zone(Transforms::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_transforms_file_id")
                            .from(Transforms::Table, Transforms::FileId)
                            .to(Files::Table, Files::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transforms_file_id_spec_hash")
                    .table(Transforms::Table)
                    .col(Transforms::FileId)
                    .col(Transforms::SpecHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_transforms_last_used_at")
                    .table(Transforms::Table)
                    .col(Transforms::LastUsedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Transforms::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Transforms {
    Table,
    Id,
    FileId,
    SpecHash,
    StorageKey,
    ContentType,
    SizeBytes,
    Width,
    Height,
    Sha256,
    CreatedAt,
    LastUsedAt,
}
