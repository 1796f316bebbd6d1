//! The Dispatcher puts queued jobs on the transport. It owns the transport's
//! publishing side.
//!
//! - Accepts: [`JobsQueued`] right after a commit that queued jobs (sent by
//!   [`announce_queued`]), and [`MeasureBacklog`] when metrics are scraped.
//! - Every `RECONCILE_INTERVAL` (and once at start) it reconciles: it asks the
//!   Catalog for jobs the transport must carry again (retries now due, runs
//!   whose lease expired, queued jobs untouched for `REQUEUE_AFTER`) and
//!   publishes them. So a failed publish, a crash between commit and publish,
//!   or a Redis that lost its data delays jobs; it never loses them.
//! - Supervised by the Supervisor.

use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, Supervised, WrapFuture,
};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::actors::catalog::jobs::TakeDueJobs;
use crate::actors::catalog::{Catalog, Job};
use crate::actors::restart::RestartBackoff;
use crate::telemetry::metrics;
use crate::transport::{Backlog, Publisher, TransportError};

/// Most jobs one reconciliation republishes; the next round takes the rest.
const RECONCILE_BATCH: u64 = 500;

pub struct Dispatcher {
    publisher: Arc<Mutex<Publisher>>,
    catalog: Addr<Catalog>,
    reconcile_every: Duration,
    requeue_after: Duration,
    reconciling: bool,
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
            restarts: RestartBackoff::default(),
        }
    }

    fn reconcile(&mut self, ctx: &mut Context<Self>) {
        // One round at a time; a slow database must not stack them up.
        if self.reconciling {
            return;
        }
        self.reconciling = true;
        let catalog = self.catalog.clone();
        let publisher = self.publisher.clone();
        let take = TakeDueJobs {
            stale_after: self.requeue_after,
            limit: RECONCILE_BATCH,
        };
        let round = async move {
            let due = match catalog.send(take).await {
                Ok(Ok(due)) => due,
                Ok(Err(err)) => {
                    return tracing::warn!(error = %crate::error_chain(&err), "reconciliation could not read the jobs");
                }
                Err(err) => {
                    return tracing::warn!(error = %err, "reconciliation could not reach the catalog");
                }
            };
            if due.is_empty() {
                return;
            }
            match publisher.lock().await.publish(&due).await {
                Ok(()) => tracing::info!(jobs = due.len(), "reconciliation republished jobs"),
                Err(err) => {
                    tracing::warn!(error = %err, jobs = due.len(), "reconciliation could not publish; will try again")
                }
            }
        };
        ctx.spawn(
            round
                .into_actor(self)
                .map(|_, dispatcher, _| dispatcher.reconciling = false),
        );
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
