//! Webhook deliveries (`WEBHOOK_*`): which destinations may be reached, how
//! long one attempt may take, and how failed deliveries are retried.

use std::time::Duration;

use super::env::{ConfigError, Env};
use crate::actors::catalog::webhooks::RetryPolicy;

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `WEBHOOK_ALLOW_PRIVATE_NETWORKS`: also send to loopback, private,
    /// link-local and other non-public addresses (off by default: an endpoint
    /// must not reach into Kiln's own network).
    pub allow_private_networks: bool,
    /// `WEBHOOK_TIMEOUT`: the longest one attempt may take, connecting included.
    pub timeout: Duration,
    /// `WEBHOOK_RETRY_FIRST`, `WEBHOOK_RETRY_LONGEST`, `WEBHOOK_GIVE_UP_AFTER`:
    /// the wait after a first failure, doubling up to the longest; after the
    /// give-up time since its event, a delivery has failed and its endpoint is
    /// disabled.
    pub retry: RetryPolicy,
    /// `WEBHOOK_POLL_INTERVAL`: how often each worker looks for due deliveries.
    pub poll_interval: Duration,
    /// `WEBHOOK_CONCURRENCY`: deliveries one process sends at once.
    pub concurrency: usize,
}

pub(super) fn read(env: &Env<'_>) -> Result<WebhookConfig, ConfigError> {
    Ok(WebhookConfig {
        allow_private_networks: env.flag("WEBHOOK_ALLOW_PRIVATE_NETWORKS")?.unwrap_or(false),
        timeout: env
            .duration("WEBHOOK_TIMEOUT")?
            .unwrap_or(Duration::from_secs(10)),
        retry: RetryPolicy {
            first: env
                .duration("WEBHOOK_RETRY_FIRST")?
                .unwrap_or(Duration::from_secs(5)),
            longest: env
                .duration("WEBHOOK_RETRY_LONGEST")?
                .unwrap_or(Duration::from_secs(60 * 60)),
            give_up_after: env
                .duration("WEBHOOK_GIVE_UP_AFTER")?
                .unwrap_or(Duration::from_secs(3 * 24 * 60 * 60)),
        },
        poll_interval: env
            .duration("WEBHOOK_POLL_INTERVAL")?
            .unwrap_or(Duration::from_secs(1)),
        concurrency: env.positive("WEBHOOK_CONCURRENCY")?.unwrap_or(8) as usize,
    })
}
