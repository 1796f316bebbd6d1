//! `uploads`: resumable uploads (tus) in progress, so any api process can
//! continue one another started, and none is lost with a process.
//!
//! - `length` is the size the client announced, reserved from its owner's quota
//!   at creation; `received_bytes` is how much of it is stored durably.
//! - `filename`, `processors`, `options` come from `Upload-Metadata`.
//! - On S3 the bytes go up as a multipart upload (`multipart_id`); `parts` is a
//!   JSON array of the parts' ids in order and `parts_bytes` what they hold.
//!   Bytes past the parts (a chunk smaller than S3's 5 MiB minimum part) wait in
//!   an object of their own until the next chunk.
//! - `claimed_until`: the lease of the request appending now; another waits.
//! - `file_id`: the file the finished upload became.
//! - `expires_at`: an upload unfinished by then is deleted with its bytes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261128_000001_create_users::Users;
use crate::m20261128_000006_create_files::Files;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .col(pk_uuid(Uploads::Id))
                    .col(uuid(Uploads::UserId))
                    .col(big_integer(Uploads::Length))
                    .col(big_integer(Uploads::ReceivedBytes).default(0))
                    .col(text_null(Uploads::Filename))
                    .col(text_null(Uploads::Processors))
                    .col(text_null(Uploads::Options))
                    .col(text_null(Uploads::MultipartId))
                    .col(text(Uploads::Parts).default("[]"))
                    .col(big_integer(Uploads::PartsBytes).default(0))
                    .col(timestamp_with_time_zone_null(Uploads::ClaimedUntil))
                    .col(uuid_null(Uploads::FileId))
                    .col(timestamp_with_time_zone(Uploads::ExpiresAt))
                    .col(timestamp_with_time_zone(Uploads::CreatedAt))
                    .col(timestamp_with_time_zone(Uploads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_uploads_user_id")
                            .from(Uploads::Table, Uploads::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_uploads_file_id")
                            .from(Uploads::Table, Uploads::FileId)
                            .to(Files::Table, Files::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_uploads_expires_at")
                    .table(Uploads::Table)
                    .col(Uploads::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Uploads::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    UserId,
    Length,
    ReceivedBytes,
    Filename,
    Processors,
    Options,
    MultipartId,
    Parts,
    PartsBytes,
    ClaimedUntil,
    FileId,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}
