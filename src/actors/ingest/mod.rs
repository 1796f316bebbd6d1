//! The Ingest actor owns the use cases on a user's files: taking an upload in
//! ([`upload`]); asking for more processing, deleting a file and bringing a
//! dead job back ([`files`]); showing a file and handing out the links it is
//! downloaded through ([`views`]). It owns no resource; it coordinates the actors
//! that do (Storage for the bytes, the Catalog for the rows, the Dispatcher for
//! the transport), so the API, the pages and the command line do each the same
//! way; and the links that show a file to people without an account
//! ([`shares`]). The rules of what may be asked live in
//! [`crate::domain::requests`] and [`crate::domain::shares`].
//!
//! - Accepts: [`SubmitUpload`], [`RequestProcessing`], [`DeleteFile`], [`PurgeFile`], [`RetryJob`], [`ShowFile`],
//!   [`LinkToFile`], [`ShowFailedJobs`], [`ShareFile`], [`ShowShares`], [`RevokeShare`],
//!   [`OpenShare`], [`FindSharedObject`]; replies are records or an [`IngestError`] (which
//!   `http::error` maps to statuses).
//! - Supervised by the Supervisor: restarted with backoff if it stops. Each
//!   use case runs as a future of its own.

mod files;
mod resumable;
mod shares;
mod upload;
mod views;

use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Supervised};

pub use files::{DeleteFile, PurgeFile, RequestProcessing, RetryJob};
pub use resumable::{
    AppendResumable, Chunk, CreateResumable, LEASE as UPLOAD_LEASE, Resumable, ShowResumable,
    TerminateResumable,
};
pub use shares::{
    FindSharedObject, NewShare, OpenShare, RevokeShare, ShareFile, SharedObject, ShowShares,
};
pub use upload::{SubmitUpload, UploadRest};
pub use views::{LinkToFile, ShowFailedJobs, ShowFile};

use crate::actors::catalog::{Catalog, CatalogError};
use crate::actors::dispatcher::Dispatcher;
use crate::actors::restart::RestartBackoff;
use crate::actors::storage::{Storage, StorageError};
use crate::actors::use_cases;
use crate::domain::requests::RequestError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the file is empty")]
    Empty,
    #[error("upload exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(
        "unsupported file type: only JPEG, PNG, GIF, WebP, BMP, TIFF images and PDF documents are accepted"
    )]
    UnsupportedType,
    /// An upload's `processors` field names nothing Kiln can run on it.
    #[error("{0}")]
    InvalidProcessors(String),
    /// An upload's `options` field is refused.
    #[error("{0}")]
    InvalidOptions(String),
    /// A processing request on a stored file is refused.
    #[error(transparent)]
    InvalidRequest(RequestError),
    /// A watermark's `image` is not one of the user's images.
    #[error("{0}")]
    InvalidWatermarkImage(String),
    #[error("file not found")]
    FileNotFound,
    #[error("variant not found")]
    VariantNotFound,
    #[error("job not found")]
    JobNotFound,
    /// No live share link has this token (or this id, for its owner), or it
    /// does not open what was asked.
    #[error("share link not found")]
    ShareNotFound,
    #[error(transparent)]
    InvalidShare(crate::domain::shares::ShareRefusal),
    #[error("reading the upload failed")]
    Body(#[source] std::io::Error),
    /// The request failed after its file began: nothing was kept.
    #[error("the upload was abandoned before its form was read")]
    Abandoned,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("an internal service did not answer")]
    Mailbox(#[from] actix::MailboxError),
    /// No such upload of the user's (or it expired).
    #[error("upload not found")]
    UploadNotFound,
    /// A chunk sent for another offset than the upload is at.
    #[error("the upload is at offset {offset}; send the chunk that starts there")]
    OffsetMismatch { offset: u64 },
    /// Another request appends to the upload now.
    #[error("another request is appending to this upload; retry in a moment")]
    UploadBusy,
    /// Every byte is in, and the upload became a file.
    #[error("the upload is complete")]
    UploadFinished,
    /// The chunk goes past the length announced at creation.
    #[error("the chunk goes past the upload's Upload-Length")]
    PastLength,
    /// The chunk's bytes do not have the digest `Upload-Checksum` names.
    #[error("the chunk's checksum does not match Upload-Checksum; send it again")]
    ChecksumMismatch,
}

impl IngestError {
    /// Whether the upload itself is refused (its type, size, quota or form),
    /// rather than a service failing: a refused upload is not kept.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Empty
                | Self::TooLarge { .. }
                | Self::UnsupportedType
                | Self::InvalidProcessors(_)
                | Self::InvalidOptions(_)
                | Self::InvalidRequest(_)
                | Self::InvalidWatermarkImage(_)
                | Self::Catalog(CatalogError::QuotaExceeded(_))
        )
    }

    /// An upload's refused `processors` or `options`, as the upload names them.
    pub fn of_upload(err: RequestError) -> Self {
        match err {
            RequestError::InvalidOptions(message) => Self::InvalidOptions(message),
            other => Self::InvalidProcessors(other.to_string()),
        }
    }
}

/// The actors the file use cases coordinate, and the upload settings; cloned
/// into each use case's future.
#[derive(Clone)]
struct Peers {
    storage: Addr<Storage>,
    catalog: Addr<Catalog>,
    dispatcher: Option<Addr<Dispatcher>>,
    max_upload_size: u64,
    /// `ALLOWED_EXTRA_TYPES`: stored without processing.
    extra_allowed_types: Arc<[String]>,
    /// `PRESIGN_TTL`: the window download links are minted for (they work for one to two of it).
    presign_ttl: Duration,
}

pub struct Ingest {
    peers: Peers,
    restarts: RestartBackoff,
}

impl Ingest {
    pub fn new(
        storage: Addr<Storage>,
        catalog: Addr<Catalog>,
        dispatcher: Option<Addr<Dispatcher>>,
        max_upload_size: u64,
        extra_allowed_types: Vec<String>,
        presign_ttl: Duration,
    ) -> Self {
        Self {
            peers: Peers {
                storage,
                catalog,
                dispatcher,
                max_upload_size,
                extra_allowed_types: extra_allowed_types.into(),
                presign_ttl,
            },
            restarts: RestartBackoff::default(),
        }
    }
}

impl Actor for Ingest {
    type Context = Context<Self>;
}

impl Supervised for Ingest {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("ingest", ctx);
    }
}

use_cases! {
    Ingest.peers:
    SubmitUpload => submit_upload [request_id],
    RequestProcessing => request_processing [request_id],
    DeleteFile => delete_file [request_id],
    PurgeFile => purge_file [request_id],
    RetryJob => retry_job [request_id],
    ShowFile => show_file [request_id],
    LinkToFile => link_to_file [request_id],
    ShowFailedJobs => show_failed_jobs [request_id],
    ShareFile => share_file [request_id],
    ShowShares => show_shares [request_id],
    RevokeShare => revoke_share [request_id],
    OpenShare => open_share [request_id],
    FindSharedObject => find_shared_object [request_id],
    CreateResumable => create_resumable [request_id],
    AppendResumable => append_resumable [request_id],
    ShowResumable => show_resumable [request_id],
    TerminateResumable => terminate_resumable [request_id],
}
