//! The signed-out pages and the account's way in and out: landing, register,
//! sign in, sign out, forgot and reset password, verify the e-mail address and
//! ask for another verification link. The rules are the Accounts actor's,
//! shared with the API; these handlers turn them into forms and redirects.
//!
//! GET never changes anything: a mailed verification link opens a page whose
//! button confirms (a mail scanner fetching the link verifies nothing).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{CsrfForm, Notice, Page, UiError, see_other, see_other_with};
use crate::actors::accounts::{
    BrowserSession, CheckResetLink, Register, RegisterBrowser, RequestPasswordReset,
    ResendVerification, ResetPassword, SignIn, SignInBrowser, VerifyEmail,
};
use crate::actors::catalog::User;
use crate::auth::oauth::Provider;
use crate::http::error::ApiError;
use crate::http::request_context::{counted_client, request_id_of};
use crate::http::session::{
    MaybeSignedIn, SignedIn, cookie_name, end_session, removal_cookie, session_cookie,
    session_request,
};
use crate::http::{AppState, ask};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(landing))
        .service(
            web::resource("/login")
                .route(web::get().to(login_page))
                .route(web::post().to(login)),
        )
        .service(
            web::resource("/register")
                .route(web::get().to(register_page))
                .route(web::post().to(register)),
        )
        .route("/logout", web::post().to(logout))
        .service(
            web::resource("/forgot-password")
                .route(web::get().to(forgot_page))
                .route(web::post().to(forgot)),
        )
        .service(
            web::resource("/reset-password")
                .route(web::get().to(reset_page))
                .route(web::post().to(reset)),
        )
        .service(
            web::resource("/verify-email")
                .route(web::get().to(verify_page))
                .route(web::post().to(verify)),
        )
        .service(
            web::resource("/verify-email/resend")
                .route(web::get().to(resend_page))
                .route(web::post().to(resend)),
        );
}

/// A client mistake to show on the form it came from (with its status), or a
/// server failure or rate limit to show as an error page (which keeps the
/// `Retry-After` header).
pub(super) fn form_error(err: impl Into<ApiError>) -> Result<(StatusCode, String), UiError> {
    let err = err.into();
    let status = err.status_code();
    match status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        true => Err(UiError::Api(err)),
        false => Ok((status, err.to_string())),
    }
}

/// Where to go after signing in when `next` does not say.
const HOME: &str = "/files";

/// Where to go after signing in: `next` when it is a place on this site,
/// else [`HOME`]. `next` is read as a browser reads a `Location`, as a URL
/// relative to `site` (tabs and newlines dropped, `\` taken for `/`, `//`
/// naming a host), and kept only when it lands on `site`'s origin. The answer
/// is that URL's path, query and fragment as the parser writes them
/// (percent-encoded, one leading `/`), so a browser cannot read another host
/// into it either.
fn safe_next(next: Option<&str>, site: &Url) -> String {
    let Some(url) = next
        .filter(|next| !next.is_empty())
        .and_then(|next| site.join(next).ok())
        .filter(|url| url.origin() == site.origin())
    else {
        return HOME.into();
    };
    let mut target = url.path().to_string();
    for (mark, part) in [('?', url.query()), ('#', url.fragment())] {
        if let Some(part) = part {
            target.push(mark);
            target.push_str(part);
        }
    }
    // A path such as `//evil.example` (from `/.//evil.example`) is fine
    // inside a URL with a host, and a host of its own in a `Location`.
    match target.starts_with("//") {
        true => HOME.into(),
        false => target,
    }
}

/// This site's own address, which `next` must stay on.
fn site(state: &AppState, req: &HttpRequest) -> Url {
    state
        .config
        .public_url(req.app_config().local_addr().port())
}

/// A sign-in button for each OAuth provider Kiln is configured for.
#[derive(Serialize)]
struct ProviderButton {
    id: &'static str,
    label: &'static str,
}

fn provider_buttons(state: &AppState) -> Vec<ProviderButton> {
    Provider::configured(&state.config.oauth)
        .map(|provider| ProviderButton {
            id: provider.id(),
            label: provider.label(),
        })
        .collect()
}

async fn landing(req: HttpRequest, viewer: MaybeSignedIn) -> Result<HttpResponse, UiError> {
    if viewer.0.is_some() {
        return Ok(see_other("/files"));
    }
    Page::new("pages/index.html").render(&req, None)
}

/// The account a reset link is for, while the link can be used.
async fn check_reset_link(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
) -> Result<User, ApiError> {
    let check = CheckResetLink {
        request_id: request_id_of(req),
        token: token.to_string(),
    };
    ask(&state.actors.accounts, check).await
}

// ---- sign in and out -------------------------------------------------------------

/// What the sign-in page's address may say: only where to go next. The
/// page takes no message from its address (any text there would be shown
/// with Kiln's authority); it shows only what its own handlers chose.
#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// The sign-in page, with the address typed so far and what went wrong.
pub(super) fn login_form(
    state: &AppState,
    email: &str,
    next: Option<&str>,
    error: Option<&str>,
) -> Page {
    Page::new("pages/login.html")
        .with("email", &email)
        .with("next", &next.unwrap_or_default())
        .with("error", &error)
        .with("providers", &provider_buttons(state))
}

async fn login_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: MaybeSignedIn,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, UiError> {
    if viewer.0.is_some() {
        return Ok(see_other(&safe_next(
            query.next.as_deref(),
            &site(&state, &req),
        )));
    }
    login_form(&state, "", query.next.as_deref(), None).render(&req, None)
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, UiError> {
    let LoginForm {
        email,
        password,
        next,
    } = form.into_inner();
    let sign_in = SignInBrowser {
        sign_in: SignIn {
            request_id: request_id_of(&req),
            client: counted_client(&req),
            email: email.clone(),
            password: password.into(),
        },
        session: session_request(&state, &req),
    };
    match ask(&state.actors.accounts, sign_in).await {
        Ok(BrowserSession { session, .. }) => {
            let cookie = session_cookie(&state.config, session);
            let mut response = see_other(&safe_next(next.as_deref(), &site(&state, &req)));
            response.add_cookie(&cookie).map_err(ApiError::internal)?;
            Ok(response)
        }
        Err(err) => {
            let (status, message) = form_error(err)?;
            login_form(&state, &email, next.as_deref(), Some(&message))
                .status(status)
                .render(&req, None)
        }
    }
}

async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    signed_in.check_csrf(&form.csrf_token)?;
    let removal = end_session(&state, &req).await?;
    tracing::info!(user_id = %signed_in.user.id, "signed out");
    let mut response = see_other_with(&state.config, "/login", Notice::SignedOut);
    response.add_cookie(&removal).map_err(ApiError::internal)?;
    Ok(response)
}

// ---- register ----------------------------------------------------------------------

#[derive(Deserialize)]
struct RegisterForm {
    name: String,
    email: String,
    password: String,
}

fn register_form(name: &str, email: &str, error: Option<&str>) -> Page {
    Page::new("pages/register.html")
        .with("name", &name)
        .with("email", &email)
        .with("error", &error)
}

async fn register_page(req: HttpRequest, viewer: MaybeSignedIn) -> Result<HttpResponse, UiError> {
    if viewer.0.is_some() {
        return Ok(see_other("/files"));
    }
    register_form("", "", None).render(&req, None)
}

async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, UiError> {
    let RegisterForm {
        name,
        email,
        password,
    } = form.into_inner();
    let register = RegisterBrowser {
        register: Register {
            request_id: request_id_of(&req),
            client: counted_client(&req),
            email: email.clone(),
            password: password.into(),
            name: name.clone(),
        },
        session: session_request(&state, &req),
    };
    match ask(&state.actors.accounts, register).await {
        Ok(BrowserSession { session, .. }) => {
            let cookie = session_cookie(&state.config, session);
            let mut response = see_other_with(&state.config, "/files", Notice::Registered);
            response.add_cookie(&cookie).map_err(ApiError::internal)?;
            Ok(response)
        }
        Err(err) => {
            let (status, message) = form_error(err)?;
            register_form(&name, &email, Some(&message))
                .status(status)
                .render(&req, None)
        }
    }
}

// ---- forgotten password ------------------------------------------------------------

#[derive(Deserialize)]
struct ForgotForm {
    email: String,
}

async fn forgot_page(req: HttpRequest) -> Result<HttpResponse, UiError> {
    Page::new("pages/forgot_password.html").render(&req, None)
}

async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, UiError> {
    let request = RequestPasswordReset {
        request_id: request_id_of(&req),
        client: counted_client(&req),
        email: form.email.clone(),
    };
    match ask(&state.actors.accounts, request).await {
        Ok(()) => Ok(see_other_with(
            &state.config,
            "/login",
            Notice::ResetLinkSent,
        )),
        Err(err) => {
            let (status, message) = form_error(err)?;
            Page::new("pages/forgot_password.html")
                .with("email", &form.email)
                .with("error", &message)
                .status(status)
                .render(&req, None)
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The page for a link that cannot be used, with the way to a new one.
fn dead_link(
    req: &HttpRequest,
    message: &str,
    retry_href: &str,
    retry_label: &str,
) -> Result<HttpResponse, UiError> {
    #[derive(Serialize)]
    struct Link<'a> {
        href: &'a str,
        label: &'a str,
    }
    Page::new("pages/message.html")
        .with("heading", &"This link cannot be used")
        .with("message", &message)
        .with(
            "link",
            &Link {
                href: retry_href,
                label: retry_label,
            },
        )
        .status(StatusCode::UNPROCESSABLE_ENTITY)
        .render(req, None)
}

async fn reset_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, UiError> {
    let token = query.token.clone().unwrap_or_default();
    match check_reset_link(&state, &req, &token).await {
        Ok(user) => Page::new("pages/reset_password.html")
            .with("token", &token)
            .with("email", &user.email)
            .render(&req, None),
        Err(err) => {
            let (_, message) = form_error(err)?;
            dead_link(&req, &message, "/forgot-password", "Ask for a new link")
        }
    }
}

#[derive(Deserialize)]
struct ResetForm {
    token: String,
    password: String,
    password_confirm: String,
}

async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, UiError> {
    let ResetForm {
        token,
        password,
        password_confirm,
    } = form.into_inner();
    let outcome = match password == password_confirm {
        true => {
            let reset = ResetPassword {
                request_id: request_id_of(&req),
                token: token.clone(),
                password: password.into(),
            };
            ask(&state.actors.accounts, reset).await.map(|_| ())
        }
        false => Err(ApiError::unprocessable(
            "passwords_differ",
            "the two passwords are not the same",
        )),
    };
    match outcome {
        Ok(()) => {
            // The reset ended every session of the account on the server,
            // this browser's too: only its cookie is left to clear.
            let removal = removal_cookie(&state.config, cookie_name(&state.config));
            let mut response = see_other_with(&state.config, "/login", Notice::PasswordReset);
            response.add_cookie(&removal).map_err(ApiError::internal)?;
            Ok(response)
        }
        Err(err) => {
            let (status, message) = form_error(err)?;
            // A spent or expired link is not fixed by typing again.
            match check_reset_link(&state, &req, &token).await {
                Ok(user) => Page::new("pages/reset_password.html")
                    .with("token", &token)
                    .with("email", &user.email)
                    .with("error", &message)
                    .status(status)
                    .render(&req, None),
                Err(_) => dead_link(&req, &message, "/forgot-password", "Ask for a new link"),
            }
        }
    }
}

// ---- e-mail verification -------------------------------------------------------------

async fn verify_page(
    req: HttpRequest,
    viewer: MaybeSignedIn,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, UiError> {
    Page::new("pages/verify_email.html")
        .with("token", &query.token.clone().unwrap_or_default())
        .render(&req, viewer.0.as_ref())
}

#[derive(Deserialize)]
struct VerifyForm {
    token: String,
}

async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: MaybeSignedIn,
    form: web::Form<VerifyForm>,
) -> Result<HttpResponse, UiError> {
    let verify = VerifyEmail {
        request_id: request_id_of(&req),
        token: form.into_inner().token,
    };
    match ask(&state.actors.accounts, verify).await {
        Ok(_) => {
            let to = if viewer.0.is_some() {
                "/files"
            } else {
                "/login"
            };
            Ok(see_other_with(&state.config, to, Notice::EmailVerified))
        }
        Err(err) => {
            let (_, message) = form_error(err)?;
            dead_link(&req, &message, "/verify-email/resend", "Send a new link")
        }
    }
}

async fn resend_page(req: HttpRequest, signed_in: SignedIn) -> Result<HttpResponse, UiError> {
    Page::new("pages/message.html")
        .with("heading", &"Verify your e-mail address")
        .with(
            "message",
            &match signed_in.user.email_verified {
                true => "Your address is verified already.",
                false => "Use the button in the banner above to get a new link.",
            },
        )
        .render(&req, Some(&signed_in))
}

async fn resend(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    signed_in.check_csrf(&form.csrf_token)?;
    let resend = ResendVerification {
        request_id: request_id_of(&req),
        client: counted_client(&req),
        user_id: signed_in.user.id,
    };
    match ask(&state.actors.accounts, resend).await {
        Ok(()) => Ok(see_other_with(
            &state.config,
            "/files",
            Notice::VerificationSent,
        )),
        Err(err) => {
            let (status, message) = form_error(err)?;
            Page::new("pages/message.html")
                .with("heading", &"No new link yet")
                .with("message", &message)
                .status(status)
                .render(&req, Some(&signed_in))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Url {
        Url::parse("https://kiln.example.com").unwrap()
    }

    #[test]
    fn a_place_on_this_site_is_kept() {
        for (next, kept) in [
            ("/files", "/files"),
            (
                "/files/0190?status=ready#jobs",
                "/files/0190?status=ready#jobs",
            ),
            ("/settings#tokens", "/settings#tokens"),
            ("https://kiln.example.com/settings", "/settings"),
            ("/%2F/evil.example/x", "/%2F/evil.example/x"),
        ] {
            assert_eq!(safe_next(Some(next), &site()), kept, "{next:?}");
        }
        assert_eq!(safe_next(None, &site()), HOME);
        assert_eq!(safe_next(Some(""), &site()), HOME);
    }

    /// Tricks that make a path that looks local send a browser to another
    /// host. Each one must come back as a path on this site that no browser
    /// reads as another host.
    #[test]
    fn known_open_redirect_bypasses_stay_on_this_site() {
        for next in [
            "//evil.example/x",
            "/\t/evil.example/x",
            "/\n/evil.example/x",
            "/\r\n/evil.example/x",
            "\t//evil.example/x",
            "/\\evil.example/x",
            "\\\\evil.example/x",
            "\\/evil.example/x",
            "//%2F/evil.example/x",
            "///evil.example/x",
            "/.//evil.example/x",
            "https://evil.example/x",
            "https:evil.example/x",
            "http:evil.example/x",
            "https:/evil.example/x",
            "http://kiln.example.com/x",
            "https://kiln.example.com.evil.example/x",
            "https://kiln.example.com@evil.example/x",
            "javascript:alert(document.domain)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "/\u{FF0F}evil.example/x",
            "\u{FF0F}\u{FF0F}evil.example/x",
            "\u{2215}\u{2215}evil.example/x",
            "\u{2044}\u{2044}evil.example/x",
            "\u{FF3C}\u{FF3C}evil.example/x",
            "/\u{3002}evil.example",
        ] {
            let target = safe_next(Some(next), &site());
            assert!(
                target.starts_with('/') && !target.starts_with("//") && !target.contains('\\'),
                "{next:?} became {target:?}"
            );
            assert!(target.is_ascii(), "{next:?} became {target:?}");
            let followed = site().join(&target).unwrap();
            assert_eq!(
                followed.origin(),
                site().origin(),
                "{next:?} became {target:?}"
            );
        }
    }

    #[test]
    fn a_redirect_off_this_origin_goes_home() {
        for next in [
            "//evil.example/x",
            "/\t/evil.example/x",
            "/\\evil.example/x",
            "\\\\evil.example/x",
            "/.//evil.example/x",
            "http://kiln.example.com/x",
            "https://evil.example/x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(next), &site()), HOME, "{next:?}");
        }
    }
}
