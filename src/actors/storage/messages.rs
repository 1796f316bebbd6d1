//! Messages the Storage actor accepts.

use std::time::Duration;

use actix::Message;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use super::{ObjectKey, StorageError};
use crate::domain::delivery::{ByteRange, Delivery};
use crate::telemetry::RequestId;

/// A body streamed in or out of the store, chunk by chunk.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// Streams `body` to `key`; large bodies go up as a multipart upload, which is
/// aborted if the body fails, so a failed put leaves nothing behind.
#[derive(Message)]
#[rtype(result = "Result<StoredObject, StorageError>")]
pub struct PutObject {
    pub request_id: RequestId,
    pub key: ObjectKey,
    pub content_type: String,
    pub body: ByteStream,
}

impl PutObject {
    /// A put of bytes already in memory (a processor's output).
    pub fn of_bytes(
        request_id: RequestId,
        key: ObjectKey,
        content_type: impl Into<String>,
        bytes: impl Into<Bytes>,
    ) -> Self {
        let bytes = bytes.into();
        Self {
            request_id,
            key,
            content_type: content_type.into(),
            body: Box::pin(futures::stream::once(async move { Ok(bytes) })),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
}

#[derive(Message)]
#[rtype(result = "Result<ObjectBody, StorageError>")]
pub struct GetObject {
    pub request_id: RequestId,
    pub key: ObjectKey,
}

pub struct ObjectBody {
    pub size: u64,
    pub body: ByteStream,
}

/// Reads a whole object into memory (a processor's input): one read of a local
/// file rather than [`GetObject`]'s stream of small chunks, each of which costs
/// the local store a hop to a blocking thread (5 ms for a 1 MB original).
#[derive(Message)]
#[rtype(result = "Result<Bytes, StorageError>")]
pub struct ReadObject {
    pub request_id: RequestId,
    pub key: ObjectKey,
}

/// Deletes `key`; deleting an absent key succeeds.
#[derive(Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct DeleteObject {
    pub request_id: RequestId,
    pub key: ObjectKey,
}

/// Lists every object whose key starts with the segments of `prefix`.
#[derive(Message)]
#[rtype(result = "Result<Vec<ListedObject>, StorageError>")]
pub struct ListObjects {
    pub request_id: RequestId,
    pub prefix: ObjectKey,
}

/// Lists every object in the store (under the configured prefix), for a
/// check of the whole store (`kiln storage verify`).
#[derive(Message)]
#[rtype(result = "Result<Vec<ListedObject>, StorageError>")]
pub struct ListAllObjects {
    pub request_id: RequestId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// A link anyone holding it can GET until `expires_at`, and nobody after. Its
/// response has the content type and disposition of `delivery` (and, on the
/// local backend, every other header of [`Delivery::headers`] and the `ETag`
/// of its version).
///
/// Links are minted for windows of `ttl`: every request for the same object
/// and delivery within one window gets the same URL, which expires at the end
/// of the next window (so it lives between `ttl` and twice that), and browsers
/// and CDNs can keep what it served.
#[derive(Message)]
#[rtype(result = "Result<PresignedUrl, StorageError>")]
pub struct PresignGet {
    pub request_id: RequestId,
    pub key: ObjectKey,
    pub ttl: Duration,
    pub delivery: Delivery,
}

#[derive(Debug, Clone)]
pub struct PresignedUrl {
    pub url: url::Url,
    pub expires_at: DateTime<Utc>,
}

/// Opens an object through a link from [`PresignGet`] on the local backend; the
/// S3 backend answers `NotFound`, since S3 serves its own links.
#[derive(Message)]
#[rtype(result = "Result<OpenedObject, StorageError>")]
pub struct OpenSignedObject {
    pub request_id: RequestId,
    pub key: ObjectKey,
    pub expires: i64,
    /// As the link names it; signed with the key and expiry.
    pub delivery: Delivery,
    pub signature: String,
    pub read: Read,
}

/// Opens an object for a caller that has already decided it may be read (a
/// share link's route), on either backend: the bytes come through Kiln.
#[derive(Message)]
#[rtype(result = "Result<OpenedObject, StorageError>")]
pub struct OpenObject {
    pub request_id: RequestId,
    pub key: ObjectKey,
    pub read: Read,
}

/// What to read of an object once it may be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// Its size only: a `HEAD`, or a `GET` the client's copy answers (304).
    Size,
    /// Its bytes, or the one part the `Range` header names.
    Bytes { range: Option<String> },
}

/// An object opened ([`OpenSignedObject`], [`OpenObject`]).
pub struct OpenedObject {
    /// The whole object's size.
    pub size: u64,
    /// The part of it `body` holds.
    pub part: ByteRange,
    /// `None` for [`Read::Size`], and for a range no byte satisfies.
    pub body: Option<ByteStream>,
}

/// Answers when the store can be listed (the bucket or directory exists).
#[derive(Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct CheckStorage;
