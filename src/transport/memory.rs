//! The embedded default's transport: an unbounded in-process channel. Nothing
//! is acknowledged because nothing outlives the process; after a restart the
//! reconciler republishes whatever the database still has queued.
//!
//! Beside the channel, both halves share the ids it holds (a count per id, as
//! an id may be sent twice), which the channel itself cannot tell: the queue
//! gauge reads their number, the reconciler asks which jobs are among them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Backlog, Delivery, TransportError};

pub fn channel() -> (MemoryPublisher, MemoryConsumer) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(Mutex::new(HashMap::new()));
    (
        MemoryPublisher {
            sender,
            queued: queued.clone(),
        },
        MemoryConsumer { receiver, queued },
    )
}

/// Ids sent and not yet read, each with how many times it is in the channel.
type Queued = Arc<Mutex<HashMap<Uuid, u32>>>;

fn lock(queued: &Queued) -> MutexGuard<'_, HashMap<Uuid, u32>> {
    // The map is consistent between statements, so a holder that panicked
    // left nothing half-done.
    queued
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct MemoryPublisher {
    sender: mpsc::UnboundedSender<Uuid>,
    queued: Queued,
}

impl MemoryPublisher {
    pub fn publish(&self, job_ids: &[Uuid]) -> Result<(), TransportError> {
        let mut queued = lock(&self.queued);
        for id in job_ids {
            // Counted while the lock is held, so a read never finds an id
            // that is not counted.
            if self.sender.send(*id).is_err() {
                return Err(TransportError::Closed);
            }
            *queued.entry(*id).or_default() += 1;
        }
        Ok(())
    }

    /// Ids published and not yet read. Nothing is acknowledged in process, so
    /// there is no pending count.
    pub fn backlog(&self) -> Backlog {
        Backlog {
            length: lock(&self.queued).values().map(|&n| u64::from(n)).sum(),
            pending: None,
        }
    }

    /// The jobs waiting in the channel.
    pub fn carried(&self) -> HashSet<Uuid> {
        lock(&self.queued).keys().copied().collect()
    }
}

pub struct MemoryConsumer {
    receiver: mpsc::UnboundedReceiver<Uuid>,
    queued: Queued,
}

impl MemoryConsumer {
    pub async fn read(
        &mut self,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, TransportError> {
        let mut ids = Vec::with_capacity(max);
        // A timeout just means nothing arrived; zero received means closed.
        if let Ok(0) = tokio::time::timeout(block, self.receiver.recv_many(&mut ids, max)).await {
            return Err(TransportError::Closed);
        }
        let mut queued = lock(&self.queued);
        for id in &ids {
            if let Some(count) = queued.get_mut(id) {
                *count -= 1;
                if *count == 0 {
                    queued.remove(id);
                }
            }
        }
        drop(queued);
        Ok(ids
            .into_iter()
            .map(|job_id| Delivery {
                job_id,
                entry_id: None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_take_at_most_what_was_asked_and_keep_the_rest() {
        let (publisher, mut consumer) = channel();
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        publisher.publish(&ids).unwrap();
        let first = consumer.read(3, Duration::from_millis(10)).await.unwrap();
        assert_eq!(first.iter().map(|d| d.job_id).collect::<Vec<_>>(), ids[..3]);
        assert_eq!(publisher.backlog().length, 2);
        assert_eq!(publisher.carried(), ids[3..].iter().copied().collect());
        let rest = consumer.read(10, Duration::from_millis(10)).await.unwrap();
        assert_eq!(rest.len(), 2);
        assert_eq!(publisher.backlog().length, 0);
        assert!(publisher.carried().is_empty());
        assert!(
            consumer
                .read(10, Duration::from_millis(10))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn an_id_sent_twice_is_carried_until_both_are_read() {
        let (publisher, mut consumer) = channel();
        let id = Uuid::new_v4();
        publisher.publish(&[id, id]).unwrap();
        assert_eq!(publisher.backlog().length, 2);
        consumer.read(1, Duration::from_millis(10)).await.unwrap();
        assert_eq!(publisher.carried(), HashSet::from([id]));
        consumer.read(1, Duration::from_millis(10)).await.unwrap();
        assert!(publisher.carried().is_empty());
    }
}
