//! The pages a mailed link or a lost password leads to: forgot and reset the
//! password, verify the e-mail address and ask for another verification link.
//!
//! GET never changes anything: a mailed verification link opens a page whose
//! button confirms (a mail scanner fetching the link verifies nothing).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::actors::accounts::{
    CheckResetLink, RequestPasswordReset, ResendVerification, ResetPassword, VerifyEmail,
};
use crate::actors::catalog::User;
use crate::http::error::ApiError;
use crate::http::request_context::{counted_client, request_id_of};
use crate::http::session::{MaybeSignedIn, SignedIn, cookie_name, removal_cookie};
use crate::http::ui::{
    CsrfForm, Notice, Page, SignedInForm, UiError, form_error, form_page, see_other_with,
    with_cookie,
};
use crate::http::{AppState, ask};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(form_page("/forgot-password", forgot_page, forgot))
        .service(form_page("/reset-password", reset_page, reset))
        .service(form_page("/verify-email", verify_page, verify))
        .service(form_page("/verify-email/resend", resend_page, resend));
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
    let form = form.into_inner();
    let token = form.token;
    let outcome = match form.password == form.password_confirm {
        true => {
            let reset = ResetPassword {
                request_id: request_id_of(&req),
                token: token.clone(),
                password: form.password.into(),
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
            with_cookie(
                see_other_with(&state.config, "/login", Notice::PasswordReset),
                &removal,
            )
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
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
) -> Result<HttpResponse, UiError> {
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
