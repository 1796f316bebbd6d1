//! The Limiter actor counts attempts that an attacker would repeat (sign-ins,
//! registrations, mails asked for, share links opened) per subject, and says when to refuse one,
//! with how long to wait. The rule is [`Throttle`]'s: some free attempts, then
//! a wait that doubles with each further attempt up to a ceiling.
//!
//! An attempt is counted when it is admitted, before the work it guards runs
//! (a password check, a mail): [`ReserveAttempt`] checks and counts in one
//! step, so a burst of concurrent attempts cannot all pass the check before
//! any of them is counted. On the embedded default the counts are kept in
//! memory, where the actor handles one message at a time; when `REDIS_URL` is
//! set they are kept in Redis (on a connection asked of the [`Redis`] actor),
//! checked and counted by one Lua script, so every `kiln api` process shares
//! them and two processes cannot both pass.
//!
//! Sign-ins are counted per (account, client address) and per client address,
//! never per account alone: an attacker at one address cannot keep the owner,
//! at another, from signing in.
//!
//! - Accepts: [`ReserveAttempt`], [`AttemptSucceeded`].
//! - Supervised by the Supervisor; in-memory counts start over after a restart.

mod memory;

use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, ResponseFuture, Supervised};
use deadpool_redis::redis;
use sha2::{Digest, Sha256};

use crate::actors::redis::{CheckOut, Redis, RedisError};
use crate::actors::restart::RestartBackoff;
use crate::config::RateLimits;
use crate::domain::Throttle;
use memory::MemoryCounts;

#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    #[error(transparent)]
    Redis(#[from] RedisError),
}

impl From<redis::RedisError> for LimiterError {
    fn from(err: redis::RedisError) -> Self {
        Self::Redis(err.into())
    }
}

/// What an attempt is counted against. Client addresses are as
/// [`crate::domain::counted_as`] names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// Sign-ins to one account (its address, lowercased) from one client.
    SignIn { email: String, client: String },
    /// Sign-ins from one client, to any account.
    SignInsFrom(String),
    /// Password-reset mails asked for from one client: each request counts,
    /// so one address cannot make Kiln mail strangers without end.
    ResetRequestsFrom(String),
    /// Accounts registered from one client (each sends a mail).
    RegistrationsFrom(String),
    /// New verification links asked for from one client.
    VerificationResendsFrom(String),
    /// Share links' pages and bytes asked for from one client, so nobody can
    /// guess tokens or pull a shared file without end.
    ShareRequestsFrom(String),
}

impl Subject {
    /// A stable name for the count; hashed so no e-mail address sits in Redis.
    fn counter_name(&self) -> String {
        let (scope, value) = match self {
            Self::SignIn { email, client } => ("sign-in", format!("{email}\n{client}")),
            Self::SignInsFrom(client) => ("sign-ins-from", client.clone()),
            Self::ResetRequestsFrom(client) => ("resets-from", client.clone()),
            Self::RegistrationsFrom(client) => ("registrations-from", client.clone()),
            Self::VerificationResendsFrom(client) => ("resends-from", client.clone()),
            Self::ShareRequestsFrom(client) => ("shares-from", client.clone()),
        };
        format!(
            "{scope}:{}",
            hex::encode(&Sha256::digest(value.as_bytes())[..16])
        )
    }

    fn throttle(&self, limits: &RateLimits) -> Throttle {
        match self {
            Self::SignIn { .. } => limits.sign_in_per_account_and_client,
            Self::SignInsFrom(_) => limits.sign_in_per_client,
            Self::ResetRequestsFrom(_) => limits.reset_requests_per_client,
            Self::RegistrationsFrom(_) | Self::VerificationResendsFrom(_) => {
                limits.registrations_per_client
            }
            Self::ShareRequestsFrom(_) => limits.share_requests_per_client,
        }
    }
}

enum Counts {
    Memory(MemoryCounts),
    Redis {
        redis: Addr<Redis>,
        namespace: String,
    },
}

pub struct Limiter {
    counts: Counts,
    limits: RateLimits,
    restarts: RestartBackoff,
}

/// How often forgotten in-memory counts are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

impl Limiter {
    /// `redis`: the Redis actor and the key namespace, when `REDIS_URL` is set.
    pub fn new(redis: Option<(Addr<Redis>, String)>, limits: RateLimits) -> Self {
        let counts = match redis {
            None => Counts::Memory(MemoryCounts::default()),
            Some((redis, namespace)) => Counts::Redis { redis, namespace },
        };
        Self {
            counts,
            limits,
            restarts: RestartBackoff::default(),
        }
    }

    /// Each subject's count name and throttle.
    fn counted(&self, subjects: &[Subject]) -> Vec<(String, Throttle)> {
        subjects
            .iter()
            .map(|s| (s.counter_name(), s.throttle(&self.limits)))
            .collect()
    }
}

impl Actor for Limiter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if matches!(self.counts, Counts::Memory(_)) {
            ctx.run_interval(PRUNE_EVERY, |limiter, _| {
                if let Counts::Memory(counts) = &mut limiter.counts {
                    counts.prune(std::time::Instant::now());
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

/// Counts an attempt against every subject, before the work it guards runs,
/// unless one of them is still waiting: then nothing is counted and the reply
/// is how long to wait.
#[derive(Message)]
#[rtype(result = "Result<Option<Duration>, LimiterError>")]
pub struct ReserveAttempt {
    pub subjects: Vec<Subject>,
}

/// An admitted attempt succeeded (a sign-in with the right password): the
/// counts of `forget` start over, and `refund` gets its attempt back, so the
/// successes of people sharing an address do not count against them.
#[derive(Message)]
#[rtype(result = "Result<(), LimiterError>")]
pub struct AttemptSucceeded {
    pub forget: Vec<Subject>,
    pub refund: Vec<Subject>,
}

/// Checks every key's wait and, when none is left, counts the attempt in each
/// and sets the wait it imposes: one script, so it is atomic across every
/// `kiln api`. Times are Redis's own clock (milliseconds), so processes with
/// clocks apart still agree. The wait mirrors [`Throttle::wait_after`].
///
/// KEYS: the counts. ARGV: for each key, free attempts, first wait, longest
/// wait and memory (milliseconds). Replies with the wait left (ms), 0 when
/// the attempt was counted.
const RESERVE_SCRIPT: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local next_at = tonumber(redis.call('HGET', key, 'next') or 0)
  if next_at - now > wait then wait = next_at - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[4 * i - 3])
  local first = tonumber(ARGV[4 * i - 2])
  local longest = tonumber(ARGV[4 * i - 1])
  local keep = tonumber(ARGV[4 * i])
  local attempts = redis.call('HINCRBY', key, 'attempts', 1)
  if attempts >= free then
    local delay = math.min(first * 2 ^ math.min(attempts - free, 20), longest)
    redis.call('HSET', key, 'next', math.floor(now + delay))
    keep = math.max(keep, delay)
  end
  redis.call('PEXPIRE', key, math.floor(keep))
end
return 0
";

/// KEYS: the counts to forget, then those to refund. ARGV[1]: how many to
/// forget; then each refunded key's free attempts. A refund that brings the
/// count under the free attempts lifts the wait.
const SUCCEED_SCRIPT: &str = r"
local forget = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if i <= forget then
    redis.call('DEL', key)
  elseif redis.call('EXISTS', key) == 1 then
    local attempts = redis.call('HINCRBY', key, 'attempts', -1)
    if attempts < tonumber(ARGV[1 + i - forget]) then redis.call('HDEL', key, 'next') end
  end
end
return 0
";

fn redis_key(namespace: &str, counter: &str) -> String {
    format!("{namespace}:attempts:{counter}")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Handler<ReserveAttempt> for Limiter {
    type Result = ResponseFuture<Result<Option<Duration>, LimiterError>>;

    fn handle(&mut self, msg: ReserveAttempt, _: &mut Self::Context) -> Self::Result {
        let counted = self.counted(&msg.subjects);
        match &mut self.counts {
            Counts::Memory(counts) => {
                // Checked and counted within this one message: atomic.
                let wait = counts.reserve(&counted, std::time::Instant::now());
                Box::pin(async move { Ok(wait) })
            }
            Counts::Redis { redis, namespace } => {
                let owner = redis.clone();
                let mut script = redis::cmd("EVAL");
                script.arg(RESERVE_SCRIPT).arg(counted.len());
                for (counter, _) in &counted {
                    script.arg(redis_key(namespace, counter));
                }
                for (_, throttle) in &counted {
                    script
                        .arg(throttle.free)
                        .arg(millis(throttle.first_wait))
                        .arg(millis(throttle.longest_wait))
                        .arg(millis(throttle.memory));
                }
                Box::pin(async move {
                    let mut conn = owner.send(CheckOut).await.map_err(RedisError::from)??;
                    let wait_ms: u64 = script.query_async(&mut conn).await?;
                    Ok((wait_ms > 0).then(|| Duration::from_millis(wait_ms)))
                })
            }
        }
    }
}

impl Handler<AttemptSucceeded> for Limiter {
    type Result = ResponseFuture<Result<(), LimiterError>>;

    fn handle(&mut self, msg: AttemptSucceeded, _: &mut Self::Context) -> Self::Result {
        let forget = self.counted(&msg.forget);
        let refund = self.counted(&msg.refund);
        match &mut self.counts {
            Counts::Memory(counts) => {
                counts.succeed(&forget, &refund);
                Box::pin(async { Ok(()) })
            }
            Counts::Redis { redis, namespace } => {
                let owner = redis.clone();
                let mut script = redis::cmd("EVAL");
                script.arg(SUCCEED_SCRIPT).arg(forget.len() + refund.len());
                for (counter, _) in forget.iter().chain(&refund) {
                    script.arg(redis_key(namespace, counter));
                }
                script.arg(forget.len());
                for (_, throttle) in &refund {
                    script.arg(throttle.free);
                }
                Box::pin(async move {
                    let mut conn = owner.send(CheckOut).await.map_err(RedisError::from)??;
                    Ok(script.query_async::<()>(&mut conn).await?)
                })
            }
        }
    }
}
