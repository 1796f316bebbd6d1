//! Signing in with Google or GitHub, and linking or unlinking them in
//! settings: the web side of [`crate::auth::oauth`].
//!
//!   GET  /auth/{provider}/start               sign in: sets the flow cookie, 302 to the provider
//!   GET  /auth/{provider}/callback            back from the provider (sign in or link)
//!   POST /settings/oauth/{provider}/link      starts a link flow (CSRF-checked)
//!   POST /settings/oauth/{provider}/unlink    (CSRF-checked)
//!
//! The flow's `state` and PKCE verifier wait in a sealed cookie (see
//! [`flow`]); the callback clears it whatever happens, so a flow is used at most
//! once. The redirect URI is built from `BASE_URL` (or the address Kiln
//! listens on), never from the request's Host header, which the client writes.
//! Whatever goes wrong at the provider becomes a message on the sign-in page
//! (or, for a link, a page that leads back to settings), never a 500: the
//! cause goes to the log.

use actix_web::cookie::{Cookie, time};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use url::Url;

use super::account::login_form;
use super::form_error;
use super::{CsrfForm, Page, SignedInForm, UiError, see_other, with_cookie};
use crate::actors::accounts::{
    Accounts, AccountsError, BrowserSession, LinkProvider, ProviderCode, ProviderLink,
    ProviderSignIn, SignInWithProvider,
};
use crate::actors::catalog::oauth::{OAuthUnlinkOutcome, UnlinkOAuthAccount};
use crate::auth::oauth::flow::{self, Flow, FlowError, Purpose};
use crate::auth::oauth::{self, Provider};
use crate::config::{Config, OAuthProviderConfig};
use crate::http::error::ApiError;
use crate::http::request_context::request_id_of;
use crate::http::session::{
    MaybeSignedIn, SignedIn, removal_cookie, session_cookie, session_request, site_cookie,
};
use crate::http::{AppState, ask};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/{provider}/start", web::get().to(start))
        .route("/auth/{provider}/callback", web::get().to(callback))
        .route("/settings/oauth/{provider}/link", web::post().to(link))
        .route("/settings/oauth/{provider}/unlink", web::post().to(unlink));
}

// ---- the flow cookie and the redirect URI -------------------------------------------

/// The flow cookie's name; on an https site with the `__Host-` prefix, as the
/// session cookie's, so no subdomain can plant a flow of its own.
fn flow_cookie_name(config: &Config) -> &'static str {
    match config
        .base_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https")
    {
        true => "__Host-kiln_oauth",
        false => "kiln_oauth",
    }
}

fn flow_cookie(state: &AppState, flow: &Flow) -> Cookie<'static> {
    let mut cookie = site_cookie(
        &state.config,
        flow_cookie_name(&state.config),
        flow.seal(&state.cookie_key),
    );
    cookie.set_max_age(time::Duration::seconds(flow::LIFETIME.as_secs() as i64));
    cookie
}

/// Where the provider sends the browser back: under `BASE_URL` (its path kept,
/// for a Kiln behind a path prefix), or this process's own address.
fn redirect_uri(state: &AppState, req: &HttpRequest, provider: Provider) -> Url {
    let mut url = state
        .config
        .public_url(req.app_config().local_addr().port());
    let path = format!(
        "{}/auth/{}/callback",
        url.path().trim_end_matches('/'),
        provider.id()
    );
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// The provider named in the path, when Kiln is configured for it.
fn configured<'a>(
    state: &'a AppState,
    id: &str,
) -> Result<(Provider, &'a OAuthProviderConfig), UiError> {
    Provider::parse(id)
        .and_then(|provider| Some((provider, provider.settings(&state.config.oauth)?)))
        .ok_or(UiError::Api(ApiError::NotFound("sign-in provider")))
}

/// A 302 to the provider's authorize URL that sets the flow cookie (and that
/// no cache keeps: each flow has its own state).
fn go_to_provider(
    state: &AppState,
    req: &HttpRequest,
    provider: Provider,
    settings: &OAuthProviderConfig,
    purpose: Purpose,
) -> HttpResponse {
    let authorization =
        oauth::authorization(provider, settings, &redirect_uri(state, req, provider));
    let flow = Flow::new(provider, &authorization, purpose, Utc::now());
    HttpResponse::Found()
        .insert_header((header::LOCATION, authorization.url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(flow_cookie(state, &flow))
        .finish()
}

// ---- messages ----------------------------------------------------------------------

/// The sign-in page again, with what went wrong; the flow cookie is cleared.
fn login_error(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    message: &str,
) -> Result<HttpResponse, UiError> {
    let response = login_form(state, "", None, Some(message))
        .status(status)
        .render(req, None)?;
    clear_flow(state, response)
}

/// A message page that leads back to settings.
fn settings_message(
    req: &HttpRequest,
    signed_in: Option<&SignedIn>,
    status: StatusCode,
    heading: &str,
    message: &str,
) -> Result<HttpResponse, UiError> {
    #[derive(Serialize)]
    struct Link {
        href: &'static str,
        label: &'static str,
    }
    Page::new("pages/message.html")
        .with("heading", &heading)
        .with("message", &message)
        .with(
            "link",
            &Link {
                href: "/settings",
                label: "Back to settings",
            },
        )
        .status(status)
        .render(req, signed_in)
}

/// Why a link did not happen; the flow cookie is cleared.
fn link_error(
    state: &AppState,
    req: &HttpRequest,
    signed_in: Option<&SignedIn>,
    status: StatusCode,
    message: &str,
) -> Result<HttpResponse, UiError> {
    let heading = "The provider was not linked";
    let response = settings_message(req, signed_in, status, heading, message)?;
    clear_flow(state, response)
}

/// `response`, clearing the sign-in flow's cookie.
fn clear_flow(state: &AppState, response: HttpResponse) -> Result<HttpResponse, UiError> {
    let removal = removal_cookie(&state.config, flow_cookie_name(&state.config));
    with_cookie(response, &removal)
}

fn redirect_clearing_flow(
    state: &AppState,
    location: &str,
    session: Option<Cookie<'static>>,
) -> Result<HttpResponse, UiError> {
    let response = clear_flow(state, see_other(location))?;
    match session {
        Some(session) => with_cookie(response, &session),
        None => Ok(response),
    }
}

// ---- sign in -----------------------------------------------------------------------

async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (provider, settings) = configured(&state, &provider)?;
    Ok(go_to_provider(
        &state,
        &req,
        provider,
        settings,
        Purpose::Login,
    ))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Why a callback cannot go on, as the person should read it.
fn flow_refusal(err: FlowError) -> &'static str {
    match err {
        FlowError::Expired => "The sign-in took too long. Please start again.",
        FlowError::Malformed | FlowError::Forged => {
            "This sign-in could not be verified. Please start again."
        }
    }
}

async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: MaybeSignedIn,
    provider: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, UiError> {
    let (provider, _) = configured(&state, &provider)?;
    let label = provider.label();
    let flow = match req.cookie(flow_cookie_name(&state.config)) {
        Some(cookie) => Flow::open(cookie.value(), &state.cookie_key, Utc::now()),
        // Cookies off, a flow finished already (a reload), or one that expired.
        None => Err(FlowError::Expired),
    };
    let flow = match flow {
        Ok(flow) if flow.provider == provider => flow,
        Ok(_) | Err(FlowError::Malformed | FlowError::Forged) => {
            tracing::warn!(
                provider = provider.id(),
                "OAuth callback with a forged or foreign flow cookie"
            );
            return login_error(
                &state,
                &req,
                StatusCode::BAD_REQUEST,
                flow_refusal(FlowError::Forged),
            );
        }
        Err(err) => return login_error(&state, &req, StatusCode::BAD_REQUEST, flow_refusal(err)),
    };
    // Where a refusal is shown depends on what the flow was for.
    let fail = |status: StatusCode, message: &str| match flow.purpose {
        Purpose::Login => login_error(&state, &req, status, message),
        Purpose::Link { .. } => link_error(&state, &req, None, status, message),
    };
    if let Some(error) = &query.error {
        tracing::info!(provider = provider.id(), error = ?error, "the provider ended the sign-in");
        let message = match error.as_str() {
            "access_denied" => format!("Signing in with {label} was cancelled."),
            _ => format!("{label} could not complete the sign-in. Please try again."),
        };
        return fail(StatusCode::BAD_REQUEST, &message);
    }
    if !query
        .state
        .as_deref()
        .is_some_and(|presented| flow.state_matches(presented))
    {
        tracing::warn!(
            provider = provider.id(),
            "OAuth callback whose state is not its flow's"
        );
        return fail(StatusCode::BAD_REQUEST, flow_refusal(FlowError::Forged));
    }
    let Some(code) = query.code.clone().filter(|code| !code.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            &format!("{label} sent no authorization code. Please try again."),
        );
    };
    let code = ProviderCode {
        provider,
        code,
        pkce_verifier: flow.pkce_verifier.clone(),
        redirect_uri: redirect_uri(&state, &req, provider),
    };
    let request_id = request_id_of(&req);
    match flow.purpose {
        Purpose::Login => {
            let sign_in = SignInWithProvider {
                request_id,
                code,
                session: session_request(&state, &req),
            };
            match ask_accounts(&state, sign_in).await {
                Ok(outcome) => finish_sign_in(&state, &req, label, outcome),
                Err(err) => fail(provider_error_status(&err), &provider_error(err, label)?),
            }
        }
        Purpose::Link { user_id } => {
            // The flow was started by this account: it must still be the one
            // signed in.
            let Some(signed_in) = viewer.0.filter(|s| s.user.id == user_id) else {
                return link_error(
                    &state,
                    &req,
                    None,
                    StatusCode::FORBIDDEN,
                    &sign_in_again(label),
                );
            };
            let link = LinkProvider {
                request_id,
                user_id,
                code,
            };
            match ask_accounts(&state, link).await {
                Ok(outcome) => finish_link(&state, &req, &signed_in, label, outcome),
                Err(err) => {
                    let status = provider_error_status(&err);
                    let message = provider_error(err, label)?;
                    link_error(&state, &req, Some(&signed_in), status, &message)
                }
            }
        }
    }
}

/// Sends a provider message to the Accounts actor, keeping its own error,
/// which says more than an HTTP status about what to tell the browser.
async fn ask_accounts<M, T>(state: &AppState, msg: M) -> Result<T, AccountsError>
where
    M: actix::Message<Result = Result<T, AccountsError>> + Send + 'static,
    Accounts: actix::Handler<M>,
    T: Send + 'static,
{
    state.actors.accounts.send(msg).await?
}

/// What to tell the browser when a sign-in or link with `label` failed: the
/// provider not confirming it, the account being gone or disabled, or (as an
/// error page) a failure on Kiln's side.
fn provider_error(err: AccountsError, label: &str) -> Result<String, UiError> {
    match err {
        AccountsError::ProviderFailed { .. } => Ok(format!(
            "{label} did not confirm the sign-in. Please try again in a moment."
        )),
        AccountsError::AccountGone => Ok(sign_in_again(label)),
        other => {
            let (_, message) = form_error(other)?;
            Ok(message)
        }
    }
}

fn provider_error_status(err: &AccountsError) -> StatusCode {
    match err {
        AccountsError::ProviderFailed { .. } => StatusCode::BAD_GATEWAY,
        AccountsError::AccountGone | AccountsError::AccountDisabled => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn sign_in_again(label: &str) -> String {
    format!("Sign in to Kiln again, then link {label} from Settings.")
}

fn finish_sign_in(
    state: &AppState,
    req: &HttpRequest,
    label: &str,
    outcome: ProviderSignIn,
) -> Result<HttpResponse, UiError> {
    let (status, message) = match outcome {
        ProviderSignIn::SignedIn(BrowserSession { session, .. }) => {
            let cookie = session_cookie(&state.config, session);
            return redirect_clearing_flow(state, "/files", Some(cookie));
        }
        ProviderSignIn::EmailInUseUnverified { email } => (
            StatusCode::CONFLICT,
            format!(
                "An account with {email} exists, but {label} does not confirm that this address \
                 is yours. Sign in with your password, then link {label} in Settings."
            ),
        ),
        ProviderSignIn::OtherIdentityLinked { email } => (
            StatusCode::CONFLICT,
            format!(
                "The Kiln account with {email} is linked to a different {label} account. Sign in \
                 with that one, or with your password."
            ),
        ),
        ProviderSignIn::NoEmail => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{label} did not share an e-mail address, which a new Kiln account needs. Allow \
                 access to your address at {label}, or register with a password."
            ),
        ),
    };
    login_error(state, req, status, &message)
}

// ---- link and unlink ----------------------------------------------------------------

async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    provider: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let (provider, settings) = configured(&state, &provider)?;
    let purpose = Purpose::Link {
        user_id: signed_in.user.id,
    };
    Ok(go_to_provider(&state, &req, provider, settings, purpose))
}

fn finish_link(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    label: &str,
    outcome: ProviderLink,
) -> Result<HttpResponse, UiError> {
    let message = match outcome {
        ProviderLink::Linked => return redirect_clearing_flow(state, "/settings", None),
        ProviderLink::AlreadyLinkedElsewhere => {
            format!("This {label} account signs in to another Kiln account. Unlink it there first.")
        }
        ProviderLink::ProviderAlreadyLinked => format!(
            "Your Kiln account is linked to a different {label} account. Unlink that one first."
        ),
    };
    link_error(state, req, Some(signed_in), StatusCode::CONFLICT, &message)
}

async fn unlink(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    provider: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    // Not only configured ones: a provider the operator turned off can still
    // be unlinked.
    let provider =
        Provider::parse(&provider).ok_or(UiError::Api(ApiError::NotFound("sign-in provider")))?;
    let outcome = ask(
        &state.actors.catalog,
        UnlinkOAuthAccount {
            request_id: request_id_of(&req),
            user_id: signed_in.user.id,
            provider,
        },
    )
    .await?;
    match outcome {
        OAuthUnlinkOutcome::Unlinked | OAuthUnlinkOutcome::NotLinked => {
            if outcome == OAuthUnlinkOutcome::Unlinked {
                tracing::info!(user_id = %signed_in.user.id, provider = provider.id(), "provider unlinked");
            }
            Ok(see_other("/settings"))
        }
        OAuthUnlinkOutcome::LastSignInMethod => {
            let label = provider.label();
            settings_message(
                &req,
                Some(&signed_in),
                StatusCode::CONFLICT,
                &format!("{label} stays linked"),
                &format!(
                    "{label} is the only way to sign in to this account. Set a password or \
                     link another provider first."
                ),
            )
        }
    }
}
