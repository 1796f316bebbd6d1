//! `file_variants.sha256`: the SHA-256 (hex) of the variant's bytes, which its
//! downloads carry as their `ETag` and in their links. Variants made before
//! this column have NULL until their job runs again; their downloads have no
//! `ETag`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(FileVariants::Table)
                    .add_column(text_null(FileVariants::Sha256))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(FileVariants::Table)
                    .drop_column(FileVariants::Sha256)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum FileVariants {
    Table,
    Sha256,
}
