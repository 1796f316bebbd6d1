//! Taking an upload in: [`SubmitUpload`], two steps in one message, since a
//! multipart client may send the file name, `processors` and `options` after
//! the file itself:
//!
//! 1. Staging: the type is sniffed from the first bytes (never taken from the
//!    client), the pixel size read from the header, and the body is streamed to
//!    storage while its size is checked against `MAX_UPLOAD_SIZE` (and what is
//!    left of the user's quota) and its SHA-256 computed.
//! 2. Committing, once the rest of the form has come: the jobs asked for are
//!    checked against the file's type (and a watermark's image against the
//!    user's files), the file row and one row per job are written in one
//!    transaction (the outbox) that also takes the file's size from the
//!    user's quota, then the Dispatcher is told.
//!
//! A refused or failed upload leaves nothing behind: a staged original whose
//! commit fails, is refused, or whose form never completes is deleted. So is
//! one whose bytes the user stored before: the file is recorded as a
//! reference to those (deduplicated), with the variants already made.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::{Addr, Message};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{IngestError, Peers};
use crate::actors::catalog::accounts::FindUsage;
use crate::actors::catalog::files::{NewFile, RecordUpload};
use crate::actors::catalog::{CatalogError, File, Job};
use crate::actors::dispatcher::announce_queued;
use crate::actors::storage::messages::{ByteStream, DeleteObject, PutObject};
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::domain::UploadType;
use crate::domain::file_names::sanitize_filename;
use crate::domain::jobs::JobStatus;
use crate::domain::quota::Usage;
use crate::domain::requests::{jobs_for_upload, parse_processors};
use crate::processing::{self, JobSpec, MediaKind};
use crate::telemetry::{RequestId, metrics};

/// Bytes read before deciding the type and size: enough for every header we probe.
const SNIFF_LEN: usize = 64 * 1024;

/// An original in storage, not yet recorded.
#[derive(Debug, Clone)]
pub(super) struct StagedOriginal {
    file_id: Uuid,
    user_id: Uuid,
    key: ObjectKey,
    kind: UploadType,
    size: u64,
    sha256: String,
    width: Option<u32>,
    height: Option<u32>,
}

/// Takes one upload in: the file's bytes as they stream in, then the rest of
/// the form. Replies with the recorded file and its jobs.
#[derive(Message)]
#[rtype(result = "Result<(File, Vec<Job>), IngestError>")]
pub struct SubmitUpload {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub body: ByteStream,
    /// The rest of the form, once the whole request is read. A dropped sender
    /// means the request failed after the file: the upload is abandoned.
    pub rest: oneshot::Receiver<UploadRest>,
}

/// The form's fields besides the file, as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct UploadRest {
    /// The file name the file field's Content-Disposition gave.
    pub filename: Option<String>,
    /// The `processors` field (`thumbnail,webp`); `None`: the defaults.
    pub processors: Option<String>,
    /// The `options` field: options per processor named.
    pub options: Option<String>,
}

impl Peers {
    pub(super) async fn submit_upload(
        self,
        msg: SubmitUpload,
    ) -> Result<(File, Vec<Job>), IngestError> {
        let request_id = msg.request_id;
        let room = self.room_for_upload(&request_id, msg.user_id).await?;
        let staged = self
            .stage_original(request_id.clone(), msg.user_id, msg.body, room)
            .await?;
        let rest = match msg.rest.await {
            Ok(rest) => rest,
            Err(_) => {
                discard(&self.storage, request_id, staged.key).await;
                return Err(IngestError::Abandoned);
            }
        };
        self.commit_upload(request_id, staged, rest, None).await
    }

    /// Sniffs, measures (within `room`), hashes and stores an original.
    pub(super) async fn stage_original(
        &self,
        request_id: RequestId,
        user_id: Uuid,
        body: ByteStream,
        room: UploadRoom,
    ) -> Result<StagedOriginal, IngestError> {
        let limit = room.limit;
        // Fused: the sniffing below may read it to its end before the rest is
        // chained after the head.
        let mut body = body.fuse();
        // Enough of the start to know what this is.
        let mut head = BytesMut::new();
        while head.len() < SNIFF_LEN {
            match body.next().await {
                Some(chunk) => head.extend_from_slice(&chunk.map_err(IngestError::Body)?),
                None => break,
            }
            if head.len() as u64 > limit {
                return Err(room.refusal());
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
            user_id, kind.extension
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
                request_id,
                key: key.clone(),
                content_type: kind.content_type.clone(),
                body: Box::pin(counted),
            })
            .await?;
        let stored = match stored {
            Ok(stored) => stored,
            Err(_) if too_large.load(Ordering::Relaxed) => return Err(room.refusal()),
            Err(StorageError::Body(err)) => return Err(IngestError::Body(err)),
            Err(err) => return Err(err.into()),
        };
        let sha256 = hasher
            .lock()
            .map(|h| hex::encode(h.clone().finalize()))
            .map_err(|_| IngestError::Body(std::io::Error::other("hashing failed")))?;
        Ok(StagedOriginal {
            file_id,
            user_id,
            key,
            kind,
            size: stored.size,
            sha256,
            width,
            height,
        })
    }

    /// How much of an upload the user may send: `MAX_UPLOAD_SIZE`, or less
    /// when their quota has less room. Refused at once when the quota has
    /// no room for another file. The quota is checked again, atomically, when
    /// the file is recorded: this only stops a body that cannot fit early.
    async fn room_for_upload(
        &self,
        request_id: &RequestId,
        user_id: Uuid,
    ) -> Result<UploadRoom, IngestError> {
        let usage = self
            .catalog
            .send(FindUsage {
                request_id: request_id.clone(),
                user_id,
            })
            .await??
            .unwrap_or_default();
        if !usage.admits_file(1) {
            return Err(CatalogError::QuotaExceeded(usage).into());
        }
        let quota_left = usage.bytes_left().unwrap_or(u64::MAX);
        Ok(UploadRoom {
            limit: self.max_upload_size.min(quota_left),
            max_upload_size: self.max_upload_size,
            usage,
        })
    }

    /// Records a staged original with its jobs, or deletes it. A resumable
    /// upload's (`from_upload`) reservation of the quota becomes the file's.
    pub(super) async fn commit_upload(
        &self,
        request_id: RequestId,
        staged: StagedOriginal,
        rest: UploadRest,
        from_upload: Option<Uuid>,
    ) -> Result<(File, Vec<Job>), IngestError> {
        let kind = staged.kind.clone();
        let jobs = match self.upload_jobs(&request_id, &staged, &rest).await {
            Ok(jobs) => jobs,
            Err(err) => {
                discard(&self.storage, request_id, staged.key).await;
                return Err(err);
            }
        };
        let recorded = self
            .catalog
            .send(RecordUpload {
                request_id: request_id.clone(),
                file: NewFile {
                    id: staged.file_id,
                    user_id: staged.user_id,
                    filename: sanitize_filename(rest.filename.as_deref(), &kind.extension),
                    content_type: kind.content_type.clone(),
                    extension: kind.extension.clone(),
                    size_bytes: staged.size as i64,
                    sha256: staged.sha256.clone(),
                    storage_key: staged.key.as_str().into(),
                    width: staged.width.map(|w| w as i32),
                    height: staged.height.map(|h| h as i32),
                },
                jobs,
                from_upload,
            })
            .await
            .map_err(IngestError::from)
            .and_then(|recorded| recorded.map_err(IngestError::from));
        let (file, jobs) = match recorded {
            Ok(recorded) => recorded,
            Err(err) => {
                // Nothing may stay half-written: the original goes too.
                discard(&self.storage, request_id, staged.key).await;
                return Err(err);
            }
        };
        if file.storage_key != staged.key.as_str() {
            // Deduplicated: the file names the bytes stored before, so the
            // copy just staged is not needed.
            discard(&self.storage, request_id, staged.key).await;
        }
        metrics::upload_accepted(staged.size);
        let queued: Vec<Job> = jobs
            .iter()
            .filter(|job| job.status == JobStatus::Queued)
            .cloned()
            .collect();
        announce_queued(self.dispatcher.as_ref(), &queued);
        Ok((file, jobs))
    }

    /// The jobs the form's `processors` and `options` ask for, each checked
    /// against the file's type, with every watermark image checked as a
    /// processing request checks it; or the type's defaults.
    async fn upload_jobs(
        &self,
        request_id: &RequestId,
        staged: &StagedOriginal,
        rest: &UploadRest,
    ) -> Result<Vec<JobSpec>, IngestError> {
        let requested = match (&rest.processors, &rest.options) {
            (Some(processors), options) => Some(
                parse_processors(processors, options.as_deref()).map_err(IngestError::of_upload)?,
            ),
            (None, Some(_)) => {
                return Err(IngestError::InvalidOptions(
                    "options applies to the processors named in the processors field, and there is none".into(),
                ));
            }
            (None, None) => None,
        };
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
}

/// The most an upload may send, and why.
pub(super) struct UploadRoom {
    limit: u64,
    max_upload_size: u64,
    usage: Usage,
}

impl UploadRoom {
    /// Room for an upload whose quota is reserved already (a resumable one).
    pub(super) fn reserved(max_upload_size: u64) -> Self {
        Self {
            limit: max_upload_size,
            max_upload_size,
            usage: Usage::default(),
        }
    }

    /// The refusal of a body longer than `limit`: too large for any upload,
    /// or for what is left of the quota.
    fn refusal(&self) -> IngestError {
        match self.limit < self.max_upload_size {
            true => CatalogError::QuotaExceeded(self.usage).into(),
            false => IngestError::TooLarge {
                limit: self.max_upload_size,
            },
        }
    }
}

/// Deletes a staged original that will not be recorded.
async fn discard(storage: &Addr<Storage>, request_id: RequestId, key: ObjectKey) {
    let _ = storage.send(DeleteObject { request_id, key }).await;
}
