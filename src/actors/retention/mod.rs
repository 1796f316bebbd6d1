//! The Retention actor deletes what has outlived its time, on every process,
//! every `RECONCILE_INTERVAL` (like the reconciler), up to [`ROUND`] of each
//! per round:
//!
//! - files older than `FILE_RETENTION`, when it is set, as `kiln files purge
//!   --older-than` does: through the Ingest actor's [`PurgeFile`], objects
//!   first, then rows, so an interrupted purge leaves nothing orphaned and the
//!   next round finishes it. Each purge is logged and counted
//!   (`kiln_files_expired_total`);
//! - resumable uploads past `UPLOAD_EXPIRY`: their bytes first
//!   ([`DiscardUpload`]), then their row, which gives back their reservation of
//!   the quota;
//! - resumable uploads stranded with every byte but no file (the process
//!   making it stopped, or its storage failed), once their lease has run out:
//!   made into their file through the Ingest actor, as an empty `PATCH` would.
//!
//! Processes that delete the same thing at once are harmless: each finds what
//! another removed already gone. It owns no resource, only the schedule, and
//! is supervised by the Supervisor.

use std::time::Duration;

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Supervised, WrapFuture};
use chrono::Utc;

use crate::actors::catalog::Catalog;
use crate::actors::catalog::admin::ScanFiles;
use crate::actors::catalog::uploads::{
    FindExpiredUploads, FindStrandedUploads, ForgetExpiredUpload,
};
use crate::actors::ingest::{AppendResumable, Chunk, Ingest, PurgeFile};
use crate::actors::restart::RestartBackoff;
use crate::actors::storage::Storage;
use crate::actors::storage::uploads::DiscardUpload;
use crate::telemetry::{RequestId, metrics};

/// Most files one round purges; the next round takes the rest.
const ROUND: u64 = 100;

pub struct Retention {
    catalog: Addr<Catalog>,
    ingest: Addr<Ingest>,
    storage: Addr<Storage>,
    /// `FILE_RETENTION`: how long a file is kept after its upload; `None`: for good.
    keep_for: Option<Duration>,
    every: Duration,
    purging: bool,
    restarts: RestartBackoff,
}

impl Retention {
    pub fn new(
        catalog: Addr<Catalog>,
        ingest: Addr<Ingest>,
        storage: Addr<Storage>,
        keep_for: Option<Duration>,
        every: Duration,
    ) -> Self {
        Self {
            catalog,
            ingest,
            storage,
            keep_for,
            every,
            purging: false,
            restarts: RestartBackoff::default(),
        }
    }

    fn purge_expired(&mut self, ctx: &mut Context<Self>) {
        // One round at a time; a slow store must not stack them up.
        if self.purging {
            return;
        }
        self.purging = true;
        let (catalog, ingest) = (self.catalog.clone(), self.ingest.clone());
        let storage = self.storage.clone();
        let keep_for = self
            .keep_for
            .map(|keep_for| chrono::Duration::from_std(keep_for).unwrap_or(chrono::Duration::MAX));
        let round = async move {
            expire_uploads(&catalog, &storage).await;
            finish_stranded_uploads(&catalog, &ingest).await;
            let Some(keep_for) = keep_for else {
                return;
            };
            let cutoff = Utc::now() - keep_for;
            let scan = ScanFiles {
                request_id: RequestId::generate(),
                created_before: Some(cutoff),
                owner: None,
                after: None,
                limit: ROUND,
            };
            let expired = match catalog.send(scan).await {
                Ok(Ok(expired)) => expired,
                Ok(Err(err)) => {
                    return tracing::warn!(error = %crate::error_chain(&err), "retention could not read the files");
                }
                Err(err) => {
                    return tracing::warn!(error = %err, "retention could not reach the catalog");
                }
            };
            for details in expired {
                let file = details.file.clone();
                let purge = PurgeFile {
                    request_id: RequestId::generate(),
                    file: details,
                };
                match ingest.send(purge).await {
                    Ok(Ok(())) => {
                        metrics::file_expired();
                        tracing::info!(
                            file_id = %file.id,
                            user_id = %file.user_id,
                            uploaded_at = %file.created_at,
                            "file purged: older than FILE_RETENTION"
                        );
                    }
                    Ok(Err(err)) => tracing::warn!(
                        file_id = %file.id,
                        error = %crate::error_chain(&err),
                        "retention could not purge a file; the next round tries again"
                    ),
                    Err(err) => tracing::warn!(error = %err, "retention could not reach ingest"),
                }
            }
        };
        ctx.spawn(
            round
                .into_actor(self)
                .map(|_, retention, _| retention.purging = false),
        );
    }
}

/// Makes up to [`ROUND`] stranded uploads into their files, one at a time.
async fn finish_stranded_uploads(catalog: &Addr<Catalog>, ingest: &Addr<Ingest>) {
    let stranded = match catalog.send(FindStrandedUploads { limit: ROUND }).await {
        Ok(Ok(stranded)) => stranded,
        Ok(Err(err)) => {
            return tracing::warn!(error = %crate::error_chain(&err), "retention could not read the uploads");
        }
        Err(err) => return tracing::warn!(error = %err, "retention could not reach the catalog"),
    };
    for upload in stranded {
        let finish = AppendResumable {
            request_id: RequestId::generate(),
            user_id: upload.user_id,
            id: upload.id,
            offset: upload.state.length,
            chunk: Chunk {
                body: Box::pin(futures::stream::empty()),
                checksum: None,
            },
        };
        match ingest.send(finish).await {
            Ok(Ok(finished)) => tracing::info!(
                upload_id = %upload.id,
                file_id = ?finished.file_id,
                "a stranded upload is made into its file"
            ),
            // Taken by a request meanwhile, or refused (and then deleted).
            Ok(Err(err)) => tracing::info!(
                upload_id = %upload.id,
                error = %crate::error_chain(&err),
                "a stranded upload was not made into a file"
            ),
            Err(err) => return tracing::warn!(error = %err, "retention could not reach ingest"),
        }
    }
}

/// Deletes up to [`ROUND`] uploads past `UPLOAD_EXPIRY`: bytes, then row.
async fn expire_uploads(catalog: &Addr<Catalog>, storage: &Addr<Storage>) {
    let expired = match catalog.send(FindExpiredUploads { limit: ROUND }).await {
        Ok(Ok(expired)) => expired,
        Ok(Err(err)) => {
            return tracing::warn!(error = %crate::error_chain(&err), "retention could not read the uploads");
        }
        Err(err) => return tracing::warn!(error = %err, "retention could not reach the catalog"),
    };
    for upload in expired {
        let discard = DiscardUpload {
            request_id: RequestId::generate(),
            state: upload.state.clone(),
        };
        if !matches!(storage.send(discard).await, Ok(Ok(()))) {
            tracing::warn!(upload_id = %upload.id, "an expired upload's bytes could not be deleted; the next round tries again");
            continue;
        }
        if let Ok(Ok(true)) = catalog.send(ForgetExpiredUpload { id: upload.id }).await {
            tracing::info!(
                upload_id = %upload.id,
                user_id = %upload.user_id,
                received = upload.state.received,
                length = upload.state.length,
                finished = upload.file_id.is_some(),
                "upload expired: deleted after UPLOAD_EXPIRY"
            );
        }
    }
}

impl Actor for Retention {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.purging = false;
        self.purge_expired(ctx);
        ctx.run_interval(self.every, |retention, ctx| retention.purge_expired(ctx));
    }
}

impl Supervised for Retention {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("retention", ctx);
    }
}
