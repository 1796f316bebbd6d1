//! The Limiter actor counts failed sign-ins per account and per client address
//! (and password-reset requests per client address) and says when to refuse
//! more, with how long to wait.
//!
//! It counts in Redis when `REDIS_URL` is set, so every `kiln api` process
//! shares one count; on the embedded default it keeps the counts in memory. A
//! window opens at the first failure and closes `LOGIN_RATE_WINDOW` later.
//!
//! - Accepts: [`CheckLogin`], [`RecordLoginFailure`], [`ClearLoginFailures`],
//!   [`PingRedis`].
//! - Supervised by the Supervisor; in-memory counts start over after a restart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Message, ResponseFuture, Supervised};
use deadpool_redis::Pool;
use deadpool_redis::redis::{self, AsyncCommands};
use sha2::{Digest, Sha256};

use crate::actors::supervisor::RestartBackoff;
use crate::config::LoginLimits;

#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    #[error("redis is unavailable")]
    Redis(#[source] redis::RedisError),
    #[error("no redis connection could be had")]
    Pool(#[source] deadpool_redis::PoolError),
}

/// What a login attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoginSubject {
    Account(String),
    ClientIp(String),
    /// Password-reset mails asked for from one client address: each request
    /// counts, so one address cannot make Kiln mail strangers without end.
    ResetRequestsFromIp(String),
}

impl LoginSubject {
    /// A stable name for the count; hashed so no e-mail address sits in Redis.
    fn counter_name(&self) -> String {
        let (scope, value) = match self {
            Self::Account(email) => ("account", email),
            Self::ClientIp(ip) => ("ip", ip),
            Self::ResetRequestsFromIp(ip) => ("reset-ip", ip),
        };
        format!(
            "{scope}:{}",
            hex::encode(&Sha256::digest(value.as_bytes())[..16])
        )
    }

    fn limit(&self, limits: &LoginLimits) -> u32 {
        match self {
            Self::Account(_) => limits.per_account,
            Self::ClientIp(_) | Self::ResetRequestsFromIp(_) => limits.per_ip,
        }
    }
}

enum Counts {
    Memory(HashMap<String, (u32, Instant)>),
    Redis { pool: Pool, namespace: String },
}

pub struct Limiter {
    counts: Counts,
    limits: LoginLimits,
    restarts: RestartBackoff,
}

/// How often expired in-memory windows are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

impl Limiter {
    /// `redis`: the pool of `REDIS_URL` and the key namespace, when configured.
    pub fn new(redis: Option<(Pool, String)>, limits: LoginLimits) -> Self {
        let counts = match redis {
            None => Counts::Memory(HashMap::new()),
            Some((pool, namespace)) => Counts::Redis { pool, namespace },
        };
        Self {
            counts,
            limits,
            restarts: RestartBackoff::default(),
        }
    }

    fn redis_key(namespace: &str, subject: &LoginSubject) -> String {
        format!("{namespace}:login-failures:{}", subject.counter_name())
    }
}

impl Actor for Limiter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if matches!(self.counts, Counts::Memory(_)) {
            ctx.run_interval(PRUNE_EVERY, |limiter, _| {
                if let Counts::Memory(map) = &mut limiter.counts {
                    let now = Instant::now();
                    map.retain(|_, (_, closes)| *closes > now);
                }
            });
        }
    }
}

impl Supervised for Limiter {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("limiter", ctx);
    }
}

/// Replies with how long to wait when any subject has used up its failures.
#[derive(Message)]
#[rtype(result = "Result<Option<Duration>, LimiterError>")]
pub struct CheckLogin {
    pub subjects: Vec<LoginSubject>,
}

#[derive(Message)]
#[rtype(result = "Result<(), LimiterError>")]
pub struct RecordLoginFailure {
    pub subjects: Vec<LoginSubject>,
}

/// Forgets an account's failures after it signs in successfully.
#[derive(Message)]
#[rtype(result = "Result<(), LimiterError>")]
pub struct ClearLoginFailures {
    pub subject: LoginSubject,
}

/// Answers when Redis answers; `Ok` at once on the embedded default.
#[derive(Message)]
#[rtype(result = "Result<(), LimiterError>")]
pub struct PingRedis;

impl Handler<CheckLogin> for Limiter {
    type Result = ResponseFuture<Result<Option<Duration>, LimiterError>>;

    fn handle(&mut self, msg: CheckLogin, _: &mut Self::Context) -> Self::Result {
        let limits = self.limits;
        match &self.counts {
            Counts::Memory(map) => {
                let now = Instant::now();
                let wait = msg
                    .subjects
                    .iter()
                    .filter_map(|s| match map.get(&s.counter_name()) {
                        Some((count, closes)) if *count >= s.limit(&limits) && *closes > now => {
                            Some(*closes - now)
                        }
                        _ => None,
                    })
                    .max();
                Box::pin(async move { Ok(wait) })
            }
            Counts::Redis { pool, namespace } => {
                let pool = pool.clone();
                let namespace = namespace.clone();
                Box::pin(async move {
                    let mut conn = pool.get().await.map_err(LimiterError::Pool)?;
                    let mut wait = None;
                    for subject in &msg.subjects {
                        let key = Self::redis_key(&namespace, subject);
                        let count: Option<u32> =
                            conn.get(&key).await.map_err(LimiterError::Redis)?;
                        if count.unwrap_or(0) >= subject.limit(&limits) {
                            let ttl: i64 = conn.pttl(&key).await.map_err(LimiterError::Redis)?;
                            let ttl = Duration::from_millis(ttl.max(0) as u64);
                            wait = wait.max(Some(ttl));
                        }
                    }
                    Ok(wait)
                })
            }
        }
    }
}

impl Handler<RecordLoginFailure> for Limiter {
    type Result = ResponseFuture<Result<(), LimiterError>>;

    fn handle(&mut self, msg: RecordLoginFailure, _: &mut Self::Context) -> Self::Result {
        let window = self.limits.window;
        match &mut self.counts {
            Counts::Memory(map) => {
                let now = Instant::now();
                for subject in &msg.subjects {
                    let entry = map
                        .entry(subject.counter_name())
                        .or_insert((0, now + window));
                    if entry.1 <= now {
                        *entry = (0, now + window);
                    }
                    entry.0 += 1;
                }
                Box::pin(async { Ok(()) })
            }
            Counts::Redis { pool, namespace } => {
                let pool = pool.clone();
                let namespace = namespace.clone();
                Box::pin(async move {
                    let mut conn = pool.get().await.map_err(LimiterError::Pool)?;
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    for subject in &msg.subjects {
                        let key = Self::redis_key(&namespace, subject);
                        // The window opens with the first failure and is not extended.
                        pipe.cmd("SET")
                            .arg(&key)
                            .arg(0)
                            .arg("PX")
                            .arg(window.as_millis() as u64)
                            .arg("NX")
                            .ignore();
                        pipe.incr(&key, 1).ignore();
                    }
                    pipe.query_async::<()>(&mut conn)
                        .await
                        .map_err(LimiterError::Redis)
                })
            }
        }
    }
}

impl Handler<ClearLoginFailures> for Limiter {
    type Result = ResponseFuture<Result<(), LimiterError>>;

    fn handle(&mut self, msg: ClearLoginFailures, _: &mut Self::Context) -> Self::Result {
        match &mut self.counts {
            Counts::Memory(map) => {
                map.remove(&msg.subject.counter_name());
                Box::pin(async { Ok(()) })
            }
            Counts::Redis { pool, namespace } => {
                let pool = pool.clone();
                let key = Self::redis_key(namespace, &msg.subject);
                Box::pin(async move {
                    let mut conn = pool.get().await.map_err(LimiterError::Pool)?;
                    conn.del::<_, ()>(key).await.map_err(LimiterError::Redis)
                })
            }
        }
    }
}

impl Handler<PingRedis> for Limiter {
    type Result = ResponseFuture<Result<(), LimiterError>>;

    fn handle(&mut self, _: PingRedis, _: &mut Self::Context) -> Self::Result {
        let Counts::Redis { pool, .. } = &self.counts else {
            return Box::pin(async { Ok(()) });
        };
        let pool = pool.clone();
        Box::pin(async move {
            let mut conn = pool.get().await.map_err(LimiterError::Pool)?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(drop)
                .map_err(LimiterError::Redis)
        })
    }
}
