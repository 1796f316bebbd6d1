//! Validated newtypes and the rules behind them: plain code, no actors, no I/O.
//!
//! A value of one of these types has passed its rules, so code that receives one
//! does not check again.

pub mod delivery;
mod email;
pub mod jobs;
mod password;
pub mod text;
mod token_name;

pub use email::Email;
pub use password::{Password, PasswordRejection};
pub use token_name::TokenName;
