//! The processor pool: `WORKER_CONCURRENCY` threads (a `SyncArbiter`) that run
//! the CPU-bound processors of [`crate::processing`], so decoding and encoding
//! never run on an async executor thread.
//!
//! - Accepts: [`RunProcessor`].
//! - A panic inside a processor is caught here and becomes a permanent failure
//!   of that job; the thread and the process live on.

use std::panic::{AssertUnwindSafe, catch_unwind};

use actix::{Actor, Handler, Message, SyncContext};
use bytes::Bytes;
use uuid::Uuid;

use crate::processing::{self, Inputs, Limits, ProcessError, Processed};

/// The code a worker runs for a message: [`processing::run`] in Kiln. A test may
/// start a pool with a processor that panics, to see the pool and the job survive it.
pub type ProcessFn = fn(&RunProcessor, &Limits) -> Result<Processed, ProcessError>;

pub struct ProcessorWorker {
    limits: Limits,
    process: ProcessFn,
}

impl ProcessorWorker {
    pub fn new(limits: Limits) -> Self {
        Self::running(limits, run_registered)
    }

    /// A worker that runs `process` instead of Kiln's processors.
    pub fn running(limits: Limits, process: ProcessFn) -> Self {
        Self { limits, process }
    }
}

/// Runs the processor the message names, from Kiln's registry.
fn run_registered(msg: &RunProcessor, limits: &Limits) -> Result<Processed, ProcessError> {
    let inputs = Inputs {
        original: &msg.input,
        watermark: msg.watermark.as_deref(),
    };
    processing::run(&msg.processor, &msg.variant, &msg.options, inputs, limits)
}

impl Actor for ProcessorWorker {
    type Context = SyncContext<Self>;
}

/// Runs one processor on a whole original.
#[derive(Message)]
#[rtype(result = "Result<Processed, ProcessFailure>")]
pub struct RunProcessor {
    pub job_id: Uuid,
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
    pub input: Bytes,
    /// The image a watermark's options name ([`processing::watermark_image`]).
    pub watermark: Option<Bytes>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessFailure {
    #[error(transparent)]
    Rejected(#[from] ProcessError),
    #[error("the processor crashed: {0}")]
    Panicked(String),
}

impl Handler<RunProcessor> for ProcessorWorker {
    type Result = Result<Processed, ProcessFailure>;

    fn handle(&mut self, msg: RunProcessor, _: &mut Self::Context) -> Self::Result {
        let _span =
            tracing::info_span!("processor", job_id = %msg.job_id, processor = %msg.processor)
                .entered();
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.process)(&msg, &self.limits)));
        match outcome {
            Ok(result) => result.map_err(ProcessFailure::Rejected),
            Err(panic) => {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(reason = %reason, "a processor panicked");
                Err(ProcessFailure::Panicked(reason))
            }
        }
    }
}
