//! The StreamReader takes deliveries off the transport and hands them to the
//! JobRunner, never more at once than the processor pool has free slots
//! (`WORKER_CONCURRENCY`), so a busy worker leaves work for idle ones. It owns
//! the transport's consuming side, and it acknowledges a delivery only after
//! the JobRunner has recorded the job's outcome.
//!
//! It also takes over deliveries that another consumer left unacknowledged for
//! longer than a job lease (that consumer died) with `XAUTOCLAIM`.
//!
//! - Accepts: [`Drain`] at shutdown: stop reading, let running jobs finish;
//!   [`SetPaused`] from the Supervisor while a backend is down: take nothing
//!   new (running jobs go on) until resumed.
//! - The read loop runs as a task of the actor and restarts with it.
//! - Supervised by the Supervisor: restarted with backoff if it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix::{
    Actor, Addr, AsyncContext, Context, Handler, Message, ResponseFuture, Supervised, WrapFuture,
};
use tokio::sync::{Mutex, Semaphore, mpsc};

use crate::actors::restart::RestartBackoff;
use crate::actors::runner::{JobRunner, RunJob};
use crate::telemetry::metrics;
use crate::transport::{Consumer, Delivery};

/// Longest a read waits for work before looking again.
const READ_BLOCK: Duration = Duration::from_secs(2);
/// How often a paused reader looks whether it was resumed.
const PAUSED_POLL: Duration = Duration::from_millis(250);
/// Pause after a transport error before reading again.
const RETRY_READ_AFTER: Duration = Duration::from_secs(1);

pub struct StreamReader {
    consumer: Arc<Mutex<Consumer>>,
    runner: Addr<JobRunner>,
    slots: Arc<Semaphore>,
    capacity: usize,
    lease: Duration,
    draining: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    restarts: RestartBackoff,
}

impl StreamReader {
    pub fn new(
        consumer: Consumer,
        runner: Addr<JobRunner>,
        capacity: usize,
        lease: Duration,
    ) -> Self {
        Self {
            consumer: Arc::new(Mutex::new(consumer)),
            runner,
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            lease,
            draining: Arc::new(AtomicBool::new(false)),
            paused: Arc::new(AtomicBool::new(false)),
            restarts: RestartBackoff::default(),
        }
    }
}

impl Supervised for StreamReader {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("stream reader", ctx);
    }
}

impl Actor for StreamReader {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::pool_size(self.capacity);
        let read_loop = ReadLoop {
            consumer: self.consumer.clone(),
            runner: self.runner.clone(),
            slots: self.slots.clone(),
            lease: self.lease,
            draining: self.draining.clone(),
            paused: self.paused.clone(),
        };
        ctx.spawn(read_loop.run().into_actor(self));
    }
}

struct ReadLoop {
    consumer: Arc<Mutex<Consumer>>,
    runner: Addr<JobRunner>,
    slots: Arc<Semaphore>,
    lease: Duration,
    draining: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
}

impl ReadLoop {
    async fn run(self) {
        let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<(Delivery, bool)>();
        // Reclaim soon after start: entries of a predecessor that died wait.
        let mut next_reclaim = Instant::now();
        while !self.draining.load(Ordering::Relaxed) {
            // Acknowledge what finished since the last read.
            while let Ok((delivery, ack)) = finished_rx.try_recv() {
                self.acknowledge(&delivery, ack).await;
            }
            if self.paused.load(Ordering::Relaxed) {
                tokio::time::sleep(PAUSED_POLL).await;
                continue;
            }
            let free = self.slots.available_permits();
            if free == 0 {
                // Every slot is busy: wait for one job to finish.
                if let Some((delivery, ack)) = finished_rx.recv().await {
                    self.acknowledge(&delivery, ack).await;
                }
                continue;
            }
            let deliveries = {
                let mut consumer = self.consumer.lock().await;
                let reclaimed = if Instant::now() >= next_reclaim {
                    next_reclaim = Instant::now() + self.lease / 2;
                    consumer.reclaim(self.lease, free).await
                } else {
                    Ok(Vec::new())
                };
                match reclaimed {
                    Ok(reclaimed) if !reclaimed.is_empty() => {
                        tracing::info!(
                            jobs = reclaimed.len(),
                            "took over deliveries a dead consumer left"
                        );
                        Ok(reclaimed)
                    }
                    Ok(_) => consumer.read(free, READ_BLOCK).await,
                    Err(err) => Err(err),
                }
            };
            let deliveries = match deliveries {
                Ok(deliveries) => deliveries,
                Err(err) => {
                    tracing::warn!(error = %crate::error_chain(&err), "cannot read jobs from the transport");
                    tokio::time::sleep(RETRY_READ_AFTER).await;
                    continue;
                }
            };
            for delivery in deliveries {
                let Ok(permit) = self.slots.clone().acquire_owned().await else {
                    return;
                };
                let runner = self.runner.clone();
                let finished = finished_tx.clone();
                actix_rt::spawn(async move {
                    let busy = metrics::BusySlot::take();
                    let ack = runner
                        .send(RunJob {
                            job_id: delivery.job_id,
                        })
                        .await
                        .unwrap_or(false);
                    drop(busy);
                    drop(permit);
                    let _ = finished.send((delivery, ack));
                });
            }
        }
        // Draining: acknowledge the jobs that finish from now on.
        drop(finished_tx);
        while let Some((delivery, ack)) = finished_rx.recv().await {
            self.acknowledge(&delivery, ack).await;
        }
    }

    async fn acknowledge(&self, delivery: &Delivery, ack: bool) {
        if !ack {
            return;
        }
        if let Err(err) = self.consumer.lock().await.ack(delivery).await {
            // The entry stays pending; a later claim of it finds the job done.
            tracing::warn!(error = %crate::error_chain(&err), job_id = %delivery.job_id, "cannot acknowledge a delivery");
        }
    }
}

/// Stops (`paused: true`) or resumes taking deliveries. Jobs already running
/// finish either way.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetPaused {
    pub paused: bool,
}

impl Handler<SetPaused> for StreamReader {
    type Result = ();

    fn handle(&mut self, msg: SetPaused, _: &mut Self::Context) {
        self.paused.store(msg.paused, Ordering::Relaxed);
    }
}

/// Stops reading and waits (up to `timeout`) for running jobs to finish.
/// Replies with how many were still running when it gave up.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Drain {
    pub timeout: Duration,
}

impl Handler<Drain> for StreamReader {
    type Result = ResponseFuture<usize>;

    fn handle(&mut self, msg: Drain, _: &mut Self::Context) -> Self::Result {
        self.draining.store(true, Ordering::Relaxed);
        let slots = self.slots.clone();
        let capacity = self.capacity;
        Box::pin(async move {
            let all = tokio::time::timeout(msg.timeout, slots.acquire_many(capacity as u32)).await;
            match all {
                Ok(Ok(_permits)) => 0,
                _ => capacity - slots.available_permits(),
            }
        })
    }
}
