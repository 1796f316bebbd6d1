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
    /// The recipient's address and name.
    pub email: String,
    pub name: String,
    pub purpose: LinkPurpose,
    /// The token the link carries; it goes into the mail and nowhere else.
    pub token: SecretString,
}
