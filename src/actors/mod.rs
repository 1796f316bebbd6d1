//! The actor graph. Each actor owns one resource and says so in its module doc:
//!
//! - [`supervisor`] starts the others, keeps their addresses, answers readiness;
//! - [`catalog`] owns the database pool;
//! - [`storage`] owns the object store;
//! - [`credentials`] hashes passwords on its own threads;
//! - [`limiter`] owns the Redis pool used to count failed sign-ins.
//!
//! HTTP handlers hold only [`ActorHandles`] and talk to actors with typed messages.

pub mod catalog;
pub mod credentials;
pub mod limiter;
pub mod storage;
pub mod supervisor;

pub use supervisor::ActorHandles;
