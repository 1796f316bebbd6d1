//! The webhooks aggregate (`webhooks`, `webhook_deliveries`): the endpoints a
//! user subscribes to events, and the outbox of deliveries to them.
//!
//! A delivery row is written by [`outbox`] inside the transaction that records
//! the event (a job's end changes its file's status), so an event that
//! happened is never without its deliveries, and none is recorded for an
//! event rolled back. Workers claim due deliveries with a lease, as jobs are
//! claimed; a worker that dies mid-send leaves a lease that runs out, and the
//! delivery goes out again with the same id (at least once).

mod handlers;
mod messages;
pub(in crate::actors::catalog) mod outbox;
mod records;

pub use messages::*;
pub use records::*;
