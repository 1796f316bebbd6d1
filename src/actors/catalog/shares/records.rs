//! What the shares aggregate replies with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actors::catalog::{File, Variant};
use crate::domain::shares::opens;
use crate::entities::file_shares;

/// A share link, without its token (which only its maker ever sees).
#[derive(Debug, Clone)]
pub struct Share {
    pub id: Uuid,
    pub file_id: Uuid,
    /// What it opens: `"original"` and variant names; `None` for everything.
    pub names: Option<Vec<String>>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl Share {
    /// Whether the link opens `name` (`"original"` or a variant's name).
    pub fn opens(&self, name: &str) -> bool {
        opens(self.names.as_deref(), name)
    }
}

impl From<file_shares::Model> for Share {
    fn from(model: file_shares::Model) -> Self {
        Self {
            id: model.id,
            file_id: model.file_id,
            // Only the Catalog writes the column, always a JSON list of strings.
            names: model
                .variants
                .and_then(|names| serde_json::from_str(&names).ok()),
            expires_at: model.expires_at,
            created_at: model.created_at,
        }
    }
}

/// A live link with what it shows: the file, and those of its variants the
/// link opens.
#[derive(Debug, Clone)]
pub struct SharedFile {
    pub share: Share,
    pub file: File,
    pub variants: Vec<Variant>,
}
