//! The embedded default's transport: an unbounded in-process channel. Nothing
//! is acknowledged because nothing outlives the process; after a restart the
//! reconciler republishes whatever the database still has queued.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Backlog, Delivery, TransportError};

pub fn channel() -> (MemoryPublisher, MemoryConsumer) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let depth = Arc::new(AtomicU64::new(0));
    (
        MemoryPublisher {
            sender,
            depth: depth.clone(),
        },
        MemoryConsumer { receiver, depth },
    )
}

pub struct MemoryPublisher {
    sender: mpsc::UnboundedSender<Uuid>,
    /// Ids sent and not yet read (the channel's sender cannot tell).
    depth: Arc<AtomicU64>,
}

impl MemoryPublisher {
    pub fn publish(&self, job_ids: &[Uuid]) -> Result<(), TransportError> {
        for id in job_ids {
            // Counted before it is sent, so a read never finds more than counted.
            self.depth.fetch_add(1, Ordering::Relaxed);
            if self.sender.send(*id).is_err() {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(TransportError::Closed);
            }
        }
        Ok(())
    }

    /// Ids published and not yet read. Nothing is acknowledged in process, so
    /// there is no pending count.
    pub fn backlog(&self) -> Backlog {
        Backlog {
            length: self.depth.load(Ordering::Relaxed),
            pending: None,
        }
    }
}

pub struct MemoryConsumer {
    receiver: mpsc::UnboundedReceiver<Uuid>,
    depth: Arc<AtomicU64>,
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
        self.depth.fetch_sub(ids.len() as u64, Ordering::Relaxed);
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
        let rest = consumer.read(10, Duration::from_millis(10)).await.unwrap();
        assert_eq!(rest.len(), 2);
        assert_eq!(publisher.backlog().length, 0);
        assert!(
            consumer
                .read(10, Duration::from_millis(10))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
