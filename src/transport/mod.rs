//! How job ids travel from the process that queued them to a worker.
//!
//! The database is the truth; the transport only says "job X may be ready".
//! Losing an entry delays a job until the reconciler finds it, and delivering
//! one twice costs a failed claim: neither loses or repeats work.
//!
//! - [`redis_stream`]: a Redis Stream with one consumer group, shared by every process.
//! - [`memory`]: an in-process channel for the embedded default.
//!
//! A transport is split into a [`Publisher`] (owned by the Dispatcher) and a
//! [`Consumer`] (owned by the StreamReader).

pub mod memory;
pub mod redis_stream;

use std::collections::HashSet;
use std::time::Duration;

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Redis(#[from] crate::actors::redis::RedisError),
    #[error("the in-process queue is closed")]
    Closed,
}

impl From<deadpool_redis::redis::RedisError> for TransportError {
    fn from(err: deadpool_redis::redis::RedisError) -> Self {
        Self::Redis(err.into())
    }
}

/// One job id handed to this consumer; acknowledge it once the job's outcome is
/// committed (or once it turned out not to be runnable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub job_id: Uuid,
    /// The stream entry id, for the Redis transport.
    entry_id: Option<String>,
}

pub enum Publisher {
    Memory(memory::MemoryPublisher),
    Redis(Box<redis_stream::StreamPublisher>),
}

impl Publisher {
    pub async fn publish(&mut self, job_ids: &[Uuid]) -> Result<(), TransportError> {
        match self {
            Self::Memory(p) => p.publish(job_ids),
            Self::Redis(p) => p.publish(job_ids).await,
        }
    }

    pub async fn backlog(&mut self) -> Result<Backlog, TransportError> {
        match self {
            Self::Memory(p) => Ok(p.backlog()),
            Self::Redis(p) => p.backlog().await,
        }
    }

    /// The jobs the transport holds now, published and not yet done with: a
    /// queued job among them needs no publishing again, however long it waits.
    pub async fn carried(&mut self) -> Result<HashSet<Uuid>, TransportError> {
        match self {
            Self::Memory(p) => Ok(p.carried()),
            Self::Redis(p) => p.carried().await,
        }
    }
}

/// What the transport holds, for the queue gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Entries not yet acknowledged (Redis) or not yet read (in process).
    pub length: u64,
    /// Entries delivered to a consumer and not acknowledged; Redis only.
    pub pending: Option<u64>,
}

pub enum Consumer {
    Memory(memory::MemoryConsumer),
    Redis(Box<redis_stream::StreamConsumer>),
}

impl Consumer {
    /// Waits up to `block` for at most `max` deliveries.
    pub async fn read(
        &mut self,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, TransportError> {
        match self {
            Self::Memory(c) => c.read(max, block).await,
            Self::Redis(c) => c.read(max, block).await,
        }
    }

    /// Takes over deliveries another consumer received but did not acknowledge
    /// within `min_idle` (it died). The in-process transport has none.
    pub async fn reclaim(
        &mut self,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, TransportError> {
        match self {
            Self::Memory(_) => Ok(Vec::new()),
            Self::Redis(c) => c.reclaim(min_idle, max).await,
        }
    }

    pub async fn ack(&mut self, delivery: &Delivery) -> Result<(), TransportError> {
        match self {
            Self::Memory(_) => Ok(()),
            Self::Redis(c) => c.ack(delivery).await,
        }
    }
}
