//! Reading files: one user's file for its page, the short-lived links its
//! original and variants are downloaded through (signed with the type and name
//! a browser must treat them as; see [`crate::domain::delivery`]), and the
//! failed jobs of every user for the administrators' page.

use actix::Message;
use uuid::Uuid;

use super::{IngestError, Peers};
use crate::actors::catalog::admin::{FailedJobsPage, ListFailedJobs};
use crate::actors::catalog::files::{FileDetails, FindFile, FindVariant, VariantOfFile};
use crate::actors::catalog::{File, Variant};
use crate::actors::storage::ObjectKey;
use crate::actors::storage::messages::{PresignGet, PresignedUrl};
use crate::domain::delivery::Delivery;
use crate::domain::jobs::JobStatus;
use crate::telemetry::RequestId;

/// One of the user's files with its variants and jobs.
#[derive(Message)]
#[rtype(result = "Result<FileDetails, IngestError>")]
pub struct ShowFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
}

/// A short-lived link to one of the user's files: its original, or the
/// variant `variant` names.
#[derive(Message)]
#[rtype(result = "Result<PresignedUrl, IngestError>")]
pub struct LinkToFile {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub file_id: Uuid,
    /// `None`: the original.
    pub variant: Option<String>,
}

/// A page of every user's failed jobs, for the administrators' page (where a
/// dead one is retried with [`super::RetryJob`]).
#[derive(Message)]
#[rtype(result = "Result<FailedJobsPage, IngestError>")]
pub struct ShowFailedJobs {
    pub request_id: RequestId,
    /// `Dead` or `Retrying`; `None` for both.
    pub status: Option<JobStatus>,
    pub offset: u64,
    pub limit: u64,
}

impl Peers {
    pub(super) async fn show_failed_jobs(
        self,
        msg: ShowFailedJobs,
    ) -> Result<FailedJobsPage, IngestError> {
        let page = self
            .catalog
            .send(ListFailedJobs {
                request_id: msg.request_id,
                status: msg.status,
                offset: msg.offset,
                limit: msg.limit,
            })
            .await??;
        Ok(page)
    }

    pub(super) async fn show_file(self, msg: ShowFile) -> Result<FileDetails, IngestError> {
        self.find_file(&msg.request_id, msg.user_id, msg.file_id)
            .await
    }

    /// One of the user's files; someone else's is not found either.
    pub(super) async fn find_file(
        &self,
        request_id: &RequestId,
        user_id: Uuid,
        file_id: Uuid,
    ) -> Result<FileDetails, IngestError> {
        let find = FindFile {
            request_id: request_id.clone(),
            user_id,
            file_id,
        };
        self.catalog
            .send(find)
            .await??
            .ok_or(IngestError::FileNotFound)
    }

    pub(super) async fn link_to_file(self, msg: LinkToFile) -> Result<PresignedUrl, IngestError> {
        let (key, delivery) = match msg.variant {
            None => {
                let details = self
                    .find_file(&msg.request_id, msg.user_id, msg.file_id)
                    .await?;
                original_delivery(&details.file)
            }
            Some(name) => {
                let VariantOfFile { filename, variant } = self
                    .catalog
                    .send(FindVariant {
                        request_id: msg.request_id.clone(),
                        user_id: msg.user_id,
                        file_id: msg.file_id,
                        name,
                    })
                    .await??
                    .ok_or(IngestError::VariantNotFound)?;
                variant_delivery(&filename, &variant)
            }
        };
        let link = self
            .storage
            .send(PresignGet {
                request_id: msg.request_id,
                key: ObjectKey::parse(&key)?,
                ttl: self.presign_ttl,
                delivery,
            })
            .await??;
        Ok(link)
    }
}

/// The storage key of a file's original, and how its bytes are delivered.
pub(super) fn original_delivery(file: &File) -> (String, Delivery) {
    let delivery = Delivery::new(file.content_type.clone(), file.filename.clone())
        .of_version(Some(file.sha256.clone()));
    (file.storage_key.clone(), delivery)
}

/// The storage key of a variant of the file named `filename`, and how its
/// bytes are delivered.
pub(super) fn variant_delivery(filename: &str, variant: &Variant) -> (String, Delivery) {
    let delivery = Delivery::variant(
        filename,
        &variant.name,
        &variant.content_type,
        &variant.storage_key,
    )
    .of_version(variant.sha256.clone());
    (variant.storage_key.clone(), delivery)
}
