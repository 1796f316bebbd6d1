//! What the accounts aggregate replies with besides [`User`].

use crate::actors::catalog::User;

/// An account looked up for sign-in, with its password hash (none for accounts
/// that only sign in through OAuth) and the token generation a new access token
/// is issued under.
#[derive(Debug, Clone)]
pub struct LoginCandidate {
    pub user: User,
    pub password_hash: Option<String>,
    pub token_generation: i32,
}
