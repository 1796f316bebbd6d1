//! The Transformer makes transforms on request (`/t/{file_id}`, API.md
//! "Delivery") and keeps them in the transform cache (DESIGN.md §4).
//!
//! It owns the process's transform slots: a [`ProcessorPool`] of its own, of
//! `TRANSFORM_CONCURRENCY` `kiln processor` children, so hostile originals are
//! decoded in the same sandbox as jobs and a transform never waits behind a
//! job (or a job behind a transform). Every process that serves HTTP has one,
//! `kiln api` included.
//!
//! A request goes:
//!
//! ```text
//!  Transform ─▶ Catalog: the file (its owner's, or any with a signed URL)
//!            ─▶ the spec settled against it (TransformQuery::spec), its hash
//!            ─▶ Catalog: a cached transform of that hash?  yes ─▶ hit
//!            ─▶ no: one being made here already?  yes ─▶ wait for it (joined)
//!            ─▶ no: room in the slots and the queue?  no ─▶ Busy (503)
//!            ─▶ make: Storage (original) ─▶ pool (transform processor)
//!                     ─▶ Storage (`{user}/{file}/t/{hash}-{making}.{ext}`) ─▶ Catalog row
//!                     ─▶ evict least-recently-used beyond TRANSFORM_CACHE_SIZE
//! ```
//!
//! Identical concurrent requests on one process decode once (the `flights`
//! map); two processes may each make the same transform once, and the second
//! row to land yields to the first. Accepts [`Transform`] and
//! [`CheckTransformable`]; supervised, and
//! restarted with backoff (its pool with it).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, ResponseActFuture,
    ResponseFuture, Supervised, WrapFuture,
};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::actors::catalog::File;
use crate::actors::catalog::transforms::{
    CachedTransform, EvictTransforms, FindTransform, FindTransformSource, RecordTransform,
};
use crate::actors::catalog::{Catalog, CatalogError};
use crate::actors::processors::{ProcessFailure, ProcessorPool, RunProcessor};
use crate::actors::restart::RestartBackoff;
use crate::actors::storage::messages::{DeleteObject, PutObject, ReadObject};
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::domain::delivery::Delivery;
use crate::domain::transforms::TransformQuery;
use crate::processing::{self, MediaKind, TransformSpec};
use crate::telemetry::RequestId;
use crate::telemetry::metrics::{self, TransformCache};

/// Who asks for a transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransformAccess {
    /// A signed-in user, who may transform only their own files.
    Owner(Uuid),
    /// Anyone holding a URL whose signature was checked.
    Signed,
}

/// Makes (or finds) one transform of a file.
#[derive(Message)]
#[rtype(result = "Result<Transformed, TransformError>")]
pub struct Transform {
    pub request_id: RequestId,
    pub file_id: Uuid,
    pub access: TransformAccess,
    pub query: TransformQuery,
    /// The client's `Accept` header, for `fmt=auto`.
    pub accept: String,
}

/// Where a transform's bytes are and how they are delivered.
#[derive(Debug)]
pub struct Transformed {
    pub key: ObjectKey,
    pub delivery: Delivery,
    /// Hit, or made for this request (`Miss`), or made for another one it waited for.
    pub cache: TransformCache,
}

/// Why a transform was not served. Cloned to every request that waited for it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransformError {
    #[error("file not found")]
    FileNotFound,
    #[error("only images can be transformed, and this file is {0}")]
    NotAnImage(&'static str),
    /// The processor refused the original or the spec; the code is the
    /// processor's ([`ProcessError::code`]).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("too many transforms are being made; try again shortly")]
    Busy,
    /// Storage, the database or the children failed; the reason is for the log.
    #[error("the transform could not be made now")]
    Unavailable(String),
}

impl From<CatalogError> for TransformError {
    fn from(err: CatalogError) -> Self {
        Self::Unavailable(crate::error_chain(&err))
    }
}

impl From<StorageError> for TransformError {
    fn from(err: StorageError) -> Self {
        Self::Unavailable(crate::error_chain(&err))
    }
}

impl From<actix::MailboxError> for TransformError {
    fn from(err: actix::MailboxError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// How the Transformer works: its settings and the actors it asks.
#[derive(Clone)]
pub struct TransformSettings {
    pub catalog: Addr<Catalog>,
    pub storage: Addr<Storage>,
    /// The process's transform slots.
    pub pool: Addr<ProcessorPool>,
    /// `TRANSFORM_CONCURRENCY` + `TRANSFORM_QUEUE`: transforms made or waiting
    /// at once; beyond, [`TransformError::Busy`].
    pub capacity: usize,
    pub max_dimension: u32,
    /// `TRANSFORM_CACHE_SIZE`.
    pub cache_size: u64,
    /// `TRANSFORM_TIMEOUT`.
    pub timeout: Duration,
}

/// A transform to make: the file, the spec and where its result goes.
#[derive(Clone)]
struct Making {
    request_id: RequestId,
    file: File,
    spec: TransformSpec,
    hash: String,
}

type FlightKey = (Uuid, String);
type Waiter = oneshot::Sender<Result<CachedTransform, TransformError>>;

/// A transform's making ended: its waiters get the result.
#[derive(Message)]
#[rtype(result = "()")]
struct Landed {
    key: FlightKey,
    result: Result<CachedTransform, TransformError>,
}

pub struct Transformer {
    settings: TransformSettings,
    /// The transforms being made here, with the requests waiting for each.
    flights: HashMap<FlightKey, Vec<Waiter>>,
    restarts: RestartBackoff,
}

impl Transformer {
    pub fn new(settings: TransformSettings) -> Self {
        Self {
            settings,
            flights: HashMap::new(),
            restarts: RestartBackoff::default(),
        }
    }

    /// Waits for the transform being made, or starts making it.
    fn join_or_make(
        &mut self,
        making: Making,
        ctx: &mut Context<Self>,
    ) -> BoxFuture<'static, Result<(CachedTransform, TransformCache), TransformError>> {
        let key = (making.file.id, making.hash.clone());
        let (sender, receiver) = oneshot::channel();
        let full = self.flights.len() >= self.settings.capacity;
        let outcome = match self.flights.entry(key.clone()) {
            Entry::Occupied(mut flight) => {
                flight.get_mut().push(sender);
                TransformCache::Joined
            }
            Entry::Vacant(_) if full => {
                return futures::future::ready(Err(TransformError::Busy)).boxed();
            }
            Entry::Vacant(flight) => {
                flight.insert(vec![sender]);
                let settings = self.settings.clone();
                let transformer = ctx.address();
                actix::spawn(async move {
                    let result = make(&settings, making).await;
                    transformer.do_send(Landed { key, result });
                });
                TransformCache::Miss
            }
        };
        async move {
            let made = receiver.await.unwrap_or_else(|_| {
                Err(TransformError::Unavailable(
                    "the transformer stopped".into(),
                ))
            })?;
            Ok((made, outcome))
        }
        .boxed()
    }
}

impl Actor for Transformer {
    type Context = Context<Self>;
}

impl Supervised for Transformer {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        // Waiters see their senders dropped: Unavailable.
        self.flights.clear();
        self.restarts.pause_before_restart("transformer", ctx);
    }
}

impl Handler<Transform> for Transformer {
    type Result = ResponseActFuture<Self, Result<Transformed, TransformError>>;

    fn handle(&mut self, msg: Transform, _: &mut Self::Context) -> Self::Result {
        let settings = self.settings.clone();
        let look_up = async move { look_up(&settings, msg).await };
        Box::pin(look_up.into_actor(self).then(|found, transformer, ctx| {
            let answer = match found {
                Err(err) => futures::future::ready(Err(err)).boxed(),
                Ok(Found::Cached(cached, file)) => {
                    futures::future::ready(Ok((cached, TransformCache::Hit, file))).boxed()
                }
                Ok(Found::Missing(making)) => {
                    let file = making.file.clone();
                    transformer
                        .join_or_make(making, ctx)
                        .map(|made| made.map(|(cached, outcome)| (cached, outcome, file)))
                        .boxed()
                }
            };
            answer.into_actor(transformer).map(|answer, _, _| {
                let (cached, cache, file) = answer.inspect_err(|err| {
                    if matches!(err, TransformError::Busy) {
                        metrics::transform_requested(TransformCache::Busy);
                    }
                })?;
                metrics::transform_requested(cache);
                delivered(&file, cached, cache)
            })
        }))
    }
}

/// Checks that one of the user's files can be transformed, before a URL to
/// transform it is minted.
#[derive(Message)]
#[rtype(result = "Result<(), TransformError>")]
pub struct CheckTransformable {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

impl Handler<CheckTransformable> for Transformer {
    type Result = ResponseFuture<Result<(), TransformError>>;

    fn handle(&mut self, msg: CheckTransformable, _: &mut Self::Context) -> Self::Result {
        let settings = self.settings.clone();
        Box::pin(async move {
            find_image(&settings, &msg.request_id, msg.file_id, Some(msg.user_id)).await?;
            Ok(())
        })
    }
}

impl Handler<Landed> for Transformer {
    type Result = ();

    fn handle(&mut self, msg: Landed, _: &mut Self::Context) {
        for waiter in self.flights.remove(&msg.key).unwrap_or_default() {
            // A waiter that gave up is no loss.
            let _ = waiter.send(msg.result.clone());
        }
    }
}

/// What the lookup found: the cached transform, or what to make.
enum Found {
    Cached(CachedTransform, File),
    Missing(Making),
}

/// Finds the file, settles the spec and looks in the cache.
async fn look_up(settings: &TransformSettings, msg: Transform) -> Result<Found, TransformError> {
    let owner = match msg.access {
        TransformAccess::Owner(user_id) => Some(user_id),
        TransformAccess::Signed => None,
    };
    let (file, kind) = find_image(settings, &msg.request_id, msg.file_id, owner).await?;
    let spec = msg.query.spec(kind, &msg.accept, settings.max_dimension);
    let hash = spec_hash(&spec);
    let cached = settings
        .catalog
        .send(FindTransform {
            request_id: msg.request_id.clone(),
            file_id: file.id,
            spec_hash: hash.clone(),
        })
        .await??;
    Ok(match cached {
        Some(cached) => Found::Cached(cached, file),
        None => Found::Missing(Making {
            request_id: msg.request_id,
            file,
            spec,
            hash,
        }),
    })
}

/// The image a transform reads: the file, if it is one of `owner`'s (any
/// file for `None`) and an image.
async fn find_image(
    settings: &TransformSettings,
    request_id: &RequestId,
    file_id: Uuid,
    owner: Option<Uuid>,
) -> Result<(File, MediaKind), TransformError> {
    let file = settings
        .catalog
        .send(FindTransformSource {
            request_id: request_id.clone(),
            file_id,
            owner,
        })
        .await??
        .ok_or(TransformError::FileNotFound)?;
    match MediaKind::from_extension(&file.extension) {
        Some(kind) if kind.is_image() => Ok((file, kind)),
        Some(kind) => Err(TransformError::NotAnImage(kind.description())),
        None => Err(TransformError::NotAnImage("not an image")),
    }
}

/// The name of a spec's result in the cache: 128 bits of its key's SHA-256.
fn spec_hash(spec: &TransformSpec) -> String {
    hex::encode(&Sha256::digest(spec.cache_key().as_bytes())[..16])
}

/// Where a cached transform is and how it is delivered.
fn delivered(
    file: &File,
    cached: CachedTransform,
    cache: TransformCache,
) -> Result<Transformed, TransformError> {
    let size = format!("{}x{}", cached.width, cached.height);
    let delivery = Delivery::variant(
        &file.filename,
        &size,
        &cached.content_type,
        &cached.storage_key,
    )
    .of_version(Some(cached.sha256));
    Ok(Transformed {
        key: ObjectKey::parse(&cached.storage_key)?,
        delivery,
        cache,
    })
}

/// Makes a transform, stores and records it, and keeps the cache in budget.
async fn make(
    settings: &TransformSettings,
    making: Making,
) -> Result<CachedTransform, TransformError> {
    // One that landed between this request's lookup and its flight: no need
    // to make it again.
    let landed = settings
        .catalog
        .send(FindTransform {
            request_id: making.request_id.clone(),
            file_id: making.file.id,
            spec_hash: making.hash.clone(),
        })
        .await??;
    if let Some(cached) = landed {
        return Ok(cached);
    }
    let started = Instant::now();
    let result = make_and_store(settings, &making).await;
    let outcome = match &result {
        Ok(_) => "made",
        Err(TransformError::Refused { .. }) => "refused",
        Err(_) => "failed",
    };
    metrics::transform_made(outcome, started.elapsed());
    if let Err(TransformError::Unavailable(reason)) = &result {
        tracing::warn!(request_id = %making.request_id, file_id = %making.file.id, reason = %reason, "a transform could not be made");
    }
    if result.is_ok() {
        let settings = settings.clone();
        let request_id = making.request_id.clone();
        // After the answer: the request does not wait for another file's cleanup.
        actix::spawn(async move { evict(&settings, request_id).await });
    }
    result
}

async fn make_and_store(
    settings: &TransformSettings,
    making: &Making,
) -> Result<CachedTransform, TransformError> {
    let Making {
        request_id,
        file,
        spec,
        hash,
    } = making;
    let original = settings
        .storage
        .send(ReadObject {
            request_id: request_id.clone(),
            key: ObjectKey::parse(&file.storage_key)?,
        })
        .await??;
    let processed = settings
        .pool
        .send(RunProcessor {
            job_id: Uuid::new_v4(),
            processor: processing::TRANSFORM.to_owned(),
            variant: hash.clone(),
            options: spec.options(),
            input: original,
            watermark: None,
            time_limit: settings.timeout,
        })
        .await?
        .map_err(refused_or_unavailable)?;
    let output = processed
        .outputs
        .into_iter()
        .next()
        .ok_or_else(|| TransformError::Unavailable("the transform made nothing".into()))?;
    // Each making gets a key of its own: an eviction deleting the object of
    // an earlier making of this spec can never delete this one's. Half the
    // spec's hash names it well enough within its file, and keeps the key
    // short (some S3 servers keep a key's metadata in one file name).
    let making_id = Uuid::new_v4().simple().to_string();
    let key = ObjectKey::parse(&format!(
        "{}/{}/t/{}-{}.{}",
        file.user_id,
        file.id,
        &hash[..16],
        &making_id[..8],
        output.extension()
    ))?;
    let sha256 = hex::encode(Sha256::digest(&output.bytes));
    let (content_type, size_bytes) = (output.content_type(), output.bytes.len() as u64);
    let (width, height) = (output.width, output.height);
    settings
        .storage
        .send(PutObject::of_bytes(
            request_id.clone(),
            key.clone(),
            content_type,
            output.bytes,
        ))
        .await??;
    let recorded = settings
        .catalog
        .send(RecordTransform {
            request_id: request_id.clone(),
            file_id: file.id,
            spec_hash: hash.clone(),
            storage_key: key.as_str().to_owned(),
            content_type: content_type.to_owned(),
            size_bytes,
            width,
            height,
            sha256,
        })
        .await??;
    match recorded {
        Some(cached) => {
            if cached.storage_key != key.as_str() {
                // Another process recorded the same transform first: its object serves.
                delete(settings, request_id, key).await;
            }
            Ok(cached)
        }
        None => {
            // The file was deleted meanwhile: its transform goes too.
            delete(settings, request_id, key).await;
            Err(TransformError::FileNotFound)
        }
    }
}

/// A processor's refusal is the client's (the original passes no limit, or
/// is corrupt: 422); the rest is ours. The file is known to be an image by now.
fn refused_or_unavailable(failure: ProcessFailure) -> TransformError {
    match failure {
        ProcessFailure::Rejected(refusal) => TransformError::Refused {
            code: refusal.code(),
            message: refusal.to_string(),
        },
        other => TransformError::Unavailable(other.to_string()),
    }
}

/// Deletes the least recently used transforms beyond the budget.
async fn evict(settings: &TransformSettings, request_id: RequestId) {
    let evicted = settings
        .catalog
        .send(EvictTransforms {
            request_id: request_id.clone(),
            budget_bytes: settings.cache_size,
        })
        .await;
    let keys = match evicted {
        Ok(Ok(keys)) => keys,
        Ok(Err(err)) => {
            tracing::warn!(error = %crate::error_chain(&err), "cannot evict cached transforms");
            return;
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot evict cached transforms");
            return;
        }
    };
    if keys.is_empty() {
        return;
    }
    metrics::transforms_evicted(keys.len() as u64);
    for key in keys {
        if let Ok(key) = ObjectKey::parse(&key) {
            delete(settings, &request_id, key).await;
        }
    }
}

/// Deletes an object no row names any more; a failure leaves an orphan that
/// `kiln storage verify` reports, so it is only logged.
async fn delete(settings: &TransformSettings, request_id: &RequestId, key: ObjectKey) {
    let deleted = settings
        .storage
        .send(DeleteObject {
            request_id: request_id.clone(),
            key: key.clone(),
        })
        .await;
    match deleted {
        Ok(Ok(())) | Ok(Err(StorageError::NotFound)) => {}
        Ok(Err(err)) => {
            tracing::warn!(key = key.as_str(), error = %crate::error_chain(&err), "cannot delete a cached transform");
        }
        Err(err) => {
            tracing::warn!(key = key.as_str(), error = %err, "cannot delete a cached transform")
        }
    }
}
