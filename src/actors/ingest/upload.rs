//! Taking an upload in, in two steps (a multipart client may send the
//! `processors` field after the file itself):
//!
//! 1. [`StageOriginal`]: the type is sniffed from the first bytes (never taken
//!    from the client), the pixel size read from the header, and the body is
//!    streamed to storage while its size is checked against `MAX_UPLOAD_SIZE`
//!    and its SHA-256 computed. A refused or failed upload leaves nothing behind.
//! 2. [`CommitUpload`]: the jobs asked for are checked against the file's type,
//!    the file row and one row per job are written in one transaction (the
//!    outbox), then the Dispatcher is told. If the commit fails or is refused,
//!    the staged original is deleted; so is one the request gives up on
//!    ([`DiscardStaged`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::{Addr, Message};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{IngestError, Peers};
use crate::actors::catalog::files::{NewFile, RecordUpload};
use crate::actors::catalog::{File, Job};
use crate::actors::dispatcher::announce_queued;
use crate::actors::storage::messages::{ByteStream, DeleteObject, PutObject};
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::domain::UploadType;
use crate::domain::requests::jobs_for_upload;
use crate::processing::{self, JobSpec, MediaKind};
use crate::telemetry::{RequestId, metrics};

/// Bytes read before deciding the type and size: enough for every header we probe.
const SNIFF_LEN: usize = 64 * 1024;

/// An original in storage, not yet recorded.
#[derive(Debug, Clone)]
pub struct StagedOriginal {
    pub file_id: Uuid,
    pub user_id: Uuid,
    pub key: ObjectKey,
    pub kind: UploadType,
    pub size: u64,
    pub sha256: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Message)]
#[rtype(result = "Result<StagedOriginal, IngestError>")]
pub struct StageOriginal {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub body: ByteStream,
}

#[derive(Message)]
#[rtype(result = "Result<(File, Vec<Job>), IngestError>")]
pub struct CommitUpload {
    pub request_id: RequestId,
    pub staged: StagedOriginal,
    pub filename: String,
    /// `None`: the default jobs for the file's type.
    pub requested: Option<Vec<JobSpec>>,
}

/// Discards a staged original the upload will not commit (the request failed
/// after the file was stored).
#[derive(Message)]
#[rtype(result = "Result<(), IngestError>")]
pub struct DiscardStaged {
    pub request_id: RequestId,
    pub staged: StagedOriginal,
}

impl Peers {
    pub(super) async fn stage_original(
        self,
        msg: StageOriginal,
    ) -> Result<StagedOriginal, IngestError> {
        let limit = self.max_upload_size;
        // Fused: the sniffing below may read it to its end before the rest is
        // chained after the head.
        let mut body = msg.body.fuse();
        // Enough of the start to know what this is.
        let mut head = BytesMut::new();
        while head.len() < SNIFF_LEN {
            match body.next().await {
                Some(chunk) => head.extend_from_slice(&chunk.map_err(IngestError::Body)?),
                None => break,
            }
            if head.len() as u64 > limit {
                return Err(IngestError::TooLarge { limit });
            }
        }
        if head.is_empty() {
            return Err(IngestError::Empty);
        }
        let kind =
            UploadType::of(&head, &self.extra_allowed_types).ok_or(IngestError::UnsupportedType)?;
        let (width, height) = match kind.media.is_some_and(MediaKind::is_image) {
            true => processing::probe_dimensions(&head).unzip(),
            false => (None, None),
        };

        let file_id = Uuid::now_v7();
        let key = ObjectKey::parse(&format!(
            "{}/{file_id}/original.{}",
            msg.user_id, kind.extension
        ))?;
        let hasher = Arc::new(std::sync::Mutex::new(Sha256::new()));
        let too_large = Arc::new(AtomicBool::new(false));
        let counted = {
            let hasher = hasher.clone();
            let too_large = too_large.clone();
            let mut size = 0u64;
            stream::once(async move { Ok::<Bytes, std::io::Error>(head.freeze()) })
                .chain(body)
                .map(move |chunk| {
                    let chunk = chunk?;
                    size += chunk.len() as u64;
                    if size > limit {
                        too_large.store(true, Ordering::Relaxed);
                        return Err(std::io::Error::other("upload too large"));
                    }
                    if let Ok(mut hasher) = hasher.lock() {
                        hasher.update(&chunk);
                    }
                    Ok(chunk)
                })
        };
        let stored = self
            .storage
            .send(PutObject {
                request_id: msg.request_id,
                key: key.clone(),
                content_type: kind.content_type.clone(),
                body: Box::pin(counted),
            })
            .await?;
        let stored = match stored {
            Ok(stored) => stored,
            Err(_) if too_large.load(Ordering::Relaxed) => {
                return Err(IngestError::TooLarge { limit });
            }
            Err(StorageError::Body(err)) => return Err(IngestError::Body(err)),
            Err(err) => return Err(err.into()),
        };
        let sha256 = hasher
            .lock()
            .map(|h| hex::encode(h.clone().finalize()))
            .map_err(|_| IngestError::Body(std::io::Error::other("hashing failed")))?;
        Ok(StagedOriginal {
            file_id,
            user_id: msg.user_id,
            key,
            kind,
            size: stored.size,
            sha256,
            width,
            height,
        })
    }

    pub(super) async fn commit_upload(
        self,
        msg: CommitUpload,
    ) -> Result<(File, Vec<Job>), IngestError> {
        let staged = msg.staged;
        let kind = staged.kind.clone();
        let jobs = match self
            .upload_jobs(&msg.request_id, &staged, msg.requested)
            .await
        {
            Ok(jobs) => jobs,
            Err(err) => {
                discard(&self.storage, msg.request_id, staged.key).await;
                return Err(err);
            }
        };
        let recorded = self
            .catalog
            .send(RecordUpload {
                request_id: msg.request_id.clone(),
                file: NewFile {
                    id: staged.file_id,
                    user_id: staged.user_id,
                    filename: msg.filename,
                    content_type: kind.content_type.clone(),
                    extension: kind.extension.clone(),
                    size_bytes: staged.size as i64,
                    sha256: staged.sha256.clone(),
                    storage_key: staged.key.as_str().into(),
                    width: staged.width.map(|w| w as i32),
                    height: staged.height.map(|h| h as i32),
                },
                jobs,
            })
            .await
            .map_err(IngestError::from)
            .and_then(|recorded| recorded.map_err(IngestError::from));
        let (file, jobs) = match recorded {
            Ok(recorded) => recorded,
            Err(err) => {
                // Nothing may stay half-written: the original goes too.
                discard(&self.storage, msg.request_id, staged.key).await;
                return Err(err);
            }
        };
        metrics::upload_accepted(staged.size);
        announce_queued(self.dispatcher.as_ref(), &jobs);
        Ok((file, jobs))
    }

    /// The jobs asked for, each checked against the file's type, with every
    /// watermark image checked as a processing request checks it; or the
    /// type's defaults.
    async fn upload_jobs(
        &self,
        request_id: &RequestId,
        staged: &StagedOriginal,
        requested: Option<Vec<JobSpec>>,
    ) -> Result<Vec<JobSpec>, IngestError> {
        let kind = &staged.kind;
        let jobs = jobs_for_upload(kind.media, kind.describe(), requested, staged.width)
            .map_err(IngestError::of_upload)?;
        for job in &jobs {
            if let Some(image) = processing::watermark_image(&job.processor, &job.options) {
                self.check_watermark_image(request_id, staged.user_id, &image)
                    .await?;
            }
        }
        Ok(jobs)
    }

    pub(super) async fn discard_staged(self, msg: DiscardStaged) -> Result<(), IngestError> {
        discard(&self.storage, msg.request_id, msg.staged.key).await;
        Ok(())
    }
}

/// Deletes a staged original that will not be recorded.
async fn discard(storage: &Addr<Storage>, request_id: RequestId, key: ObjectKey) {
    let _ = storage.send(DeleteObject { request_id, key }).await;
}
