//! The Mailer actor owns the way out for mail: an SMTP connection (lettre) when
//! `SMTP_HOST` is set, or, on the embedded default, the directory
//! `DATA_DIR/mail`, where each message becomes an `.eml` file whose path is
//! logged, so a newcomer can open it and follow its link.
//!
//! - Accepts: [`SendLinkMail`](messages::SendLinkMail). It composes the message
//!   at once ([`compose`]: subject, plain text and an HTML alternative from
//!   `templates/mail/`, links built from `BASE_URL`; no text the account
//!   chose when its address is not verified) and replies when the message is
//!   queued; delivery then runs on the Mailer's thread, so a slow or
//!   absent mail server never holds up an HTTP request.
//! - Delivery retries what may pass later (no connection, a 4xx reply, a disk
//!   error) with exponential backoff for about eight minutes, then logs an error
//!   naming the user id and the kind of mail. Logs never carry a token.
//!   Mail waiting for a retry lives in memory only: a process that stops drops it.
//! - Emits nothing; supervised by the Supervisor and restarted with backoff if
//!   it stops.

mod compose;
mod handlers;
pub mod messages;

use std::path::PathBuf;
use std::time::Duration;

use actix::{Actor, Context, Supervised};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use url::Url;

use crate::actors::restart::RestartBackoff;
use crate::config::{MailConfig, MailTransport, SmtpConfig, SmtpTls};
use compose::Composer;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("the SMTP settings cannot be used")]
    Settings(#[source] lettre::transport::smtp::Error),
    #[error("a mail template cannot be rendered")]
    Template(#[source] tera::Error),
    #[error("the recipient's address cannot be used in a mail")]
    Recipient(#[source] lettre::address::AddressError),
    #[error("the message cannot be built")]
    Build(#[source] lettre::error::Error),
    #[error("the SMTP server did not take the message")]
    Smtp(#[source] lettre::transport::smtp::Error),
    #[error("the message cannot be written to the mail directory")]
    Write(#[source] std::io::Error),
}

impl MailerError {
    /// Whether trying the same delivery again later may succeed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Smtp(err) => !err.is_permanent(),
            Self::Write(_) => true,
            Self::Settings(_) | Self::Template(_) | Self::Recipient(_) | Self::Build(_) => false,
        }
    }
}

/// Where delivered mail goes.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

pub struct Mailer {
    composer: Composer,
    transport: Transport,
    restarts: RestartBackoff,
}

/// Longest one SMTP exchange may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    /// `public_url` is `BASE_URL` (or this process's own address): the root of
    /// every link, and the name Kiln gives itself in the SMTP greeting.
    pub fn new(config: &MailConfig, public_url: Url) -> Result<Self, MailerError> {
        let transport = match &config.transport {
            MailTransport::Smtp(smtp) => {
                Transport::Smtp(smtp_transport(smtp, helo_name(&public_url))?)
            }
            MailTransport::Files { dir } => Transport::Files(dir.clone()),
        };
        Ok(Self {
            composer: Composer::new(config.from.clone(), public_url)
                .map_err(MailerError::Template)?,
            transport,
            restarts: RestartBackoff::default(),
        })
    }
}

fn smtp_transport(
    smtp: &SmtpConfig,
    helo: ClientId,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailerError> {
    type Smtp = AsyncSmtpTransport<Tokio1Executor>;
    let builder = match smtp.tls {
        SmtpTls::None => Smtp::builder_dangerous(&smtp.host),
        SmtpTls::StartTls => Smtp::starttls_relay(&smtp.host).map_err(MailerError::Settings)?,
        SmtpTls::Tls => Smtp::relay(&smtp.host).map_err(MailerError::Settings)?,
    };
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(SMTP_TIMEOUT))
        .hello_name(helo);
    if let Some((username, password)) = &smtp.credentials {
        if smtp.tls == SmtpTls::None {
            tracing::warn!(
                host = %smtp.host,
                "SMTP_TLS=none: SMTP_PASSWORD crosses the network unencrypted"
            );
        }
        builder = builder.credentials(Credentials::new(
            username.clone(),
            password.expose_secret().to_string(),
        ));
    }
    Ok(builder.build())
}

/// The host of `public_url` as an SMTP client name (an IP becomes an address
/// literal, as RFC 5321 asks).
fn helo_name(public_url: &Url) -> ClientId {
    match public_url.host() {
        Some(url::Host::Domain(domain)) => ClientId::Domain(domain.to_string()),
        Some(url::Host::Ipv4(ip)) => ClientId::Ipv4(ip),
        Some(url::Host::Ipv6(ip)) => ClientId::Ipv6(ip),
        None => ClientId::default(),
    }
}

impl Actor for Mailer {
    type Context = Context<Self>;
}

impl Supervised for Mailer {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("mailer", ctx);
    }
}
