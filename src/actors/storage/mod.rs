//! The Storage actor owns the object store: a local directory on the embedded
//! default, or an S3-compatible bucket (MinIO, AWS) when `MINIO_ENDPOINT` is set.
//!
//! - Accepts: streaming put, get (streamed, or read whole for a processor),
//!   delete, list-by-prefix, list-all (for
//!   `kiln storage verify`), presigned GET (whose response carries the
//!   [`Delivery`](crate::domain::delivery::Delivery) headers the link is signed
//!   with), health check, opening a locally signed URL, and opening an object
//!   whose reader the caller has already let in (a share link's) (see `messages`).
//! - Replies: sizes, byte streams and URLs, or a [`StorageError`].
//! - Supervised by the [`Supervisor`](crate::actors::supervisor); it holds no
//!   state beyond the store handle, so a restart loses nothing.
//!
//! Every key passes [`ObjectKey`] and lives under the configured prefix. Handlers
//! clone the store into a future, so transfers never block the mailbox.

mod handlers;
pub mod messages;
pub mod signing;
pub mod uploads;
mod windows;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Context, Supervised};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use secrecy::ExposeSecret;
use url::Url;

use crate::actors::restart::RestartBackoff;
use crate::config::{StorageBackend, StorageConfig};
use signing::UrlSigner;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found")]
    NotFound,
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("the link has expired")]
    LinkExpired,
    #[error("the link signature is invalid")]
    LinkInvalid,
    #[error("object storage is unavailable")]
    Unavailable(#[source] object_store::Error),
    #[error("writing to object storage failed")]
    Write(#[source] std::io::Error),
    #[error("reading the upload failed")]
    Body(#[source] std::io::Error),
    #[error("object storage is misconfigured")]
    Config(#[source] object_store::Error),
}

impl From<object_store::Error> for StorageError {
    fn from(err: object_store::Error) -> Self {
        match err {
            object_store::Error::NotFound { .. } => Self::NotFound,
            other => Self::Unavailable(other),
        }
    }
}

/// A key inside the store: slash-separated segments of `[A-Za-z0-9._-]`, none of
/// them empty, `.` or `..`. Kiln builds keys from UUIDs and sniffed extensions, so
/// anything else is a bug or an attack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

impl ObjectKey {
    pub fn parse(raw: &str) -> Result<Self, StorageError> {
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        };
        if raw.len() <= 1024 && raw.split('/').all(valid_segment) {
            Ok(Self(raw.to_string()))
        } else {
            Err(StorageError::InvalidKey(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The store as two views: generic operations, and the backend-specific way to
/// hand out a short-lived download link.
#[derive(Clone)]
enum Backend {
    /// `root` is the directory the store's keys live under.
    Local {
        signer: UrlSigner,
        root: PathBuf,
    },
    S3(Arc<AmazonS3>),
}

pub struct Storage {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
    key_prefix: String,
    /// The S3 links handed out in the current windows (see [`windows`]).
    minted: windows::MintedLinks,
    restarts: RestartBackoff,
}

/// Requests to S3 give up quickly: a caller would rather get a clear 503 than
/// wait through many retries of an unreachable endpoint.
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Storage {
    /// Opens the configured backend. `base_url` and `url_key` sign download links
    /// for the local backend, which Kiln serves itself.
    pub fn open(
        config: &StorageConfig,
        base_url: Url,
        url_key: [u8; 32],
    ) -> Result<Self, StorageError> {
        let (store, backend): (Arc<dyn ObjectStore>, Backend) = match &config.backend {
            StorageBackend::Local { root } => {
                std::fs::create_dir_all(root).map_err(StorageError::Body)?;
                let local = LocalFileSystem::new_with_prefix(root)
                    .map_err(StorageError::Config)?
                    .with_automatic_cleanup(true);
                (
                    Arc::new(local),
                    Backend::Local {
                        signer: UrlSigner::new(base_url, url_key),
                        root: root.clone(),
                    },
                )
            }
            StorageBackend::S3 {
                endpoint,
                access_key,
                secret_key,
                bucket,
                region,
            } => {
                crate::tls::install_crypto_provider();
                let s3 = AmazonS3Builder::new()
                    .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                    .with_virtual_hosted_style_request(false)
                    .with_access_key_id(access_key)
                    .with_secret_access_key(secret_key.expose_secret())
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_client_options(
                        object_store::ClientOptions::new()
                            .with_timeout(S3_REQUEST_TIMEOUT)
                            .with_connect_timeout(S3_CONNECT_TIMEOUT),
                    )
                    // After the client options, which would otherwise reset it.
                    .with_allow_http(endpoint.scheme() == "http")
                    .with_retry(object_store::RetryConfig {
                        max_retries: 2,
                        retry_timeout: Duration::from_secs(10),
                        ..Default::default()
                    })
                    .build()
                    .map_err(StorageError::Config)?;
                let s3 = Arc::new(s3);
                (s3.clone(), Backend::S3(s3))
            }
        };
        Ok(Self {
            store,
            backend,
            key_prefix: config.key_prefix.clone(),
            minted: windows::MintedLinks::default(),
            restarts: RestartBackoff::default(),
        })
    }

    /// The full path of `key` inside the store.
    fn path(&self, key: &ObjectKey) -> Path {
        full_path(&self.key_prefix, key.as_str())
    }
}

fn full_path(prefix: &str, key: &str) -> Path {
    if prefix.is_empty() {
        Path::from(key)
    } else {
        Path::from(format!("{prefix}/{key}"))
    }
}

impl Actor for Storage {
    type Context = Context<Self>;
}

impl Supervised for Storage {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("storage", ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::ObjectKey;

    #[test]
    fn keys_made_by_kiln_are_accepted() {
        assert!(ObjectKey::parse("0190a-b/0190c-d/original.jpg").is_ok());
    }

    #[test]
    fn traversal_and_odd_keys_are_refused() {
        for bad in [
            "", "/abs", "a//b", "a/../b", "./a", "a/b/", "a b", "a/%2e%2e", "ä",
        ] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
