//! What the sessions aggregate replies with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::actors::catalog::User;
use crate::entities::api_tokens;

/// A web session that is still open, with its account.
#[derive(Debug, Clone)]
pub struct OpenSession {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_tokens::Model> for ApiToken {
    fn from(model: api_tokens::Model) -> Self {
        Self {
            id: model.id,
            name: model.name,
            prefix: model.prefix,
            created_at: model.created_at,
            last_used_at: model.last_used_at,
            expires_at: model.expires_at,
        }
    }
}
