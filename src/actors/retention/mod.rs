//! The Retention actor purges files older than `FILE_RETENTION`, as `kiln
//! files purge --older-than` does: through the Ingest actor's [`PurgeFile`],
//! objects first, then rows, so an interrupted purge leaves nothing orphaned
//! and the next round finishes it. It owns no resource, only the schedule.
//!
//! - Started only when `FILE_RETENTION` is set, on every process, like the
//!   reconciler; every `RECONCILE_INTERVAL` it purges up to [`ROUND`] of the
//!   oldest files past the cutoff. Processes that purge the same file at once
//!   are harmless: a purge finds what another removed already gone.
//! - Each purge is logged and counted (`kiln_files_expired_total`).
//! - Supervised by the Supervisor.

use std::time::Duration;

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Supervised, WrapFuture};
use chrono::Utc;

use crate::actors::catalog::Catalog;
use crate::actors::catalog::admin::ScanFiles;
use crate::actors::ingest::{Ingest, PurgeFile};
use crate::actors::restart::RestartBackoff;
use crate::telemetry::{RequestId, metrics};

/// Most files one round purges; the next round takes the rest.
const ROUND: u64 = 100;

pub struct Retention {
    catalog: Addr<Catalog>,
    ingest: Addr<Ingest>,
    /// `FILE_RETENTION`: how long a file is kept after its upload.
    keep_for: Duration,
    every: Duration,
    purging: bool,
    restarts: RestartBackoff,
}

impl Retention {
    pub fn new(
        catalog: Addr<Catalog>,
        ingest: Addr<Ingest>,
        keep_for: Duration,
        every: Duration,
    ) -> Self {
        Self {
            catalog,
            ingest,
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
        let keep_for = chrono::Duration::from_std(self.keep_for).unwrap_or(chrono::Duration::MAX);
        let round = async move {
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
