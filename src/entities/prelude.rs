//! Every entity under its table's name, for `use crate::entities::prelude::*`.

pub use super::api_tokens::Entity as ApiTokens;
pub use super::email_verifications::Entity as EmailVerifications;
pub use super::file_shares::Entity as FileShares;
pub use super::file_variants::Entity as FileVariants;
pub use super::files::Entity as Files;
pub use super::oauth_accounts::Entity as OauthAccounts;
pub use super::password_resets::Entity as PasswordResets;
pub use super::processing_jobs::Entity as ProcessingJobs;
pub use super::revoked_tokens::Entity as RevokedTokens;
pub use super::sessions::Entity as Sessions;
pub use super::transforms::Entity as Transforms;
pub use super::uploads::Entity as Uploads;
pub use super::users::Entity as Users;
pub use super::webhook_deliveries::Entity as WebhookDeliveries;
pub use super::webhooks::Entity as Webhooks;
