//! What each account stores, and how much it may: `users.used_bytes` and
//! `users.used_files` count the account's originals and variants (cached
//! transforms do not count); `quota_bytes` and `quota_files` are the account's
//! own limits, NULL where `DEFAULT_QUOTA_BYTES` / `DEFAULT_QUOTA_FILES` apply;
//! `quota_unlimited` exempts the account from every limit, defaults included.
//!
//! The counters are kept by the transactions that add and remove files and
//! variants, so that a quota can be checked and taken in one conditional
//! update. Existing accounts start with what their rows hold.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The counters as the rows have them, for the accounts that exist now.
const COUNT_EXISTING: &str = "UPDATE users SET \
    used_files = (SELECT COUNT(*) FROM files WHERE files.user_id = users.id), \
    used_bytes = (SELECT COALESCE(SUM(files.size_bytes), 0) FROM files \
                  WHERE files.user_id = users.id) \
               + (SELECT COALESCE(SUM(file_variants.size_bytes), 0) FROM file_variants \
                  JOIN files ON files.id = file_variants.file_id \
                  WHERE files.user_id = users.id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for column in [
            big_integer(Users::UsedBytes).default(0).to_owned(),
            big_integer(Users::UsedFiles).default(0).to_owned(),
            big_integer_null(Users::QuotaBytes),
            big_integer_null(Users::QuotaFiles),
            boolean(Users::QuotaUnlimited).default(false).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(COUNT_EXISTING)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Users::QuotaUnlimited,
            Users::QuotaFiles,
            Users::QuotaBytes,
            Users::UsedFiles,
            Users::UsedBytes,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    UsedBytes,
    UsedFiles,
    QuotaBytes,
    QuotaFiles,
    QuotaUnlimited,
}
