//! The outermost middleware: gives every request an id (the client's
//! `X-Request-Id` when it is safe to echo, else a new one), runs it inside a
//! tracing span carrying `request_id` and `user_id`, logs its outcome and
//! duration, counts it in the HTTP metrics, and makes sure every error response
//! has the API's error body. It also says which address a request comes from
//! ([`client_address`]), behind trusted proxies too.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::{Ready, ready};
use tracing::Instrument;

use super::AppState;
use super::error::{code_for_status, error_body};
use crate::telemetry::{RequestId, metrics};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::from_client)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(request_id.clone());
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.path(),
        user_id = tracing::field::Empty,
    );
    let started = Instant::now();
    // Handlers' and extractors' errors arrive here already turned into responses;
    // an `Err` would mean a middleware failed, and actix renders it itself.
    let response = next.call(req).instrument(span.clone()).await?;
    let status = response.status();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    // The route's pattern, never its path: `/api/files/{id}` is one series.
    let route = response.request().match_pattern();
    metrics::http_request(
        response.request().method().as_str(),
        route.as_deref().unwrap_or("unmatched"),
        status.as_u16(),
        elapsed,
    );
    let mut response = with_error_body(response);
    if let Ok(value) = HeaderValue::from_str(request_id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// Replaces the body of an error response that is neither JSON nor a page (an
/// unknown route, a wrong method, a framework-level refusal) with the API's
/// error body, keeping its status and headers.
fn with_error_body<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let ours =
        content_type.starts_with("application/json") || content_type.starts_with("text/html");
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return response.map_into_boxed_body();
    }
    let (request, original) = response.into_parts();
    let message = status
        .canonical_reason()
        .unwrap_or("request failed")
        .to_lowercase();
    let mut replacement = error_body(status, code_for_status(status), &message);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(request, replacement)
}

/// Handlers take the request id as an argument to pass into actor messages.
impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(request_id_of(req)))
    }
}

/// The id the middleware gave this request (a fresh one outside the middleware).
pub fn request_id_of(req: &HttpRequest) -> RequestId {
    req.extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate)
}

/// The client's address: the socket's peer, or, when the peer is one of
/// `TRUSTED_PROXIES`, the client its `X-Forwarded-For` names (see
/// [`crate::domain::TrustedProxies`]). Every rate limit and every record of
/// where a request came from uses this. `None` only without a peer address,
/// which a TCP listener always has.
pub fn client_address(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Some(peer);
    };
    let forwarded_for = req
        .headers()
        .get_all(X_FORWARDED_FOR)
        .filter_map(|value| value.to_str().ok());
    Some(
        state
            .config
            .trusted_proxies
            .client_address(peer, forwarded_for),
    )
}

/// The client address as the rate limits count it (see
/// [`crate::domain::counted_as`]): behind `TRUSTED_PROXIES`, the client their
/// `X-Forwarded-For` names.
pub fn counted_client(req: &HttpRequest) -> String {
    client_address(req)
        .map(crate::domain::counted_as)
        .unwrap_or_else(|| "unknown".into())
}
