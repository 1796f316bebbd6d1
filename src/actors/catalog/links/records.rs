//! What the links aggregate replies with.

/// What a presented single-use link token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck<T> {
    Valid(T),
    /// It existed, unused, but its time ran out.
    Expired,
    /// Unknown, already used, or no longer meaningful.
    Invalid,
}
