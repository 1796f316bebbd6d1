//! The one place that turns errors into HTTP status codes and the API's error
//! body, `{"error": {"code": "...", "message": "..."}}`.
//!
//! Client mistakes get a specific code and a message safe to show a person; a 5xx
//! gets a generic message while its whole cause chain goes to the log.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::accounts::AccountsError;
use crate::actors::catalog::CatalogError;
use crate::actors::events::EventsError;
use crate::actors::ingest::IngestError;
use crate::actors::limiter::LimiterError;
use crate::actors::storage::StorageError;
use crate::actors::transformer::TransformError;
use crate::domain::requests::RequestError;
use crate::error_chain;

/// How long a client should wait before retrying when a backend is down.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long a client refused for a full transform queue should wait: about
/// the time one transform takes.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);
/// How long a client refused another event stream should wait: a stream it
/// closed is counted out at once, but one that merely went away may take
/// that long to be noticed.
const STREAMS_RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("email or password is incorrect")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    /// Forbidden, with a code of its own (`invalid_signature`, `expired`).
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    /// The credential is right, but an operator disabled the account.
    #[error("this account is disabled; ask the service's operator")]
    AccountDisabled,
    /// Allowed only once the account has verified its e-mail address.
    #[error("verify your e-mail address first: open the link Kiln mailed you")]
    EmailUnverified,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    /// What was to be stored does not fit in the account's quota.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A tus request without `Tus-Resumable: 1.0.0`.
    #[error("send Tus-Resumable: 1.0.0; it is the version of tus Kiln speaks")]
    TusVersion,
    /// Another request holds what this one would change; retry shortly.
    #[error("{0}")]
    Locked(String),
    /// A tus chunk whose bytes do not have the digest its header names.
    #[error("{0}")]
    ChecksumMismatch(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("too many attempts; retry in {} seconds", retry_after_secs(*.retry_after))]
    TooManyRequests { retry_after: Duration },
    /// The user holds as many event streams open as they may.
    #[error("too many open event streams: at most {limit} per user; close one to open another")]
    TooManyStreams { limit: usize },
    /// Work refused because as much is queued as may be; retry in a moment.
    #[error("{0}")]
    Busy(String),
    #[error("{backend} is unavailable; retry shortly")]
    Unavailable {
        backend: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn retry_after_secs(wait: Duration) -> u64 {
    // Round up: retrying a fraction of a second early would be refused again.
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl ApiError {
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. }
            | Self::Denied { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Forbidden(_) => "forbidden",
            Self::AccountDisabled => "account_disabled",
            Self::EmailUnverified => "email_unverified",
            Self::NotFound(_) => "not_found",
            Self::PayloadTooLarge(_) => "file_too_large",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::TusVersion => "unsupported_tus_version",
            Self::Locked(_) => "locked",
            Self::ChecksumMismatch(_) => "checksum_mismatch",
            Self::UnsupportedType(_) => "unsupported_type",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::TooManyStreams { .. } => "too_many_streams",
            Self::Busy(_) => "busy",
            Self::Unavailable { .. } => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

/// The body of every non-2xx API response.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail<'a> {
    /// A stable snake_case word, such as `file_too_large`.
    #[schema(example = "not_found")]
    code: &'a str,
    /// Safe to show a person.
    #[schema(example = "file not found")]
    message: &'a str,
}

/// The error body for `status` with `code` and `message`.
pub fn error_body(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        error: ErrorDetail { code, message },
    })
}

/// A code for responses that carry no error of ours (unknown route, wrong
/// method, body over a size limit), so they get the API's body too.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
        s if s.is_server_error() => "internal_error",
        _ => "request_failed",
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_)
            | Self::Denied { .. }
            | Self::AccountDisabled
            | Self::EmailUnverified => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) | Self::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TusVersion => StatusCode::PRECONDITION_FAILED,
            Self::Locked(_) => StatusCode::LOCKED,
            // tus's checksum extension: 460 Checksum Mismatch.
            Self::ChecksumMismatch(_) => {
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::UnsupportedType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } | Self::TooManyStreams { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Unavailable { .. } | Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %error_chain(self), code = self.code(), "request failed");
        }
        let mut response = error_body(status, self.code(), &self.to_string());
        let retry_after = match self {
            Self::TooManyRequests { retry_after } => Some(retry_after_secs(*retry_after).max(1)),
            Self::TooManyStreams { .. } => Some(STREAMS_RETRY_AFTER.as_secs()),
            Self::Unavailable { .. } => Some(UNAVAILABLE_RETRY_AFTER.as_secs()),
            Self::Busy(_) => Some(BUSY_RETRY_AFTER.as_secs()),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Self::TusVersion = self {
            response.headers_mut().insert(
                HeaderName::from_static("tus-version"),
                HeaderValue::from_static(crate::domain::tus::VERSION),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<TransformError> for ApiError {
    fn from(err: TransformError) -> Self {
        match err {
            TransformError::FileNotFound => Self::NotFound("file"),
            TransformError::NotAnImage(_) => Self::UnsupportedType(err.to_string()),
            TransformError::Refused { code, message } => Self::Unprocessable { code, message },
            TransformError::Busy => Self::Busy(err.to_string()),
            TransformError::Unavailable(reason) => Self::Unavailable {
                backend: "the transform service",
                source: reason.into(),
            },
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(err: AccountsError) -> Self {
        match err {
            AccountsError::Invalid { code, message } => Self::Unprocessable { code, message },
            AccountsError::WeakPassword(rejection) => rejection.into(),
            AccountsError::InvalidCredentials => Self::InvalidCredentials,
            AccountsError::AccountGone => Self::Unauthorized,
            AccountsError::AccountDisabled => Self::AccountDisabled,
            AccountsError::EmailUnverified => Self::EmailUnverified,
            AccountsError::TooManyAttempts { retry_after } => Self::TooManyRequests { retry_after },
            AccountsError::PasswordChangedMeanwhile => Self::Conflict {
                code: "password_changed",
                message: err.to_string(),
            },
            AccountsError::TokenNotFound => Self::NotFound("token"),
            AccountsError::ProviderNotConfigured(_) => Self::NotFound("sign-in provider"),
            AccountsError::ProviderFailed { .. } => Self::Unavailable {
                backend: "the sign-in provider",
                source: Box::new(err),
            },
            AccountsError::Catalog(err) => err.into(),
            AccountsError::Limiter(err) => err.into(),
            AccountsError::Hash(err) => err.into(),
            AccountsError::Mailbox(err) => err.into(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::Empty => Self::bad_request("empty_file", err.to_string()),
            IngestError::TooLarge { .. } => Self::PayloadTooLarge(err.to_string()),
            IngestError::UnsupportedType => Self::UnsupportedType(err.to_string()),
            IngestError::InvalidProcessors(message) => {
                Self::unprocessable("invalid_processors", message)
            }
            IngestError::InvalidOptions(message) => Self::unprocessable("invalid_options", message),
            IngestError::InvalidRequest(refusal) => {
                let code = match refusal {
                    RequestError::UnknownProcessor(_) | RequestError::NoProcessor(_) => {
                        "unknown_processor"
                    }
                    RequestError::InvalidOptions(_) => "invalid_options",
                    RequestError::InvalidVariant => "invalid_variant",
                    RequestError::CannotProcess(_) => "unsupported_processor",
                };
                Self::unprocessable(code, refusal.to_string())
            }
            IngestError::InvalidWatermarkImage(message) => {
                Self::unprocessable("invalid_watermark_image", message)
            }
            IngestError::FileNotFound => Self::NotFound("file"),
            IngestError::VariantNotFound => Self::NotFound("variant"),
            IngestError::JobNotFound => Self::NotFound("job"),
            IngestError::ShareNotFound => Self::NotFound("share"),
            IngestError::InvalidShare(refusal) => {
                Self::unprocessable("invalid_share", refusal.to_string())
            }
            IngestError::Body(_) | IngestError::Abandoned => {
                Self::bad_request("invalid_body", "the upload body could not be read")
            }
            IngestError::UploadNotFound => Self::NotFound("upload"),
            IngestError::OffsetMismatch { .. } => Self::Conflict {
                code: "offset_mismatch",
                message: err.to_string(),
            },
            IngestError::UploadFinished => Self::Conflict {
                code: "upload_complete",
                message: err.to_string(),
            },
            IngestError::UploadBusy => Self::Locked(err.to_string()),
            IngestError::PastLength => Self::bad_request("past_upload_length", err.to_string()),
            IngestError::ChecksumMismatch => Self::ChecksumMismatch(err.to_string()),
            IngestError::Storage(err) => err.into(),
            IngestError::Catalog(err) => err.into(),
            IngestError::Mailbox(err) => err.into(),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::EmailTaken => Self::Conflict {
                code: "email_taken",
                message: err.to_string(),
            },
            CatalogError::JobNotDead(_) => Self::Conflict {
                code: "job_not_dead",
                message: err.to_string(),
            },
            CatalogError::AlreadyVerified => Self::Conflict {
                code: "already_verified",
                message: err.to_string(),
            },
            CatalogError::TooSoon(retry_after) => Self::TooManyRequests { retry_after },
            CatalogError::QuotaExceeded(_) => Self::QuotaExceeded(err.to_string()),
            CatalogError::UploadGone => Self::NotFound("upload"),
            CatalogError::Unavailable(_) => Self::Unavailable {
                backend: "the database",
                source: Box::new(err),
            },
            CatalogError::Query(_) => Self::internal(err),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::NotFound => Self::NotFound("object"),
            StorageError::LinkExpired => Self::Forbidden("this link has expired".into()),
            StorageError::LinkInvalid => Self::Forbidden("this link is not valid".into()),
            StorageError::Unavailable(_) | StorageError::Write(_) => Self::Unavailable {
                backend: "object storage",
                source: Box::new(err),
            },
            StorageError::InvalidKey(_) | StorageError::Body(_) | StorageError::Config(_) => {
                Self::internal(err)
            }
        }
    }
}

impl From<EventsError> for ApiError {
    fn from(err: EventsError) -> Self {
        match err {
            EventsError::TooManyStreams { limit } => Self::TooManyStreams { limit },
            EventsError::FileNotFound => Self::NotFound("file"),
            EventsError::Catalog(err) => err.into(),
            EventsError::Mailbox(err) => err.into(),
        }
    }
}

impl From<LimiterError> for ApiError {
    fn from(err: LimiterError) -> Self {
        Self::Unavailable {
            backend: "redis",
            source: Box::new(err),
        }
    }
}

impl From<crate::domain::PasswordRejection> for ApiError {
    fn from(rejection: crate::domain::PasswordRejection) -> Self {
        Self::unprocessable("weak_password", rejection.to_string())
    }
}

impl From<crate::auth::password_hash::HashError> for ApiError {
    fn from(err: crate::auth::password_hash::HashError) -> Self {
        Self::internal(err)
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(err: actix::MailboxError) -> Self {
        match err {
            actix::MailboxError::Timeout => Self::Unavailable {
                backend: "the server",
                source: Box::new(err),
            },
            actix::MailboxError::Closed => Self::internal(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_rt::test]
    async fn a_server_error_hides_its_cause_from_the_client() {
        let err = ApiError::internal(std::io::Error::other("SELECT secret FROM users failed"));
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = to_bytes(response.into_body()).await.unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(!body.contains("SELECT"));
        assert!(body.contains("\"internal_error\""));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
