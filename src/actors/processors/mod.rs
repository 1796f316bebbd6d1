//! The processor pool: `WORKER_CONCURRENCY` slots, each owning one
//! `kiln processor` child process that runs the jobs' processors
//! ([`crate::isolation`]), so hostile bytes are decoded outside the worker.
//!
//! - [`ProcessorPool`] routes each [`RunProcessor`] to an idle slot, queueing
//!   it while every slot is busy, and keeps what the children report: their
//!   pids, whether PDFium loaded (`/readyz` shows it as `checks.pdf`), and the
//!   sandbox the kernel enforces (logged once).
//! - [`slot::ProcessorSlot`] owns one child, started ahead of need and reused
//!   across jobs; when its child dies (a crash, the memory or CPU limit, a kill
//!   for `JOB_TIMEOUT`), the job fails with the reason and a fresh child takes
//!   the slot before the next job. The worker and the other slots go on.
//! - [`process`] is one child seen from the worker.
//!
//! Accepts [`RunProcessor`], [`CheckPdfSupport`], [`ProcessorPids`]. Started by
//! the Supervisor on an arbiter of its own in processes that run jobs, and
//! restarted with backoff if it stops: its slots (and their children) are then
//! dropped and made anew. The slots never stop themselves; their children die
//! with them.

mod process;
mod slot;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, ResponseActFuture,
    Supervised, WrapFuture,
};
use bytes::Bytes;
use tokio::sync::oneshot;
use uuid::Uuid;

pub use process::{ChildCommand, ChildDeath, StartError};
use slot::{ChildReady, ProcessorSlot};

use crate::actors::restart::RestartBackoff;
use crate::isolation::protocol::Hello;
use crate::processing::{Limits, ProcessError, Processed, Processor};

/// Runs one processor on a whole original in a child.
#[derive(Message)]
#[rtype(result = "Result<Processed, ProcessFailure>")]
pub struct RunProcessor {
    pub job_id: Uuid,
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
    pub input: Bytes,
    /// The image a watermark's options name ([`crate::processing::watermark_image`]).
    pub watermark: Option<Bytes>,
    /// How long the child may take before it is killed.
    pub time_limit: Duration,
}

/// Why a job's processor produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProcessFailure {
    /// The processor refused the input or the options: permanent.
    #[error(transparent)]
    Rejected(#[from] ProcessError),
    /// The processor panicked (the child caught it): permanent.
    #[error("the processor crashed: {0}")]
    Panicked(String),
    /// The child died with the job; another attempt may well succeed.
    #[error(transparent)]
    Died(#[from] ChildDeath),
    /// No child could be had (one could not be started, say): transient.
    /// The reason is for the log; users see only that none was available.
    #[error("no processor was available ({0})")]
    Unavailable(String),
}

/// A job's place: a free slot now, or one handed over when it frees up.
enum Turn {
    Now(usize),
    Later(oneshot::Receiver<usize>),
}

/// Replies whether the children could load PDFium: `None` until one said.
#[derive(Message)]
#[rtype(result = "Option<Result<(), String>>")]
pub struct CheckPdfSupport;

/// Replies with the process ids of the live children, one per started slot.
#[derive(Message)]
#[rtype(result = "Vec<u32>")]
pub struct ProcessorPids;

pub struct ProcessorPool {
    command: Arc<ChildCommand>,
    limits: Limits,
    size: usize,
    slots: Vec<Addr<ProcessorSlot>>,
    idle: Vec<usize>,
    /// Jobs waiting for a slot, in arrival order.
    waiting: VecDeque<oneshot::Sender<usize>>,
    /// The pid of each slot's current child.
    pids: Vec<Option<u32>>,
    pdf: Option<Result<(), String>>,
    sandbox_logged: bool,
    restarts: RestartBackoff,
}

impl ProcessorPool {
    pub fn new(command: ChildCommand, size: usize, limits: Limits) -> Self {
        Self {
            command: Arc::new(command),
            limits,
            size,
            slots: Vec::with_capacity(size),
            idle: Vec::with_capacity(size),
            waiting: VecDeque::new(),
            pids: vec![None; size],
            pdf: None,
            sandbox_logged: false,
            restarts: RestartBackoff::default(),
        }
    }

    /// Hands a free slot to the longest-waiting job, or marks it idle.
    fn release(&mut self, index: usize) {
        let mut index = index;
        while let Some(waiter) = self.waiting.pop_front() {
            match waiter.send(index) {
                Ok(()) => return,
                // That job gave up waiting (its attempt timed out); next one.
                Err(returned) => index = returned,
            }
        }
        self.idle.push(index);
    }

    /// Records whether PDFium loads, logging each change once.
    fn note_pdf(&mut self, support: Result<(), String>) {
        if self.pdf.as_ref() == Some(&support) {
            return;
        }
        match &support {
            Ok(()) => tracing::info!("PDF rendering is available"),
            Err(reason) => tracing::warn!(
                reason = %reason,
                "PDF rendering is unavailable: PDF jobs wait until PDFium is installed (make pdfium, or PDFIUM_LIBRARY)"
            ),
        }
        self.pdf = Some(support);
    }
}

impl Actor for ProcessorPool {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        for index in 0..self.size {
            let slot = ProcessorSlot::new(index, self.command.clone(), self.limits, ctx.address());
            self.slots.push(slot.start());
            self.idle.push(index);
        }
    }
}

impl Supervised for ProcessorPool {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        // The old slots stop once nothing holds their addresses, killing
        // their children; jobs waiting for a slot get `Unavailable`.
        self.slots.clear();
        self.idle.clear();
        self.waiting.clear();
        self.pids = vec![None; self.size];
        self.restarts.pause_before_restart("processor pool", ctx);
    }
}

impl Handler<RunProcessor> for ProcessorPool {
    type Result = ResponseActFuture<Self, Result<Processed, ProcessFailure>>;

    fn handle(&mut self, msg: RunProcessor, _: &mut Self::Context) -> Self::Result {
        let renders_pdf =
            Processor::from_name(&msg.processor).ok() == Some(Processor::PdfThumbnail);
        let slots = self.slots.clone();
        let turn = match self.idle.pop() {
            Some(index) => Turn::Now(index),
            None => {
                let (sender, receiver) = oneshot::channel();
                self.waiting.push_back(sender);
                Turn::Later(receiver)
            }
        };
        let run = async move {
            let index = match turn {
                Turn::Now(index) => index,
                Turn::Later(receiver) => match receiver.await {
                    Ok(index) => index,
                    Err(_) => {
                        let stopped = ProcessFailure::Unavailable("the pool stopped".into());
                        return (None, Err(stopped));
                    }
                },
            };
            let result = match slots[index].send(msg).await {
                Ok(result) => result,
                Err(err) => Err(ProcessFailure::Unavailable(format!("slot {index}: {err}"))),
            };
            (Some(index), result)
        };
        Box::pin(run.into_actor(self).map(move |(index, result), pool, _| {
            if let Some(index) = index {
                pool.release(index);
            }
            match &result {
                Err(ProcessFailure::Rejected(ProcessError::PdfiumUnavailable(reason))) => {
                    pool.note_pdf(Err(reason.clone()));
                }
                Ok(_) if renders_pdf => pool.note_pdf(Ok(())),
                _ => {}
            }
            result
        }))
    }
}

impl Handler<ChildReady> for ProcessorPool {
    type Result = ();

    fn handle(&mut self, msg: ChildReady, _: &mut Self::Context) {
        let Hello { pdf, sandbox, .. } = msg.hello;
        if !self.sandbox_logged {
            self.sandbox_logged = true;
            tracing::info!(sandbox = %sandbox.describe(), slots = self.size, "processor children started");
        }
        if let Some(pid) = self.pids.get_mut(msg.slot) {
            *pid = Some(msg.pid);
        }
        self.note_pdf(pdf);
    }
}

impl Handler<CheckPdfSupport> for ProcessorPool {
    type Result = Option<Result<(), String>>;

    fn handle(&mut self, _: CheckPdfSupport, _: &mut Self::Context) -> Self::Result {
        self.pdf.clone()
    }
}

impl Handler<ProcessorPids> for ProcessorPool {
    type Result = Vec<u32>;

    fn handle(&mut self, _: ProcessorPids, _: &mut Self::Context) -> Self::Result {
        self.pids.iter().flatten().copied().collect()
    }
}
