//! Readiness: does every backend this process depends on answer, and how fast.
//!
//! `/readyz` asks with [`CheckReadiness`]. On a process that runs jobs the
//! Supervisor also asks itself every few seconds (`watch_health`) and pauses
//! the StreamReader while the database or Redis is down: a worker that cannot
//! reach them can claim nothing, and every delivery it took would wait out a
//! lease. Paused, it takes no deliveries (they stay on the stream for a worker
//! that can run them, or until this one recovers) and resumes on the first
//! check that finds both answering. A stream read already waiting when the
//! pause comes may still take what arrives within its block (2 s); those
//! claims fail, and the reconciler publishes the jobs again after
//! `REQUEUE_AFTER`. Storage is not a reason to pause: a job that cannot reach
//! it fails transiently and retries with backoff, as `MAX_RETRIES` allows.
//!
//! A process that runs jobs also reports `pdf`: whether its processor children
//! could load PDFium. It is advice for the operator, not a reason to be
//! unready: image jobs run without it, and PDF jobs wait until it is there.

use std::future::Future;
use std::time::{Duration, Instant};

use actix::{
    ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, ResponseFuture, WrapFuture,
};

use super::Supervisor;
use crate::actors::catalog::PingDatabase;
use crate::actors::processors::{CheckPdfSupport, ProcessorPool};
use crate::actors::reader::SetPaused;
use crate::actors::redis::PingRedis;
use crate::actors::storage::messages::CheckStorage;

/// Asks every backend whether it answers.
#[derive(Message)]
#[rtype(result = "Readiness")]
pub struct CheckReadiness;

/// One backend's answer: how long it took, and why it failed, if it did.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub latency: Duration,
    pub failure: Option<String>,
    /// Whether a failure makes the process unready (`pdf` does not).
    pub essential: bool,
}

#[derive(Debug, Clone)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.failed().is_empty()
    }

    /// The essential checks that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|check| check.essential && check.failure.is_some())
            .map(|check| check.name)
            .collect()
    }

    /// Whether a process may take jobs: the database and Redis answer.
    pub fn can_claim(&self) -> bool {
        self.checks
            .iter()
            .filter(|check| check.essential && check.name != "storage")
            .all(|check| check.failure.is_none())
    }

    /// `name: reason` for each failed check, for a log line.
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter_map(|check| Some(format!("{}: {}", check.name, check.failure.as_ref()?)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// How long one backend may take to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a process that runs jobs checks its backends.
const WATCH_EVERY: Duration = Duration::from_secs(2);

async fn probe<F, E>(name: &'static str, check: F) -> Check
where
    F: Future<Output = Result<Result<(), E>, actix::MailboxError>>,
    E: std::error::Error + 'static,
{
    let started = Instant::now();
    let failure = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(err))) => Some(crate::error_chain(&err)),
        Ok(Err(mailbox)) => Some(format!("actor unavailable: {mailbox}")),
        Err(_) => Some(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
    };
    Check {
        name,
        latency: started.elapsed(),
        failure,
        essential: true,
    }
}

impl Supervisor {
    fn check_backends(&self) -> impl Future<Output = Readiness> + 'static {
        let catalog = self.catalog.clone();
        let storage = self.storage.clone();
        let redis = self.redis.clone();
        let processors = self.processors.clone();
        async move {
            let (database, objects, redis, pdf) = tokio::join!(
                probe("database", catalog.send(PingDatabase)),
                probe("storage", storage.send(CheckStorage)),
                async {
                    match redis {
                        Some(redis) => Some(probe("redis", redis.send(PingRedis)).await),
                        None => None,
                    }
                },
                pdf_support(processors),
            );
            let mut checks = vec![database, objects];
            checks.extend(redis);
            checks.extend(pdf);
            Readiness { checks }
        }
    }
}

/// What the processor children said of PDFium, once one has said.
async fn pdf_support(processors: Option<Addr<ProcessorPool>>) -> Option<Check> {
    let started = Instant::now();
    let support = processors?.send(CheckPdfSupport).await.ok()??;
    Some(Check {
        name: "pdf",
        latency: started.elapsed(),
        failure: support.err(),
        essential: false,
    })
}

impl Handler<CheckReadiness> for Supervisor {
    type Result = ResponseFuture<Readiness>;

    fn handle(&mut self, _: CheckReadiness, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.check_backends())
    }
}

impl Supervisor {
    /// Checks the backends now and every [`WATCH_EVERY`] after, and pauses or
    /// resumes the StreamReader when whether it can claim changes. One check at a time:
    /// a backend that hangs delays the next check rather than stacking them up.
    pub(super) fn watch_health(&mut self, ctx: &mut Context<Self>) {
        let round = self
            .check_backends()
            .into_actor(self)
            .map(|readiness, supervisor, ctx| {
                let healthy = readiness.can_claim();
                if healthy != supervisor.healthy {
                    supervisor.healthy = healthy;
                    match healthy {
                        true => tracing::info!("every backend answers again; taking jobs"),
                        false => tracing::warn!(
                            failures = %readiness.failures(),
                            "a backend is down; taking no jobs until it answers"
                        ),
                    }
                    if let Some(reader) = &supervisor.reader {
                        reader.do_send(SetPaused { paused: !healthy });
                    }
                }
                ctx.run_later(WATCH_EVERY, |supervisor, ctx| supervisor.watch_health(ctx));
            });
        ctx.spawn(round);
    }
}
