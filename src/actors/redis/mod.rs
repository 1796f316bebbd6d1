//! The Redis actor owns `REDIS_URL`: the pool of connections for short
//! commands and the client that opens the connections which wait (a blocking
//! stream read, a pub/sub subscription). No other actor holds either; the
//! Limiter, Events, and the transport's publisher and consumer ask this one
//! for a connection when they need one, and readiness asks it whether Redis
//! answers.
//!
//! A connection handed out is the asker's to use (and, for a pooled one, to
//! drop back into the pool); the pool and the client stay here.
//!
//! - Accepts: [`CheckOut`], [`OpenConnection`], [`OpenPubSub`], [`PingRedis`],
//!   [`MeasurePool`].
//! - Started only when `REDIS_URL` is set; supervised by the Supervisor and
//!   restarted with backoff if it stops (the pool and client survive it).

use std::time::Duration;

use actix::{Actor, Context, Handler, Message, MessageResult, ResponseFuture, Supervised};
use deadpool_redis::redis::aio::{MultiplexedConnection, PubSub};
use deadpool_redis::redis::{self, AsyncConnectionConfig, Client};
use deadpool_redis::{Connection, Pool};

use crate::actors::restart::RestartBackoff;
use crate::telemetry::metrics::PoolUse;

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis is unavailable")]
    Command(#[from] redis::RedisError),
    #[error("no redis connection could be had")]
    Pool(#[from] deadpool_redis::PoolError),
    #[error("the redis actor did not answer")]
    Mailbox(#[from] actix::MailboxError),
}

pub struct Redis {
    pool: Pool,
    client: Client,
    restarts: RestartBackoff,
}

impl Redis {
    pub fn new(pool: Pool, client: Client) -> Self {
        Self {
            pool,
            client,
            restarts: RestartBackoff::default(),
        }
    }
}

impl Actor for Redis {
    type Context = Context<Self>;
}

impl Supervised for Redis {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("redis", ctx);
    }
}

/// A pooled connection for a few short commands.
#[derive(Message)]
#[rtype(result = "Result<Connection, RedisError>")]
pub struct CheckOut;

/// A connection of the asker's own, for commands that block (a stream read
/// waits up to `blocks_for`): its response timeout outlasts that wait.
#[derive(Message)]
#[rtype(result = "Result<MultiplexedConnection, RedisError>")]
pub struct OpenConnection {
    pub blocks_for: Duration,
}

/// A pub/sub connection of the asker's own.
#[derive(Message)]
#[rtype(result = "Result<PubSub, RedisError>")]
pub struct OpenPubSub;

/// Answers when Redis answers a `PING`.
#[derive(Message)]
#[rtype(result = "Result<(), RedisError>")]
pub struct PingRedis;

/// How many pooled connections are open now, and how many of them are idle.
#[derive(Message)]
#[rtype(result = "PoolUse")]
pub struct MeasurePool;

impl Handler<MeasurePool> for Redis {
    type Result = MessageResult<MeasurePool>;

    fn handle(&mut self, _: MeasurePool, _: &mut Self::Context) -> Self::Result {
        let status = self.pool.status();
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        MessageResult(PoolUse {
            open: clamp(status.size),
            idle: clamp(status.available),
            max: clamp(status.max_size),
        })
    }
}

impl Handler<CheckOut> for Redis {
    type Result = ResponseFuture<Result<Connection, RedisError>>;

    fn handle(&mut self, _: CheckOut, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move { Ok(pool.get().await?) })
    }
}

impl Handler<OpenConnection> for Redis {
    type Result = ResponseFuture<Result<MultiplexedConnection, RedisError>>;

    fn handle(&mut self, msg: OpenConnection, _: &mut Self::Context) -> Self::Result {
        let client = self.client.clone();
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(msg.blocks_for + Duration::from_secs(5)));
        Box::pin(async move {
            Ok(client
                .get_multiplexed_async_connection_with_config(&config)
                .await?)
        })
    }
}

impl Handler<OpenPubSub> for Redis {
    type Result = ResponseFuture<Result<PubSub, RedisError>>;

    fn handle(&mut self, _: OpenPubSub, _: &mut Self::Context) -> Self::Result {
        let client = self.client.clone();
        Box::pin(async move { Ok(client.get_async_pubsub().await?) })
    }
}

impl Handler<PingRedis> for Redis {
    type Result = ResponseFuture<Result<(), RedisError>>;

    fn handle(&mut self, _: PingRedis, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            let mut connection = pool.get().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await?;
            Ok(())
        })
    }
}
