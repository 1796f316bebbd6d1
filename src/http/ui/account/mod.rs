//! The signed-out pages and the account's way in and out: landing, register,
//! sign in, sign out, forgot and reset password, verify the e-mail address and
//! ask for another verification link. The rules are the Accounts actor's,
//! shared with the API; these handlers turn them into forms and redirects.
//!
//! The mailed links' pages (reset the password, verify the address) are in
//! [`recovery`].

mod recovery;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    CsrfForm, Notice, Page, SignedInForm, UiError, form_error, form_page, see_other,
    see_other_with, with_cookie,
};
use crate::actors::accounts::{BrowserSession, Register, RegisterBrowser, SignIn, SignInBrowser};
use crate::auth::oauth::Provider;
use crate::http::request_context::{counted_client, request_id_of};
use crate::http::session::{MaybeSignedIn, end_session, session_cookie, session_request};
use crate::http::{AppState, ask};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(landing))
        .service(form_page("/login", login_page, login))
        .service(form_page("/register", register_page, register))
        .route("/logout", web::post().to(logout))
        .configure(recovery::configure);
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
    web::Form(LoginForm {
        email,
        password,
        next,
    }): web::Form<LoginForm>,
) -> Result<HttpResponse, UiError> {
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
            let to = safe_next(next.as_deref(), &site(&state, &req));
            with_cookie(see_other(&to), &cookie)
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
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
) -> Result<HttpResponse, UiError> {
    let removal = end_session(&state, &req).await?;
    tracing::info!(user_id = %signed_in.user.id, "signed out");
    with_cookie(
        see_other_with(&state.config, "/login", Notice::SignedOut),
        &removal,
    )
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
    web::Form(RegisterForm {
        name,
        email,
        password,
    }): web::Form<RegisterForm>,
) -> Result<HttpResponse, UiError> {
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
            with_cookie(
                see_other_with(&state.config, "/files", Notice::Registered),
                &cookie,
            )
        }
        Err(err) => {
            let (status, message) = form_error(err)?;
            register_form(&name, &email, Some(&message))
                .status(status)
                .render(&req, None)
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
