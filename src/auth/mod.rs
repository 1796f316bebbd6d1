//! Credentials as plain code: access tokens (JWT), personal API tokens and password
//! hashes. No actors and no I/O here; the Credentials actor runs the slow hashing
//! off the async threads, and the Catalog stores what these functions produce.

pub mod api_token;
pub mod jwt;
pub mod password_hash;
