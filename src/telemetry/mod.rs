//! Logging setup and the request id that ties one request's log lines together;
//! [`metrics`] holds the Prometheus side.
//!
//! Text logs for people, JSON (`LOG_FORMAT=json`) for machines; `LOG_LEVEL` takes
//! an `EnvFilter` directive such as `info` or `kiln=debug,sea_orm=warn`.

pub mod metrics;

use std::fmt;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use uuid::Uuid;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Call once, from `main`. Logs go to stderr so
/// commands that print results (`kiln migrate status`) keep stdout clean.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.level)
        .map_err(|e| anyhow::anyhow!("invalid configuration: LOG_LEVEL: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    match config.format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()?,
        LogFormat::Json => registry
            .with(
                // One flat object per line: the event's fields and those of every
                // span it happened in (request_id, user_id; job_id, file_id,
                // processor, attempt), the innermost span winning a clash.
                json_subscriber::layer()
                    .with_writer(std::io::stderr)
                    .with_current_span(false)
                    .flatten_span_list_on_top_level(true)
                    .flatten_event(true),
            )
            .try_init()?,
    }
    Ok(())
}

/// Identifies one HTTP request (echoed from `X-Request-Id` or generated) in logs,
/// responses and the actor messages it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

/// Longest client-supplied request id we echo; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

impl RequestId {
    pub fn generate() -> Self {
        Self(Uuid::new_v4().to_string())
    }

    /// Accepts a client's id when it is short printable ASCII, so it is safe to
    /// echo in a header and a log line.
    pub fn from_client(raw: &str) -> Option<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_REQUEST_ID_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::RequestId;

    #[test]
    fn client_request_ids_are_echoed_only_when_safe() {
        assert_eq!(
            RequestId::from_client("abc-123").unwrap().as_str(),
            "abc-123"
        );
        assert!(RequestId::from_client("").is_none());
        assert!(RequestId::from_client("has space").is_none());
        assert!(RequestId::from_client(&"x".repeat(200)).is_none());
    }
}
