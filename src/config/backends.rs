//! The services Kiln keeps its state in: the database (`DATABASE_URL`), Redis
//! (`REDIS_URL`, `REDIS_NAMESPACE`) and object storage (`MINIO_*`,
//! `STORAGE_PREFIX`). Each unset service selects its embedded default under
//! `DATA_DIR`: SQLite, the in-process transport, a local object directory.
//!
//! The connection pools are sized here too (`DATABASE_POOL_SIZE`,
//! `REDIS_POOL_SIZE`): by default for `WORKER_CONCURRENCY`, since every job
//! slot holds a connection of each while it claims, records and publishes.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use url::Url;

use super::env::{ConfigError, Env, parse_http_url};

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub backend: DatabaseBackend,
    /// Most connections this process opens (`DATABASE_POOL_SIZE`).
    pub pool_size: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: SecretString,
    /// Prefix of every Redis key and stream Kiln uses, so several deployments (or
    /// test runs) can share one Redis.
    pub namespace: String,
    /// Most pooled command connections this process opens (`REDIS_POOL_SIZE`);
    /// the stream reader's blocking connection is apart from them.
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    /// Prefix inside the bucket or directory under which every key lives.
    pub key_prefix: String,
}

#[derive(Debug, Clone)]
pub enum StorageBackend {
    Local {
        root: PathBuf,
    },
    S3 {
        endpoint: Url,
        access_key: String,
        secret_key: SecretString,
        bucket: String,
        region: String,
    },
}

/// The three services, as [`read`] finds them.
pub(super) struct Backends {
    pub database: DatabaseConfig,
    pub redis: Option<RedisConfig>,
    pub storage: StorageConfig,
}

/// SQLite has one writer whatever the pool, and WAL readers need few
/// connections: its default pool stays small.
const SQLITE_POOL_SIZE: u32 = 4;

/// The default size of a pool of server connections (PostgreSQL, Redis): one
/// for each job slot's claim and one for its record or publish, plus eight for
/// HTTP requests and the background actors, and never fewer than 16.
pub fn default_server_pool_size(worker_concurrency: usize) -> u32 {
    let per_slots = 8 + 2 * u32::try_from(worker_concurrency).unwrap_or(u32::MAX / 4);
    per_slots.max(16)
}

/// Reads the services' variables; the embedded defaults live under `data_dir`,
/// and the pools are sized for `worker_concurrency` unless set.
pub(super) fn read(
    env: &Env<'_>,
    data_dir: &Path,
    worker_concurrency: usize,
) -> Result<Backends, ConfigError> {
    let (url, backend) = match env.string("DATABASE_URL") {
        Some(url) => database_from_url(url)?,
        None => (
            format!("sqlite://{}?mode=rwc", data_dir.join("kiln.db").display()),
            DatabaseBackend::Sqlite,
        ),
    };
    let database = DatabaseConfig {
        url: url.into(),
        backend,
        pool_size: match env.positive("DATABASE_POOL_SIZE")? {
            Some(size) => size,
            None if backend == DatabaseBackend::Sqlite => SQLITE_POOL_SIZE,
            None => default_server_pool_size(worker_concurrency),
        },
    };
    let redis = env
        .string("REDIS_URL")
        .map(|url| redis(env, url, worker_concurrency))
        .transpose()?;
    let storage = StorageConfig {
        backend: storage_backend(env, data_dir)?,
        key_prefix: env
            .string("STORAGE_PREFIX")
            .map(|p| p.trim_matches('/').to_string())
            .unwrap_or_default(),
    };
    Ok(Backends {
        database,
        redis,
        storage,
    })
}

fn database_from_url(url: String) -> Result<(String, DatabaseBackend), ConfigError> {
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        DatabaseBackend::Postgres
    } else if url.starts_with("sqlite:") {
        DatabaseBackend::Sqlite
    } else {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with postgres://, postgresql:// or sqlite:",
        ));
    };
    Ok((url, backend))
}

fn redis(
    env: &Env<'_>,
    url: String,
    worker_concurrency: usize,
) -> Result<RedisConfig, ConfigError> {
    let parsed =
        Url::parse(&url).map_err(|e| ConfigError::new("REDIS_URL", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "redis" | "rediss") {
        return Err(ConfigError::new(
            "REDIS_URL",
            "must start with redis:// or rediss://",
        ));
    }
    Ok(RedisConfig {
        url: url.into(),
        namespace: env
            .string("REDIS_NAMESPACE")
            .unwrap_or_else(|| "kiln".into()),
        pool_size: env
            .positive("REDIS_POOL_SIZE")?
            .unwrap_or_else(|| default_server_pool_size(worker_concurrency)),
    })
}

fn storage_backend(env: &Env<'_>, data_dir: &Path) -> Result<StorageBackend, ConfigError> {
    let Some(endpoint) = env.string("MINIO_ENDPOINT") else {
        return Ok(StorageBackend::Local {
            root: data_dir.join("objects"),
        });
    };
    // Operators often write MinIO's endpoint as host:port, without a scheme.
    let endpoint = if endpoint.contains("://") {
        endpoint
    } else {
        format!("http://{endpoint}")
    };
    let required = |name: &'static str| {
        env.string(name)
            .ok_or_else(|| ConfigError::new(name, "is required when MINIO_ENDPOINT is set"))
    };
    Ok(StorageBackend::S3 {
        endpoint: parse_http_url("MINIO_ENDPOINT", &endpoint)?,
        access_key: required("MINIO_ACCESS_KEY")?,
        secret_key: required("MINIO_SECRET_KEY")?.into(),
        bucket: env.string("MINIO_BUCKET").unwrap_or_else(|| "kiln".into()),
        region: env
            .string("MINIO_REGION")
            .unwrap_or_else(|| "us-east-1".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use super::*;

    #[test]
    fn minio_endpoint_requires_keys_and_accepts_host_port() {
        let err = config(&[("MINIO_ENDPOINT", "127.0.0.1:9000")]).unwrap_err();
        assert_eq!(err.variable, "MINIO_ACCESS_KEY");
        let config = config(&[
            ("MINIO_ENDPOINT", "127.0.0.1:9000"),
            ("MINIO_ACCESS_KEY", "a"),
            ("MINIO_SECRET_KEY", "b"),
        ])
        .unwrap();
        let StorageBackend::S3 {
            endpoint, bucket, ..
        } = config.storage.backend
        else {
            panic!("expected S3 storage");
        };
        assert_eq!(endpoint.as_str(), "http://127.0.0.1:9000/");
        assert_eq!(bucket, "kiln");
    }

    #[test]
    fn pools_are_sized_for_the_worker_concurrency_unless_set() {
        let services = [
            ("DATABASE_URL", "postgres://db/kiln"),
            ("REDIS_URL", "redis://cache"),
            ("JWT_SECRET", "a-secret-every-process-shares-0123"),
        ];
        let pools = |extra: &[(&str, &str)]| {
            let vars: Vec<_> = services.iter().chain(extra).copied().collect();
            let config = config(&vars).unwrap();
            (config.database.pool_size, config.redis.unwrap().pool_size)
        };
        assert_eq!(pools(&[]), (16, 16), "WORKER_CONCURRENCY 4");
        assert_eq!(pools(&[("WORKER_CONCURRENCY", "12")]), (32, 32));
        assert_eq!(
            pools(&[
                ("WORKER_CONCURRENCY", "12"),
                ("DATABASE_POOL_SIZE", "50"),
                ("REDIS_POOL_SIZE", "20"),
            ]),
            (50, 20)
        );
        assert_eq!(config(&[]).unwrap().database.pool_size, SQLITE_POOL_SIZE);
        for name in ["DATABASE_POOL_SIZE", "REDIS_POOL_SIZE"] {
            let vars: Vec<_> = services.iter().copied().chain([(name, "0")]).collect();
            assert_eq!(config(&vars).unwrap_err().variable, name);
        }
    }
}
