//! The queue gauges of `/metrics`, measured when scraped: jobs by status and
//! the oldest runnable job's wait from the database (the truth, the same from
//! every process), and the transport's backlog from the Dispatcher; with them,
//! this process's database and Redis connection pools, and the webhook
//! outbox's depth.

use std::time::Duration;

use actix::{Handler, Message, ResponseFuture};
use chrono::Utc;

use super::Supervisor;
use crate::actors::catalog::webhooks::MeasureOutbox;
use crate::actors::catalog::{self, jobs::MeasureJobs};
use crate::actors::dispatcher::MeasureBacklog;
use crate::actors::redis;
use crate::telemetry::metrics::{self, ConnectionPool, QueueSnapshot};

/// A scrape's measurement may take this long; past it the gauges keep their
/// last values rather than hold up the scrape.
const MEASURE_TIMEOUT: Duration = Duration::from_secs(2);

/// Measures the queue and the connection pools and records them in the gauges.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MeasureQueue;

impl Handler<MeasureQueue> for Supervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: MeasureQueue, _: &mut Self::Context) -> Self::Result {
        let catalog = self.catalog.clone();
        let dispatcher = self.dispatcher.clone();
        let redis = self.redis.clone();
        Box::pin(async move {
            // The pools answer from memory, at once.
            if let Ok(used) = catalog.send(catalog::MeasurePool).await {
                metrics::record_pool(ConnectionPool::Database, used);
            }
            if let Some(redis) = redis
                && let Ok(used) = redis.send(redis::MeasurePool).await
            {
                metrics::record_pool(ConnectionPool::Redis, used);
            }
            let jobs = tokio::time::timeout(MEASURE_TIMEOUT, catalog.send(MeasureJobs));
            let backlog = async {
                match dispatcher {
                    Some(dispatcher) => {
                        tokio::time::timeout(MEASURE_TIMEOUT, dispatcher.send(MeasureBacklog))
                            .await
                            .ok()
                    }
                    None => None,
                }
            };
            let outbox = tokio::time::timeout(MEASURE_TIMEOUT, catalog.send(MeasureOutbox));
            let (jobs, backlog, outbox) = tokio::join!(jobs, backlog, outbox);
            match outbox {
                Ok(Ok(Ok(depth))) => {
                    metrics::record_outbox(depth.pending, depth.oldest_pending_seconds)
                }
                Ok(Ok(Err(err))) => {
                    tracing::warn!(error = %crate::error_chain(&err), "cannot measure the webhook outbox for /metrics")
                }
                _ => tracing::warn!(
                    "the catalog did not measure the webhook outbox in time for /metrics"
                ),
            }
            let mut snapshot = QueueSnapshot::default();
            match jobs {
                Ok(Ok(Ok(counts))) => {
                    snapshot.oldest_waiting = Some(
                        counts
                            .oldest_runnable_since
                            .and_then(|since| (Utc::now() - since).to_std().ok())
                            .unwrap_or_default(),
                    );
                    snapshot.jobs_by_status = Some(counts.by_status);
                }
                Ok(Ok(Err(err))) => {
                    tracing::warn!(error = %crate::error_chain(&err), "cannot count jobs for /metrics")
                }
                _ => tracing::warn!("the catalog did not answer in time for /metrics"),
            }
            match backlog {
                Some(Ok(Ok(backlog))) => {
                    snapshot.length = Some(backlog.length);
                    snapshot.pending = backlog.pending;
                }
                Some(Ok(Err(err))) => {
                    tracing::warn!(error = %crate::error_chain(&err), "cannot measure the transport for /metrics")
                }
                Some(Err(_)) => tracing::warn!("the dispatcher did not answer for /metrics"),
                None => {}
            }
            metrics::record_queue(&snapshot);
        })
    }
}
