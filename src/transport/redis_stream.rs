//! The scaled-out transport: one Redis Stream (`{namespace}:jobs`) read by one
//! consumer group (`workers`), each process a consumer of its own name.
//!
//! An entry is `job_id=<uuid>`. Consumers read with a blocking `XREADGROUP`,
//! so a job starts within milliseconds of its commit; entries a dead consumer
//! left unacknowledged are taken over with `XAUTOCLAIM`. Acknowledged entries
//! are deleted, so the stream holds only work not yet done. If Redis loses the
//! stream (a restart without persistence, `FLUSHALL`), the group is recreated
//! on the next read and the reconciler republishes from the database.
//!
//! The publisher and the consumer each keep a connection of their own, which
//! they ask the [`Redis`] actor for (again after a failure).

use std::collections::HashSet;
use std::time::Duration;

use actix::Addr;
use deadpool_redis::redis;
use redis::aio::MultiplexedConnection;
use redis::streams::{
    StreamAutoClaimReply, StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisError};
use uuid::Uuid;

use super::{Backlog, Delivery, TransportError};
use crate::actors::redis::{OpenConnection, Redis};

const GROUP: &str = "workers";
const FIELD: &str = "job_id";
/// The stream is trimmed (approximately) to this many entries; far more than
/// a backlog of ids the reconciler could not republish anyway.
const MAX_LEN: usize = 1_000_000;
/// Entries one `XRANGE` of [`StreamPublisher::carried`] returns.
const RANGE_PAGE: usize = 1_000;

fn stream_key(namespace: &str) -> String {
    format!("{namespace}:jobs")
}

/// A connection whose timeouts outlast a read blocking for `block`.
async fn connect(
    redis: &Addr<Redis>,
    block: Duration,
) -> Result<MultiplexedConnection, TransportError> {
    let opened = redis.send(OpenConnection { blocks_for: block }).await;
    Ok(opened.map_err(crate::actors::redis::RedisError::from)??)
}

pub struct StreamPublisher {
    redis: Addr<Redis>,
    connection: Option<MultiplexedConnection>,
    key: String,
}

impl StreamPublisher {
    pub fn new(redis: Addr<Redis>, namespace: &str) -> Self {
        Self {
            redis,
            connection: None,
            key: stream_key(namespace),
        }
    }

    /// The connection, opened on first use or after a failure.
    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, TransportError> {
        if self.connection.is_none() {
            self.connection = Some(connect(&self.redis, Duration::ZERO).await?);
        }
        Ok(self
            .connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("set just above")))
    }

    pub async fn publish(&mut self, job_ids: &[Uuid]) -> Result<(), TransportError> {
        if job_ids.is_empty() {
            return Ok(());
        }
        let key = self.key.clone();
        let connection = self.connection().await?;
        let mut pipe = redis::pipe();
        for id in job_ids {
            pipe.xadd_maxlen(
                &key,
                redis::streams::StreamMaxlen::Approx(MAX_LEN),
                "*",
                &[(FIELD, id.to_string())],
            )
            .ignore();
        }
        let sent = pipe.query_async::<()>(connection).await;
        if sent.is_err() {
            // Reconnect next time rather than reuse a connection in doubt.
            self.connection = None;
        }
        Ok(sent?)
    }

    /// The stream's length and how many of its entries are delivered but not
    /// yet acknowledged (`XLEN`, and the `XPENDING` summary of the group).
    pub async fn backlog(&mut self) -> Result<Backlog, TransportError> {
        let key = self.key.clone();
        let connection = self.connection().await?;
        let length: Result<u64, RedisError> = connection.xlen(&key).await;
        let pending: Result<redis::streams::StreamPendingReply, RedisError> =
            connection.xpending(&key, GROUP).await;
        let measured = match (length, pending) {
            (Ok(length), Ok(pending)) => Ok(Backlog {
                length,
                pending: Some(pending.count() as u64),
            }),
            // No group yet: nothing was ever read, so nothing is pending.
            (Ok(length), Err(err)) if err.code() == Some("NOGROUP") => Ok(Backlog {
                length,
                pending: Some(0),
            }),
            (Err(err), _) | (_, Err(err)) => Err(err),
        };
        if measured.is_err() {
            self.connection = None;
        }
        Ok(measured?)
    }

    /// The jobs the stream holds: waiting to be read, or read and not yet
    /// acknowledged (acknowledged entries are deleted). Read in pages of
    /// [`RANGE_PAGE`] entries, so it costs in proportion to the backlog.
    pub async fn carried(&mut self) -> Result<HashSet<Uuid>, TransportError> {
        let key = self.key.clone();
        let mut carried = HashSet::new();
        let mut start = "-".to_string();
        loop {
            let connection = self.connection().await?;
            let page: Result<StreamRangeReply, RedisError> =
                connection.xrange_count(&key, &start, "+", RANGE_PAGE).await;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    self.connection = None;
                    return Err(err.into());
                }
            };
            let Some(last) = page.ids.last() else {
                return Ok(carried);
            };
            // The next page starts after this one's last entry (exclusive).
            start = format!("({}", last.id);
            let full = page.ids.len() == RANGE_PAGE;
            carried.extend(page.ids.iter().filter_map(job_id_of));
            if !full {
                return Ok(carried);
            }
        }
    }
}

fn job_id_of(entry: &StreamId) -> Option<Uuid> {
    entry
        .get::<String>(FIELD)
        .and_then(|raw| Uuid::parse_str(&raw).ok())
}

pub struct StreamConsumer {
    redis: Addr<Redis>,
    connection: Option<MultiplexedConnection>,
    key: String,
    name: String,
    /// Where the next `XAUTOCLAIM` scan resumes.
    reclaim_cursor: String,
}

/// Blocking reads wait this long at most, so the reader notices a stop or a
/// changed number of free slots in good time.
pub const BLOCK: Duration = Duration::from_secs(2);

impl StreamConsumer {
    pub fn new(redis: Addr<Redis>, namespace: &str, consumer_name: String) -> Self {
        Self {
            redis,
            connection: None,
            key: stream_key(namespace),
            name: consumer_name,
            reclaim_cursor: "0-0".into(),
        }
    }

    /// The connection, created with the group on first use or after a failure.
    async fn connection(&mut self) -> Result<&mut MultiplexedConnection, TransportError> {
        if self.connection.is_none() {
            let mut connection = connect(&self.redis, BLOCK).await?;
            ensure_group(&mut connection, &self.key).await?;
            self.connection = Some(connection);
        }
        Ok(self
            .connection
            .as_mut()
            .unwrap_or_else(|| unreachable!("set just above")))
    }

    /// Runs `f`; on a lost group (Redis emptied) recreates it and reports no
    /// deliveries; on any other error drops the connection for a fresh one.
    fn settle<T: Default>(&mut self, result: Result<T, RedisError>) -> Result<T, TransportError> {
        match result {
            Ok(value) => Ok(value),
            Err(err) if err.code() == Some("NOGROUP") => {
                tracing::warn!(
                    "the job stream's consumer group is gone (Redis was emptied); recreating it"
                );
                self.connection = None;
                Ok(T::default())
            }
            Err(err) => {
                self.connection = None;
                Err(err.into())
            }
        }
    }

    pub async fn read(
        &mut self,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, TransportError> {
        let options = StreamReadOptions::default()
            .group(GROUP, &self.name)
            .count(max)
            .block(block.as_millis() as usize);
        let key = self.key.clone();
        let reply: Result<Option<StreamReadReply>, RedisError> = self
            .connection()
            .await?
            .xread_options(&[&key], &[">"], &options)
            .await;
        let reply = self.settle(reply)?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .filter_map(|entry| self.delivery(entry))
            .collect())
    }

    pub async fn reclaim(
        &mut self,
        min_idle: Duration,
        max: usize,
    ) -> Result<Vec<Delivery>, TransportError> {
        let key = self.key.clone();
        let name = self.name.clone();
        let cursor = self.reclaim_cursor.clone();
        let reply: Result<StreamAutoClaimReply, RedisError> = self
            .connection()
            .await?
            .xautoclaim_options(
                &key,
                GROUP,
                &name,
                min_idle.as_millis() as u64,
                &cursor,
                redis::streams::StreamAutoClaimOptions::default().count(max),
            )
            .await;
        let reply = self.settle(reply)?;
        self.reclaim_cursor = if reply.next_stream_id.is_empty() {
            "0-0".into()
        } else {
            reply.next_stream_id
        };
        Ok(reply
            .claimed
            .into_iter()
            .filter_map(|entry| self.delivery(entry))
            .collect())
    }

    pub async fn ack(&mut self, delivery: &Delivery) -> Result<(), TransportError> {
        let Some(entry_id) = &delivery.entry_id else {
            return Ok(());
        };
        let key = self.key.clone();
        let mut pipe = redis::pipe();
        pipe.xack(&key, GROUP, &[entry_id])
            .ignore()
            .xdel(&key, &[entry_id])
            .ignore();
        let result = pipe.query_async::<()>(self.connection().await?).await;
        self.settle(result)
    }

    fn delivery(&self, entry: StreamId) -> Option<Delivery> {
        let job_id = job_id_of(&entry);
        if job_id.is_none() {
            tracing::warn!(entry = %entry.id, "ignoring a job stream entry without a job id");
        }
        job_id.map(|job_id| Delivery {
            job_id,
            entry_id: Some(entry.id),
        })
    }
}

/// Creates the consumer group (and the stream) unless it exists. A new group
/// starts at the stream's beginning, so entries added before it are read too.
async fn ensure_group(connection: &mut MultiplexedConnection, key: &str) -> Result<(), RedisError> {
    let created: Result<(), RedisError> = connection.xgroup_create_mkstream(key, GROUP, "0").await;
    match created {
        Err(err) if err.code() == Some("BUSYGROUP") => Ok(()),
        other => other,
    }
}
