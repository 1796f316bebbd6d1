//! Uploads that resume (tus 1.0.0, `/api/uploads`): creating one, appending a
//! chunk, terminating it, and showing it. The protocol's headers are the web
//! layer's (`http::api::uploads`); the rules of what they may say are
//! [`crate::domain::tus`]'s.
//!
//! - **Creating** checks the announced length against `MAX_UPLOAD_SIZE`, the
//!   `processors` and `options` of `Upload-Metadata` as `/api/upload` would,
//!   and reserves the length from the user's quota (the Catalog's
//!   `CreateUpload`), before the first byte.
//! - **Appending** leases the upload in the database (one append at a time,
//!   from any api process), renews the lease while the body streams, hands the
//!   bytes to Storage (`AppendToUpload`: a file on the embedded default, an S3
//!   multipart upload when scaled out) and records the new offset. A process
//!   killed mid-chunk loses that chunk only: the recorded offset is where the
//!   client resumes, and the lease runs out in [`LEASE`].
//! - **Finishing**, when the last byte is recorded: the assembled bytes go
//!   through the same staging as `/api/upload` (type sniffed, size, SHA-256,
//!   stored as the original) and the same commit (jobs checked, file and jobs in
//!   one transaction, which takes over the reservation), then the assembled
//!   copy is deleted, all under the lease of the append that completed it.
//!   Refused (an unsupported type, say), the upload goes whole. Failed (the
//!   database, say), or cut short by the process dying, it stays complete
//!   with no file: an empty `PATCH` at its end finishes it, and so does the
//!   Retention actor's next round once the lease has run out.

use std::time::Duration;

use actix::Message;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::upload::{UploadRest, UploadRoom};
use super::{IngestError, Peers};
use crate::actors::catalog::uploads::{
    Claim, ClaimUpload, CreateUpload, DeleteUpload, FindUpload, RecordChunk, RenewUploadClaim,
    Upload,
};
use crate::actors::catalog::{File, Job};
use crate::actors::storage::messages::{ByteStream, GetObject};
use crate::actors::storage::uploads::{AppendError, AppendToUpload, DiscardUpload, UploadState};
use crate::actors::storage::{ObjectKey, StorageError};
use crate::domain::requests::parse_processors;
use crate::domain::tus::{Checksum, UploadMetadata};
use crate::telemetry::RequestId;

/// How long an append holds its upload without renewing: how soon another
/// process may resume one whose process died mid-chunk.
pub const LEASE: Duration = Duration::from_secs(15);

/// How often a running append renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// A chunk of a PATCH (or of a creation-with-upload POST), with the digest it
/// must have.
pub struct Chunk {
    pub body: ByteStream,
    pub checksum: Option<Checksum>,
}

/// Where an upload stands after a request.
#[derive(Debug, Clone)]
pub struct Resumable {
    pub id: Uuid,
    pub offset: u64,
    pub length: u64,
    pub expires_at: DateTime<Utc>,
    /// The file it became, when this request finished it (or one before did).
    pub file_id: Option<Uuid>,
}

impl From<&Upload> for Resumable {
    fn from(upload: &Upload) -> Self {
        Self {
            id: upload.id,
            offset: upload.state.received,
            length: upload.state.length,
            expires_at: upload.expires_at,
            file_id: upload.file_id,
        }
    }
}

/// `POST /api/uploads`: a new upload, and with creation-with-upload its first chunk.
#[derive(Message)]
#[rtype(result = "Result<Resumable, IngestError>")]
pub struct CreateResumable {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub length: u64,
    pub metadata: UploadMetadata,
    /// `UPLOAD_EXPIRY` from now: when an unfinished upload goes.
    pub expires_at: DateTime<Utc>,
    pub first_chunk: Option<Chunk>,
}

/// `PATCH /api/uploads/{id}`: the chunk at `offset`.
#[derive(Message)]
#[rtype(result = "Result<Resumable, IngestError>")]
pub struct AppendResumable {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id: Uuid,
    pub offset: u64,
    pub chunk: Chunk,
}

/// `HEAD` (and `GET`) `/api/uploads/{id}`.
#[derive(Message)]
#[rtype(result = "Result<Resumable, IngestError>")]
pub struct ShowResumable {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id: Uuid,
}

/// `DELETE /api/uploads/{id}`: the upload and its bytes go, and its
/// reservation comes back.
#[derive(Message)]
#[rtype(result = "Result<(), IngestError>")]
pub struct TerminateResumable {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub id: Uuid,
}

impl Peers {
    pub(super) async fn create_resumable(
        self,
        msg: CreateResumable,
    ) -> Result<Resumable, IngestError> {
        if msg.length == 0 {
            return Err(IngestError::Empty);
        }
        if msg.length > self.max_upload_size {
            return Err(IngestError::TooLarge {
                limit: self.max_upload_size,
            });
        }
        if let Some(processors) = &msg.metadata.processors {
            parse_processors(processors, msg.metadata.options.as_deref())
                .map_err(IngestError::of_upload)?;
        } else if msg.metadata.options.is_some() {
            return Err(IngestError::InvalidOptions(
                "options applies to the processors named in the processors metadata, and there is none".into(),
            ));
        }
        let upload = self
            .catalog
            .send(CreateUpload {
                request_id: msg.request_id.clone(),
                id: Uuid::now_v7(),
                user_id: msg.user_id,
                length: msg.length,
                metadata: msg.metadata,
                expires_at: msg.expires_at,
            })
            .await??;
        match msg.first_chunk {
            Some(chunk) => {
                let id = upload.id;
                let append = AppendResumable {
                    request_id: msg.request_id,
                    user_id: msg.user_id,
                    id,
                    offset: 0,
                    chunk,
                };
                self.append_resumable(append).await
            }
            None => Ok(Resumable::from(&upload)),
        }
    }

    pub(super) async fn append_resumable(
        self,
        msg: AppendResumable,
    ) -> Result<Resumable, IngestError> {
        let claim = ClaimUpload {
            request_id: msg.request_id.clone(),
            user_id: msg.user_id,
            id: msg.id,
            offset: msg.offset,
            lease: LEASE,
        };
        let upload = match self.catalog.send(claim).await?? {
            None => return Err(IngestError::UploadNotFound),
            Some(Claim::Claimed(upload)) => *upload,
            Some(Claim::OffsetMismatch { received }) => {
                return Err(IngestError::OffsetMismatch { offset: received });
            }
            Some(Claim::Busy) => return Err(IngestError::UploadBusy),
            Some(Claim::Finished) => return Err(IngestError::UploadFinished),
        };
        let upload = match upload.state.is_complete() {
            // Every byte arrived before, but the process finishing it stopped
            // (or failed): this request, empty, finishes it.
            true => {
                if let Err(err) = nothing_more(msg.chunk.body).await {
                    self.release(&msg.request_id, &upload).await;
                    return Err(err);
                }
                upload
            }
            false => self.append(&msg.request_id, upload, msg.chunk).await?,
        };
        if !upload.state.is_complete() {
            return Ok(Resumable::from(&upload));
        }
        // The lease holds while the file is made, so no other request makes it too.
        match self
            .renewing(upload.id, self.finish(&msg.request_id, &upload))
            .await
        {
            Ok((file, _)) => Ok(Resumable {
                file_id: Some(file.id),
                ..Resumable::from(&upload)
            }),
            Err(err) => {
                self.release(&msg.request_id, &upload).await;
                Err(err)
            }
        }
    }

    /// Stores a claimed upload's next chunk and records the new offset.
    async fn append(
        &self,
        request_id: &RequestId,
        upload: Upload,
        chunk: Chunk,
    ) -> Result<Upload, IngestError> {
        let append = self.storage.send(AppendToUpload {
            request_id: request_id.clone(),
            state: upload.state.clone(),
            body: chunk.body,
            checksum: chunk.checksum,
        });
        let appended = self
            .renewing(upload.id, append)
            .await
            .unwrap_or_else(|mailbox| {
                Err(AppendError::Storage(StorageError::Unavailable(
                    object_store::Error::Generic {
                        store: "storage actor",
                        source: Box::new(mailbox),
                    },
                )))
            });
        let state = match appended {
            Ok(state) => state,
            Err(err) => {
                // Nothing counts: the offset stays, and the lease ends now.
                self.release(request_id, &upload).await;
                return Err(match err {
                    AppendError::PastLength => IngestError::PastLength,
                    AppendError::ChecksumMismatch => IngestError::ChecksumMismatch,
                    AppendError::Storage(err) => err.into(),
                });
            }
        };
        // The last chunk's record keeps the lease, for the finishing.
        let recorded = self
            .catalog
            .send(RecordChunk {
                request_id: request_id.clone(),
                id: upload.id,
                from: upload.state.received,
                state: Some(state.clone()),
            })
            .await??;
        if !recorded {
            return Err(IngestError::UploadNotFound);
        }
        Ok(Upload { state, ..upload })
    }

    /// Runs `append`, renewing the upload's lease until it ends.
    async fn renewing<F: Future>(&self, id: Uuid, append: F) -> F::Output {
        let renew = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                let _ = self
                    .catalog
                    .send(RenewUploadClaim { id, lease: LEASE })
                    .await;
            }
        };
        tokio::pin!(append);
        tokio::select! {
            done = &mut append => done,
            () = renew => unreachable!("the renewal never ends"),
        }
    }

    /// Ends an append's (or a finishing's) lease without recording anything.
    async fn release(&self, request_id: &RequestId, upload: &Upload) {
        let _ = self
            .catalog
            .send(RecordChunk {
                request_id: request_id.clone(),
                id: upload.id,
                from: upload.state.received,
                state: None,
            })
            .await;
    }

    /// Turns a complete upload into a file with its jobs, as `/api/upload`
    /// does; a refused one is deleted whole.
    async fn finish(
        &self,
        request_id: &RequestId,
        upload: &Upload,
    ) -> Result<(File, Vec<Job>), IngestError> {
        let assembled = ObjectKey::parse(&upload.state.key())?;
        let body = self
            .storage
            .send(GetObject {
                request_id: request_id.clone(),
                key: assembled,
            })
            .await??
            .body;
        let rest = UploadRest {
            filename: upload.metadata.filename.clone(),
            processors: upload.metadata.processors.clone(),
            options: upload.metadata.options.clone(),
        };
        let finished = async {
            // The quota holds the upload's length already.
            let room = UploadRoom::reserved(self.max_upload_size);
            let staged = self
                .stage_original(request_id.clone(), upload.user_id, body, room)
                .await?;
            self.commit_upload(request_id.clone(), staged, rest, Some(upload.id))
                .await
        }
        .await;
        match &finished {
            Ok(_) => self.discard(request_id, upload.state.clone()).await,
            Err(err) if err.is_refusal() => {
                let _ = self
                    .catalog
                    .send(DeleteUpload {
                        request_id: request_id.clone(),
                        user_id: upload.user_id,
                        id: upload.id,
                    })
                    .await;
                self.discard(request_id, upload.state.clone()).await;
            }
            // Left complete, for the client to ask again.
            Err(_) => {}
        }
        finished
    }

    async fn discard(&self, request_id: &RequestId, state: UploadState) {
        let discard = DiscardUpload {
            request_id: request_id.clone(),
            state,
        };
        if let Ok(Err(err)) = self.storage.send(discard).await {
            tracing::warn!(error = %crate::error_chain(&err), "an upload's bytes could not be deleted; expiry tries again");
        }
    }

    pub(super) async fn show_resumable(self, msg: ShowResumable) -> Result<Resumable, IngestError> {
        let upload = self
            .catalog
            .send(FindUpload {
                request_id: msg.request_id,
                user_id: msg.user_id,
                id: msg.id,
            })
            .await??
            .ok_or(IngestError::UploadNotFound)?;
        Ok(Resumable::from(&upload))
    }

    pub(super) async fn terminate_resumable(
        self,
        msg: TerminateResumable,
    ) -> Result<(), IngestError> {
        let upload = self
            .catalog
            .send(DeleteUpload {
                request_id: msg.request_id.clone(),
                user_id: msg.user_id,
                id: msg.id,
            })
            .await??
            .ok_or(IngestError::UploadNotFound)?;
        self.discard(&msg.request_id, upload.state).await;
        Ok(())
    }
}

/// Reads a chunk sent to an upload that has all its bytes: only an empty one
/// is not past its length.
async fn nothing_more(mut body: ByteStream) -> Result<(), IngestError> {
    use futures::StreamExt;
    while let Some(bytes) = body.next().await {
        if !bytes
            .map_err(|err| IngestError::from(StorageError::Body(err)))?
            .is_empty()
        {
            return Err(IngestError::PastLength);
        }
    }
    Ok(())
}
