//! One `Handler` per Storage message; each moves a clone of the store into a
//! future so transfers run concurrently.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Handler, ResponseFuture};
use bytes::Bytes;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::signer::{Method, SignedUrlOptions, Signer};
use object_store::{
    Attribute, AttributeValue, Attributes, GetOptions, ObjectStore, ObjectStoreExt,
};
use tokio::io::AsyncWriteExt;
use tracing::{Instrument, info_span};

use super::messages::*;
use super::windows::window_expiry;
use super::{Backend, Storage, StorageError, full_path};
use crate::domain::delivery::ByteRange;
use crate::telemetry::metrics;

/// Times `call` as the storage `operation`. Only a failure of the store itself
/// counts as an error: not a missing object, a bad key or link, or a client's
/// broken upload body.
async fn measured<T>(
    operation: &'static str,
    call: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, StorageError> {
    let started = Instant::now();
    let result = call.await;
    let failed = matches!(
        result,
        Err(StorageError::Unavailable(_) | StorageError::Write(_) | StorageError::Config(_))
    );
    metrics::storage_operation(operation, started.elapsed(), !failed);
    result
}

/// Bodies up to this size go up in one PUT; larger ones as multipart uploads of
/// parts this size.
const MULTIPART_PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one body in flight at once. With the part being filled, a put
/// holds at most (this + 1) parts, whatever the body's size: object_store's
/// default of 8 let a 2 GiB upload grow the api by 85 MiB (BENCHMARKS.md,
/// "Large uploads").
const MULTIPART_PARTS_IN_FLIGHT: usize = 2;

impl Handler<PutObject> for Storage {
    type Result = ResponseFuture<Result<StoredObject, StorageError>>;

    fn handle(&mut self, msg: PutObject, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("storage.put", request_id = %msg.request_id, key = msg.key.as_str());
        let mut writer =
            BufWriter::with_capacity(self.store.clone(), self.path(&msg.key), MULTIPART_PART_SIZE)
                .with_max_concurrency(MULTIPART_PARTS_IN_FLIGHT);
        // S3 keeps the content type, for whoever reads the bucket directly (a
        // presigned GET sends its link's own); the local backend keeps no
        // attributes (its route takes the type from the signed link).
        if let Backend::S3(_) = self.backend {
            writer = writer.with_attributes(Attributes::from_iter([(
                Attribute::ContentType,
                AttributeValue::from(msg.content_type),
            )]));
        }
        let mut body = msg.body;
        Box::pin(
            measured("put", async move {
                let mut size = 0u64;
                let copied: Result<(), StorageError> = async {
                    while let Some(chunk) = body.next().await {
                        let chunk = chunk.map_err(StorageError::Body)?;
                        size += chunk.len() as u64;
                        writer.put(chunk).await?;
                    }
                    Ok(())
                }
                .await;
                if let Err(err) = copied {
                    // Drops the parts already sent, so nothing half-written remains.
                    if let Err(abort) = writer.abort().await {
                        tracing::warn!(error = %abort, "aborting a failed upload failed");
                    }
                    return Err(err);
                }
                writer.shutdown().await.map_err(StorageError::Write)?;
                Ok(StoredObject { size })
            })
            .instrument(span),
        )
    }
}

impl Handler<GetObject> for Storage {
    type Result = ResponseFuture<Result<ObjectBody, StorageError>>;

    fn handle(&mut self, msg: GetObject, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("storage.get", request_id = %msg.request_id, key = msg.key.as_str());
        let fetch = open(self.store.clone(), self.path(&msg.key));
        Box::pin(measured("get", fetch).instrument(span))
    }
}

impl Handler<ReadObject> for Storage {
    type Result = ResponseFuture<Result<Bytes, StorageError>>;

    fn handle(&mut self, msg: ReadObject, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("storage.read", request_id = %msg.request_id, key = msg.key.as_str());
        let (store, path) = (self.store.clone(), self.path(&msg.key));
        let read = async move { Ok(store.get(&path).await?.bytes().await?) };
        Box::pin(measured("read", read).instrument(span))
    }
}

async fn open(
    store: Arc<dyn ObjectStore>,
    path: object_store::path::Path,
) -> Result<ObjectBody, StorageError> {
    let result = store.get(&path).await?;
    Ok(ObjectBody {
        size: result.meta.size,
        body: result.into_stream().map_err(std::io::Error::other).boxed(),
    })
}

impl Handler<DeleteObject> for Storage {
    type Result = ResponseFuture<Result<(), StorageError>>;

    fn handle(&mut self, msg: DeleteObject, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("storage.delete", request_id = %msg.request_id, key = msg.key.as_str());
        let store = self.store.clone();
        let path = self.path(&msg.key);
        Box::pin(
            measured("delete", async move {
                match store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(err) => Err(StorageError::Unavailable(err)),
                }
            })
            .instrument(span),
        )
    }
}

impl Handler<ListObjects> for Storage {
    type Result = ResponseFuture<Result<Vec<ListedObject>, StorageError>>;

    fn handle(&mut self, msg: ListObjects, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("storage.list", request_id = %msg.request_id, prefix = msg.prefix.as_str());
        let listing = self.list_under(Some(self.path(&msg.prefix)));
        Box::pin(measured("list", listing).instrument(span))
    }
}

impl Handler<ListAllObjects> for Storage {
    type Result = ResponseFuture<Result<Vec<ListedObject>, StorageError>>;

    fn handle(&mut self, msg: ListAllObjects, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("storage.list_all", request_id = %msg.request_id);
        let root = match self.key_prefix.as_str() {
            "" => None,
            prefix => Some(object_store::path::Path::from(prefix)),
        };
        let listing = self.list_under(root);
        Box::pin(measured("list", listing).instrument(span))
    }
}

impl Storage {
    /// Every object under `prefix` (the whole store for `None`), keyed as
    /// Kiln names them (without the configured prefix), sorted by key.
    fn list_under(
        &self,
        prefix: Option<object_store::path::Path>,
    ) -> impl Future<Output = Result<Vec<ListedObject>, StorageError>> + 'static {
        let store = self.store.clone();
        let strip = match self.key_prefix.as_str() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        async move {
            let listed: Vec<_> = store.list(prefix.as_ref()).try_collect().await?;
            let mut objects: Vec<ListedObject> = listed
                .into_iter()
                .map(|meta| ListedObject {
                    key: meta
                        .location
                        .as_ref()
                        .strip_prefix(&strip)
                        .unwrap_or(meta.location.as_ref())
                        .to_string(),
                    size: meta.size,
                    last_modified: meta.last_modified,
                })
                .collect();
            objects.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(objects)
        }
    }
}

impl Handler<PresignGet> for Storage {
    type Result = ResponseFuture<Result<PresignedUrl, StorageError>>;

    fn handle(&mut self, msg: PresignGet, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("storage.presign", request_id = %msg.request_id, key = msg.key.as_str());
        let now = Utc::now();
        let expires_at = window_expiry(now, msg.ttl);
        let path = self.path(&msg.key);
        let backend = self.backend.clone();
        let minted = self.minted.clone();
        Box::pin(
            measured("presign", async move {
                let delivery = msg.delivery;
                let url = match backend {
                    Backend::Local { signer, .. } => signer.sign(&msg.key, expires_at, &delivery),
                    Backend::S3(s3) => {
                        if let Some(link) = minted.find(path.as_ref(), &delivery, expires_at) {
                            return Ok(link);
                        }
                        // Counted from the current whole second, which is S3's
                        // signing time or earlier: the link lasts to `expires_at`.
                        let lifetime = (expires_at.timestamp() - now.timestamp()).max(1);
                        // S3 answers a signed link with these in place of the
                        // object's own headers; changing them breaks the signature.
                        let mut overrides = vec![
                            ("response-content-type", delivery.content_type().to_string()),
                            (
                                "response-content-disposition",
                                delivery.content_disposition(),
                            ),
                        ];
                        if delivery.version().is_some() {
                            let keep = format!("public, max-age={lifetime}, immutable");
                            overrides.push(("response-cache-control", keep));
                        }
                        let overrides = SignedUrlOptions::default().with_query(overrides);
                        let lifetime = Duration::from_secs(lifetime.unsigned_abs());
                        let url = s3
                            .signed_url_opts(Method::GET, &path, lifetime, &overrides)
                            .await?;
                        let link = PresignedUrl { url, expires_at };
                        minted.keep(path.to_string(), delivery, link.clone(), now);
                        return Ok(link);
                    }
                };
                Ok(PresignedUrl { url, expires_at })
            })
            .instrument(span),
        )
    }
}

impl Handler<OpenSignedObject> for Storage {
    type Result = ResponseFuture<Result<OpenedObject, StorageError>>;

    fn handle(&mut self, msg: OpenSignedObject, _: &mut Self::Context) -> Self::Result {
        let span =
            info_span!("storage.open_signed", request_id = %msg.request_id, key = msg.key.as_str());
        let verified = match &self.backend {
            Backend::Local { signer, .. } => signer.verify(
                &msg.key,
                msg.expires,
                &msg.delivery,
                &msg.signature,
                Utc::now(),
            ),
            Backend::S3(_) => Err(StorageError::NotFound),
        };
        let opened = open_part(self.store.clone(), self.path(&msg.key), msg.read);
        Box::pin(
            measured("get", async move {
                verified?;
                opened.await
            })
            .instrument(span),
        )
    }
}

impl Handler<OpenObject> for Storage {
    type Result = ResponseFuture<Result<OpenedObject, StorageError>>;

    fn handle(&mut self, msg: OpenObject, _: &mut Self::Context) -> Self::Result {
        let span = info_span!("storage.open", request_id = %msg.request_id, key = msg.key.as_str());
        let opened = open_part(self.store.clone(), self.path(&msg.key), msg.read);
        Box::pin(measured("get", opened).instrument(span))
    }
}

/// Reads what `read` asks of the object at `path`: its size, and its bytes or
/// the one part a `Range` names.
async fn open_part(
    store: Arc<dyn ObjectStore>,
    path: Path,
    read: Read,
) -> Result<OpenedObject, StorageError> {
    let size = store.head(&path).await?.size;
    let range = match read {
        Read::Size => {
            return Ok(OpenedObject {
                size,
                part: ByteRange::Whole,
                body: None,
            });
        }
        Read::Bytes { range } => range,
    };
    let part = ByteRange::of(range.as_deref(), size);
    let range = match part {
        ByteRange::Whole => None,
        ByteRange::Part { start, end } => Some((start..end + 1).into()),
        ByteRange::Unsatisfiable => {
            return Ok(OpenedObject {
                size,
                part,
                body: None,
            });
        }
    };
    let options = GetOptions {
        range,
        ..GetOptions::default()
    };
    let result = store.get_opts(&path, options).await?;
    let body = result.into_stream().map_err(std::io::Error::other).boxed();
    Ok(OpenedObject {
        size,
        part,
        body: Some(body),
    })
}

impl Handler<CheckStorage> for Storage {
    type Result = ResponseFuture<Result<(), StorageError>>;

    fn handle(&mut self, _: CheckStorage, _: &mut Self::Context) -> Self::Result {
        let store = self.store.clone();
        let prefix = full_path(&self.key_prefix, "readyz-probe");
        Box::pin(measured("check", async move {
            // Listing an absent prefix is cheap and fails only when the bucket or
            // directory itself is unreachable.
            store.list_with_delimiter(Some(&prefix)).await?;
            Ok(())
        }))
    }
}
