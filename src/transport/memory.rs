//! The embedded default's transport: an unbounded in-process channel. Nothing
//! is acknowledged because nothing outlives the process; after a restart the
//! reconciler republishes whatever the database still has queued.

use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Delivery, TransportError};

pub fn channel() -> (MemoryPublisher, MemoryConsumer) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (MemoryPublisher(sender), MemoryConsumer(receiver))
}

pub struct MemoryPublisher(mpsc::UnboundedSender<Uuid>);

impl MemoryPublisher {
    pub fn publish(&self, job_ids: &[Uuid]) -> Result<(), TransportError> {
        for id in job_ids {
            self.0.send(*id).map_err(|_| TransportError::Closed)?;
        }
        Ok(())
    }
}

pub struct MemoryConsumer(mpsc::UnboundedReceiver<Uuid>);

impl MemoryConsumer {
    pub async fn read(
        &mut self,
        max: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>, TransportError> {
        let mut ids = Vec::with_capacity(max);
        // A timeout just means nothing arrived; zero received means closed.
        if let Ok(0) = tokio::time::timeout(block, self.0.recv_many(&mut ids, max)).await {
            return Err(TransportError::Closed);
        }
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
        let rest = consumer.read(10, Duration::from_millis(10)).await.unwrap();
        assert_eq!(rest.len(), 2);
        assert!(
            consumer
                .read(10, Duration::from_millis(10))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
