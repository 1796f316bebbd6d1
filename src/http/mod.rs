//! HTTP: the JSON API (`api/`), operational routes, the local-storage download
//! route, share links, transforms and the web UI's pages. Handlers hold no database pool, object store or
//! Redis client: they send typed messages to the actors in [`AppState`].

pub mod api;
pub mod auth;
pub mod error;
mod objects;
pub mod ops;
pub mod request_context;
pub mod session;
pub(crate) mod shares;
mod transforms;
mod ui;

pub use ui::{check_templates, refuse_cross_site};

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::actors::{ActorHandles, Asks};
use crate::auth::jwt::JwtKeys;
use crate::config::Config;
use crate::domain::transforms::TransformKey;
use error::ApiError;

/// What every handler can reach: actor addresses, token keys and settings.
pub struct AppState {
    pub actors: ActorHandles,
    pub jwt: JwtKeys,
    /// Authenticates short-lived cookies Kiln reads back (the OAuth flow's).
    pub cookie_key: [u8; 32],
    /// Signs and checks transform URLs (`TRANSFORM_KEY`).
    pub transform_key: TransformKey,
    pub config: Arc<Config>,
}

/// Longest a handler waits for an actor's reply before answering 503.
const ACTOR_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends `msg` and waits (bounded) for the actor's `Result`, mapping either
/// failure into an [`ApiError`].
pub async fn ask<M, To: Asks<M>>(addr: &To, msg: M) -> Result<To::Value, ApiError>
where
    ApiError: From<To::Error>,
{
    addr.ask_within(msg, ACTOR_TIMEOUT).await
}

/// Largest JSON body the API reads; uploads use multipart, not JSON.
const JSON_LIMIT: usize = 64 * 1024;

/// Registers every route of the public port and the extractor error handlers.
/// `/readyz` and `/metrics` are among them only when no `OPS_PORT` listener
/// serves them (`ops_port_set` false).
pub fn configure(cfg: &mut web::ServiceConfig, ops_port_set: bool) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(JSON_LIMIT)
            .error_handler(|err, _| {
                let message = match &err {
                    actix_web::error::JsonPayloadError::ContentType => {
                        "expected a JSON body with Content-Type: application/json".to_string()
                    }
                    other => format!("invalid JSON body: {other}"),
                };
                ApiError::bad_request("invalid_json", message).into()
            }),
    )
    .app_data(
        web::PathConfig::default().error_handler(|_, _| ApiError::NotFound("resource").into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request("invalid_query", format!("invalid query string: {err}")).into()
    }))
    .configure(match ops_port_set {
        true => ops::configure_health,
        false => ops::configure,
    })
    .configure(objects::configure)
    .configure(shares::configure)
    .configure(transforms::configure)
    .service(web::scope("/api").configure(api::configure))
    .configure(ui::configure);
}
