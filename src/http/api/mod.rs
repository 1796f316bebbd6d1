//! The JSON API under `/api`, as `shared/API.md` specifies it.

mod accounts;
pub(crate) mod bodies;
mod events;
mod files;
mod jobs;
mod openapi;
mod pipe;
mod recovery;
mod shares;
mod tokens;
mod transforms;
pub(crate) mod upload_form;
mod uploads;
pub(crate) mod webhooks;

#[cfg(feature = "fuzzing")]
pub use upload_form::fuzzing::upload_form as fuzz_upload_form;

use actix_web::web;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::actors::catalog::User;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(accounts::configure)
        .configure(recovery::configure)
        .configure(tokens::configure)
        .configure(files::configure)
        .configure(uploads::configure)
        .configure(shares::configure)
        .configure(transforms::configure)
        .configure(events::configure)
        .configure(jobs::configure)
        .configure(webhooks::configure)
        .configure(openapi::configure);
}

/// `user` as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserBody {
    id: Uuid,
    email: String,
    name: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            email: user.email,
            name: user.name,
            email_verified: user.email_verified,
            created_at: user.created_at,
        }
    }
}
