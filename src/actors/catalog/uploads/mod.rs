//! The uploads aggregate (`uploads`): resumable (tus) uploads in progress.
//! Creating one reserves its announced length (and one file) from its owner's
//! quota; appending is leased, so two requests never append to one upload at
//! once, and records the new offset only if it still is what the append began
//! at; finishing hands the reservation over to the file `RecordUpload` makes;
//! terminating or expiring gives it back. Every message but the expiry sweep
//! reaches only the asking user's own uploads.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
