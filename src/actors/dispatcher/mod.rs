//! The Dispatcher puts queued jobs on the transport. It owns the transport's
//! publishing side.
//!
//! - Accepts: [`JobsQueued`] right after a commit that queued jobs (sent by
//!   [`announce_queued`]), and [`MeasureBacklog`] when metrics are scraped.
//! - Every `RECONCILE_INTERVAL` (and once at start) it reconciles: it asks the
//!   Catalog for jobs the transport must carry again and publishes them:
//!   retries now due, runs whose lease expired, and queued jobs untouched for
//!   `REQUEUE_AFTER` that the transport no longer holds. So a failed publish,
//!   a crash between commit and publish, or a Redis that lost its data delays
//!   jobs; it never loses them. A job that merely waits its turn in a backlog
//!   is still on the transport, and is not published twice.
//! - Supervised by the Supervisor.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, Supervised, WrapFuture,
};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::actors::catalog::jobs::{DueJob, FindDueJobs, RequeueJobs, StaleCursor};
use crate::actors::catalog::{Catalog, CatalogError, Job};
use crate::actors::restart::RestartBackoff;
use crate::domain::jobs::JobStatus;
use crate::telemetry::metrics::{self, Republished};
use crate::transport::{Backlog, Publisher, TransportError};

/// Most jobs of each kind (runnable again, stale) one reconciliation looks
/// at; the next round takes the rest.
const RECONCILE_BATCH: u64 = 500;

pub struct Dispatcher {
    publisher: Arc<Mutex<Publisher>>,
    catalog: Addr<Catalog>,
    reconcile_every: Duration,
    requeue_after: Duration,
    reconciling: bool,
    /// Where the next round goes on through stale queued jobs, when the last
    /// one found a full batch of them.
    stale_from: Option<StaleCursor>,
    restarts: RestartBackoff,
}

impl Dispatcher {
    pub fn new(
        publisher: Publisher,
        catalog: Addr<Catalog>,
        reconcile_every: Duration,
        requeue_after: Duration,
    ) -> Self {
        Self {
            publisher: Arc::new(Mutex::new(publisher)),
            catalog,
            reconcile_every,
            requeue_after,
            reconciling: false,
            stale_from: None,
            restarts: RestartBackoff::default(),
        }
    }

    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        // One round at a time; a slow database must not stack them up.
        if self.reconciling {
            return;
        }
        self.reconciling = true;
        let round = reconcile_round(
            self.catalog.clone(),
            self.publisher.clone(),
            FindDueJobs {
                stale_after: self.requeue_after,
                stale_from: self.stale_from,
                limit: RECONCILE_BATCH,
            },
        );
        ctx.spawn(round.into_actor(self).map(|stale_from, dispatcher, _| {
            dispatcher.reconciling = false;
            dispatcher.stale_from = stale_from;
        }));
    }
}

/// One reconciliation: finds due jobs, leaves out stale ones the transport
/// still holds, takes the rest and publishes them. Returns where the next
/// round goes on through stale jobs.
async fn reconcile_round(
    catalog: Addr<Catalog>,
    publisher: Arc<Mutex<Publisher>>,
    find: FindDueJobs,
) -> Option<StaleCursor> {
    let limit = find.limit;
    let stale_from = find.stale_from;
    let Some(due) = ask_catalog(&catalog, find, "read the jobs").await else {
        return stale_from;
    };
    let next_from = match due.stale.len() as u64 == limit {
        true => due.stale.last().map(DueJob::cursor),
        false => None,
    };
    let mut jobs = due.runnable_again;
    if !due.stale.is_empty() {
        match publisher.lock().await.carried().await {
            Ok(carried) => jobs.extend(
                due.stale
                    .into_iter()
                    .filter(|job| !carried.contains(&job.id)),
            ),
            Err(err) => {
                // Unknown: publish them all; a duplicate costs a failed claim.
                tracing::warn!(error = %err, "reconciliation cannot see what the transport holds");
                jobs.extend(due.stale);
            }
        }
    }
    if jobs.is_empty() {
        return next_from;
    }
    let requeue = RequeueJobs { jobs: jobs.clone() };
    let Some(taken) = ask_catalog(&catalog, requeue, "requeue the jobs").await else {
        return stale_from;
    };
    let taken: HashSet<Uuid> = taken.into_iter().collect();
    jobs.retain(|job| taken.contains(&job.id));
    if jobs.is_empty() {
        return next_from;
    }
    let ids: Vec<Uuid> = jobs.iter().map(|job| job.id).collect();
    match publisher.lock().await.publish(&ids).await {
        Ok(()) => {
            for job in &jobs {
                metrics::reconciler_published(reason(job), 1);
            }
            tracing::info!(jobs = ids.len(), "reconciliation republished jobs");
        }
        Err(err) => {
            tracing::warn!(error = %err, jobs = ids.len(), "reconciliation could not publish; will try again")
        }
    }
    next_from
}

/// Asks the Catalog for one step of a reconciliation; a failure is logged with
/// the step it stopped, and is `None`.
async fn ask_catalog<M, T>(catalog: &Addr<Catalog>, msg: M, step: &str) -> Option<T>
where
    Catalog: Handler<M>,
    <Catalog as Actor>::Context: ToEnvelope<Catalog, M>,
    M: Message<Result = Result<T, CatalogError>> + Send + 'static,
    T: Send + 'static,
{
    match catalog.send(msg).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(err)) => {
            tracing::warn!(error = %crate::error_chain(&err), "reconciliation could not {step}");
            None
        }
        Err(err) => {
            tracing::warn!(error = %err, "reconciliation could not reach the catalog");
            None
        }
    }
}

/// Why the reconciler publishes `job`, from the status it was found in.
fn reason(job: &DueJob) -> Republished {
    match job.status {
        JobStatus::Retrying => Republished::RetryDue,
        JobStatus::Running => Republished::LeaseExpired,
        _ => Republished::EntryLost,
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.reconciling = false;
        self.reconcile(ctx);
        ctx.run_interval(self.reconcile_every, |dispatcher, ctx| {
            dispatcher.reconcile(ctx)
        });
    }
}

impl Supervised for Dispatcher {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("dispatcher", ctx);
    }
}

/// Jobs just committed as queued. A lost notification only delays them until
/// the next reconciliation.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobsQueued {
    pub job_ids: Vec<Uuid>,
}

/// Called right after a commit that queued `jobs` (an upload, a process
/// request, a retry of a dead job): counts them as enqueued and hands them to
/// the Dispatcher, if this process has one. Losing the notification is
/// harmless: the reconciler publishes queued jobs it finds in the database.
pub fn announce_queued(dispatcher: Option<&Addr<Dispatcher>>, jobs: &[Job]) {
    for job in jobs {
        metrics::jobs_enqueued(&job.processor, 1);
    }
    if let Some(dispatcher) = dispatcher {
        dispatcher.do_send(JobsQueued {
            job_ids: jobs.iter().map(|job| job.id).collect(),
        });
    }
}

/// Measures what the transport holds, for the queue gauges.
#[derive(Message)]
#[rtype(result = "Result<Backlog, TransportError>")]
pub struct MeasureBacklog;

impl Handler<MeasureBacklog> for Dispatcher {
    type Result = actix::ResponseFuture<Result<Backlog, TransportError>>;

    fn handle(&mut self, _: MeasureBacklog, _: &mut Self::Context) -> Self::Result {
        let publisher = self.publisher.clone();
        Box::pin(async move { publisher.lock().await.backlog().await })
    }
}

impl Handler<JobsQueued> for Dispatcher {
    type Result = actix::ResponseFuture<()>;

    fn handle(&mut self, msg: JobsQueued, _: &mut Self::Context) -> Self::Result {
        let publisher = self.publisher.clone();
        Box::pin(async move {
            if let Err(err) = publisher.lock().await.publish(&msg.job_ids).await {
                tracing::warn!(error = %err, jobs = msg.job_ids.len(), "cannot publish jobs now; the reconciler will");
            }
        })
    }
}
