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
use super::{CsrfForm, Page, UiError, see_other};
use crate::actors::catalog::oauth::{
    LinkOAuthAccount, OAuthLinkOutcome, OAuthSignIn, OAuthSignInOutcome, OAuthUnlinkOutcome,
    UnlinkOAuthAccount,
};
use crate::auth::oauth::flow::{self, Flow, FlowError, Purpose};
use crate::auth::oauth::{self, Identity, Provider};
use crate::config::{Config, OAuthProviderConfig};
use crate::http::error::ApiError;
use crate::http::request_context::request_id_of;
use crate::http::session::{SignedIn, begin_session, current_session, removal_cookie, site_cookie};
use crate::http::{AppState, accounts, ask};

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
    let mut response = login_form(state, "", None, Some(message))
        .status(status)
        .render(req, None)?;
    clear_flow(state, &mut response)?;
    Ok(response)
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
    let mut response = settings_message(req, signed_in, status, heading, message)?;
    clear_flow(state, &mut response)?;
    Ok(response)
}

fn clear_flow(state: &AppState, response: &mut HttpResponse) -> Result<(), UiError> {
    let removal = removal_cookie(&state.config, flow_cookie_name(&state.config));
    response.add_cookie(&removal).map_err(ApiError::internal)?;
    Ok(())
}

fn redirect_clearing_flow(
    state: &AppState,
    location: &str,
    session: Option<Cookie<'static>>,
) -> Result<HttpResponse, UiError> {
    let mut response = see_other(location);
    clear_flow(state, &mut response)?;
    if let Some(session) = session {
        response.add_cookie(&session).map_err(ApiError::internal)?;
    }
    Ok(response)
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
    provider: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, UiError> {
    let (provider, settings) = configured(&state, &provider)?;
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
    let identity = oauth::sign_in(
        provider,
        settings,
        &redirect_uri(&state, &req, provider),
        code,
        flow.pkce_verifier.clone(),
    )
    .await;
    let identity = match identity {
        Ok(identity) => identity,
        Err(err) => {
            tracing::warn!(
                provider = provider.id(),
                error = %crate::error_chain(&err),
                "the OAuth exchange failed"
            );
            return fail(
                StatusCode::BAD_GATEWAY,
                &format!("{label} did not confirm the sign-in. Please try again in a moment."),
            );
        }
    };
    match flow.purpose {
        Purpose::Login => finish_sign_in(&state, &req, identity).await,
        Purpose::Link { user_id } => finish_link(&state, &req, user_id, identity).await,
    }
}

async fn finish_sign_in(
    state: &AppState,
    req: &HttpRequest,
    identity: Identity,
) -> Result<HttpResponse, UiError> {
    let label = identity.provider.label();
    let email = identity.email.clone().unwrap_or_default();
    let outcome = ask(
        &state.actors.catalog,
        OAuthSignIn {
            request_id: request_id_of(req),
            identity,
        },
    )
    .await?;
    let user = match outcome {
        OAuthSignInOutcome::SignedIn(user) | OAuthSignInOutcome::Linked(user) => user,
        OAuthSignInOutcome::Created(user) => {
            if !user.email_verified {
                // The provider did not vouch for the address: Kiln asks itself.
                // Not counted against the client's registrations: each one
                // took an account at the provider, which is what limits them.
                if let Err(err) =
                    accounts::mail_verification_link(state, request_id_of(req), user.id).await
                {
                    tracing::warn!(user_id = %user.id, error = %err, "no verification link for a new account");
                }
            }
            user
        }
        OAuthSignInOutcome::EmailInUseUnverified => {
            let message = format!(
                "An account with {email} exists, but {label} does not confirm that this address \
                 is yours. Sign in with your password, then link {label} in Settings."
            );
            return login_error(state, req, StatusCode::CONFLICT, &message);
        }
        OAuthSignInOutcome::OtherIdentityLinked => {
            let message = format!(
                "The Kiln account with {email} is linked to a different {label} account. Sign in \
                 with that one, or with your password."
            );
            return login_error(state, req, StatusCode::CONFLICT, &message);
        }
        OAuthSignInOutcome::NoEmail => {
            let message = format!(
                "{label} did not share an e-mail address, which a new Kiln account needs. Allow \
                 access to your address at {label}, or register with a password."
            );
            return login_error(state, req, StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
    };
    if user.is_disabled() {
        let message = ApiError::AccountDisabled.to_string();
        return login_error(state, req, StatusCode::FORBIDDEN, &message);
    }
    let session = begin_session(state, req, user.id).await?;
    redirect_clearing_flow(state, "/files", Some(session))
}

// ---- link and unlink ----------------------------------------------------------------

async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    provider: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    signed_in.check_csrf(&form.csrf_token)?;
    let (provider, settings) = configured(&state, &provider)?;
    let purpose = Purpose::Link {
        user_id: signed_in.user.id,
    };
    Ok(go_to_provider(&state, &req, provider, settings, purpose))
}

async fn finish_link(
    state: &AppState,
    req: &HttpRequest,
    user_id: uuid::Uuid,
    identity: Identity,
) -> Result<HttpResponse, UiError> {
    let label = identity.provider.label();
    let sign_in_again = format!("Sign in to Kiln again, then link {label} from Settings.");
    // The flow was started by this account: it must still be the one signed in.
    let signed_in = current_session(state, req).await?;
    let Some(signed_in) = signed_in.filter(|s| s.user.id == user_id) else {
        return link_error(state, req, None, StatusCode::FORBIDDEN, &sign_in_again);
    };
    let outcome = ask(
        &state.actors.catalog,
        LinkOAuthAccount {
            request_id: request_id_of(req),
            user_id,
            identity,
        },
    )
    .await?;
    let (status, message) = match outcome {
        OAuthLinkOutcome::Linked => {
            tracing::info!(%user_id, provider = label, "provider linked");
            return redirect_clearing_flow(state, "/settings", None);
        }
        OAuthLinkOutcome::AlreadyLinkedElsewhere => (
            StatusCode::CONFLICT,
            format!(
                "This {label} account signs in to another Kiln account. Unlink it there first."
            ),
        ),
        OAuthLinkOutcome::ProviderAlreadyLinked => (
            StatusCode::CONFLICT,
            format!(
                "Your Kiln account is linked to a different {label} account. Unlink that one first."
            ),
        ),
        OAuthLinkOutcome::AccountGone => (StatusCode::FORBIDDEN, sign_in_again),
    };
    link_error(state, req, Some(&signed_in), status, &message)
}

async fn unlink(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    provider: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    signed_in.check_csrf(&form.csrf_token)?;
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
