//! The services Kiln keeps its state in: the database (`DATABASE_URL`), Redis
//! (`REDIS_URL`, `REDIS_NAMESPACE`) and object storage (`MINIO_*`,
//! `STORAGE_PREFIX`). Each unset service selects its embedded default under
//! `DATA_DIR`: SQLite, the in-process transport, a local object directory.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use url::Url;

use super::env::{ConfigError, Env, parse_http_url};

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: SecretString,
    pub backend: DatabaseBackend,
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

/// Reads the services' variables; the embedded defaults live under `data_dir`.
pub(super) fn read(env: &Env<'_>, data_dir: &Path) -> Result<Backends, ConfigError> {
    let database = match env.string("DATABASE_URL") {
        Some(url) => database_from_url(url)?,
        None => DatabaseConfig {
            url: format!("sqlite://{}?mode=rwc", data_dir.join("kiln.db").display()).into(),
            backend: DatabaseBackend::Sqlite,
        },
    };
    let redis = env
        .string("REDIS_URL")
        .map(|url| redis(env, url))
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

fn database_from_url(url: String) -> Result<DatabaseConfig, ConfigError> {
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
    Ok(DatabaseConfig {
        url: url.into(),
        backend,
    })
}

fn redis(env: &Env<'_>, url: String) -> Result<RedisConfig, ConfigError> {
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
}
