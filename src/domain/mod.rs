//! Validated newtypes and the rules behind them: plain code, no actors, no I/O.
//!
//! A value of one of these types has passed its rules, so code that receives one
//! does not check again.

mod client_address;
pub mod delivery;
pub mod display_name;
mod email;
pub mod file_names;
pub mod jobs;
pub mod password;
pub mod quota;
pub mod requests;
pub mod shares;
pub mod text;
mod throttle;
mod token_name;
pub mod transforms;
pub mod tus;
mod upload_type;
pub mod webhooks;

pub use client_address::{TrustedProxies, counted_as};
pub use display_name::DisplayName;
pub use email::Email;
pub use password::{Password, PasswordRejection};
pub use throttle::Throttle;
pub use token_name::TokenName;
pub use upload_type::UploadType;
