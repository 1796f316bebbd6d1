//! The web UI: server-rendered pages (Tera templates under `templates/`, compiled
//! into the binary) plus one stylesheet and one script served by Kiln itself, so
//! it works offline. Pages talk to the same actors as the API; the script uses
//! the JSON API (with the session cookie and its CSRF header) for uploads and
//! live status.
//!
//! This module owns what every page shares: the template set, the [`Page`]
//! builder (which adds the signed-in account, the CSRF token and a pending
//! notice), the [`UiError`] pages, the security headers (a Content-Security-
//! Policy without inline scripts) and the refusal of cross-site form posts.

mod account;
mod admin;
mod assets;
mod files;
mod oauth;
mod settings;

use std::sync::LazyLock;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::Payload;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use futures::future::LocalBoxFuture;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use super::session::{SignedIn, removal_cookie, site_cookie};
use crate::config::{Config, StorageBackend};

/// Every template, by name, compiled into the binary.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../templates/", $name)))),*]
    };
}

static TEMPLATES: LazyLock<Result<tera::Tera, tera::Error>> = LazyLock::new(|| {
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_templates(templates![
        "base.html",
        "pages/index.html",
        "pages/error.html",
        "pages/login.html",
        "pages/register.html",
        "pages/forgot_password.html",
        "pages/reset_password.html",
        "pages/verify_email.html",
        "pages/message.html",
        "pages/settings.html",
        "pages/admin_jobs.html",
        "pages/admin_users.html",
        "pages/files.html",
        "pages/upload.html",
        "pages/file.html",
        "pages/files/macros.html",
        "pages/share.html",
        "pages/api_docs.html",
    ])?;
    Ok(tera)
});

/// Fails when a template does not compile; startup calls it so a broken
/// template stops Kiln at once instead of on the first page view.
pub fn check_templates() -> Result<(), &'static tera::Error> {
    TEMPLATES.as_ref().map(|_| ())
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(assets::configure)
        .configure(account::configure)
        .configure(settings::configure)
        .configure(oauth::configure)
        .configure(admin::configure)
        .configure(files::configure);
}

// ---- pages -----------------------------------------------------------------------

/// The account as every signed-in page shows it (header, menu).
#[derive(Serialize)]
struct Viewer<'a> {
    name: &'a str,
    email: &'a str,
    email_verified: bool,
    is_admin: bool,
}

/// A page to render: a template and what it shows.
pub struct Page {
    template: &'static str,
    context: tera::Context,
    status: StatusCode,
}

impl Page {
    pub fn new(template: &'static str) -> Self {
        Self {
            template,
            context: tera::Context::new(),
            status: StatusCode::OK,
        }
    }

    pub fn with(mut self, key: &str, value: &impl Serialize) -> Self {
        self.context.insert(key, value);
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Renders for `viewer` (`None`: a signed-out page), with the notice a
    /// redirect left, if any (and clears it).
    pub fn render(
        mut self,
        req: &HttpRequest,
        viewer: Option<&SignedIn>,
    ) -> Result<HttpResponse, UiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| UiError::from(ApiError::internal(std::io::Error::other("no state"))))?;
        if let Some(signed_in) = viewer {
            let user = &signed_in.user;
            self.context.insert(
                "viewer",
                &Viewer {
                    name: &user.name,
                    email: &user.email,
                    email_verified: user.email_verified,
                    is_admin: user.is_admin,
                },
            );
            self.context.insert("csrf_token", &signed_in.csrf_token);
        }
        let notice = req
            .cookie(NOTICE_COOKIE)
            .and_then(|cookie| Notice::from_code(cookie.value()));
        if let Some(notice) = notice {
            self.context.insert("notice", notice.message());
        }
        self.context.insert("path", req.path());
        self.context.insert("version", env!("CARGO_PKG_VERSION"));
        let body = render_template(self.template, &self.context)?;
        let mut response = HttpResponse::build(self.status);
        response.content_type("text/html; charset=utf-8");
        if notice.is_some() {
            response.cookie(removal_cookie(&state.config, NOTICE_COOKIE));
        }
        let mut response = response.body(body);
        add_page_headers(response.headers_mut(), Some(&state.config));
        Ok(response)
    }
}

fn render_template(name: &str, context: &tera::Context) -> Result<String, UiError> {
    let templates = TEMPLATES
        .as_ref()
        .map_err(|err| UiError::Api(ApiError::internal(std::io::Error::other(err.to_string()))))?;
    templates
        .render(name, context)
        .map_err(|err| UiError::Api(ApiError::internal(err)))
}

/// The body of a form whose only field is the session's CSRF token (sign
/// out, revoke, retry, delete). A missing token reads as empty, so a bare post
/// fails the CSRF check (403) rather than the form parser (400).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf_token: String,
}

/// A form that carries the session's CSRF token in its `csrf_token` field.
pub trait CarriesCsrfToken {
    fn csrf_token(&self) -> &str;
}

/// Implements [`CarriesCsrfToken`] for forms with a `csrf_token` field.
macro_rules! carries_csrf_token {
    ($($form:ty),+ $(,)?) => {$(
        impl $crate::http::ui::CarriesCsrfToken for $form {
            fn csrf_token(&self) -> &str {
                &self.csrf_token
            }
        }
    )+};
}
pub(crate) use carries_csrf_token;

carries_csrf_token!(CsrfForm);

/// A signed-in browser's form post whose CSRF token is the session's: what
/// every page handler that changes something takes, so none can forget the
/// check. The session is looked up before the form is read.
pub struct SignedInForm<T>(pub SignedIn, pub T);

impl<T> FromRequest for SignedInForm<T>
where
    T: serde::de::DeserializeOwned + CarriesCsrfToken + 'static,
{
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        let form = web::Form::<T>::from_request(req, payload);
        Box::pin(async move {
            let signed_in = signed_in.await?;
            let web::Form(form) = form.await?;
            signed_in.check_csrf(form.csrf_token())?;
            Ok(Self(signed_in, form))
        })
    }
}

/// Where a paged list is, and the links to its neighbours (as the list's
/// template shows them).
#[derive(Serialize)]
pub struct Pagination {
    pub page: u64,
    pub pages: u64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

/// A moment as pages show it: machine-readable for `<time>`, and for people.
#[derive(Serialize)]
pub struct When {
    iso: String,
    text: String,
}

impl From<DateTime<Utc>> for When {
    fn from(at: DateTime<Utc>) -> Self {
        Self {
            iso: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            text: at.format("%-d %b %Y, %H:%M UTC").to_string(),
        }
    }
}

// ---- notices after a redirect ------------------------------------------------------

const NOTICE_COOKIE: &str = "kiln_notice";

/// A one-line confirmation shown on the page a form redirects to. Only these
/// fixed messages can be shown, so a crafted cookie cannot put text on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    SignedOut,
    Registered,
    EmailVerified,
    VerificationSent,
    PasswordReset,
    ResetLinkSent,
    NameChanged,
    PasswordChanged,
    TokenRevoked,
    JobRetried,
    ProcessingQueued,
    FileDeleted,
    ShareRevoked,
    QuotaSaved,
    WebhookDeleted,
    WebhookTestQueued,
}

impl Notice {
    const ALL: [Notice; 16] = [
        Notice::SignedOut,
        Notice::Registered,
        Notice::EmailVerified,
        Notice::VerificationSent,
        Notice::PasswordReset,
        Notice::ResetLinkSent,
        Notice::NameChanged,
        Notice::PasswordChanged,
        Notice::TokenRevoked,
        Notice::JobRetried,
        Notice::ProcessingQueued,
        Notice::FileDeleted,
        Notice::ShareRevoked,
        Notice::QuotaSaved,
        Notice::WebhookDeleted,
        Notice::WebhookTestQueued,
    ];

    fn code(self) -> &'static str {
        match self {
            Notice::SignedOut => "signed-out",
            Notice::Registered => "registered",
            Notice::EmailVerified => "email-verified",
            Notice::VerificationSent => "verification-sent",
            Notice::PasswordReset => "password-reset",
            Notice::ResetLinkSent => "reset-link-sent",
            Notice::NameChanged => "name-changed",
            Notice::PasswordChanged => "password-changed",
            Notice::TokenRevoked => "token-revoked",
            Notice::JobRetried => "job-retried",
            Notice::ProcessingQueued => "processing-queued",
            Notice::FileDeleted => "file-deleted",
            Notice::ShareRevoked => "share-revoked",
            Notice::QuotaSaved => "quota-saved",
            Notice::WebhookDeleted => "webhook-deleted",
            Notice::WebhookTestQueued => "webhook-test-queued",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Notice::SignedOut => "You are signed out.",
            Notice::Registered => "Welcome to Kiln! We sent a link to your address to verify it.",
            Notice::EmailVerified => "Your e-mail address is verified.",
            Notice::VerificationSent => "A new verification link is on its way.",
            Notice::PasswordReset => "Your password is changed. Sign in with the new one.",
            Notice::ResetLinkSent => {
                "If an account uses this address, a link to reset its password is on its way."
            }
            Notice::NameChanged => "Your name is saved.",
            Notice::PasswordChanged => {
                "Your password is changed. Every other browser signed in to your account is signed out."
            }
            Notice::TokenRevoked => "The token is revoked: it no longer works.",
            Notice::JobRetried => "The job is queued again.",
            Notice::ProcessingQueued => {
                "The job is queued. Its new variant appears below when it is ready."
            }
            Notice::FileDeleted => "The file and everything made from it are deleted.",
            Notice::ShareRevoked => "The link is revoked: it opens nothing any more.",
            Notice::QuotaSaved => "The quota is saved. It holds from the next upload on.",
            Notice::WebhookDeleted => "The endpoint is deleted: nothing more is sent to it.",
            Notice::WebhookTestQueued => {
                "A test event is on its way. Its delivery shows below in a moment."
            }
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|notice| notice.code() == code)
    }
}

/// The page at `path`: `show` draws it (GET) and `submit` takes its form (POST).
pub fn form_page<Show, ShowArgs, Submit, SubmitArgs>(
    path: &str,
    show: Show,
    submit: Submit,
) -> actix_web::Resource
where
    Show: actix_web::Handler<ShowArgs>,
    ShowArgs: actix_web::FromRequest + 'static,
    Show::Output: actix_web::Responder + 'static,
    Submit: actix_web::Handler<SubmitArgs>,
    SubmitArgs: actix_web::FromRequest + 'static,
    Submit::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(show))
        .route(web::post().to(submit))
}

/// A `303 See Other` to `location` (a path on this site).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A `303 See Other` to `location` that shows `notice` there.
pub fn see_other_with(config: &Config, location: &str, notice: Notice) -> HttpResponse {
    let mut cookie = site_cookie(config, NOTICE_COOKIE, notice.code().to_string());
    cookie.set_max_age(actix_web::cookie::time::Duration::minutes(1));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .cookie(cookie)
        .finish()
}

/// `response` with `cookie` set (or, for a removal cookie, cleared) on it.
pub fn with_cookie(
    mut response: HttpResponse,
    cookie: &actix_web::cookie::Cookie<'_>,
) -> Result<HttpResponse, UiError> {
    response.add_cookie(cookie).map_err(ApiError::internal)?;
    Ok(response)
}

// ---- errors ------------------------------------------------------------------------

/// Why a page could not be shown, rendered as a page (never as JSON).
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The page needs a session: off to sign in, and back to `next` afterwards.
    #[error("sign in to continue")]
    SignInRequired { next: Option<String> },
    /// A state-changing request from another site, or without the session's
    /// CSRF token.
    #[error("this form is out of date or came from another site; reload the page and try again")]
    CrossSite,
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// A client mistake to show on the form it came from (with its status), or a
/// server failure or rate limit to show as an error page (which keeps the
/// `Retry-After` header).
pub fn form_error(err: impl Into<ApiError>) -> Result<(StatusCode, String), UiError> {
    let err = err.into();
    let status = err.status_code();
    match status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        true => Err(UiError::Api(err)),
        false => Ok((status, err.to_string())),
    }
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignInRequired { .. } => StatusCode::SEE_OTHER,
            UiError::CrossSite => StatusCode::FORBIDDEN,
            UiError::Api(err) => err.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let UiError::SignInRequired { next } = self {
            let location = match next {
                Some(next) => format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                ),
                None => "/login".to_string(),
            };
            return see_other(&location);
        }
        let status = self.status_code();
        let message = match self {
            UiError::Api(err) if status.is_server_error() => {
                // The whole cause goes to the log; the page says only what helps.
                let _ = err.error_response();
                "Something went wrong on our side. Try again in a moment.".to_string()
            }
            other => other.to_string(),
        };
        let mut context = tera::Context::new();
        context.insert("status", &status.as_u16());
        context.insert("reason", status.canonical_reason().unwrap_or("Error"));
        context.insert("message", &message);
        // The layout's navigation compares `path`; an error page has none.
        context.insert("path", "");
        context.insert("version", env!("CARGO_PKG_VERSION"));
        let body = render_template("pages/error.html", &context)
            .unwrap_or_else(|_| tera::escape_html(&message));
        let mut response = HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body);
        if let UiError::Api(err) = self {
            // Keep the API error's headers (Retry-After on a 429 or 503).
            for (name, value) in err.error_response().headers() {
                if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
        }
        add_page_headers(response.headers_mut(), None);
        response
    }
}

/// An id from the path; anything else is a page that does not exist.
fn parse_id(raw: &str, what: &'static str) -> Result<uuid::Uuid, UiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| UiError::Api(ApiError::NotFound(what)))
}

/// `GET /api/docs`: the API reference, for anyone; a signed-in browser's
/// "Try it out" requests go with its session.
pub(crate) async fn api_docs(
    req: HttpRequest,
    viewer: super::session::MaybeSignedIn,
) -> Result<HttpResponse, UiError> {
    Page::new("pages/api_docs.html").render(&req, viewer.0.as_ref())
}

// ---- security headers and cross-site refusal ---------------------------------------

/// The headers every page carries. Scripts and styles come only from Kiln;
/// images also from the object store's presigned URLs; forms post only to Kiln
/// (or the configured OAuth providers, which a link form redirects to).
/// Without `config` (an error page) only Kiln's own origin is allowed.
fn add_page_headers(headers: &mut HeaderMap, config: Option<&Config>) {
    let mut img_src = String::from("'self' data: blob:");
    if let Some(StorageBackend::S3 { endpoint, .. }) = config.map(|c| &c.storage.backend) {
        img_src.push(' ');
        img_src.push_str(&endpoint.origin().ascii_serialization());
    }
    let mut form_action = String::from("'self'");
    if let Some(config) = config {
        // The link form's answer redirects to the provider, and browsers
        // check form-action on that redirect too.
        let oauth = &config.oauth;
        for provider in [&oauth.google, &oauth.github].into_iter().flatten() {
            form_action.push(' ');
            form_action.push_str(&provider.auth_url.origin().ascii_serialization());
        }
    }
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img_src}; \
         connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'"
    );
    let pairs = [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (header::REFERRER_POLICY, "same-origin".into()),
        (header::X_FRAME_OPTIONS, "DENY".into()),
        (header::CACHE_CONTROL, "no-store".into()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// Refuses a state-changing request to a page route that a browser says came
/// from another origin (`Origin`, or `Sec-Fetch-Site` when there is no
/// `Origin`). The JSON API under `/api` is left to its own rule: a session may
/// call it only with the CSRF header, which no other site can send.
pub async fn refuse_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !req.path().starts_with("/api/") && !same_origin(req.request()) {
        tracing::warn!(path = req.path(), "a cross-site form post was refused");
        return Ok(req.into_response(UiError::CrossSite.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Whether the browser says this request comes from this site's own pages.
fn same_origin(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        return origin == own_origin(req);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        // Neither header: not a browser (or a very old one), so no ambient
        // cookie was sent on someone else's behalf.
        None => true,
    }
}

/// This site's origin: from `BASE_URL` when set, else the address the request
/// was sent to.
fn own_origin(req: &HttpRequest) -> String {
    if let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Some(base) = &state.config.base_url
    {
        return base.origin().ascii_serialization();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}
