//! The job state machine and the file status it implies (DESIGN.md §3):
//!
//! ```text
//! queued ─claim─▶ running ─ok─▶ succeeded
//!                    │ transient error, attempts left ─▶ retrying (run_after = backoff) ─▶ queued
//!                    │ deferred (the worker cannot run it yet) ─▶ retrying, the attempt not counted
//!                    │ permanent error or attempts exhausted ─▶ dead
//!                    └ lease expired (worker died) ─▶ queued again
//! ```

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Retrying,
    Succeeded,
    Dead,
}

impl JobStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Retrying,
        Self::Succeeded,
        Self::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Processing,
    Ready,
    Failed,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Processing, Self::Ready, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }

    /// A file is `failed` when any job is dead, `processing` while any job is
    /// unfinished, and `ready` when all succeeded (or it has none).
    pub fn from_jobs(jobs: impl IntoIterator<Item = JobStatus>) -> Self {
        let mut unfinished = false;
        for status in jobs {
            match status {
                JobStatus::Dead => return Self::Failed,
                JobStatus::Succeeded => {}
                _ => unfinished = true,
            }
        }
        if unfinished {
            Self::Processing
        } else {
            Self::Ready
        }
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt failed, as far as the job's future is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Trying again may help: retried with backoff while attempts remain.
    Transient,
    /// Trying again cannot help (the input or the request is wrong): dead at once.
    Permanent,
    /// This worker cannot run the job yet (PDFium is not installed): tried again
    /// after `delay`, and the attempt does not count against `MAX_RETRIES`.
    Deferred { delay: Duration },
}

/// What becomes of a job whose attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterFailure {
    /// Run again once `delay` has passed; `counted` is whether the failed
    /// attempt stays counted in the job's `attempts`.
    Retry {
        delay: Duration,
        counted: bool,
    },
    Dead,
}

const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(10 * 60);

/// Decides a failed attempt's fate. `attempts` counts the attempt that failed;
/// `jitter` in `[0, 1)` spreads retries of many jobs that failed together.
pub fn after_failure(
    attempts: u32,
    max_retries: u32,
    failure: Failure,
    jitter: f64,
) -> AfterFailure {
    match failure {
        Failure::Permanent => return AfterFailure::Dead,
        Failure::Deferred { delay } => {
            return AfterFailure::Retry {
                delay,
                counted: false,
            };
        }
        Failure::Transient => {}
    }
    // MAX_RETRIES counts retries, so a job runs at most 1 + MAX_RETRIES times.
    if attempts > max_retries {
        return AfterFailure::Dead;
    }
    let exponential = FIRST_RETRY.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)));
    let capped = exponential.min(LONGEST_RETRY);
    // Full jitter over the upper half: between 50% and 100% of the backoff.
    let delay = capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
    AfterFailure::Retry {
        delay,
        counted: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Retrying,
            JobStatus::Succeeded,
            JobStatus::Dead,
        ] {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("lost"), None);
    }

    #[test]
    fn a_file_is_failed_if_any_job_died_and_ready_when_all_succeeded() {
        use JobStatus::*;
        assert_eq!(
            FileStatus::from_jobs([Succeeded, Dead, Running]),
            FileStatus::Failed
        );
        assert_eq!(
            FileStatus::from_jobs([Succeeded, Retrying]),
            FileStatus::Processing
        );
        assert_eq!(
            FileStatus::from_jobs([Succeeded, Succeeded]),
            FileStatus::Ready
        );
        assert_eq!(FileStatus::from_jobs([]), FileStatus::Ready);
    }

    #[test]
    fn transient_failures_back_off_exponentially_until_retries_run_out() {
        let delay = |attempt| match after_failure(attempt, 3, Failure::Transient, 1.0) {
            AfterFailure::Retry {
                delay,
                counted: true,
            } => delay,
            other => panic!("attempt {attempt} should retry, counted: {other:?}"),
        };
        assert_eq!(delay(1), Duration::from_secs(2));
        assert_eq!(delay(2), Duration::from_secs(4));
        assert_eq!(delay(3), Duration::from_secs(8));
        assert_eq!(
            after_failure(4, 3, Failure::Transient, 1.0),
            AfterFailure::Dead
        );
        assert_eq!(
            after_failure(30, 100, Failure::Transient, 1.0),
            AfterFailure::Retry {
                delay: LONGEST_RETRY,
                counted: true
            }
        );
    }

    #[test]
    fn jitter_keeps_the_delay_between_half_and_all_of_the_backoff() {
        let AfterFailure::Retry { delay, .. } = after_failure(2, 3, Failure::Transient, 0.0) else {
            panic!()
        };
        assert_eq!(delay, Duration::from_secs(2));
    }

    #[test]
    fn a_permanent_failure_is_dead_at_once() {
        assert_eq!(
            after_failure(1, 3, Failure::Permanent, 0.5),
            AfterFailure::Dead
        );
    }

    #[test]
    fn a_deferred_job_waits_without_using_up_its_attempts() {
        let delay = Duration::from_secs(30);
        // Even past MAX_RETRIES: the job never ran, so it is not given up on.
        assert_eq!(
            after_failure(9, 3, Failure::Deferred { delay }, 0.5),
            AfterFailure::Retry {
                delay,
                counted: false
            }
        );
    }
}
