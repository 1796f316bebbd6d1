//! The Mailer's handler and the delivery loop it starts for each message.

use std::path::PathBuf;
use std::time::Duration;

use actix::Handler;
use chrono::Utc;
use lettre::AsyncTransport;
use lettre::address::Envelope;
use tracing::{Instrument, info_span};
use uuid::Uuid;

use super::messages::{SendLinkMail, SendWebhookDisabledMail};
use super::{Mailer, MailerError, Transport};
use crate::error_chain;

/// Pause before the first retry; it doubles after each failed attempt.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(5 * 60);
/// Attempts per message: with the pauses above, about eight and a half minutes.
const MAX_ATTEMPTS: u32 = 10;

/// A composed message on its way out.
struct Delivery {
    envelope: Envelope,
    bytes: Vec<u8>,
    /// Names the `.eml` file, so a person can tell the files apart.
    kind: &'static str,
}

/// Where a delivery ended up.
enum Delivered {
    Sent,
    Written(PathBuf),
}

impl Transport {
    async fn deliver(&self, delivery: &Delivery) -> Result<Delivered, MailerError> {
        match self {
            Self::Smtp(smtp) => smtp
                .send_raw(&delivery.envelope, &delivery.bytes)
                .await
                .map(|_| Delivered::Sent)
                .map_err(MailerError::Smtp),
            Self::Files(dir) => write_eml(dir, delivery)
                .await
                .map(Delivered::Written)
                .map_err(MailerError::Write),
        }
    }
}

/// Writes the message as `DATA_DIR/mail/<time>-<kind>-<id>.eml`, whole or not
/// at all (written aside, then renamed into place).
async fn write_eml(dir: &std::path::Path, delivery: &Delivery) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!(
        "{}-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        delivery.kind,
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let partial = dir.join(format!(".{name}.partial"));
    let path = dir.join(format!("{name}.eml"));
    tokio::fs::write(&partial, &delivery.bytes).await?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}

/// Delivers with exponential backoff while failures may pass; logs the outcome.
async fn deliver(transport: Transport, delivery: Delivery) {
    let mut pause = FIRST_RETRY;
    for attempt in 1..=MAX_ATTEMPTS {
        match transport.deliver(&delivery).await {
            Ok(Delivered::Sent) => {
                tracing::info!(attempt, "mail sent");
                return;
            }
            Ok(Delivered::Written(path)) => {
                tracing::info!(
                    path = %path.display(),
                    "mail written as a file (SMTP_HOST is not set): open it to follow its link"
                );
                return;
            }
            Err(err) if err.is_transient() && attempt < MAX_ATTEMPTS => {
                tracing::warn!(
                    attempt,
                    retry_in_ms = pause.as_millis() as u64,
                    error = %error_chain(&err),
                    "mail not delivered yet; retrying"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_RETRY);
            }
            Err(err) => {
                tracing::error!(
                    attempt,
                    error = %error_chain(&err),
                    "mail could not be delivered and is dropped"
                );
                return;
            }
        }
    }
}

impl Handler<SendLinkMail> for Mailer {
    type Result = Result<(), MailerError>;

    fn handle(&mut self, msg: SendLinkMail, _: &mut Self::Context) -> Self::Result {
        let span = info_span!(
            "mailer.send",
            request_id = %msg.request_id,
            user_id = %msg.user_id,
            kind = msg.purpose.as_str(),
        );
        let message = span.in_scope(|| self.composer.compose(&msg))?;
        self.queue(message, msg.purpose.as_str(), span);
        Ok(())
    }
}

impl Mailer {
    /// Delivers `message` on the Mailer's own thread, apart from its mailbox:
    /// the reply says "queued", and a retrying delivery never holds up the
    /// next message.
    fn queue(&self, message: lettre::Message, kind: &'static str, span: tracing::Span) {
        let delivery = Delivery {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
            kind,
        };
        actix_rt::spawn(deliver(self.transport.clone(), delivery).instrument(span));
    }
}

impl Handler<SendWebhookDisabledMail> for Mailer {
    type Result = Result<(), MailerError>;

    fn handle(&mut self, msg: SendWebhookDisabledMail, _: &mut Self::Context) -> Self::Result {
        let kind = "webhook_disabled";
        let span = info_span!("mailer.send", request_id = %msg.request_id, kind);
        let message = span.in_scope(|| self.composer.compose_webhook_disabled(&msg))?;
        self.queue(message, kind, span);
        Ok(())
    }
}
