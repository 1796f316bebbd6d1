//! API authentication: `Authorization: Bearer <credential>`, where the
//! credential is a login JWT or a personal API token (`kiln_...`); or, for the
//! web UI's scripts, the session cookie, with the session's CSRF token in the
//! `X-CSRF-Token` header on every request that changes something. Handlers that
//! take an [`Authenticated`] argument are closed to everyone else with a 401,
//! and to the credentials of a disabled account with a 403.

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::request_context::request_id_of;
use super::session::current_session;
use crate::actors::catalog::sessions::{AuthenticateApiToken, CheckAccessToken, CredentialCheck};
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
    /// A web session's cookie (the UI's scripts).
    Session,
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
        let req = req.clone();
        Box::pin(async move {
            let Some(state) = state else {
                return Err(ApiError::Unauthorized);
            };
            let Some(credential) = credential else {
                return from_session(&state, &req).await;
            };
            let caller = if api_token::looks_like_api_token(&credential) {
                let check = state
                    .actors
                    .catalog
                    .send(AuthenticateApiToken {
                        request_id,
                        token_hash: api_token::hash(&credential),
                    })
                    .await??;
                Authenticated {
                    user_id: opened_account(check)?,
                    credential: Credential::ApiToken,
                }
            } else {
                let token = state
                    .jwt
                    .verify(&credential)
                    .map_err(|_| ApiError::Unauthorized)?;
                let check = state
                    .actors
                    .catalog
                    .send(CheckAccessToken {
                        request_id,
                        jti: token.jti,
                        user_id: token.user_id,
                        generation: token.generation,
                    })
                    .await??;
                Authenticated {
                    user_id: opened_account(check)?,
                    credential: Credential::AccessToken(token),
                }
            };
            tracing::Span::current().record("user_id", tracing::field::display(caller.user_id));
            Ok(caller)
        })
    }
}

/// The account a checked credential opens, or why it opens none.
fn opened_account(check: CredentialCheck) -> Result<Uuid, ApiError> {
    match check {
        CredentialCheck::Valid(user_id) => Ok(user_id),
        CredentialCheck::Invalid => Err(ApiError::Unauthorized),
        CredentialCheck::AccountDisabled => Err(ApiError::AccountDisabled),
    }
}

/// The caller of a request with no bearer credential: a browser with an open
/// session. A request that changes something must also carry the session's
/// CSRF token, which no other site can read or send.
async fn from_session(state: &AppState, req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let signed_in = current_session(state, req)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !signed_in.check_csrf_header(req) {
        return Err(ApiError::Forbidden(
            "a request made with a session cookie needs the session's X-CSRF-Token header".into(),
        ));
    }
    Ok(Authenticated {
        user_id: signed_in.user.id,
        credential: Credential::Session,
    })
}
