//! Why an attempt failed, sorted: every error an attempt can meet (a mailbox,
//! the Catalog, Storage, the processor and its child) becomes an
//! [`AttemptError`] that says what becomes of the job and what its owner reads.

use std::time::Duration;

use crate::actors::catalog::CatalogError;
use crate::actors::processors::{ChildDeath, ProcessFailure};
use crate::actors::storage::StorageError;
use crate::domain::jobs::Failure;
use crate::processing::ProcessError;

/// How long a PDF job waits for PDFium to be installed before it is tried again.
pub(super) const PDFIUM_WAIT: Duration = Duration::from_secs(10);

/// Why an attempt failed: what its owner reads in the job's `error`, what the
/// log gets besides (paths, error chains; never shown to users), and what
/// becomes of the job.
#[derive(Debug)]
pub(super) struct AttemptError {
    pub(super) failure: Failure,
    /// A sentence safe to show the job's owner.
    pub(super) reason: String,
    /// The internal cause, for the log only.
    pub(super) detail: Option<String>,
}

impl AttemptError {
    pub(super) fn permanent(reason: impl Into<String>) -> Self {
        Self {
            failure: Failure::Permanent,
            reason: reason.into(),
            detail: None,
        }
    }

    pub(super) fn transient(reason: impl Into<String>, detail: Option<String>) -> Self {
        Self {
            failure: Failure::Transient,
            reason: reason.into(),
            detail,
        }
    }
}

impl From<actix::MailboxError> for AttemptError {
    fn from(err: actix::MailboxError) -> Self {
        Self::transient(
            "an internal service did not answer; the job will be tried again",
            Some(err.to_string()),
        )
    }
}

impl From<CatalogError> for AttemptError {
    fn from(err: CatalogError) -> Self {
        Self::transient(
            "the database was unavailable; the job will be tried again",
            Some(crate::error_chain(&err)),
        )
    }
}

impl From<StorageError> for AttemptError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => Self::permanent("the original is missing from storage"),
            StorageError::InvalidKey(key) => Self {
                detail: Some(format!("invalid storage key {key:?}")),
                ..Self::permanent("the file's storage key is invalid")
            },
            other => Self::transient(
                "object storage was unavailable; the job will be tried again",
                Some(crate::error_chain(&other)),
            ),
        }
    }
}

impl From<ProcessFailure> for AttemptError {
    fn from(failure: ProcessFailure) -> Self {
        match failure {
            // The operator's problem, not the file's: the job waits for the library.
            ProcessFailure::Rejected(ProcessError::PdfiumUnavailable(detail)) => Self {
                failure: Failure::Deferred { delay: PDFIUM_WAIT },
                reason: "waiting for PDF rendering to be installed on the worker".into(),
                detail: Some(detail),
            },
            ProcessFailure::Rejected(refusal) => Self::permanent(refusal.to_string()),
            ProcessFailure::Panicked(message) => Self {
                detail: Some(format!("panic: {message}")),
                ..Self::permanent("the processor crashed on this file")
            },
            ProcessFailure::Died(death) => {
                let detail = match &death {
                    ChildDeath::Misbehaved(detail) => Some(detail.clone()),
                    _ => None,
                };
                Self::transient(death.to_string(), detail)
            }
            ProcessFailure::Unavailable(detail) => Self::transient(
                "no processor was available; the job will be tried again",
                Some(detail),
            ),
        }
    }
}
