//! `kiln jobs list --status dead|retrying` and `kiln jobs retry <id>|--all-dead`:
//! the failed jobs of every user, as the administrators' web page shows them,
//! and running dead ones again.
//!
//! A retry follows the rule of the API and the web page (only a dead job, with
//! a fresh set of attempts). The command line has no transport to publish on,
//! so the job is left as a retry due now: every running Kiln's reconciler
//! publishes due retries each `RECONCILE_INTERVAL`, and a worker runs it.

use actix::Addr;
use anyhow::bail;
use clap::Subcommand;
use uuid::Uuid;

use super::progress::Progress;
use super::{ask, open_catalog, open_ingest, open_storage, print_table, when};
use crate::actors::catalog::admin::ListFailedJobs;
use crate::actors::catalog::jobs::JobScope;
use crate::actors::catalog::{Catalog, CatalogError};
use crate::actors::ingest::{Ingest, IngestError, RetryJob};
use crate::config::Config;
use crate::domain::jobs::JobStatus;
use crate::telemetry::RequestId;

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Lists failed jobs of every user, most recently changed first.
    List {
        #[arg(long, value_enum)]
        status: FailedStatus,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Runs a dead job (or every dead job) again with a fresh set of attempts.
    Retry {
        /// The job's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<Uuid>,
        /// Every dead job of every user.
        #[arg(long)]
        all_dead: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailedStatus {
    Dead,
    Retrying,
}

impl From<FailedStatus> for JobStatus {
    fn from(status: FailedStatus) -> Self {
        match status {
            FailedStatus::Dead => JobStatus::Dead,
            FailedStatus::Retrying => JobStatus::Retrying,
        }
    }
}

/// Longest error shown in the list; the API and the web page show all of it.
const ERROR_WIDTH: usize = 60;

pub async fn run(config: &Config, action: JobsAction) -> anyhow::Result<()> {
    let catalog = open_catalog(config).await?;
    let pickup = humantime::format_duration(config.reconcile_interval);
    match action {
        JobsAction::List { status, limit } => list(&catalog, status.into(), limit).await,
        JobsAction::Retry { id: Some(id), .. } => {
            let ingest = open_ingest(config, catalog, open_storage(config)?);
            if let Some(refusal) = retry(&ingest, id).await? {
                bail!(refusal);
            }
            println!(
                "job {id} will run again: a running Kiln (serve or worker) picks it up within \
                 RECONCILE_INTERVAL ({pickup})"
            );
            Ok(())
        }
        JobsAction::Retry { id: None, .. } => {
            let ingest = open_ingest(config, catalog.clone(), open_storage(config)?);
            let retried = retry_all_dead(&catalog, &ingest).await?;
            println!(
                "{retried} dead jobs will run again: a running Kiln (serve or worker) picks \
                 them up within RECONCILE_INTERVAL ({pickup}), in rounds of at most 500"
            );
            Ok(())
        }
    }
}

async fn list(catalog: &Addr<Catalog>, status: JobStatus, limit: u64) -> anyhow::Result<()> {
    let page = ask(
        catalog,
        ListFailedJobs {
            request_id: RequestId::generate(),
            status: Some(status),
            offset: 0,
            limit,
        },
    )
    .await?;
    let rows: Vec<[String; 6]> = page
        .jobs
        .into_iter()
        .map(|failed| {
            let error = failed.job.error.unwrap_or_default();
            let error = error.split_whitespace().collect::<Vec<_>>().join(" ");
            let error = match error.chars().count() > ERROR_WIDTH {
                true => format!(
                    "{}…",
                    error.chars().take(ERROR_WIDTH - 1).collect::<String>()
                ),
                false => error,
            };
            [
                failed.job.id.to_string(),
                failed.job.file_id.to_string(),
                failed.job.processor,
                failed.job.attempts.to_string(),
                error,
                when(failed.updated_at),
            ]
        })
        .collect();
    let shown = rows.len();
    print_table(
        [
            "ID",
            "FILE ID",
            "PROCESSOR",
            "ATTEMPTS",
            "LAST ERROR",
            "UPDATED",
        ],
        &rows,
    );
    let total = match status {
        JobStatus::Retrying => page.retrying,
        _ => page.dead,
    };
    if (shown as u64) < total {
        eprintln!("{shown} of {total} {status} jobs shown; --limit shows more");
    }
    Ok(())
}

/// Runs one dead job again, or replies why not (there is no such job, or it is
/// not dead).
async fn retry(ingest: &Addr<Ingest>, job_id: Uuid) -> anyhow::Result<Option<String>> {
    let retried = ingest
        .send(RetryJob {
            request_id: RequestId::generate(),
            scope: JobScope::AnyUser,
            job_id,
            file_id: None,
        })
        .await?;
    match retried {
        Ok(job) => {
            tracing::info!(job_id = %job.id, "dead job queued again from the command line");
            Ok(None)
        }
        Err(IngestError::JobNotFound) => Ok(Some(format!("there is no job {job_id}"))),
        Err(IngestError::Catalog(err @ CatalogError::JobNotDead(_))) => {
            Ok(Some(format!("job {job_id}: {err}")))
        }
        Err(err) => Err(err.into()),
    }
}

/// Runs every dead job again; replies how many.
async fn retry_all_dead(catalog: &Addr<Catalog>, ingest: &Addr<Ingest>) -> anyhow::Result<u64> {
    const PAGE: u64 = 500;
    // Read them all first: retried jobs leave the list, so paging while
    // retrying would skip some.
    let mut dead = Vec::new();
    loop {
        let page = ask(
            catalog,
            ListFailedJobs {
                request_id: RequestId::generate(),
                status: Some(JobStatus::Dead),
                offset: dead.len() as u64,
                limit: PAGE,
            },
        )
        .await?;
        let last = (page.jobs.len() as u64) < PAGE;
        dead.extend(page.jobs.into_iter().map(|failed| failed.job.id));
        if last {
            break;
        }
    }
    let mut progress = Progress::start("retrying dead jobs", Some(dead.len() as u64));
    let mut retried = 0;
    for job_id in dead {
        // One that is no longer dead was retried by someone else meanwhile.
        match retry(ingest, job_id).await? {
            None => retried += 1,
            Some(refusal) => tracing::info!(%job_id, refusal, "skipped"),
        }
        progress.advance(1);
    }
    progress.finish();
    Ok(retried)
}
