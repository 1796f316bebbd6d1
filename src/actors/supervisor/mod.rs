//! The Supervisor starts every long-lived actor, keeps their addresses, and
//! answers for the graph as a whole: readiness (and, on a process that runs
//! jobs, pausing the StreamReader while a backend is down; see [`readiness`])
//! and the queue gauges of `/metrics` ([`queue`]).
//!
//! Each child that owns a resource runs on its own arbiter under
//! `actix::Supervisor`, so its address stays valid across restarts: when a child
//! stops, actix calls its `restarting` hook and starts it again, and the child's
//! [`RestartBackoff`](crate::actors::restart::RestartBackoff) holds its mailbox closed for a growing pause first, so a
//! child that keeps failing cannot spin. Password hashing runs in a
//! `SyncArbiter` pool instead; processors run in child processes owned by the
//! [`ProcessorPool`] (see [`crate::isolation`]).
//!
//! Which pipeline actors start depends on the process's role: every process
//! has a Dispatcher (when it has a transport to publish on); processes that
//! run jobs also get a StreamReader, a JobRunner and the processor pool;
//! processes that serve HTTP get a Transformer with a processor pool of its own.
//!
//! Handlers receive the addresses as [`ActorHandles`]; nothing is looked up in a
//! global registry.

mod queue;
mod readiness;

use std::time::Duration;

use actix::{Actor, Addr, Arbiter, Context, SyncArbiter};
use deadpool_redis::{Pool, redis};
use sea_orm::DatabaseConnection;

pub use queue::MeasureQueue;
pub use readiness::{Check, CheckReadiness, Readiness};

use crate::actors::accounts::{self, Accounts};
use crate::actors::catalog::Catalog;
use crate::actors::credentials::Credentials;
use crate::actors::dispatcher::Dispatcher;
use crate::actors::events::Events;
use crate::actors::ingest::Ingest;
use crate::actors::limiter::Limiter;
use crate::actors::mailer::Mailer;
use crate::actors::processors::{ChildCommand, ProcessorPool};
use crate::actors::reader::StreamReader;
use crate::actors::redis::Redis;
use crate::actors::retention::Retention;
use crate::actors::runner::{Attempts, JobRunner, lease_for};
use crate::actors::storage::Storage;
use crate::actors::transformer::{TransformSettings, Transformer};
use crate::actors::webhooks::{Courier, CourierSettings};
use crate::config::{OAuthConfig, RateLimits, TransformConfig};
use crate::domain::quota::QuotaDefaults;
use crate::processing::Limits;
use crate::transport::redis_stream::{StreamConsumer, StreamPublisher};
use crate::transport::{Consumer, Publisher, memory};

/// Cloneable addresses of the actor graph, handed to HTTP handlers.
#[derive(Clone)]
pub struct ActorHandles {
    pub supervisor: Addr<Supervisor>,
    pub accounts: Addr<Accounts>,
    pub catalog: Addr<Catalog>,
    pub storage: Addr<Storage>,
    pub credentials: Addr<Credentials>,
    pub limiter: Addr<Limiter>,
    pub mailer: Addr<Mailer>,
    pub events: Addr<Events>,
    pub ingest: Addr<Ingest>,
    /// Absent on an `api` process without Redis: a worker process sharing the
    /// database finds its jobs by reconciling.
    pub dispatcher: Option<Addr<Dispatcher>>,
    /// Present on processes that run jobs (`serve`, `worker`).
    pub reader: Option<Addr<StreamReader>>,
    /// Present on processes that run jobs: the `kiln processor` children.
    pub processors: Option<Addr<ProcessorPool>>,
    /// Present on processes that serve HTTP: transforms made on request.
    pub transformer: Option<Addr<Transformer>>,
}

/// Redis, when `REDIS_URL` is set: a pool for commands and a client for the
/// connections that block (stream reads, pub/sub), both handed to the
/// [`Redis`] actor, which the others ask; and the key namespace.
pub struct RedisResources {
    pub pool: Pool,
    pub client: redis::Client,
    pub namespace: String,
}

/// How this process takes part in the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// Whether this process runs jobs (it is a `serve` or `worker` process).
    pub runs_jobs: bool,
    pub worker_concurrency: usize,
    pub job_timeout: Duration,
    pub max_retries: u32,
    pub reconcile_interval: Duration,
    pub requeue_after: Duration,
    /// `FILE_RETENTION`: files older than this are purged; `None` keeps them.
    pub file_retention: Option<Duration>,
    pub limits: Limits,
    /// How each processor child is started.
    pub child: ChildCommand,
    /// Present on processes that serve HTTP: how they make transforms.
    pub transforms: Option<TransformConfig>,
    /// Present on processes that run jobs: how they send webhook deliveries.
    pub webhooks: Option<CourierSettings>,
}

/// The resources the children will own, opened by start-up.
pub struct GraphResources {
    pub db: DatabaseConnection,
    pub storage: Storage,
    pub mailer: Mailer,
    pub redis: Option<RedisResources>,
    pub rate_limits: RateLimits,
    /// `SESSION_MAX_AGE`: how long a session opened at sign-in lasts at most.
    pub session_max_age: Duration,
    pub oauth: OAuthConfig,
    pub max_upload_size: u64,
    /// The limits of accounts without their own (`DEFAULT_QUOTA_*`).
    pub quotas: QuotaDefaults,
    pub extra_allowed_types: Vec<String>,
    /// `PRESIGN_TTL`: the window download links are minted for (they work for one to two of it).
    pub presign_ttl: Duration,
    pub max_event_streams_per_user: usize,
    pub pipeline: PipelineSettings,
}

pub struct Supervisor {
    catalog: Addr<Catalog>,
    storage: Addr<Storage>,
    /// Present when `REDIS_URL` is set.
    redis: Option<Addr<Redis>>,
    dispatcher: Option<Addr<Dispatcher>>,
    /// Present on processes that run jobs: paused while a backend is down.
    reader: Option<Addr<StreamReader>>,
    /// Present on processes that run jobs: asked whether PDFium loads.
    processors: Option<Addr<ProcessorPool>>,
    /// Whether the last health watch found every backend answering.
    healthy: bool,
    /// The children's threads, kept so they live as long as the Supervisor.
    _arbiters: Vec<Arbiter>,
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.reader.is_some() {
            self.watch_health(ctx);
        }
    }
}

/// Threads hashing passwords; more would only compete for the same cores.
const CREDENTIAL_THREADS: usize = 2;

/// A consumer name unique to this process, stable for its lifetime.
fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "kiln".into());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &nonce[..8])
}

impl Supervisor {
    /// Starts every child and the Supervisor itself; must run inside an actix System.
    pub fn start_graph(resources: GraphResources) -> ActorHandles {
        let GraphResources {
            db,
            storage,
            mailer,
            redis,
            rate_limits,
            session_max_age,
            oauth,
            max_upload_size,
            quotas,
            extra_allowed_types,
            presign_ttl,
            max_event_streams_per_user,
            pipeline,
        } = resources;
        let mut arbiters = Vec::new();
        let mut own_thread = || {
            let arbiter = Arbiter::new();
            let handle = arbiter.handle();
            arbiters.push(arbiter);
            handle
        };
        let catalog =
            actix::Supervisor::start_in_arbiter(&own_thread(), move |_| Catalog::new(db, quotas));
        let storage = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| storage);
        let mailer = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| mailer);
        let (redis, namespace) = match redis {
            Some(RedisResources {
                pool,
                client,
                namespace,
            }) => {
                let owner = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| {
                    Redis::new(pool, client)
                });
                (Some(owner), namespace)
            }
            None => (None, String::new()),
        };
        let limiter_redis = redis.clone().map(|owner| (owner, namespace.clone()));
        let limiter = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| {
            Limiter::new(limiter_redis, rate_limits)
        });
        let events_redis = redis.clone().map(|owner| (owner, namespace.clone()));
        let events_catalog = catalog.clone();
        let events = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| {
            let redis = events_redis
                .as_ref()
                .map(|(owner, ns)| (owner.clone(), ns.as_str()));
            Events::new(events_catalog, redis, max_event_streams_per_user)
        });
        let credentials = SyncArbiter::start(CREDENTIAL_THREADS, Credentials::default);
        let accounts = Accounts::new(accounts::Peers {
            catalog: catalog.clone(),
            credentials: credentials.clone(),
            limiter: limiter.clone(),
            mailer: mailer.clone(),
            session_max_age,
            oauth,
        });
        let accounts = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| accounts);

        let consumer = consumer_name();
        let (publisher, job_source) = match (&redis, pipeline.runs_jobs) {
            (Some(owner), runs_jobs) => (
                Some(Publisher::Redis(Box::new(StreamPublisher::new(
                    owner.clone(),
                    &namespace,
                )))),
                runs_jobs.then(|| {
                    Consumer::Redis(Box::new(StreamConsumer::new(
                        owner.clone(),
                        &namespace,
                        consumer.clone(),
                    )))
                }),
            ),
            (None, true) => {
                let (publisher, consumer) = memory::channel();
                (
                    Some(Publisher::Memory(publisher)),
                    Some(Consumer::Memory(consumer)),
                )
            }
            (None, false) => (None, None),
        };
        let dispatcher = publisher.map(|publisher| {
            let catalog = catalog.clone();
            let settings = pipeline.clone();
            actix::Supervisor::start_in_arbiter(&own_thread(), move |_| {
                Dispatcher::new(
                    publisher,
                    catalog,
                    settings.reconcile_interval,
                    settings.requeue_after,
                )
            })
        });
        let processors = job_source.is_some().then(|| {
            let child = pipeline.child.clone();
            let (slots, limits) = (pipeline.worker_concurrency, pipeline.limits);
            actix::Supervisor::start_in_arbiter(&own_thread(), move |_| {
                ProcessorPool::new(child, slots, limits)
            })
        });
        let reader = job_source
            .zip(processors.clone())
            .map(|(job_source, processors)| {
                let runner = JobRunner::new(Attempts {
                    catalog: catalog.clone(),
                    storage: storage.clone(),
                    processors,
                    events: events.clone(),
                    consumer,
                    job_timeout: pipeline.job_timeout,
                    max_retries: pipeline.max_retries,
                });
                let runner = actix::Supervisor::start(move |_| runner);
                let capacity = pipeline.worker_concurrency;
                let lease = lease_for(pipeline.job_timeout);
                let reader = StreamReader::new(job_source, runner, capacity, lease);
                actix::Supervisor::start(move |_| reader)
            });

        let transformer = pipeline.transforms.as_ref().map(|config| {
            let (child, limits, slots) =
                (pipeline.child.clone(), pipeline.limits, config.concurrency);
            let pool = actix::Supervisor::start_in_arbiter(&own_thread(), move |_| {
                ProcessorPool::new(child, slots, limits)
            });
            let settings = TransformSettings {
                catalog: catalog.clone(),
                storage: storage.clone(),
                pool,
                capacity: config.concurrency + config.queue,
                max_dimension: config.max_dimension,
                cache_size: config.cache_size,
                timeout: config.timeout,
            };
            actix::Supervisor::start(move |_| Transformer::new(settings))
        });

        let ingest = Ingest::new(
            storage.clone(),
            catalog.clone(),
            dispatcher.clone(),
            max_upload_size,
            extra_allowed_types,
            presign_ttl,
        );
        let ingest = actix::Supervisor::start(move |_| ingest);
        let retention = Retention::new(
            catalog.clone(),
            ingest.clone(),
            storage.clone(),
            pipeline.file_retention,
            pipeline.reconcile_interval,
        );
        actix::Supervisor::start(move |_| retention);
        if let Some(settings) = pipeline.webhooks.clone() {
            let (catalog, mailer) = (catalog.clone(), mailer.clone());
            actix::Supervisor::start(move |_| Courier::new(catalog, mailer, settings));
        }

        let supervisor = Supervisor {
            catalog: catalog.clone(),
            storage: storage.clone(),
            redis,
            dispatcher: dispatcher.clone(),
            reader: reader.clone(),
            processors: processors.clone(),
            healthy: true,
            _arbiters: arbiters,
        }
        .start();
        ActorHandles {
            supervisor,
            accounts,
            catalog,
            storage,
            credentials,
            limiter,
            mailer,
            events,
            ingest,
            dispatcher,
            reader,
            processors,
            transformer,
        }
    }
}
