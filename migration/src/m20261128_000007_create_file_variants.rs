//! `file_variants`: outputs derived from a file (thumbnail, resizes, ...).
//! UNIQUE(file_id, name) makes a job that runs twice overwrite its variant
//! instead of duplicating it (DESIGN §3); it also serves lookups by file.

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
                    .table(FileVariants::Table)
                    .col(pk_uuid(FileVariants::Id))
                    .col(uuid(FileVariants::FileId))
                    .col(text(FileVariants::Name))
                    .col(text(FileVariants::StorageKey))
                    .col(text(FileVariants::ContentType))
                    .col(big_integer(FileVariants::SizeBytes))
                    .col(integer(FileVariants::Width))
                    .col(integer(FileVariants::Height))
                    .col(timestamp_with_time_zone(FileVariants::CreatedAt))
                    .col(timestamp_with_time_zone(FileVariants::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_file_variants_file_id")
                            .from(FileVariants::Table, FileVariants::FileId)
                            .to(Files::Table, Files::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_file_variants_file_name")
                    .table(FileVariants::Table)
                    .col(FileVariants::FileId)
                    .col(FileVariants::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FileVariants::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FileVariants {
    Table,
    Id,
    FileId,
    Name,
    StorageKey,
    ContentType,
    SizeBytes,
    Width,
    Height,
    CreatedAt,
    UpdatedAt,
}
