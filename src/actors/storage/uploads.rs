//! The bytes of resumable uploads while they arrive, at the key
//! `uploads/{id}` (apart from every file's objects, which `kiln storage
//! verify` knows to skip):
//!
//! - **Local directory:** one file at that key, written at the offset the
//!   database records; a chunk that fails (or fails its checksum) is cut off
//!   by the next, which truncates the file to the recorded offset first.
//! - **S3:** a multipart upload to that key. Parts must hold at least 5 MiB
//!   (the last excepted), so what a chunk leaves past its last whole part
//!   waits in an object of its own, `uploads/{id}.tails/{start}`, named by the
//!   offset it starts at: a failed chunk may write another version, but the
//!   one the recorded state names always starts with the recorded bytes. Part
//!   numbers follow the recorded list, so a failed chunk's parts are
//!   overwritten by the next one's and never completed.
//!
//! The state (offset, multipart id, part ids) is the caller's to keep in the
//! database: each [`AppendToUpload`] takes the recorded state and replies with
//! the new one, which counts only once it is recorded. Memory stays within one
//! part and one chunk of the request body, whatever the upload's size.

use std::path::PathBuf;

use actix::{Handler, Message, ResponseFuture};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha1::Digest as _;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use uuid::Uuid;

use super::messages::ByteStream;
use super::{Backend, Storage, StorageError, full_path};
use crate::domain::tus::{Checksum, ChecksumAlgorithm};
use crate::telemetry::RequestId;

/// S3's smallest part but the last.
const MIN_PART: usize = 5 * 1024 * 1024;

/// Where an upload stands, as the database records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    pub id: Uuid,
    /// The size the client announced.
    pub length: u64,
    /// Bytes stored so far.
    pub received: u64,
    /// S3: the multipart upload, once its first part went up.
    pub multipart_id: Option<String>,
    /// S3: the ids of the parts sent, in order.
    pub parts: Vec<String>,
    /// S3: the bytes those parts hold; `received - parts_bytes` wait in the tail.
    pub parts_bytes: u64,
}

impl UploadState {
    pub fn new(id: Uuid, length: u64) -> Self {
        Self {
            id,
            length,
            received: 0,
            multipart_id: None,
            parts: Vec::new(),
            parts_bytes: 0,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.received == self.length
    }

    /// The key of the assembled bytes (complete once `is_complete`).
    pub fn key(&self) -> String {
        format!("uploads/{}", self.id)
    }

    fn tail_key(&self) -> String {
        format!("{}/{}", self.tails_dir(), self.parts_bytes)
    }

    /// Beside the assembled key, not under it: a store on a file system
    /// cannot have `uploads/{id}` be a file and a directory.
    fn tails_dir(&self) -> String {
        format!("uploads/{}.tails", self.id)
    }
}

/// Why a chunk was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The chunk would pass the announced length.
    #[error("the chunk goes past Upload-Length")]
    PastLength,
    /// The bytes do not have the digest `Upload-Checksum` named.
    #[error("the chunk's checksum does not match Upload-Checksum")]
    ChecksumMismatch,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Appends a PATCH's body to the upload at `state.received`; replies with the
/// state to record. On S3 the multipart upload is completed when the last
/// byte arrives.
#[derive(Message)]
#[rtype(result = "Result<UploadState, AppendError>")]
pub struct AppendToUpload {
    pub request_id: RequestId,
    pub state: UploadState,
    pub body: ByteStream,
    pub checksum: Option<Checksum>,
}

/// Deletes an upload's bytes: its file, or its multipart upload, tails and
/// assembled object. What is gone already is no error.
#[derive(Message)]
#[rtype(result = "Result<(), StorageError>")]
pub struct DiscardUpload {
    pub request_id: RequestId,
    pub state: UploadState,
}

/// A running digest of the chunk, for `Upload-Checksum`.
enum Hasher {
    None,
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn for_checksum(checksum: Option<&Checksum>) -> Self {
        match checksum.map(|c| c.algorithm) {
            None => Self::None,
            Some(ChecksumAlgorithm::Sha1) => Self::Sha1(sha1::Sha1::new()),
            Some(ChecksumAlgorithm::Sha256) => Self::Sha256(<sha2::Sha256 as sha2::Digest>::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::None => {}
            Self::Sha1(hasher) => hasher.update(bytes),
            Self::Sha256(hasher) => sha2::Digest::update(hasher, bytes),
        }
    }

    fn matches(self, checksum: Option<&Checksum>) -> bool {
        let digest = match self {
            Self::None => return true,
            Self::Sha1(hasher) => hasher.finalize().to_vec(),
            Self::Sha256(hasher) => sha2::Digest::finalize(hasher).to_vec(),
        };
        checksum.is_some_and(|checksum| checksum.digest == digest)
    }
}

impl Storage {
    /// The local file that holds an upload's bytes.
    fn upload_file(&self, root: &std::path::Path, state: &UploadState) -> PathBuf {
        let mut path = root.to_path_buf();
        if !self.key_prefix.is_empty() {
            path.push(&self.key_prefix);
        }
        path.push("uploads");
        path.push(state.id.to_string());
        path
    }
}

impl Handler<AppendToUpload> for Storage {
    type Result = ResponseFuture<Result<UploadState, AppendError>>;

    fn handle(&mut self, msg: AppendToUpload, _: &mut Self::Context) -> Self::Result {
        match &self.backend {
            Backend::Local { root, .. } => {
                let file = self.upload_file(root, &msg.state);
                Box::pin(append_to_file(file, msg))
            }
            Backend::S3(s3) => {
                let (s3, prefix) = (s3.clone(), self.key_prefix.clone());
                Box::pin(append_to_multipart(s3, prefix, msg))
            }
        }
    }
}

async fn append_to_file(file: PathBuf, msg: AppendToUpload) -> Result<UploadState, AppendError> {
    let io = |err| AppendError::Storage(StorageError::Write(err));
    if let Some(dir) = file.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let mut out = tokio::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file)
        .await
        .map_err(io)?;
    let mut state = msg.state;
    // Whatever a failed chunk left past the recorded offset goes.
    out.set_len(state.received).await.map_err(io)?;
    out.seek(std::io::SeekFrom::Start(state.received))
        .await
        .map_err(io)?;
    let mut hasher = Hasher::for_checksum(msg.checksum.as_ref());
    let mut received = state.received;
    let mut body = msg.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| AppendError::Storage(StorageError::Body(err)))?;
        received += chunk.len() as u64;
        if received > state.length {
            return Err(AppendError::PastLength);
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(io)?;
    }
    if !hasher.matches(msg.checksum.as_ref()) {
        return Err(AppendError::ChecksumMismatch);
    }
    // Durable before the offset is recorded.
    out.sync_data().await.map_err(io)?;
    state.received = received;
    Ok(state)
}

async fn append_to_multipart(
    s3: std::sync::Arc<object_store::aws::AmazonS3>,
    prefix: String,
    msg: AppendToUpload,
) -> Result<UploadState, AppendError> {
    let mut state = msg.state;
    let path = full_path(&prefix, &state.key());
    // The bytes past the last part: what the recorded tail holds, then the chunk.
    let mut pending = BytesMut::new();
    let tail_len = (state.received - state.parts_bytes) as usize;
    if tail_len > 0 {
        let tail = s3
            .get(&full_path(&prefix, &state.tail_key()))
            .await
            .map_err(StorageError::from)?
            .bytes()
            .await
            .map_err(StorageError::from)?;
        if tail.len() < tail_len {
            return Err(StorageError::NotFound.into());
        }
        pending.extend_from_slice(&tail[..tail_len]);
    }
    let mut hasher = Hasher::for_checksum(msg.checksum.as_ref());
    let mut received = state.received;
    let mut parts = state.parts.clone();
    let mut parts_bytes = state.parts_bytes;
    let mut multipart_id = state.multipart_id.clone();
    let mut body = msg.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|err| AppendError::Storage(StorageError::Body(err)))?;
        received += chunk.len() as u64;
        if received > state.length {
            return Err(AppendError::PastLength);
        }
        hasher.update(&chunk);
        pending.extend_from_slice(&chunk);
        while pending.len() >= MIN_PART {
            let part = pending.split_to(MIN_PART).freeze();
            let id = put_part(&s3, &path, &mut multipart_id, parts.len(), part).await?;
            parts.push(id);
            parts_bytes += MIN_PART as u64;
        }
    }
    if !hasher.matches(msg.checksum.as_ref()) {
        return Err(AppendError::ChecksumMismatch);
    }
    let complete = received == state.length;
    if complete {
        if !pending.is_empty() || parts.is_empty() {
            let last = pending.split().freeze();
            let id = put_part(&s3, &path, &mut multipart_id, parts.len(), last).await?;
            parts.push(id);
            parts_bytes = received;
        }
        if let Some(id) = &multipart_id {
            let part_ids = parts
                .iter()
                .map(|content_id| PartId {
                    content_id: content_id.clone(),
                })
                .collect();
            s3.complete_multipart(&path, id, part_ids)
                .await
                .map_err(StorageError::from)?;
        }
    } else if !pending.is_empty() {
        let tail = UploadState {
            parts_bytes,
            ..state.clone()
        };
        s3.put(
            &full_path(&prefix, &tail.tail_key()),
            PutPayload::from_bytes(pending.freeze()),
        )
        .await
        .map_err(StorageError::from)?;
    }
    state.received = received;
    state.parts = parts;
    state.parts_bytes = parts_bytes;
    state.multipart_id = multipart_id;
    Ok(state)
}

/// Sends part `index` (0-based) of the upload at `path`, starting the
/// multipart upload first when there is none yet.
async fn put_part(
    s3: &object_store::aws::AmazonS3,
    path: &Path,
    multipart_id: &mut Option<String>,
    index: usize,
    data: Bytes,
) -> Result<String, StorageError> {
    let id = match multipart_id {
        Some(id) => id.clone(),
        None => {
            let id = s3.create_multipart(path).await?;
            *multipart_id = Some(id.clone());
            id
        }
    };
    let part = s3.put_part(path, &id, index, data.into()).await?;
    Ok(part.content_id)
}

impl Handler<DiscardUpload> for Storage {
    type Result = ResponseFuture<Result<(), StorageError>>;

    fn handle(&mut self, msg: DiscardUpload, _: &mut Self::Context) -> Self::Result {
        let state = msg.state;
        match &self.backend {
            Backend::Local { root, .. } => {
                let file = self.upload_file(root, &state);
                Box::pin(async move {
                    match tokio::fs::remove_file(&file).await {
                        Ok(()) => Ok(()),
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        Err(err) => Err(StorageError::Write(err)),
                    }
                })
            }
            Backend::S3(s3) => {
                let (s3, prefix) = (s3.clone(), self.key_prefix.clone());
                Box::pin(async move {
                    let path = full_path(&prefix, &state.key());
                    if let Some(id) = &state.multipart_id
                        && !state.is_complete()
                    {
                        // An aborted or already completed upload is no error.
                        let _ = s3.abort_multipart(&path, id).await;
                    }
                    let tails = full_path(&prefix, &state.tails_dir());
                    let listed: Vec<_> = s3.list(Some(&tails)).collect().await;
                    for object in listed.into_iter().flatten() {
                        ignore_missing(s3.delete(&object.location).await)?;
                    }
                    ignore_missing(s3.delete(&path).await)
                })
            }
        }
    }
}

fn ignore_missing(result: object_store::Result<()>) -> Result<(), StorageError> {
    match result {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
