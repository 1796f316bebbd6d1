//! The Supervisor starts every long-lived actor, keeps their addresses, and
//! answers for the graph as a whole (readiness).
//!
//! Each child that owns a resource runs on its own arbiter under
//! `actix::Supervisor`, so its address stays valid across restarts: when a child
//! stops, actix calls its `restarting` hook and starts it again, and the child's
//! [`RestartBackoff`] holds its mailbox closed for a growing pause first, so a
//! child that keeps failing cannot spin. CPU-bound children (password hashing)
//! run in a `SyncArbiter` pool instead.
//!
//! Handlers receive the addresses as [`ActorHandles`]; nothing is looked up in a
//! global registry.

mod restart;

use std::time::Duration;

use actix::{Actor, Addr, Arbiter, Context, Handler, Message, ResponseFuture, SyncArbiter};
use sea_orm::DatabaseConnection;

pub use restart::RestartBackoff;

use crate::actors::catalog::{Catalog, messages::PingDatabase};
use crate::actors::credentials::Credentials;
use crate::actors::limiter::{Limiter, PingRedis};
use crate::actors::storage::{Storage, messages::CheckStorage};

/// Cloneable addresses of the actor graph, handed to HTTP handlers.
#[derive(Clone)]
pub struct ActorHandles {
    pub supervisor: Addr<Supervisor>,
    pub catalog: Addr<Catalog>,
    pub storage: Addr<Storage>,
    pub credentials: Addr<Credentials>,
    pub limiter: Addr<Limiter>,
}

/// The resources the children will own, opened by start-up.
pub struct GraphResources {
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub limiter: Limiter,
    /// Whether Redis is configured and so part of readiness.
    pub uses_redis: bool,
}

pub struct Supervisor {
    catalog: Addr<Catalog>,
    storage: Addr<Storage>,
    limiter: Addr<Limiter>,
    uses_redis: bool,
    /// The children's threads, kept so they live as long as the Supervisor.
    _arbiters: Vec<Arbiter>,
}

impl Actor for Supervisor {
    type Context = Context<Self>;
}

/// Threads hashing passwords; more would only compete for the same cores.
const CREDENTIAL_THREADS: usize = 2;

impl Supervisor {
    /// Starts every child and the Supervisor itself; must run inside an actix System.
    pub fn start_graph(resources: GraphResources) -> ActorHandles {
        let GraphResources {
            db,
            storage,
            limiter,
            uses_redis,
        } = resources;
        let arbiters: Vec<Arbiter> = (0..3).map(|_| Arbiter::new()).collect();
        let catalog =
            actix::Supervisor::start_in_arbiter(&arbiters[0].handle(), move |_| Catalog::new(db));
        let storage = actix::Supervisor::start_in_arbiter(&arbiters[1].handle(), move |_| storage);
        let limiter = actix::Supervisor::start_in_arbiter(&arbiters[2].handle(), move |_| limiter);
        let credentials = SyncArbiter::start(CREDENTIAL_THREADS, Credentials::default);
        let supervisor = Supervisor {
            catalog: catalog.clone(),
            storage: storage.clone(),
            limiter: limiter.clone(),
            uses_redis,
            _arbiters: arbiters,
        }
        .start();
        ActorHandles {
            supervisor,
            catalog,
            storage,
            credentials,
            limiter,
        }
    }
}

/// Asks every backend whether it answers.
#[derive(Message)]
#[rtype(result = "Readiness")]
pub struct CheckReadiness;

/// One line per backend: its name and `None` when it answered, or why not.
#[derive(Debug, Clone)]
pub struct Readiness {
    pub checks: Vec<(&'static str, Option<String>)>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|(_, failure)| failure.is_none())
    }
}

/// How long one backend may take to answer a readiness check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

async fn probe<F, E>(check: F) -> Option<String>
where
    F: std::future::Future<Output = Result<Result<(), E>, actix::MailboxError>>,
    E: std::error::Error + 'static,
{
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(err))) => {
            tracing::warn!(error = %crate::error_chain(&err), "readiness check failed");
            Some(err.to_string())
        }
        Ok(Err(mailbox)) => Some(format!("actor unavailable: {mailbox}")),
        Err(_) => Some(format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
    }
}

impl Handler<CheckReadiness> for Supervisor {
    type Result = ResponseFuture<Readiness>;

    fn handle(&mut self, _: CheckReadiness, _: &mut Self::Context) -> Self::Result {
        let catalog = self.catalog.clone();
        let storage = self.storage.clone();
        let limiter = self.limiter.clone();
        let uses_redis = self.uses_redis;
        Box::pin(async move {
            let (database, objects, redis) = tokio::join!(
                probe(catalog.send(PingDatabase)),
                probe(storage.send(CheckStorage)),
                async {
                    match uses_redis {
                        true => Some(probe(limiter.send(PingRedis)).await),
                        false => None,
                    }
                }
            );
            let mut checks = vec![("database", database), ("storage", objects)];
            if let Some(redis) = redis {
                checks.push(("redis", redis));
            }
            Readiness { checks }
        })
    }
}
