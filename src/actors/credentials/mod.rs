//! The Credentials actors hash and verify passwords on their own threads
//! (a `SyncArbiter`), because Argon2 is deliberately slow and must never run on an
//! async executor thread.
//!
//! - Accepts: [`HashPassword`], [`VerifyPassword`].
//! - Owns: nothing but CPU time; started by the Supervisor with a few threads.

use actix::{Actor, Handler, Message, SyncContext};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::password_hash::{self, HashError};

#[derive(Default)]
pub struct Credentials;

impl Actor for Credentials {
    type Context = SyncContext<Self>;
}

/// Hashes a password that already passed the rules; replies with a PHC string.
#[derive(Message)]
#[rtype(result = "Result<String, HashError>")]
pub struct HashPassword {
    pub password: SecretString,
}

/// Verifies a password against a stored hash, or against a decoy when there is
/// none, so both cases cost the same time.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct VerifyPassword {
    pub password: SecretString,
    pub stored_hash: Option<String>,
}

impl Handler<HashPassword> for Credentials {
    type Result = Result<String, HashError>;

    fn handle(&mut self, msg: HashPassword, _: &mut Self::Context) -> Self::Result {
        password_hash::hash(msg.password.expose_secret())
    }
}

impl Handler<VerifyPassword> for Credentials {
    type Result = bool;

    fn handle(&mut self, msg: VerifyPassword, _: &mut Self::Context) -> Self::Result {
        password_hash::verify(msg.password.expose_secret(), msg.stored_hash.as_deref())
    }
}
