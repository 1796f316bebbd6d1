//! What the admin aggregate replies with besides accounts and files.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actors::catalog::Job;

/// A job that failed (dead, or waiting for a retry), with whose file it is,
/// for the administrators' jobs page.
#[derive(Debug, Clone)]
pub struct FailedJob {
    pub job: Job,
    pub filename: String,
    pub owner_id: Uuid,
    pub owner_email: String,
    /// When the job last changed: when it died, or when its last attempt failed.
    pub updated_at: DateTime<Utc>,
    /// When a retrying job is tried next.
    pub run_after: DateTime<Utc>,
}

/// One page of failed jobs, and how many there are of each kind in all.
#[derive(Debug, Clone)]
pub struct FailedJobsPage {
    pub jobs: Vec<FailedJob>,
    pub dead: u64,
    pub retrying: u64,
}
