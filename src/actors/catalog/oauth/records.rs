//! What the OAuth aggregate replies with.

use chrono::{DateTime, Utc};

use crate::auth::oauth::Provider;

/// A provider linked to an account, as settings lists it.
#[derive(Debug, Clone)]
pub struct LinkedProvider {
    pub provider: Provider,
    /// The address the provider gave when the link was made.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An account's ways to sign in: its linked providers, and whether it has a
/// password (so settings can keep the last way from being unlinked).
#[derive(Debug, Clone)]
pub struct SignInMethods {
    pub linked: Vec<LinkedProvider>,
    pub has_password: bool,
}
