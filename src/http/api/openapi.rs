//! The API's machine-readable contract: `GET /api/openapi.json`, an OpenAPI
//! 3.1 document of every `/api` route, and `GET /api/docs`, the page that
//! renders it for people with the vendored Swagger UI.
//!
//! The document is generated from the code. Each handler carries a
//! `#[utoipa::path]` attribute with its path, parameters, body and the
//! responses it gives, whose schemas derive from the very types the handler
//! reads and writes. What follows from a route's shape rather than from its
//! purpose is added here, once, by [`Conventions`]: the security schemes and
//! which operations need them, and the error responses every route of a kind
//! can give (credentials refused, a malformed body, an unknown id, a backend
//! down).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, ResponseBuilder, SecurityRequirement};
use utoipa::{Modify, OpenApi};

use super::{
    accounts, events, files, jobs, recovery, shares, tokens, transforms, uploads, webhooks,
};
use crate::actors::events::StatusEvent;
use crate::http::AppState;
use crate::http::error::ErrorBody;
use crate::http::session::cookie_name;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kiln",
        description = "Upload files, and get thumbnails, resizes, WebP, watermarks and PDF \
            previews made of them. Every error has the body `Error`, with a stable `code`.",
    ),
    paths(
        accounts::register,
        accounts::login,
        accounts::logout,
        accounts::me,
        recovery::forgot_password,
        recovery::reset_password,
        recovery::verify_email,
        recovery::resend_verification,
        tokens::create,
        tokens::list,
        tokens::delete,
        files::upload,
        files::list,
        files::show,
        files::delete,
        files::content,
        files::variant,
        files::process,
        uploads::options,
        uploads::create,
        uploads::head,
        uploads::append,
        uploads::terminate,
        uploads::show,
        shares::create,
        shares::list,
        shares::revoke,
        transforms::mint,
        events::events,
        events::user_events,
        jobs::show,
        jobs::retry,
        webhooks::create,
        webhooks::list,
        webhooks::delete,
        webhooks::deliveries,
        webhooks::send_test,
    ),
    components(schemas(ErrorBody, StatusEvent)),
    tags(
        (name = "accounts", description = "Registering, signing in, and recovering an account"),
        (name = "tokens", description = "Personal API tokens"),
        (name = "files", description = "Uploading files and getting what was made of them"),
        (name = "uploads", description = "Uploads that resume (tus 1.0.0)"),
        (name = "shares", description = "Public links to a file"),
        (name = "transforms", description = "Images resized on request, from signed URLs"),
        (name = "events", description = "Server-sent events of job and file changes"),
        (name = "jobs", description = "Processing jobs"),
        (name = "webhooks", description = "Endpoints Kiln POSTs events to, signed as Standard Webhooks"),
    ),
)]
struct ApiDoc;

/// Operations anyone may call; every other one needs a credential.
const PUBLIC_OPERATIONS: [&str; 6] = [
    "register",
    "login",
    "forgot_password",
    "reset_password",
    "verify_email",
    "tus_options",
];

/// The names of the security schemes.
const BEARER: &str = "bearer";
const SESSION: &str = "session";
const CSRF: &str = "csrf";

/// What every route of a kind has in common, applied to the whole document.
struct Conventions {
    /// The session cookie's name on this site (`__Host-` on https).
    session_cookie: &'static str,
}

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A JWT from `POST /api/auth/login`, or a personal API token \
                         (`kiln_...`) from `POST /api/tokens`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                self.session_cookie,
                "The web UI's session cookie; requests that change something also \
                 need `X-CSRF-Token`.",
            ))),
        );
        components.add_security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token (the page's `csrf-token` meta tag), sent with \
                 the session cookie on every request but GET, HEAD and OPTIONS.",
            ))),
        );
        for item in doc.paths.paths.values_mut() {
            for (method, operation) in operations(item) {
                add_conventions(method, operation);
            }
        }
    }
}

/// Each operation of a path item, with its method.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (HttpMethod, &mut Operation)> {
    [
        (HttpMethod::Get, item.get.as_mut()),
        (HttpMethod::Post, item.post.as_mut()),
        (HttpMethod::Put, item.put.as_mut()),
        (HttpMethod::Delete, item.delete.as_mut()),
        (HttpMethod::Options, item.options.as_mut()),
        (HttpMethod::Head, item.head.as_mut()),
        (HttpMethod::Patch, item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
}

fn add_conventions(method: HttpMethod, operation: &mut Operation) {
    let public = operation
        .operation_id
        .as_deref()
        .is_some_and(|id| PUBLIC_OPERATIONS.contains(&id));
    if !public {
        let session = match method {
            HttpMethod::Get | HttpMethod::Head | HttpMethod::Options => {
                SecurityRequirement::new(SESSION, Vec::<String>::new())
            }
            _ => SecurityRequirement::new(SESSION, Vec::<String>::new())
                .add(CSRF, Vec::<String>::new()),
        };
        operation.security = Some(vec![
            SecurityRequirement::new(BEARER, Vec::<String>::new()),
            session,
        ]);
        add_error(
            operation,
            401,
            "`unauthorized`: no credential, or one that is invalid, expired or revoked.",
        );
        add_error(
            operation,
            403,
            "`account_disabled`: an operator disabled the account; `forbidden`: a session \
             without its `X-CSRF-Token`.",
        );
    }
    if operation.request_body.as_ref().is_some_and(is_json_body) {
        add_error(
            operation,
            400,
            "`invalid_json`: the body is not JSON of the documented shape, or is over 64 KiB.",
        );
    }
    let parameters = operation.parameters.iter().flatten();
    let (mut in_path, mut in_query) = (false, false);
    for parameter in parameters {
        if let utoipa::openapi::RefOr::T(parameter) = parameter {
            match parameter.parameter_in {
                utoipa::openapi::path::ParameterIn::Path => in_path = true,
                utoipa::openapi::path::ParameterIn::Query => in_query = true,
                _ => {}
            }
        }
    }
    if in_path {
        add_error(
            operation,
            404,
            "`not_found`: nothing of yours has this id (or it is not an id).",
        );
    }
    if in_query {
        add_error(
            operation,
            400,
            "`invalid_query`: the query string does not parse.",
        );
    }
    add_error(
        operation,
        503,
        "`service_unavailable`: a backend (database, object storage, Redis) does not \
         answer; retry after `Retry-After` seconds.",
    );
    add_error(
        operation,
        500,
        "`internal_error`: a fault of Kiln's; the log has its cause under the \
         response's `X-Request-Id`.",
    );
}

fn is_json_body(body: &utoipa::openapi::RefOr<utoipa::openapi::request_body::RequestBody>) -> bool {
    match body {
        utoipa::openapi::RefOr::T(body) => body.content.contains_key("application/json"),
        utoipa::openapi::RefOr::Ref(_) => false,
    }
}

/// Documents an error response of `status`, unless the handler's attribute
/// already does (its description then names the codes).
fn add_error(operation: &mut Operation, status: u16, description: &str) {
    let responses = &mut operation.responses.responses;
    responses.entry(status.to_string()).or_insert_with(|| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::Content::new(Some(Ref::from_schema_name("Error"))),
            )
            .build()
            .into()
    });
}

/// The document, for a site whose session cookie is named as `state`'s.
pub fn document(state: &AppState) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    Conventions {
        session_cookie: cookie_name(&state.config),
    }
    .modify(&mut doc);
    doc
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi_json))
        .route("/docs", web::get().to(crate::http::ui::api_docs));
}

async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(document(&state))
}
