//! The jobs aggregate (`processing_jobs`).
//!
//! - `handlers`: the jobs a user asks for: another job for one of their files,
//!   one job found, a dead job retried (by its owner or an administrator).
//! - `lifecycle`: a job's life in the pipeline: claim, complete, fail, finding
//!   the jobs the transport must carry again, and measuring the queue.
//!
//! A job added, finished or retried refreshes its file's status in the same
//! transaction: a file is `processing` while any job is unfinished, `ready` when
//! all succeeded, `failed` when any is dead.
//!
//! The rows every new job and every job run again are made of (`job_row`,
//! `run_again`) are lent to the files aggregate (an upload's jobs) and the admin
//! aggregate (a lost variant made again).

mod handlers;
mod lifecycle;
mod messages;

pub(super) use handlers::{job_row, run_again};
pub use messages::*;
