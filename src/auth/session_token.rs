//! Web session ids and the CSRF token bound to each.
//!
//! A session id is 256 random bits, held only by the browser (an HttpOnly
//! cookie); the database keeps its SHA-256. The CSRF token a page embeds in its
//! forms is another one-way function of the same id, domain-separated from the
//! stored hash: a page can always be rendered with it, a cross-site attacker who
//! cannot read the cookie cannot compute it, and the database never holds it.

use subtle::ConstantTimeEq;

/// A newly made session id, before it is stored.
pub struct NewSession {
    /// The cookie value, given to the browser only.
    pub id: String,
    pub id_hash: String,
    pub csrf_token_hash: String,
}

pub fn generate() -> NewSession {
    let id = super::random_secret();
    NewSession {
        id_hash: hash(&id),
        csrf_token_hash: super::sha256_hex(&csrf_token(&id)),
        id,
    }
}

/// The stored form of a session id (hex SHA-256), used to look one up.
pub fn hash(id: &str) -> String {
    super::sha256_hex(id)
}

/// The CSRF token of the session with this id.
pub fn csrf_token(id: &str) -> String {
    super::sha256_hex(&format!("kiln-csrf:{id}"))
}

/// Whether `presented` is the CSRF token of the session `id`, compared in
/// constant time.
pub fn csrf_matches(id: &str, presented: &str) -> bool {
    csrf_token(id).as_bytes().ct_eq(presented.as_bytes()).into()
}

/// Whether a cookie value has the shape of an id Kiln makes (so junk never
/// reaches the database).
pub fn is_well_formed(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_belongs_to_one_session_and_differs_from_the_stored_hash() {
        let a = generate();
        let b = generate();
        assert!(is_well_formed(&a.id));
        assert!(csrf_matches(&a.id, &csrf_token(&a.id)));
        assert!(!csrf_matches(&a.id, &csrf_token(&b.id)));
        assert!(!csrf_matches(&a.id, ""));
        assert_ne!(csrf_token(&a.id), a.id_hash);
        assert_eq!(a.id_hash, hash(&a.id));
    }

    #[test]
    fn junk_cookie_values_are_not_well_formed() {
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&"a".repeat(42)));
        assert!(!is_well_formed(&format!("{}%", "a".repeat(42))));
    }
}
