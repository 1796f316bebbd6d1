//! Messages of the jobs aggregate, and what they reply with besides [`Job`].
//! A user's requests carry the request id they serve; the pipeline's carry the
//! job id. Both are recorded on the handler's span.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actors::catalog::{CatalogError, File, Job};
use crate::domain::jobs::{Failure, FileStatus, JobStatus};
use crate::domain::quota::Usage;
use crate::processing::JobSpec;
use crate::telemetry::RequestId;

/// Queues another job for one of the user's files; the file is `processing`
/// again until it finishes.
#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct AddJob {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    pub job: JobSpec,
}

#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct FindJob {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub job_id: Uuid,
}

/// Whose jobs a job message may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobScope {
    /// Only jobs of this user's files: another user's job answers as absent.
    OwnedBy(Uuid),
    /// Any user's job: for administrators, who were checked by the caller.
    AnyUser,
}

/// Puts a dead job back in the queue with a fresh set of attempts. `None` when
/// there is no such job within `scope` (the owner's own, or any for an
/// administrator).
#[derive(Message)]
#[rtype(result = "Result<Option<Job>, CatalogError>")]
pub struct RetryDeadJob {
    pub request_id: RequestId,
    pub scope: JobScope,
    pub job_id: Uuid,
    pub handoff: Handoff,
}

/// How a job put back in the queue reaches a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// `queued`: the caller hands it to its own Dispatcher right away.
    Announced,
    /// `retrying`, due now: for a caller with no transport (the command line),
    /// since every running Kiln's reconciler publishes due retries on its next
    /// round (a queued job would wait for `REQUEUE_AFTER`).
    ByReconciler,
}

/// Claims a job for one attempt with one conditional UPDATE, so two consumers
/// never run it at once.
#[derive(Message)]
#[rtype(result = "Result<Claim, CatalogError>")]
pub struct ClaimJob {
    pub job_id: Uuid,
    pub consumer: String,
    pub lease: Duration,
    /// A job that already ran this many times (its workers died) is dead.
    pub max_attempts: u32,
}

#[derive(Debug, Clone)]
pub enum Claim {
    /// Run it: the caller holds the lease. (Boxed: a job and its file are large
    /// beside the other answers.)
    Claimed(Box<ClaimedJob>),
    /// It had used up its attempts and is now dead.
    Exhausted(Transition),
    /// Someone else has it, it finished, or it is not due: just acknowledge.
    NotRunnable,
}

#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub job: Job,
    pub file: File,
    /// How long the job had been runnable when this claim took it.
    pub queue_wait: Duration,
}

/// A variant already in storage, to be recorded with the job's success.
#[derive(Debug, Clone)]
pub struct NewVariant {
    pub name: String,
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub width: i32,
    pub height: i32,
    /// SHA-256 (hex) of the bytes stored.
    pub sha256: String,
}

/// What a job learnt about its original (PDF page count, oriented size, placeholder).
#[derive(Debug, Clone, Default)]
pub struct LearntFacts {
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub page_count: Option<i32>,
    /// ThumbHash, standard base64.
    pub thumbhash: Option<String>,
}

/// Upserts the variants, takes what they add to their owner's quota and marks
/// the job succeeded in one transaction, if the consumer still holds the
/// job's lease and the quota has room.
#[derive(Message)]
#[rtype(result = "Result<Recorded, CatalogError>")]
pub struct CompleteJob {
    pub job_id: Uuid,
    pub consumer: String,
    pub variants: Vec<NewVariant>,
    pub facts: LearntFacts,
}

/// Records a failed attempt: `retrying` with backoff, or `dead`.
#[derive(Message)]
#[rtype(result = "Result<Recorded, CatalogError>")]
pub struct FailJob {
    pub job_id: Uuid,
    pub consumer: String,
    /// Shown to the job's owner: a sentence safe for them to read.
    pub error: String,
    pub failure: Failure,
    pub max_retries: u32,
}

/// What became of an attempt's outcome.
#[derive(Debug, Clone)]
pub enum Recorded {
    /// Stored; the job and its file are now as the transition says.
    /// `released` are objects of variants the job replaced that no row names
    /// any more, for the worker to delete.
    Stored {
        transition: Box<Transition>,
        released: Vec<String>,
    },
    /// Another consumer holds the job now (this one's lease expired).
    LeaseLost,
    /// The job is gone: its file was deleted while it ran.
    JobGone,
    /// Nothing was recorded: the variants would pass their owner's quota.
    /// `unrecorded` are the objects the attempt stored that no row names.
    OverQuota {
        usage: Usage,
        unrecorded: Vec<String>,
    },
}

/// A job's new status and its file's, for events.
#[derive(Debug, Clone)]
pub struct Transition {
    pub job: Job,
    pub user_id: Uuid,
    pub file_status: FileStatus,
}

/// Finds jobs the transport may have to carry again: retries now due and runs
/// whose lease expired (the worker died), which always need publishing, and
/// queued jobs untouched for `stale_after`, whose transport entry may be lost.
/// Stale jobs come oldest first from after `stale_from`, so successive calls
/// page through a backlog longer than `limit`. Nothing is changed.
#[derive(Message)]
#[rtype(result = "Result<DueJobs, CatalogError>")]
pub struct FindDueJobs {
    pub stale_after: Duration,
    pub stale_from: Option<StaleCursor>,
    pub limit: u64,
}

#[derive(Debug, Default)]
pub struct DueJobs {
    /// Due retries and expired leases.
    pub runnable_again: Vec<DueJob>,
    /// Queued jobs untouched for `stale_after`, oldest first.
    pub stale: Vec<DueJob>,
}

/// A job as it was read, so that taking it changes it only if nobody did since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueJob {
    pub id: Uuid,
    pub status: JobStatus,
    pub updated_at: DateTime<Utc>,
}

/// Where the next page of stale queued jobs starts: after this job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleCursor {
    pub updated_at: DateTime<Utc>,
    pub id: Uuid,
}

impl DueJob {
    pub fn cursor(&self) -> StaleCursor {
        StaleCursor {
            updated_at: self.updated_at,
            id: self.id,
        }
    }
}

/// Marks the jobs queued again, each only if unchanged since it was read, so
/// that among several reconcilers one takes each job. Replies with the ids taken.
#[derive(Message)]
#[rtype(result = "Result<Vec<Uuid>, CatalogError>")]
pub struct RequeueJobs {
    pub jobs: Vec<DueJob>,
}

/// Counts jobs by status and finds how long the oldest runnable job has
/// waited, for the queue gauges of `/metrics`.
#[derive(Message)]
#[rtype(result = "Result<JobCounts, CatalogError>")]
pub struct MeasureJobs;

#[derive(Debug, Clone)]
pub struct JobCounts {
    /// Only statuses that have jobs appear.
    pub by_status: Vec<(JobStatus, u64)>,
    /// The oldest time a job still waiting to run became runnable.
    pub oldest_runnable_since: Option<DateTime<Utc>>,
}
