//! One slot of the processor pool: owns one child process and runs one job at
//! a time on it. The child is started when the slot starts and again as soon
//! as one dies, so a job rarely waits for a start; the slot's mailbox is held
//! closed while a child starts.

use std::sync::Arc;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, AtomicResponse, Context, Handler, Message,
    WrapFuture,
};

use super::process::{ChildCommand, ProcessorProcess};
use super::{ProcessFailure, ProcessorPool, RunProcessor};
use crate::isolation::protocol::{Hello, Outcome, ReplyBounds, Request};
use crate::processing::{self, Limits, Processed};

/// A slot's new child said hello (sent to the pool).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ChildReady {
    pub slot: usize,
    pub pid: u32,
    pub hello: Hello,
}

pub(super) struct ProcessorSlot {
    index: usize,
    command: Arc<ChildCommand>,
    limits: Limits,
    pool: Addr<ProcessorPool>,
    /// `None` while a child starts, or when the last start failed.
    process: Option<ProcessorProcess>,
}

impl ProcessorSlot {
    pub(super) fn new(
        index: usize,
        command: Arc<ChildCommand>,
        limits: Limits,
        pool: Addr<ProcessorPool>,
    ) -> Self {
        Self {
            index,
            command,
            limits,
            pool,
            process: None,
        }
    }

    /// Starts a child, holding the mailbox until it is ready (or failed).
    fn start_child(&mut self, ctx: &mut Context<Self>) {
        let starting = start(self.command.clone(), self.index, self.pool.clone());
        ctx.wait(starting.into_actor(self).map(|started, slot, _| {
            slot.process = started.ok();
        }));
    }
}

/// Starts a child and tells the pool what it reported.
async fn start(
    command: Arc<ChildCommand>,
    slot: usize,
    pool: Addr<ProcessorPool>,
) -> Result<ProcessorProcess, ProcessFailure> {
    match ProcessorProcess::start(&command).await {
        Ok(process) => {
            pool.do_send(ChildReady {
                slot,
                pid: process.pid(),
                hello: process.hello().clone(),
            });
            Ok(process)
        }
        Err(err) => {
            let reason = crate::error_chain(&err);
            tracing::error!(slot, error = %reason, "cannot start a processor child");
            Err(ProcessFailure::Unavailable(reason))
        }
    }
}

impl Actor for ProcessorSlot {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_child(ctx);
    }
}

impl Handler<RunProcessor> for ProcessorSlot {
    type Result = AtomicResponse<Self, Result<Processed, ProcessFailure>>;

    fn handle(&mut self, msg: RunProcessor, _: &mut Self::Context) -> Self::Result {
        let process = self.process.take();
        let command = self.command.clone();
        let (index, pool, limits) = (self.index, self.pool.clone(), self.limits);
        let run = async move {
            let mut process = match process {
                Some(process) => process,
                // The last start failed: try again now.
                None => match start(command.clone(), index, pool).await {
                    Ok(process) => process,
                    Err(failure) => return (None, Err(failure)),
                },
            };
            let request = Request {
                job_id: msg.job_id,
                processor: msg.processor.clone(),
                variant: msg.variant.clone(),
                options: msg.options.clone(),
                limits,
                cpu_limit_secs: command.cpu_limit.as_secs().max(1),
                original_len: msg.input.len() as u64,
                watermark_len: msg.watermark.as_ref().map(|mark| mark.len() as u64),
            };
            let mut payloads: Vec<&[u8]> = vec![&msg.input];
            payloads.extend(msg.watermark.as_deref());
            let variants = processing::variant_names(&msg.processor, &msg.variant, &msg.options);
            let bounds = ReplyBounds {
                variants: &variants,
                max_bytes: command.memory_limit,
            };
            match process
                .run(&request, &payloads, &bounds, msg.time_limit)
                .await
            {
                Ok(Outcome::Processed(processed)) => (Some(process), Ok(processed)),
                Ok(Outcome::Refused(error)) => {
                    (Some(process), Err(ProcessFailure::Rejected(error)))
                }
                Ok(Outcome::Panicked(reason)) => {
                    (Some(process), Err(ProcessFailure::Panicked(reason)))
                }
                Err(death) => {
                    tracing::warn!(slot = index, pid = process.pid(), job_id = %msg.job_id, reason = ?death, "a processor child died");
                    (None, Err(ProcessFailure::Died(death)))
                }
            }
        };
        AtomicResponse::new(Box::pin(run.into_actor(self).map(
            |(process, result), slot, ctx| {
                let lost = process.is_none();
                slot.process = process;
                if lost {
                    slot.start_child(ctx);
                }
                result
            },
        )))
    }
}
