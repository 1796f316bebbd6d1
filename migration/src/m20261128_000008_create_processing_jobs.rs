//! `processing_jobs`: the source of truth for queued work (DESIGN §3, the stream
//! only carries job ids). (status, run_after) finds due `queued`/`retrying` jobs
//! for the reconciler, `lease_expires_at` finds jobs whose worker died, and
//! `file_id` derives a file's overall status from its jobs.

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
                    .table(ProcessingJobs::Table)
                    .col(pk_uuid(ProcessingJobs::Id))
                    .col(uuid(ProcessingJobs::FileId))
                    .col(text(ProcessingJobs::Processor))
                    .col(text(ProcessingJobs::Variant))
                    // jsonb on PostgreSQL, text affinity on SQLite.
                    .col(json_binary(ProcessingJobs::Options).default("{}"))
                    .col(text(ProcessingJobs::Status))
                    .col(integer(ProcessingJobs::Attempts).default(0))
                    .col(text_null(ProcessingJobs::Error))
                    .col(timestamp_with_time_zone(ProcessingJobs::RunAfter))
                    .col(timestamp_with_time_zone_null(
                        ProcessingJobs::LeaseExpiresAt,
                    ))
                    .col(text_null(ProcessingJobs::LeasedBy))
                    .col(timestamp_with_time_zone(ProcessingJobs::CreatedAt))
                    .col(timestamp_with_time_zone(ProcessingJobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(ProcessingJobs::StartedAt))
                    .col(timestamp_with_time_zone_null(ProcessingJobs::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_processing_jobs_file_id")
                            .from(ProcessingJobs::Table, ProcessingJobs::FileId)
                            .to(Files::Table, Files::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_processing_jobs_status_run_after")
                    .table(ProcessingJobs::Table)
                    .col(ProcessingJobs::Status)
                    .col(ProcessingJobs::RunAfter)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_processing_jobs_file_id")
                    .table(ProcessingJobs::Table)
                    .col(ProcessingJobs::FileId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_processing_jobs_lease_expires_at")
                    .table(ProcessingJobs::Table)
                    .col(ProcessingJobs::LeaseExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProcessingJobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ProcessingJobs {
    Table,
    Id,
    FileId,
    Processor,
    Variant,
    Options,
    Status,
    Attempts,
    Error,
    RunAfter,
    LeaseExpiresAt,
    LeasedBy,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    FinishedAt,
}
