//! Messages the Mailer accepts.

use actix::Message;
use secrecy::SecretString;
use uuid::Uuid;

use super::MailerError;
use crate::auth::link_token::LinkPurpose;
use crate::telemetry::RequestId;

/// Mails a user a single-use link. Replies once the message is composed and
/// queued; whether it was delivered is logged, not replied.
#[derive(Message)]
#[rtype(result = "Result<(), MailerError>")]
pub struct SendLinkMail {
    pub request_id: RequestId,
    pub user_id: Uuid,
    /// The recipient's address and the account's name.
    pub email: String,
    pub name: String,
    /// Whether the account has proven that the address is its own. Until it
    /// has, the mail may be going to a stranger who never asked for it, so it
    /// carries no text the account chose (not even its name).
    pub address_verified: bool,
    pub purpose: LinkPurpose,
    /// The token the link carries; it goes into the mail and nowhere else.
    pub token: SecretString,
}

/// Tells a user that Kiln gave up on one of their webhook endpoints and
/// disabled it. Replies once the message is composed and queued.
#[derive(Message)]
#[rtype(result = "Result<(), MailerError>")]
pub struct SendWebhookDisabledMail {
    pub request_id: RequestId,
    /// The owner's address (verified: only such accounts add endpoints).
    pub email: String,
    /// The endpoint's URL.
    pub url: String,
    /// How long deliveries failed before Kiln gave up (`WEBHOOK_GIVE_UP_AFTER`).
    pub gave_up_after: std::time::Duration,
}
