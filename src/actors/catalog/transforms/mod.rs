//! The transforms aggregate (`transforms`): a cache of the images Kiln
//! transforms on request, one row per file and transform spec (by its hash),
//! naming the object that holds the result. A request finds its transform here
//! before making it again; a transform made by two processes at once keeps the
//! first row. The cache is bounded: once its objects outgrow
//! `TRANSFORM_CACHE_SIZE`, the least recently used rows are evicted and their
//! keys handed back for the caller to delete the objects. Rows go with their
//! file, whose deletion hands back their keys too.

mod handlers;
mod messages;
mod records;

pub use messages::*;
pub use records::*;
