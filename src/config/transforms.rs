//! Transforms made on request (`/t/...`): the key that signs their URLs
//! (`TRANSFORM_KEY`), how many run at once and how many may wait
//! (`TRANSFORM_CONCURRENCY`, `TRANSFORM_QUEUE`), how long one may take
//! (`TRANSFORM_TIMEOUT`), the largest side one may have
//! (`TRANSFORM_MAX_DIMENSION`), and the cache's size budget
//! (`TRANSFORM_CACHE_SIZE`).

use std::time::Duration;

use secrecy::SecretString;

use super::env::{ConfigError, Env};
use crate::processing::DEFAULT_TRANSFORM_MAX_DIMENSION;

#[derive(Debug, Clone)]
pub struct TransformConfig {
    /// `TRANSFORM_KEY`: the HMAC key of transform URLs. Unset, Kiln derives
    /// one from `JWT_SECRET`, and only Kiln (`POST /api/files/{id}/transform-url`)
    /// can mint them.
    pub key: Option<SecretString>,
    /// `TRANSFORM_CONCURRENCY`: transforms made at once, each in a processor
    /// child of this process (default: the number of CPUs).
    pub concurrency: usize,
    /// `TRANSFORM_QUEUE`: requests that may wait for one of those; beyond, 503.
    pub queue: usize,
    /// `TRANSFORM_TIMEOUT`: the wall-clock time one transform may take.
    pub timeout: Duration,
    /// `TRANSFORM_MAX_DIMENSION`: the longest side a transform may have.
    pub max_dimension: u32,
    /// `TRANSFORM_CACHE_SIZE`: bytes of cached transforms kept, all files
    /// together; beyond, the least recently used go.
    pub cache_size: u64,
}

/// The shortest `TRANSFORM_KEY`: an HMAC-SHA256 key as long as its output.
const MIN_TRANSFORM_KEY_LEN: usize = 32;

/// The longest `TRANSFORM_MAX_DIMENSION`: WebP's own limit.
const MAX_TRANSFORM_DIMENSION: u32 = 16_383;

/// Reads the transform variables.
pub(super) fn read(env: &Env<'_>) -> Result<TransformConfig, ConfigError> {
    let key = match env.string("TRANSFORM_KEY") {
        Some(key) if key.len() < MIN_TRANSFORM_KEY_LEN => {
            return Err(ConfigError::new(
                "TRANSFORM_KEY",
                format!("must be at least {MIN_TRANSFORM_KEY_LEN} bytes long"),
            ));
        }
        key => key.map(SecretString::from),
    };
    let max_dimension = env
        .positive("TRANSFORM_MAX_DIMENSION")?
        .unwrap_or(DEFAULT_TRANSFORM_MAX_DIMENSION);
    if max_dimension > MAX_TRANSFORM_DIMENSION {
        return Err(ConfigError::new(
            "TRANSFORM_MAX_DIMENSION",
            format!("must be at most {MAX_TRANSFORM_DIMENSION}"),
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(TransformConfig {
        key,
        concurrency: env
            .positive("TRANSFORM_CONCURRENCY")?
            .map_or(cpus, |n| n as usize),
        queue: env.parse::<usize>("TRANSFORM_QUEUE")?.unwrap_or(64),
        timeout: env
            .duration("TRANSFORM_TIMEOUT")?
            .unwrap_or(Duration::from_secs(30)),
        max_dimension,
        cache_size: env
            .byte_size("TRANSFORM_CACHE_SIZE")?
            .unwrap_or(1024 * 1024 * 1024),
    })
}
