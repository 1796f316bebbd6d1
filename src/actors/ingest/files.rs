//! What is done to a stored file: more processing asked for, the file
//! deleted (by its owner, or purged by the operator), a dead job brought back.

use std::collections::HashSet;

use actix::{Addr, Message};
use uuid::Uuid;

use super::{IngestError, Peers};
use crate::actors::catalog::files::{BeginPurge, FileDetails, FindWatermarkImage};
use crate::actors::catalog::jobs::{AddJob, FindJob, Handoff, JobScope, RetryDeadJob};
use crate::actors::catalog::{self, Job};
use crate::actors::dispatcher::announce_queued;
use crate::actors::storage::messages::DeleteObject;
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::domain::requests::ProcessRequest;
use crate::processing::{self, MediaKind};
use crate::telemetry::RequestId;

/// Runs one more processor on one of the user's files.
#[derive(Message)]
#[rtype(result = "Result<Job, IngestError>")]
pub struct RequestProcessing {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    pub request: ProcessRequest,
}

/// Deletes one of the user's files: its rows first, then the original and
/// every variant in storage.
#[derive(Message)]
#[rtype(result = "Result<(), IngestError>")]
pub struct DeleteFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// Puts a dead job within `scope` back in the queue with fresh attempts.
#[derive(Message)]
#[rtype(result = "Result<Job, IngestError>")]
pub struct RetryJob {
    pub request_id: RequestId,
    pub scope: JobScope,
    pub job_id: Uuid,
    /// When set, the job must be one of this file's (a file's page retries
    /// only its own jobs).
    pub file_id: Option<Uuid>,
}

/// Removes a file the operator purges: its objects first (those no other
/// file of the owner's shares), then its rows, then any object recorded for it
/// in between, so an interrupted purge leaves no object without a row and
/// running it again finishes the job.
#[derive(Message)]
#[rtype(result = "Result<(), IngestError>")]
pub struct PurgeFile {
    pub request_id: RequestId,
    pub file: FileDetails,
}

impl Peers {
    /// Refused (nothing queued) for an unknown processor, invalid options or
    /// variant name, a processor that cannot read this file, or a watermark
    /// image that is not one of the user's images.
    pub(super) async fn request_processing(
        self,
        msg: RequestProcessing,
    ) -> Result<Job, IngestError> {
        let details = self
            .find_file(&msg.request_id, msg.user_id, msg.file_id)
            .await?;
        let file = &details.file;
        let job = msg
            .request
            .job_for(
                MediaKind::from_extension(&file.extension),
                &file.content_type,
            )
            .map_err(IngestError::InvalidRequest)?;
        if let Some(image) = processing::watermark_image(&job.processor, &job.options) {
            self.check_watermark_image(&msg.request_id, msg.user_id, &image)
                .await?;
        }
        let job = self
            .catalog
            .send(AddJob {
                request_id: msg.request_id,
                user_id: msg.user_id,
                file_id: msg.file_id,
                job,
            })
            .await??
            .ok_or(IngestError::FileNotFound)?;
        announce_queued(self.dispatcher.as_ref(), std::slice::from_ref(&job));
        Ok(job)
    }

    /// A watermark's `image` must be the id of another of the caller's files,
    /// and that file an image. Only its original is read, so it need not be
    /// `ready`. A missing file and someone else's get the same answer.
    pub(super) async fn check_watermark_image(
        &self,
        request_id: &RequestId,
        user_id: Uuid,
        image: &str,
    ) -> Result<(), IngestError> {
        let refused = IngestError::InvalidWatermarkImage;
        let find = FindWatermarkImage::named(request_id, user_id, image)
            .ok_or_else(|| refused("`image` must be the id of one of your image files".into()))?;
        let file_id = find.file_id;
        let mark = self.catalog.send(find).await??.ok_or_else(|| {
            refused(format!(
                "the watermark image {file_id} is not one of your files"
            ))
        })?;
        match MediaKind::from_extension(&mark.extension) {
            Some(kind) if kind.is_image() => Ok(()),
            kind => Err(refused(format!(
                "the watermark image must be an image, and {file_id} is {}",
                kind.map_or(mark.content_type.as_str(), |kind| kind.description())
            ))),
        }
    }

    pub(super) async fn delete_file(self, msg: DeleteFile) -> Result<(), IngestError> {
        let keys = self
            .catalog
            .send(catalog::files::DeleteFile {
                request_id: msg.request_id.clone(),
                user_id: msg.user_id,
                file_id: msg.file_id,
            })
            .await??
            .ok_or(IngestError::FileNotFound)?;
        // The rows are gone, so nothing can reach these objects any more; a
        // job in flight finds its claim or completion refused and ends.
        delete_objects(&self.storage, &msg.request_id, keys).await?;
        tracing::info!(file_id = %msg.file_id, "file deleted");
        Ok(())
    }

    pub(super) async fn purge_file(self, msg: PurgeFile) -> Result<(), IngestError> {
        let file = &msg.file.file;
        let begun = self
            .catalog
            .send(BeginPurge {
                request_id: msg.request_id.clone(),
                file_id: file.id,
            })
            .await??;
        // `None`: it was deleted meanwhile, through the API or another purge.
        let Some(own) = begun else {
            return Ok(());
        };
        // Objects another file still names stay; they go with its last row.
        let keys: HashSet<String> = own.into_iter().collect();
        delete_objects(&self.storage, &msg.request_id, keys.iter().cloned()).await?;
        let recorded = self
            .catalog
            .send(catalog::files::DeleteFile {
                request_id: msg.request_id.clone(),
                user_id: file.user_id,
                file_id: file.id,
            })
            .await??;
        // `None`: it was deleted meanwhile, through the API or another purge.
        let late = recorded
            .into_iter()
            .flatten()
            .filter(|key| !keys.contains(key));
        delete_objects(&self.storage, &msg.request_id, late).await?;
        tracing::debug!(file_id = %file.id, "file purged");
        Ok(())
    }

    /// With a Dispatcher, the job is queued and published at once; without
    /// one (the command line, an api with no transport), it is left due for
    /// the next reconciliation of any running Kiln.
    pub(super) async fn retry_job(self, msg: RetryJob) -> Result<Job, IngestError> {
        if let Some(file_id) = msg.file_id {
            // A file's page is its owner's: only an owner's job can be one of its.
            let JobScope::OwnedBy(user_id) = msg.scope else {
                return Err(IngestError::JobNotFound);
            };
            let job = self
                .catalog
                .send(FindJob {
                    request_id: msg.request_id.clone(),
                    user_id,
                    job_id: msg.job_id,
                })
                .await??;
            if job.is_none_or(|job| job.file_id != file_id) {
                return Err(IngestError::JobNotFound);
            }
        }
        let handoff = match self.dispatcher {
            Some(_) => Handoff::Announced,
            None => Handoff::ByReconciler,
        };
        let job = self
            .catalog
            .send(RetryDeadJob {
                request_id: msg.request_id,
                scope: msg.scope,
                job_id: msg.job_id,
                handoff,
            })
            .await??
            .ok_or(IngestError::JobNotFound)?;
        announce_queued(self.dispatcher.as_ref(), std::slice::from_ref(&job));
        tracing::info!(job_id = %job.id, scope = ?msg.scope, "dead job queued again");
        Ok(job)
    }
}

/// Deletes a file's objects by their recorded keys (an absent one is no error).
async fn delete_objects(
    storage: &Addr<Storage>,
    request_id: &RequestId,
    keys: impl IntoIterator<Item = String>,
) -> Result<(), IngestError> {
    for key in keys {
        let Ok(key) = ObjectKey::parse(&key) else {
            continue;
        };
        let deleted = storage
            .send(DeleteObject {
                request_id: request_id.clone(),
                key,
            })
            .await?;
        match deleted {
            Ok(_) | Err(StorageError::NotFound) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}
