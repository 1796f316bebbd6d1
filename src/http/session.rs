//! Web sessions: the cookie a browser signs in with, and the CSRF token that
//! goes with it.
//!
//! The cookie holds a random id (see [`session_token`]); the Catalog keeps its
//! hash, the account, and the idle and absolute expiry it enforces on every
//! lookup. The cookie is HttpOnly and SameSite=Lax, and when `BASE_URL` is https
//! also Secure with the `__Host-` prefix (so no subdomain can plant one).
//! Signing in always makes a new id and deletes the one the browser held;
//! signing out, changing or resetting the password delete sessions server-side.
//!
//! State-changing requests made with a session carry its CSRF token: pages put
//! it in a hidden `csrf_token` field, scripts in the `X-CSRF-Token` header.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;

use super::AppState;
use super::error::ApiError;
use super::request_context::{client_address, request_id_of};
use super::ui::UiError;
use crate::actors::accounts::{OpenedSession, SessionRequest};
use crate::actors::catalog::User;
use crate::actors::catalog::sessions::{EndSession, FindSession};
use crate::auth::session_token;
use crate::config::Config;

/// Header a script sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Longest user agent kept with a session (it is shown, never trusted).
const MAX_USER_AGENT: usize = 256;

/// Whether cookies are for an https site: then Secure and `__Host-` apply.
fn secure_site(config: &Config) -> bool {
    config
        .base_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https")
}

/// The session cookie's name for this site.
pub fn cookie_name(config: &Config) -> &'static str {
    if secure_site(config) {
        "__Host-kiln_session"
    } else {
        "kiln_session"
    }
}

/// A cookie with Kiln's flags: HttpOnly, SameSite=Lax, `Path=/`, and Secure on
/// an https site. Other short-lived cookies (flash notices, the OAuth flow) are
/// made with it too.
pub fn site_cookie(config: &Config, name: &str, value: String) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_site(config))
        .finish()
}

/// A cookie that makes the browser forget `name`.
pub fn removal_cookie(config: &Config, name: &str) -> Cookie<'static> {
    let mut cookie = site_cookie(config, name, String::new());
    cookie.make_removal();
    cookie
}

/// The session id the browser presented, when it has the shape of one.
fn presented_id(req: &HttpRequest, config: &Config) -> Option<String> {
    let cookie = req.cookie(cookie_name(config))?;
    let id = cookie.value();
    session_token::is_well_formed(id).then(|| id.to_string())
}

/// What a session this request opens keeps about the browser (its user
/// agent and address), and the id it held before, which the new one replaces:
/// the id always changes at sign-in.
pub fn session_request(state: &AppState, req: &HttpRequest) -> SessionRequest {
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    SessionRequest {
        user_agent,
        ip: client_address(req).map(|address| address.to_string()),
        replaces: presented_id(req, &state.config).map(|id| session_token::hash(&id)),
    }
}

/// The cookie that carries a session just opened; it lasts `SESSION_MAX_AGE`.
pub fn session_cookie(config: &Config, session: OpenedSession) -> Cookie<'static> {
    let mut cookie = site_cookie(config, cookie_name(config), session.id);
    cookie.set_max_age(time::Duration::seconds(
        i64::try_from(config.sessions.max_age.as_secs()).unwrap_or(i64::MAX),
    ));
    cookie
}

/// Ends the browser's session server-side, and returns the cookie that clears
/// it.
pub async fn end_session(state: &AppState, req: &HttpRequest) -> Result<Cookie<'static>, ApiError> {
    if let Some(id) = presented_id(req, &state.config) {
        super::ask(
            &state.actors.catalog,
            EndSession {
                request_id: request_id_of(req),
                id_hash: session_token::hash(&id),
            },
        )
        .await?;
    }
    Ok(removal_cookie(&state.config, cookie_name(&state.config)))
}

/// The signed-in browser's account and session, or `None` when it has no open
/// session. A session of a disabled account is refused with 403 (it is kept:
/// it works again once the account is enabled).
pub async fn current_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<SignedIn>, ApiError> {
    let Some(id) = presented_id(req, &state.config) else {
        return Ok(None);
    };
    let found = super::ask(
        &state.actors.catalog,
        FindSession {
            request_id: request_id_of(req),
            id_hash: session_token::hash(&id),
            idle_timeout: state.config.sessions.idle_timeout,
        },
    )
    .await?;
    if found.as_ref().is_some_and(|open| open.user.is_disabled()) {
        return Err(ApiError::AccountDisabled);
    }
    Ok(found.map(|open| {
        tracing::Span::current().record("user_id", tracing::field::display(open.user.id));
        SignedIn {
            user: open.user,
            csrf_token: session_token::csrf_token(&id),
            id,
        }
    }))
}

/// A browser with an open session. As an extractor it sends a browser without
/// one to the sign-in page (and back here afterwards, for a page it asked for).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    /// Goes into every form the page renders.
    pub csrf_token: String,
    id: String,
}

impl SignedIn {
    /// Refuses a state-changing request whose token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), UiError> {
        match session_token::csrf_matches(&self.id, presented) {
            true => Ok(()),
            false => Err(UiError::CrossSite),
        }
    }

    /// The check for a request from a script, which sends the token in the
    /// [`CSRF_HEADER`].
    pub fn check_csrf_header(&self, req: &HttpRequest) -> bool {
        req.headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|token| session_token::csrf_matches(&self.id, token))
    }
}

/// The session `req` presents, looked up with the application's state.
async fn session_of(req: &HttpRequest) -> Result<Option<SignedIn>, UiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| UiError::from(ApiError::Unauthorized))?;
    Ok(current_session(state, req).await?)
}

impl FromRequest for SignedIn {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match session_of(&req).await? {
                Some(signed_in) => Ok(signed_in),
                None => Err(UiError::SignInRequired {
                    next: (req.method() == actix_web::http::Method::GET)
                        .then(|| req.uri().to_string()),
                }),
            }
        })
    }
}

/// A browser's open session, if it has one: for pages that signed-out
/// visitors see too. A session of a disabled account is refused with 403, and
/// a database failure is an error, as for [`SignedIn`].
#[derive(Debug, Clone)]
pub struct MaybeSignedIn(pub Option<SignedIn>);

impl FromRequest for MaybeSignedIn {
    type Error = UiError;
    type Future = LocalBoxFuture<'static, Result<Self, UiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(session_of(&req).await?)) })
    }
}
