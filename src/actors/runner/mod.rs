//! The JobRunner carries one job through one attempt: claim it, fetch the
//! original (and a watermark's image, looked up again each attempt, since its
//! owner may have deleted it since the job was queued), run the processor,
//! store each variant, record the outcome, and tell the Events actor. It owns
//! no resource; it coordinates the actors that do, and it is where an attempt's
//! errors are sorted into transient (retry with backoff), permanent (dead at
//! once) and deferred (PDFium missing: tried again later without using up an
//! attempt). A job's `error` is always a sentence safe to show its owner; the
//! internal cause (paths, error chains) goes only to the log.
//!
//! - Accepts: [`RunJob`] from the StreamReader, which acknowledges the
//!   delivery when the reply says so.
//! - Every attempt is logged with job_id, processor, attempt, duration, outcome.
//! - Supervised by the Supervisor (restarted with backoff if it stops); its
//!   attempts run as futures of their own, each with a copy of [`Attempts`].

mod failure;

use std::time::{Duration, Instant};

/// Hex digits of a variant's SHA-256 in its key (64 bits): enough that two
/// different outputs of one variant of one file never meet.
const VARIANT_KEY_HASH_LEN: usize = 16;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture, Supervised};
use bytes::Bytes;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use uuid::Uuid;

use crate::actors::catalog::Catalog;
use crate::actors::catalog::files::{FindUnnamed, FindWatermarkImage};
use crate::actors::catalog::jobs::{
    Claim, ClaimJob, ClaimedJob, CompleteJob, FailJob, LearntFacts, NewVariant, Recorded,
    Transition,
};
use crate::actors::events::{Events, PublishEvent, StatusEvent};
use crate::actors::processors::{ChildDeath, ProcessFailure, ProcessorPool, RunProcessor};
use crate::actors::restart::RestartBackoff;
use crate::actors::storage::messages::{DeleteObject, PutObject, ReadObject};
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::domain::jobs::{Failure, JobStatus};
use crate::processing;
use crate::telemetry::RequestId;
use crate::telemetry::metrics::{self, AttemptOutcome};

use failure::AttemptError;

/// Everything an attempt needs, cloned into each attempt's future.
#[derive(Clone)]
pub struct Attempts {
    pub catalog: Addr<Catalog>,
    pub storage: Addr<Storage>,
    pub processors: Addr<ProcessorPool>,
    pub events: Addr<Events>,
    /// This process's name as a consumer; the lease is held under it.
    pub consumer: String,
    pub job_timeout: Duration,
    pub max_retries: u32,
}

pub struct JobRunner {
    attempts: Attempts,
    restarts: RestartBackoff,
}

impl JobRunner {
    pub fn new(attempts: Attempts) -> Self {
        Self {
            attempts,
            restarts: RestartBackoff::default(),
        }
    }
}

impl Actor for JobRunner {
    type Context = Context<Self>;
}

impl Supervised for JobRunner {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("job runner", ctx);
    }
}

/// How long after `JOB_TIMEOUT` an attempt is abandoned if the processor's
/// kill has not ended it already.
const TIMEOUT_GRACE: Duration = Duration::from_secs(2);

/// How long a claim holds a job: the job's own time limit plus a margin for
/// storing results. A worker that dies loses its jobs after this long.
pub fn lease_for(job_timeout: Duration) -> Duration {
    job_timeout + TIMEOUT_GRACE + Duration::from_secs(5)
}

/// Runs one delivered job; replies whether to acknowledge the delivery.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct RunJob {
    pub job_id: Uuid,
}

impl Handler<RunJob> for JobRunner {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: RunJob, _: &mut Self::Context) -> Self::Result {
        let runner = self.attempts.clone();
        let span = tracing::info_span!(
            "job",
            job_id = %msg.job_id,
            file_id = tracing::field::Empty,
            processor = tracing::field::Empty,
            attempt = tracing::field::Empty,
        );
        Box::pin(async move { runner.run(msg.job_id).await }.instrument(span))
    }
}

impl Attempts {
    async fn run(self, job_id: Uuid) -> bool {
        let claim = self
            .catalog
            .send(ClaimJob {
                job_id,
                consumer: self.consumer.clone(),
                lease: lease_for(self.job_timeout),
                max_attempts: self.max_retries + 1,
            })
            .await;
        let claimed = match claim {
            Ok(Ok(Claim::Claimed(claimed))) => claimed,
            Ok(Ok(Claim::NotRunnable)) => return true,
            Ok(Ok(Claim::Exhausted(dead))) => {
                metrics::job_finished(&dead.job.processor, AttemptOutcome::Dead, None);
                self.announce(&dead);
                return true;
            }
            // The database is unreachable: leave the delivery pending, so it is
            // reclaimed once the lease runs out, or found by the reconciler.
            Ok(Err(err)) => {
                tracing::warn!(error = %crate::error_chain(&err), "cannot claim the job");
                return false;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim the job");
                return false;
            }
        };
        let span = tracing::Span::current();
        span.record("file_id", tracing::field::display(claimed.file.id));
        span.record("processor", claimed.job.processor.as_str());
        span.record("attempt", claimed.job.attempts);
        let processor = claimed.job.processor.clone();
        metrics::job_started(&processor, claimed.queue_wait, claimed.job.attempts == 1);
        self.announce(&Transition {
            job: claimed.job.clone(),
            user_id: claimed.file.user_id,
            file_status: claimed.file.status,
        });

        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.job_timeout;
        // The processor's child is killed at the deadline; the grace is for
        // that kill and its reply, so the child's death names the timeout.
        let attempt =
            tokio::time::timeout_at(deadline + TIMEOUT_GRACE, self.attempt(&claimed, deadline));
        let outcome = match attempt.await {
            Ok(outcome) => outcome,
            Err(_) => Err(self.timed_out()),
        };
        let elapsed = started.elapsed();
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        let mut written = Vec::new();
        let mut recorded = match outcome {
            Ok((variants, facts)) => {
                written = variants.iter().map(|v| v.storage_key.clone()).collect();
                tracing::info!(duration_ms, outcome = "succeeded", "job attempt finished");
                self.catalog
                    .send(CompleteJob {
                        job_id,
                        consumer: self.consumer.clone(),
                        variants,
                        facts,
                    })
                    .await
            }
            Err(failure) => {
                let outcome = match failure.failure {
                    Failure::Permanent => "permanent failure",
                    Failure::Transient => "transient failure",
                    Failure::Deferred { .. } => "deferred",
                };
                tracing::warn!(
                    duration_ms,
                    outcome,
                    error = %failure.reason,
                    detail = failure.detail.as_deref().unwrap_or(""),
                    "job attempt finished"
                );
                self.catalog
                    .send(FailJob {
                        job_id,
                        consumer: self.consumer.clone(),
                        error: failure.reason,
                        failure: failure.failure,
                        max_retries: self.max_retries,
                    })
                    .await
            }
        };
        if let Ok(Ok(Recorded::OverQuota { usage, unrecorded })) = recorded {
            // The variants do not fit: the job ends dead, and what it stored goes.
            let reason = format!(
                "quota exceeded: the variants made do not fit in the account's quota ({})",
                usage.describe()
            );
            tracing::warn!(error = %reason, "job attempt finished over quota");
            self.discard_outputs(unrecorded).await;
            recorded = self
                .catalog
                .send(FailJob {
                    job_id,
                    consumer: self.consumer.clone(),
                    error: reason,
                    failure: Failure::Permanent,
                    max_retries: self.max_retries,
                })
                .await;
        }
        match recorded {
            Ok(Ok(Recorded::Stored {
                transition,
                released,
            })) => {
                // Variants this job replaced that no row names any more.
                self.discard_outputs(released).await;
                let outcome = match transition.job.status {
                    JobStatus::Succeeded => AttemptOutcome::Succeeded,
                    JobStatus::Dead => AttemptOutcome::Dead,
                    _ => AttemptOutcome::Retried,
                };
                metrics::job_finished(&processor, outcome, Some(elapsed));
                self.announce(&transition);
                true
            }
            Ok(Ok(Recorded::LeaseLost)) => {
                tracing::warn!("the job's lease was lost before its outcome was recorded");
                true
            }
            Ok(Ok(Recorded::JobGone)) => {
                // The file was deleted while the job ran: what the job stored
                // belongs to nothing, so it goes too.
                tracing::info!("the job's file was deleted while it ran; removing its outputs");
                self.discard_outputs(written).await;
                true
            }
            // Only `CompleteJob` refuses over quota, and its refusal became a
            // `FailJob` above.
            Ok(Ok(Recorded::OverQuota { .. })) => true,
            Ok(Err(err)) => {
                tracing::warn!(error = %crate::error_chain(&err), "cannot record the job's outcome");
                false
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot record the job's outcome");
                false
            }
        }
    }

    /// Deletes objects an attempt stored, or replaced, that no row names: a
    /// key another file's row names (a deduplicated file sharing the same
    /// bytes) stays.
    async fn discard_outputs(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        let unnamed = self
            .catalog
            .send(FindUnnamed {
                request_id: RequestId::generate(),
                keys,
            })
            .await;
        let keys = match unnamed {
            Ok(Ok(keys)) => keys,
            // Left for `kiln storage verify --fix`, which deletes strays.
            _ => return tracing::warn!("cannot tell which outputs are unnamed; leaving them"),
        };
        for key in keys {
            if let Ok(key) = ObjectKey::parse(&key) {
                let _ = self
                    .storage
                    .send(DeleteObject {
                        request_id: RequestId::generate(),
                        key,
                    })
                    .await;
            }
        }
    }

    /// Fetches the original, runs the processor (killed at `deadline`) and
    /// stores every output.
    async fn attempt(
        &self,
        claimed: &ClaimedJob,
        deadline: tokio::time::Instant,
    ) -> Result<(Vec<NewVariant>, LearntFacts), AttemptError> {
        let file = &claimed.file;
        let job = &claimed.job;
        let request_id = RequestId::generate();
        let input = self
            .read_object(&request_id, &file.storage_key, "the original")
            .await?;
        let watermark = match processing::watermark_image(&job.processor, &job.options) {
            Some(image) => Some(
                self.read_watermark(&request_id, file.user_id, &image)
                    .await?,
            ),
            None => None,
        };

        let processed = self
            .processors
            .send(RunProcessor {
                job_id: job.id,
                processor: job.processor.clone(),
                variant: job.variant.clone(),
                options: job.options.clone(),
                input,
                watermark,
                time_limit: deadline.saturating_duration_since(tokio::time::Instant::now()),
            })
            .await?
            .map_err(|failure| match failure {
                // Killed at the deadline: the job, not the child, ran out of time.
                ProcessFailure::Died(ChildDeath::TimedOut { .. }) => self.timed_out(),
                other => other.into(),
            })?;

        let mut variants = Vec::with_capacity(processed.outputs.len());
        for output in processed.outputs {
            // The key names the bytes: an object is never overwritten with
            // other bytes, so a variant another (deduplicated) file shares
            // stays as it is when this file's job makes it anew; and a job
            // that runs twice with the same result writes the same key.
            let size = output.bytes.len() as i64;
            let sha256 = hex::encode(Sha256::digest(&output.bytes));
            let key = ObjectKey::parse(&format!(
                "{}/{}/{}.{}.{}",
                file.user_id,
                file.id,
                output.variant,
                &sha256[..VARIANT_KEY_HASH_LEN],
                output.extension()
            ))?;
            let content_type = output.content_type();
            self.storage
                .send(PutObject::of_bytes(
                    request_id.clone(),
                    key.clone(),
                    content_type,
                    output.bytes,
                ))
                .await??;
            variants.push(NewVariant {
                name: output.variant,
                storage_key: key.as_str().to_string(),
                content_type: content_type.to_string(),
                size_bytes: size,
                width: output.width as i32,
                height: output.height as i32,
                sha256,
            });
        }
        let facts = processed.source;
        Ok((
            variants,
            LearntFacts {
                width: facts.width.map(|w| w as i32),
                height: facts.height.map(|h| h as i32),
                page_count: facts.page_count.map(|p| p as i32),
                thumbhash: facts.thumbhash.map(|hash| hash.0),
            },
        ))
    }

    /// The failure of an attempt that ran past `JOB_TIMEOUT`.
    fn timed_out(&self) -> AttemptError {
        AttemptError::transient(
            format!(
                "timed out after {}",
                humantime::format_duration(self.job_timeout)
            ),
            None,
        )
    }

    /// Reads a whole object into memory; `what` names it in errors.
    async fn read_object(
        &self,
        request_id: &RequestId,
        key: &str,
        what: &str,
    ) -> Result<Bytes, AttemptError> {
        self.storage
            .send(ReadObject {
                request_id: request_id.clone(),
                key: ObjectKey::parse(key)?,
            })
            .await?
            .map_err(|err| match err {
                StorageError::NotFound => {
                    AttemptError::permanent(format!("{what} is missing from storage"))
                }
                other => other.into(),
            })
    }

    /// Reads the original of the file a watermark's `image` names, which must still
    /// be one of the job owner's files (the process endpoint checked it was then).
    async fn read_watermark(
        &self,
        request_id: &RequestId,
        user_id: Uuid,
        image: &str,
    ) -> Result<Bytes, AttemptError> {
        let find = FindWatermarkImage::named(request_id, user_id, image).ok_or_else(|| {
            AttemptError::permanent(format!("the watermark image {image:?} is not a file id"))
        })?;
        let file_id = find.file_id;
        let gone =
            || AttemptError::permanent(format!("the watermark image {file_id} no longer exists"));
        let mark = self.catalog.send(find).await??.ok_or_else(gone)?;
        self.read_object(
            request_id,
            &mark.storage_key,
            &format!("the watermark image {file_id}"),
        )
        .await
    }

    /// Tells watchers of the job's new status and, once it changes, the file's.
    fn announce(&self, transition: &Transition) {
        let job = &transition.job;
        let now = chrono::Utc::now();
        self.events
            .do_send(PublishEvent(StatusEvent::job(transition.user_id, job, now)));
        if job.status != JobStatus::Running {
            self.events.do_send(PublishEvent(StatusEvent::file(
                transition.user_id,
                job.file_id,
                transition.file_status,
                now,
            )));
        }
    }
}
