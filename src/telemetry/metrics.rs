//! Kiln's Prometheus metrics: the names, help texts, units and buckets in one
//! place, and typed functions the rest of the code calls to record them, so no
//! call site can misspell a name or invent an unbounded label.
//!
//! Labels are only ever bounded sets: a route *pattern* (`/api/files/{id}`),
//! a method, a status code, a processor name, an actor name, an operation name.
//! Never a file id, a user id or a raw path.
//!
//! The recorder is process-wide (the `metrics` facade has one global recorder),
//! installed by [`install`] when an [`Application`](crate::startup::Application)
//! starts; before that (the CLI commands) every recording is a no-op. A thread
//! runs the recorder's upkeep every few seconds, so histogram samples are folded
//! into their buckets even when nothing scrapes.
//!
//! Gauges that describe shared state (the queue, jobs by status) and the
//! connection pools are measured when `/metrics` is scraped ([`QueueSnapshot`],
//! [`PoolUse`]); the others change as work happens.

use std::sync::OnceLock;
use std::time::Duration;

use ::metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::jobs::JobStatus;

const HTTP_REQUESTS: &str = "kiln_http_requests_total";
const HTTP_DURATION: &str = "kiln_http_request_duration_seconds";
const UPLOADS: &str = "kiln_uploads_total";
const UPLOAD_BYTES: &str = "kiln_upload_bytes_total";
const JOBS_ENQUEUED: &str = "kiln_jobs_enqueued_total";
const JOBS_STARTED: &str = "kiln_jobs_started_total";
const JOBS_FINISHED: &str = "kiln_jobs_finished_total";
const JOB_DURATION: &str = "kiln_job_duration_seconds";
const JOB_QUEUE_WAIT: &str = "kiln_job_queue_wait_seconds";
const JOB_DISPATCH: &str = "kiln_job_dispatch_seconds";
const RECONCILER_PUBLISHED: &str = "kiln_reconciler_published_total";
const QUEUE_LENGTH: &str = "kiln_queue_length";
const QUEUE_PENDING: &str = "kiln_queue_pending";
const QUEUE_OLDEST_AGE: &str = "kiln_queue_oldest_pending_age_seconds";
const JOBS_BY_STATUS: &str = "kiln_jobs";
const POOL_SIZE: &str = "kiln_processor_pool_size";
const POOL_BUSY: &str = "kiln_processor_pool_busy";
const ACTOR_RESTARTS: &str = "kiln_actor_restarts_total";
const STORAGE_DURATION: &str = "kiln_storage_operation_duration_seconds";
const STORAGE_ERRORS: &str = "kiln_storage_operation_errors_total";
const DB_DURATION: &str = "kiln_db_operation_duration_seconds";
const DB_ERRORS: &str = "kiln_db_operation_errors_total";
const TRANSFORM_REQUESTS: &str = "kiln_transform_requests_total";
const TRANSFORMS_MADE: &str = "kiln_transforms_made_total";
const TRANSFORM_DURATION: &str = "kiln_transform_duration_seconds";
const TRANSFORM_EVICTIONS: &str = "kiln_transform_cache_evictions_total";
const FILES_EXPIRED: &str = "kiln_files_expired_total";
const WEBHOOK_DELIVERIES: &str = "kiln_webhook_deliveries_total";
const WEBHOOK_PENDING: &str = "kiln_webhook_deliveries_pending";
const WEBHOOK_OLDEST_PENDING: &str = "kiln_webhook_oldest_pending_age_seconds";
const CONNECTIONS: &str = "kiln_pool_connections";
const CONNECTIONS_MAX: &str = "kiln_pool_max_connections";

/// Request latencies: a few milliseconds for most routes, seconds for uploads.
const HTTP_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Processor runs: milliseconds for a thumbnail, minutes for a huge PDF.
const JOB_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Time from runnable to started: near zero when idle, minutes under a backlog.
const QUEUE_WAIT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
];
/// Commit to claim of a first attempt: milliseconds when a worker is free.
const DISPATCH_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];
/// One database query or object store call.
const OPERATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the upkeep thread folds histogram samples into buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same
/// handle) and starts its upkeep thread.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            (HTTP_DURATION, HTTP_BUCKETS),
            (JOB_DURATION, JOB_BUCKETS),
            (TRANSFORM_DURATION, JOB_BUCKETS),
            (JOB_QUEUE_WAIT, QUEUE_WAIT_BUCKETS),
            (JOB_DISPATCH, DISPATCH_BUCKETS),
            (STORAGE_DURATION, OPERATION_BUCKETS),
            (DB_DURATION, OPERATION_BUCKETS),
        ] {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.to_string()), buckets)
                // Only an empty bucket list is refused, and these are constants.
                .expect("bucket lists are not empty");
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if ::metrics::set_global_recorder(recorder).is_err() {
            // Another recorder owns the facade (only possible if a library
            // installed one): Kiln still renders its own, empty, handle.
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        describe();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("kiln-metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the metrics upkeep thread; scrapes still run it");
        }
        handle
    })
}

/// The Prometheus text exposition of every metric recorded so far.
pub fn render() -> String {
    let handle = install();
    handle.run_upkeep();
    handle.render()
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route pattern"
    );
    describe_counter!(UPLOADS, "Uploads stored and recorded");
    describe_counter!(
        UPLOAD_BYTES,
        Unit::Bytes,
        "Bytes of uploads stored and recorded"
    );
    describe_counter!(
        JOBS_ENQUEUED,
        "Jobs queued (by uploads and process requests), by processor"
    );
    describe_counter!(
        JOBS_STARTED,
        "Job attempts started by this process, by processor"
    );
    describe_counter!(
        JOBS_FINISHED,
        "Job attempts finished, by processor and outcome (succeeded, retried, dead)"
    );
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Time one job attempt took, by processor"
    );
    describe_histogram!(
        JOB_QUEUE_WAIT,
        Unit::Seconds,
        "Time from a job becoming runnable to its attempt starting, by processor"
    );
    describe_histogram!(
        JOB_DISPATCH,
        Unit::Seconds,
        "Time from the commit that queued a job to the claim of its first attempt"
    );
    describe_counter!(
        RECONCILER_PUBLISHED,
        "Jobs the reconciler published, by reason (retry_due, lease_expired, entry_lost)"
    );
    describe_gauge!(
        QUEUE_LENGTH,
        "Entries on the job transport: the Redis stream's length, or the in-process queue's depth"
    );
    describe_gauge!(
        QUEUE_PENDING,
        "Stream entries delivered to a worker and not yet acknowledged (Redis transport)"
    );
    describe_gauge!(
        QUEUE_OLDEST_AGE,
        Unit::Seconds,
        "How long the oldest runnable job has waited (0 when none waits)"
    );
    describe_gauge!(JOBS_BY_STATUS, "Jobs in the database, by status");
    describe_gauge!(
        POOL_SIZE,
        "Processor slots of this worker (WORKER_CONCURRENCY)"
    );
    describe_gauge!(POOL_BUSY, "Processor slots running a job now");
    describe_counter!(
        ACTOR_RESTARTS,
        "Supervised actors restarted after stopping, by actor"
    );
    describe_histogram!(
        STORAGE_DURATION,
        Unit::Seconds,
        "Object storage calls, by operation"
    );
    describe_counter!(
        STORAGE_ERRORS,
        "Object storage calls that failed, by operation"
    );
    describe_histogram!(
        DB_DURATION,
        Unit::Seconds,
        "Database operations, by Catalog operation"
    );
    describe_counter!(
        DB_ERRORS,
        "Database operations that failed, by Catalog operation"
    );
    describe_counter!(
        TRANSFORM_REQUESTS,
        "Transform requests answered by this process, by cache outcome (hit: from the cache; miss: made for it; joined: waited for an identical one being made; busy: refused, the queue was full)"
    );
    describe_counter!(
        TRANSFORMS_MADE,
        "Transforms this process decoded and made, by outcome (made, refused, failed)"
    );
    describe_histogram!(
        TRANSFORM_DURATION,
        Unit::Seconds,
        "Time to make one transform, from reading the original to recording it"
    );
    describe_counter!(
        TRANSFORM_EVICTIONS,
        "Cached transforms deleted to keep the cache within TRANSFORM_CACHE_SIZE"
    );
    describe_counter!(
        FILES_EXPIRED,
        "Files purged by this process for being older than FILE_RETENTION"
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts made by this process, by outcome (delivered, retried, failed: given up and the endpoint disabled)"
    );
    describe_gauge!(
        WEBHOOK_PENDING,
        "Webhook deliveries waiting to go out (the outbox, from the database)"
    );
    describe_gauge!(
        WEBHOOK_OLDEST_PENDING,
        Unit::Seconds,
        "How long the oldest pending webhook delivery has waited since its event (0 when none waits)"
    );
    describe_gauge!(
        CONNECTIONS,
        "Open connections of this process's pools, by pool (database, redis) and state (busy, idle)"
    );
    describe_gauge!(
        CONNECTIONS_MAX,
        "Most connections each pool may open (DATABASE_POOL_SIZE, REDIS_POOL_SIZE)"
    );
}

/// One answered HTTP request. `route` is the matched pattern, or `unmatched`.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let method = method.to_string();
    let route = route.to_string();
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// One upload stored and recorded.
pub fn upload_accepted(bytes: u64) {
    counter!(UPLOADS).increment(1);
    counter!(UPLOAD_BYTES).increment(bytes);
}

/// Jobs of one processor committed as queued.
pub fn jobs_enqueued(processor: &str, count: u64) {
    counter!(JOBS_ENQUEUED, "processor" => processor.to_string()).increment(count);
}

/// An attempt claimed its job after it waited `queue_wait` as runnable; for a
/// first attempt, that wait is the job's dispatch latency.
pub fn job_started(processor: &str, queue_wait: Duration, first_attempt: bool) {
    let processor = processor.to_string();
    counter!(JOBS_STARTED, "processor" => processor.clone()).increment(1);
    histogram!(JOB_QUEUE_WAIT, "processor" => processor).record(queue_wait.as_secs_f64());
    if first_attempt {
        histogram!(JOB_DISPATCH).record(queue_wait.as_secs_f64());
    }
}

/// Why the reconciler published a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Republished {
    /// A failed attempt's backoff is over.
    RetryDue,
    /// Its worker died running it: the lease ran out.
    LeaseExpired,
    /// Queued for long, and the transport does not hold it.
    EntryLost,
}

pub fn reconciler_published(reason: Republished, jobs: u64) {
    let reason = match reason {
        Republished::RetryDue => "retry_due",
        Republished::LeaseExpired => "lease_expired",
        Republished::EntryLost => "entry_lost",
    };
    counter!(RECONCILER_PUBLISHED, "reason" => reason).increment(jobs);
}

/// How an attempt ended, as far as the job is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    /// Failed, and the job will be tried again.
    Retried,
    /// Failed for good: the job is dead.
    Dead,
}

impl AttemptOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retried => "retried",
            Self::Dead => "dead",
        }
    }
}

/// An attempt's outcome was recorded after it ran for `elapsed`; `None` for a
/// job found dead at its claim (its workers died on every attempt), which ran
/// nothing this time.
pub fn job_finished(processor: &str, outcome: AttemptOutcome, elapsed: Option<Duration>) {
    let processor = processor.to_string();
    counter!(JOBS_FINISHED, "processor" => processor.clone(), "outcome" => outcome.label())
        .increment(1);
    if let Some(elapsed) = elapsed {
        histogram!(JOB_DURATION, "processor" => processor).record(elapsed.as_secs_f64());
    }
}

/// How a transform request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformCache {
    Hit,
    Miss,
    Joined,
    Busy,
}

/// One transform request answered (or refused as busy).
pub fn transform_requested(cache: TransformCache) {
    let label = match cache {
        TransformCache::Hit => "hit",
        TransformCache::Miss => "miss",
        TransformCache::Joined => "joined",
        TransformCache::Busy => "busy",
    };
    counter!(TRANSFORM_REQUESTS, "cache" => label).increment(1);
}

/// One transform made (or refused, or failed) after `elapsed`.
pub fn transform_made(outcome: &'static str, elapsed: Duration) {
    counter!(TRANSFORMS_MADE, "outcome" => outcome).increment(1);
    histogram!(TRANSFORM_DURATION).record(elapsed.as_secs_f64());
}

/// Cached transforms evicted.
pub fn transforms_evicted(count: u64) {
    counter!(TRANSFORM_EVICTIONS).increment(count);
}

pub fn file_expired() {
    counter!(FILES_EXPIRED).increment(1);
}

/// One webhook delivery attempt: `delivered`, `retried` or `failed`.
pub fn webhook_attempt(outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

/// The outbox's depth at a scrape.
pub fn record_outbox(pending: u64, oldest_pending_seconds: f64) {
    gauge!(WEBHOOK_PENDING).set(pending as f64);
    gauge!(WEBHOOK_OLDEST_PENDING).set(oldest_pending_seconds);
}

/// This worker's processor slots (and, so the series exists before the first
/// job, none of them busy yet).
pub fn pool_size(slots: usize) {
    gauge!(POOL_SIZE).set(slots as f64);
    gauge!(POOL_BUSY).increment(0.0);
}

/// Counts one processor slot as busy for as long as it lives.
pub struct BusySlot(());

impl BusySlot {
    pub fn take() -> Self {
        gauge!(POOL_BUSY).increment(1.0);
        Self(())
    }
}

impl Drop for BusySlot {
    fn drop(&mut self) {
        gauge!(POOL_BUSY).decrement(1.0);
    }
}

/// A supervised actor is being restarted.
pub fn actor_restarted(actor: &'static str) {
    counter!(ACTOR_RESTARTS, "actor" => actor).increment(1);
}

/// One object storage call (`put`, `get`, `delete`, `list`, `presign`, ...).
pub fn storage_operation(operation: &'static str, elapsed: Duration, succeeded: bool) {
    histogram!(STORAGE_DURATION, "operation" => operation).record(elapsed.as_secs_f64());
    if !succeeded {
        counter!(STORAGE_ERRORS, "operation" => operation).increment(1);
    }
}

/// One Catalog operation (a message's queries, often one transaction).
pub fn db_operation(operation: &'static str, elapsed: Duration, succeeded: bool) {
    histogram!(DB_DURATION, "operation" => operation).record(elapsed.as_secs_f64());
    if !succeeded {
        counter!(DB_ERRORS, "operation" => operation).increment(1);
    }
}

/// The queue as measured at a scrape. `None` leaves a gauge at its last value
/// (a backend that did not answer) or, for `pending`, unset (no such thing on
/// the in-process transport).
#[derive(Debug, Default, Clone)]
pub struct QueueSnapshot {
    pub length: Option<u64>,
    pub pending: Option<u64>,
    pub oldest_waiting: Option<Duration>,
    pub jobs_by_status: Option<Vec<(JobStatus, u64)>>,
}

pub fn record_queue(snapshot: &QueueSnapshot) {
    if let Some(length) = snapshot.length {
        gauge!(QUEUE_LENGTH).set(length as f64);
    }
    if let Some(pending) = snapshot.pending {
        gauge!(QUEUE_PENDING).set(pending as f64);
    }
    if let Some(age) = snapshot.oldest_waiting {
        gauge!(QUEUE_OLDEST_AGE).set(age.as_secs_f64());
    }
    if let Some(counts) = &snapshot.jobs_by_status {
        for status in JobStatus::ALL {
            let count = counts
                .iter()
                .find(|(counted, _)| *counted == status)
                .map_or(0, |(_, count)| *count);
            gauge!(JOBS_BY_STATUS, "status" => status.as_str()).set(count as f64);
        }
    }
}

/// A connection pool's use at a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open now, busy or idle.
    pub open: u32,
    /// Open connections no one holds.
    pub idle: u32,
    /// Most connections the pool may open.
    pub max: u32,
}

/// Which pool a [`PoolUse`] measures.
#[derive(Debug, Clone, Copy)]
pub enum ConnectionPool {
    Database,
    Redis,
}

impl ConnectionPool {
    fn as_str(self) -> &'static str {
        match self {
            Self::Database => "database",
            Self::Redis => "redis",
        }
    }
}

pub fn record_pool(pool: ConnectionPool, used: PoolUse) {
    let name = pool.as_str();
    let busy = used.open.saturating_sub(used.idle);
    gauge!(CONNECTIONS, "pool" => name, "state" => "busy").set(f64::from(busy));
    gauge!(CONNECTIONS, "pool" => name, "state" => "idle").set(f64::from(used.idle));
    gauge!(CONNECTIONS_MAX, "pool" => name).set(f64::from(used.max));
}
