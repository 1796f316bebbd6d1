//! Bearer authentication: `Authorization: Bearer <credential>`, where the
//! credential is a login JWT or a personal API token (`kiln_...`). Handlers that
//! take an [`Authenticated`] argument are closed to everyone else with a 401.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::request_context::request_id_of;
use crate::actors::catalog::messages::{AuthenticateApiToken, CheckAccessToken};
use crate::auth::api_token;
use crate::auth::jwt::AccessToken;

/// The caller, proven by a valid credential.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: Uuid,
    pub credential: Credential,
}

#[derive(Debug, Clone)]
pub enum Credential {
    /// A JWT from login, which logout revokes, and a password reset ends.
    AccessToken(AccessToken),
    /// A personal API token, revoked through `DELETE /api/tokens/{id}`.
    ApiToken,
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credential.is_empty())
        .then(|| credential.to_string())
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let credential = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let request_id = request_id_of(req);
        Box::pin(async move {
            let (Some(credential), Some(state)) = (credential, state) else {
                return Err(ApiError::Unauthorized);
            };
            let caller = if api_token::looks_like_api_token(&credential) {
                let user_id = state
                    .actors
                    .catalog
                    .send(AuthenticateApiToken {
                        request_id,
                        token_hash: api_token::hash(&credential),
                    })
                    .await??
                    .ok_or(ApiError::Unauthorized)?;
                Authenticated {
                    user_id,
                    credential: Credential::ApiToken,
                }
            } else {
                let token = state
                    .jwt
                    .verify(&credential)
                    .map_err(|_| ApiError::Unauthorized)?;
                let valid = state
                    .actors
                    .catalog
                    .send(CheckAccessToken {
                        request_id,
                        jti: token.jti,
                        user_id: token.user_id,
                        generation: token.generation,
                    })
                    .await??;
                if !valid {
                    return Err(ApiError::Unauthorized);
                }
                Authenticated {
                    user_id: token.user_id,
                    credential: Credential::AccessToken(token),
                }
            };
            tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
            Ok(caller)
        })
    }
}
