//! Deduplication: a file whose bytes its owner already stored names the stored
//! objects (its original and the variants copied with it) instead of keeping
//! its own, and an object is deleted with the last row that names it.
//!
//! - `files.deduplicated`: the file was kept as a reference to objects stored
//!   for an earlier file of the same user; existing rows are not.
//! - `files.purge_started_at`: set while an operator's purge (or retention)
//!   deletes the file's objects, so no new upload is deduplicated onto them.
//! - Indexes for finding a user's file by its bytes (`user_id, sha256`) and the
//!   rows that still name an object (`storage_key` of files and variants).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for column in [
            boolean(Files::Deduplicated).default(false).to_owned(),
            timestamp_with_time_zone_null(Files::PurgeStartedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Files::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for index in [
            Index::create()
                .name("idx_files_user_sha256")
                .table(Files::Table)
                .col(Files::UserId)
                .col(Files::Sha256)
                .to_owned(),
            Index::create()
                .name("idx_files_storage_key")
                .table(Files::Table)
                .col(Files::StorageKey)
                .to_owned(),
            Index::create()
                .name("idx_file_variants_storage_key")
                .table(FileVariants::Table)
                .col(FileVariants::StorageKey)
                .to_owned(),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_file_variants_storage_key")
                    .table(FileVariants::Table)
                    .to_owned(),
            )
            .await?;
        for name in ["idx_files_storage_key", "idx_files_user_sha256"] {
            manager
                .drop_index(Index::drop().name(name).table(Files::Table).to_owned())
                .await?;
        }
        for column in [Files::PurgeStartedAt, Files::Deduplicated] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Files::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Files {
    Table,
    UserId,
    Sha256,
    StorageKey,
    Deduplicated,
    PurgeStartedAt,
}

#[derive(DeriveIden)]
enum FileVariants {
    Table,
    StorageKey,
}
