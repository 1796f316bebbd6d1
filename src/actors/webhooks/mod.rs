//! The Courier actor sends webhook deliveries from the outbox
//! (`webhook_deliveries`), on every process that runs jobs.
//!
//! Every `WEBHOOK_POLL_INTERVAL` it claims the due deliveries it has room for
//! (at most `WEBHOOK_CONCURRENCY` in flight), each under a lease as long as an
//! attempt may take and a margin; sends each ([`client`]); and records how it
//! went: delivered, retried later with backoff, or, once the give-up time has
//! passed since the event, failed, with the endpoint disabled and its owner
//! told. A process that dies mid-send leaves a lease that runs out, and
//! another sends the delivery again, with the same `webhook-id`. Nothing here
//! touches Redis: the outbox is the database, so deliveries survive restarts
//! and the loss of Redis alike.
//!
//! It owns the HTTP client deliveries go out with; it is supervised by the
//! Supervisor.

pub mod client;

use std::time::Duration;

use actix::{Actor, ActorFutureExt, Addr, AsyncContext, Context, Supervised, WrapFuture};

use crate::actors::catalog::Catalog;
use crate::actors::catalog::webhooks::{
    Attempt, AttemptRecorded, ClaimDeliveries, DueDelivery, RecordAttempt,
};
use crate::actors::mailer::Mailer;
use crate::actors::mailer::messages::SendWebhookDisabledMail;
use crate::actors::restart::RestartBackoff;
use crate::config::WebhookConfig;
use crate::telemetry::{RequestId, metrics};
use client::DeliveryClient;

/// What a lease covers beyond the attempt's own timeout: recording it.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// What a Courier sends with: its client, and the `WEBHOOK_*` settings.
#[derive(Debug, Clone)]
pub struct CourierSettings {
    pub client: DeliveryClient,
    pub config: WebhookConfig,
}

pub struct Courier {
    catalog: Addr<Catalog>,
    mailer: Addr<Mailer>,
    client: DeliveryClient,
    config: WebhookConfig,
    in_flight: usize,
    claiming: bool,
    restarts: RestartBackoff,
}

impl Courier {
    pub fn new(catalog: Addr<Catalog>, mailer: Addr<Mailer>, settings: CourierSettings) -> Self {
        Self {
            catalog,
            mailer,
            client: settings.client,
            config: settings.config,
            in_flight: 0,
            claiming: false,
            restarts: RestartBackoff::default(),
        }
    }

    fn claim(&mut self, ctx: &mut Context<Self>) {
        let room = self.config.concurrency.saturating_sub(self.in_flight);
        if self.claiming || room == 0 {
            return;
        }
        self.claiming = true;
        let claim = ClaimDeliveries {
            lease: self.config.timeout + LEASE_MARGIN,
            limit: room as u64,
        };
        let catalog = self.catalog.clone();
        ctx.spawn(
            async move { catalog.send(claim).await }
                .into_actor(self)
                .map(|claimed, courier, ctx| {
                    courier.claiming = false;
                    match claimed {
                        Ok(Ok(due)) => {
                            for delivery in due {
                                courier.send(delivery, ctx);
                            }
                        }
                        Ok(Err(err)) => tracing::warn!(
                            error = %crate::error_chain(&err),
                            "cannot claim webhook deliveries; trying again"
                        ),
                        Err(err) => {
                            tracing::warn!(error = %err, "the catalog did not answer the courier")
                        }
                    }
                }),
        );
    }

    fn send(&mut self, delivery: DueDelivery, ctx: &mut Context<Self>) {
        self.in_flight += 1;
        let (catalog, mailer, client) = (
            self.catalog.clone(),
            self.mailer.clone(),
            self.client.clone(),
        );
        let policy = self.config.retry;
        let work = async move {
            let attempt = client.attempt(&delivery).await;
            let (delivered, status_code, error) = match &attempt {
                Attempt::Delivered { status_code } => (true, Some(*status_code), None),
                Attempt::Failed { status_code, error } => {
                    (false, *status_code, Some(error.clone()))
                }
            };
            let record = RecordAttempt {
                delivery_id: delivery.id,
                leased_until: delivery.leased_until,
                attempt,
                policy,
            };
            let recorded = catalog.send(record).await;
            let span = tracing::info_span!(
                "webhook.delivery",
                delivery_id = %delivery.id,
                event = %delivery.event,
                attempt = delivery.attempts + 1,
            );
            let _entered = span.enter();
            match recorded {
                Ok(Ok(AttemptRecorded::Delivered)) => {
                    metrics::webhook_attempt("delivered");
                    tracing::info!(status_code = ?status_code, "webhook delivered");
                }
                Ok(Ok(AttemptRecorded::WillRetry(at))) => {
                    metrics::webhook_attempt("retried");
                    tracing::info!(status_code = ?status_code, error = ?error, retry_at = %at, "webhook delivery failed; it will be retried");
                }
                Ok(Ok(AttemptRecorded::GaveUp { owner_email, url })) => {
                    metrics::webhook_attempt("failed");
                    tracing::warn!(error = ?error, "webhook delivery failed for good; its endpoint is disabled");
                    let mail = SendWebhookDisabledMail {
                        request_id: RequestId::generate(),
                        email: owner_email,
                        url,
                        gave_up_after: policy.give_up_after,
                    };
                    if let Ok(Err(err)) = mailer.send(mail).await {
                        tracing::warn!(error = %crate::error_chain(&err), "cannot mail the owner of a disabled webhook");
                    }
                }
                Ok(Ok(AttemptRecorded::LeaseLost)) => {
                    tracing::info!(
                        delivered,
                        "webhook attempt not recorded: its lease ran out or it is gone"
                    );
                }
                Ok(Err(err)) => tracing::warn!(
                    error = %crate::error_chain(&err),
                    "cannot record a webhook attempt; the delivery goes out again once its lease runs out"
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "the catalog did not record a webhook attempt")
                }
            }
        };
        ctx.spawn(work.into_actor(self).map(|_, courier, _| {
            courier.in_flight -= 1;
        }));
    }
}

impl Actor for Courier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.config.poll_interval, |courier, ctx| courier.claim(ctx));
    }
}

impl Supervised for Courier {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.in_flight = 0;
        self.claiming = false;
        self.restarts.pause_before_restart("courier", ctx);
    }
}
