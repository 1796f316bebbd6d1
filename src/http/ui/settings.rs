//! The settings page: the account's name, its password, what it stores
//! against its quota, its personal API tokens, its webhook endpoints with
//! their latest deliveries, and the providers it signs in with. The rules are
//! the Accounts actor's and the API's, shared with the API; these handlers
//! turn them into one page of forms.
//!
//! Every form posts to its own route with the session's CSRF token. A success
//! redirects back with a notice, except a new token or endpoint: its secret
//! exists only in that one response, which renders the page directly (and, like every page,
//! is never stored by a cache), so a reload of `/settings` cannot show it again.
//! A client mistake renders the page again with the message next to its form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    CsrfForm, Notice, Page, SignedInForm, UiError, When, carries_csrf_token, form_error, parse_id,
    see_other_with, with_cookie,
};
use crate::actors::accounts::{
    AccountOverview, ChangePassword, CreateApiToken, DescribeAccount, MAX_EXPIRES_IN_DAYS,
    RenameAccount, Requester, RevokeApiToken,
};
use crate::actors::catalog::accounts::FindUsage;
use crate::actors::catalog::oauth::SignInMethods;
use crate::actors::catalog::sessions::ApiToken;
use crate::actors::catalog::webhooks::{DeleteWebhook, Delivery, ListDeliveries, ListWebhooks};
use crate::auth::oauth::Provider;
use crate::domain::quota::{Usage, human_size};
use crate::domain::webhooks::EventType;
use crate::http::api::webhooks::{add_endpoint, queue_test};
use crate::http::error::ApiError;
use crate::http::request_context::{counted_client, request_id_of};
use crate::http::session::{SignedIn, session_cookie, session_request};
use crate::http::{AppState, ask};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings", web::get().to(show))
        .route("/settings/profile", web::post().to(rename))
        .route("/settings/password", web::post().to(change_password))
        .route("/settings/tokens", web::post().to(create_token))
        .route("/settings/tokens/{id}/revoke", web::post().to(revoke_token))
        .route("/settings/webhooks", web::post().to(add_webhook))
        .route(
            "/settings/webhooks/{id}/delete",
            web::post().to(delete_webhook),
        )
        .route("/settings/webhooks/{id}/test", web::post().to(test_webhook));
}

// ---- what the page shows -------------------------------------------------------------

#[derive(Serialize)]
struct TokenRow {
    id: Uuid,
    name: String,
    prefix: String,
    created: When,
    last_used: Option<When>,
    expires: Option<When>,
    expired: bool,
}

impl From<ApiToken> for TokenRow {
    fn from(token: ApiToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            prefix: token.prefix,
            created: token.created_at.into(),
            last_used: token.last_used_at.map(When::from),
            expired: token.expires_at.is_some_and(|at| at <= Utc::now()),
            expires: token.expires_at.map(When::from),
        }
    }
}

/// A token just made, shown this once.
#[derive(Serialize)]
struct NewToken {
    name: String,
    secret: String,
    expires: Option<When>,
}

/// A lifetime offered for a new token.
#[derive(Serialize)]
struct Expiry {
    days: &'static str,
    label: &'static str,
}

/// The lifetimes offered, in days (empty: never expires).
const EXPIRIES: [(&str, &str); 5] = [
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("", "Never"),
];

const DEFAULT_EXPIRY: &str = "30";

/// A provider Kiln is configured for, or one this account is still linked to
/// (the operator may have turned it off since: it can be unlinked, not linked).
#[derive(Serialize)]
struct ProviderRow {
    id: &'static str,
    label: &'static str,
    configured: bool,
    linked: bool,
    /// The address the provider gave when it was linked.
    email: Option<String>,
    linked_at: Option<When>,
    /// Unlinking would leave the account no way to sign in (the Catalog's
    /// rule: a password or another link).
    last_way_in: bool,
}

fn provider_rows(state: &AppState, methods: &SignInMethods) -> Vec<ProviderRow> {
    let ways_in = methods.linked.len() + usize::from(methods.has_password);
    Provider::ALL
        .into_iter()
        .filter_map(|provider| {
            let configured = provider.settings(&state.config.oauth).is_some();
            let link = methods.linked.iter().find(|l| l.provider == provider);
            (configured || link.is_some()).then(|| ProviderRow {
                id: provider.id(),
                label: provider.label(),
                configured,
                linked: link.is_some(),
                email: link.and_then(|l| l.email.clone()),
                linked_at: link.map(|l| l.created_at.into()),
                last_way_in: link.is_some() && ways_in <= 1,
            })
        })
        .collect()
}

/// The account's storage against its quota, as the page says it.
#[derive(Serialize)]
struct StorageUse {
    used: String,
    /// `None`: no byte limit.
    quota: Option<String>,
    /// Of the byte quota, 0–100.
    percent: Option<u8>,
    files: u64,
    quota_files: Option<u64>,
}

impl From<Usage> for StorageUse {
    fn from(usage: Usage) -> Self {
        Self {
            used: human_size(usage.bytes),
            quota: usage.quota_bytes.map(human_size),
            percent: usage.percent_of_bytes(),
            files: usage.files,
            quota_files: usage.quota_files,
        }
    }
}

/// An endpoint as the page lists it, with its latest deliveries.
#[derive(Serialize)]
struct WebhookRow {
    id: Uuid,
    url: String,
    description: Option<String>,
    events: Vec<String>,
    created: When,
    disabled: Option<When>,
    deliveries: Vec<DeliveryRow>,
}

#[derive(Serialize)]
struct DeliveryRow {
    event: String,
    status: String,
    status_code: Option<i32>,
    attempts: i32,
    last_error: Option<String>,
    created: When,
}

impl From<Delivery> for DeliveryRow {
    fn from(delivery: Delivery) -> Self {
        Self {
            event: delivery.event,
            status: delivery.status,
            status_code: delivery.status_code,
            attempts: delivery.attempts,
            last_error: delivery.last_error,
            created: delivery.created_at.into(),
        }
    }
}

/// Deliveries the page shows per endpoint: the latest.
const DELIVERIES_SHOWN: u64 = 5;

/// The user's endpoints, each with its latest deliveries.
async fn webhook_rows(
    state: &AppState,
    req: &HttpRequest,
    user_id: Uuid,
) -> Result<Vec<WebhookRow>, ApiError> {
    let listing = ListWebhooks {
        request_id: request_id_of(req),
        user_id,
    };
    let mut rows = Vec::new();
    for webhook in ask(&state.actors.catalog, listing).await? {
        let deliveries = ListDeliveries {
            request_id: request_id_of(req),
            user_id,
            webhook_id: webhook.id,
            limit: DELIVERIES_SHOWN,
        };
        let deliveries = ask(&state.actors.catalog, deliveries)
            .await?
            .unwrap_or_default();
        rows.push(WebhookRow {
            id: webhook.id,
            url: webhook.url,
            description: webhook.description,
            events: webhook.events,
            created: webhook.created_at.into(),
            disabled: webhook.disabled_at.map(When::from),
            deliveries: deliveries.into_iter().map(DeliveryRow::from).collect(),
        });
    }
    Ok(rows)
}

/// An endpoint just added: its secret, shown this once.
#[derive(Serialize)]
struct NewWebhook {
    url: String,
    secret: String,
}

/// What the webhook form had, kept on a mistake.
#[derive(Serialize, Default)]
struct WebhookDraft {
    url: String,
    description: String,
    events: Vec<String>,
}

/// What a form left on the page: the values typed (kept on a mistake), the
/// message for the form that failed, and a token or endpoint made this once.
#[derive(Default)]
struct Outcome {
    name: Option<String>,
    profile_error: Option<String>,
    password_error: Option<String>,
    token_name: Option<String>,
    token_expiry: Option<String>,
    token_error: Option<String>,
    new_token: Option<NewToken>,
    webhook_draft: Option<WebhookDraft>,
    webhook_error: Option<String>,
    new_webhook: Option<NewWebhook>,
    status: Option<StatusCode>,
}

async fn render(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    outcome: Outcome,
) -> Result<HttpResponse, UiError> {
    let user = &signed_in.user;
    let describe = DescribeAccount {
        request_id: request_id_of(req),
        user_id: user.id,
    };
    let AccountOverview {
        tokens,
        sign_in: methods,
    } = ask(&state.actors.accounts, describe).await?;
    let tokens: Vec<TokenRow> = tokens.into_iter().map(TokenRow::from).collect();
    let usage = FindUsage {
        request_id: request_id_of(req),
        user_id: user.id,
    };
    let storage = ask(&state.actors.catalog, usage)
        .await?
        .map(StorageUse::from);
    let webhooks = webhook_rows(state, req, user.id).await?;
    let webhook_draft = outcome.webhook_draft.unwrap_or_else(|| WebhookDraft {
        events: EventType::SUBSCRIBABLE
            .map(|event| event.as_str().to_string())
            .to_vec(),
        ..WebhookDraft::default()
    });
    let page = Page::new("pages/settings.html")
        .with("storage", &storage)
        .with("name", &outcome.name.as_deref().unwrap_or(&user.name))
        .with("email", &user.email)
        .with("email_verified", &user.email_verified)
        .with("profile_error", &outcome.profile_error)
        .with("has_password", &methods.has_password)
        .with("password_error", &outcome.password_error)
        .with("tokens", &tokens)
        .with("token_name", &outcome.token_name.unwrap_or_default())
        .with(
            "token_expiry",
            &outcome
                .token_expiry
                .unwrap_or_else(|| DEFAULT_EXPIRY.to_string()),
        )
        .with(
            "expiries",
            &EXPIRIES.map(|(days, label)| Expiry { days, label }),
        )
        .with("token_error", &outcome.token_error)
        .with("new_token", &outcome.new_token)
        .with("webhooks", &webhooks)
        .with("webhook_draft", &webhook_draft)
        .with("webhook_error", &outcome.webhook_error)
        .with("new_webhook", &outcome.new_webhook)
        .with(
            "webhook_events",
            &EventType::SUBSCRIBABLE.map(|event| event.as_str()),
        )
        .with("providers", &provider_rows(state, &methods))
        .status(outcome.status.unwrap_or(StatusCode::OK));
    page.render(req, Some(signed_in))
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
) -> Result<HttpResponse, UiError> {
    render(&state, &req, &signed_in, Outcome::default()).await
}

// ---- profile -----------------------------------------------------------------------

#[derive(Deserialize)]
struct ProfileForm {
    // Missing fields are empty, so a bare post is refused by the CSRF check
    // (403) rather than by the form parser.
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
}

carries_csrf_token!(ProfileForm, PasswordForm, TokenForm);

async fn rename(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, form): SignedInForm<ProfileForm>,
) -> Result<HttpResponse, UiError> {
    let rename = RenameAccount {
        request_id: request_id_of(&req),
        user_id: signed_in.user.id,
        name: form.name.clone(),
    };
    if let Err(err) = ask(&state.actors.accounts, rename).await {
        let (status, message) = form_error(err)?;
        let outcome = Outcome {
            name: Some(form.name.clone()),
            profile_error: Some(message),
            status: Some(status),
            ..Outcome::default()
        };
        return render(&state, &req, &signed_in, outcome).await;
    }
    Ok(see_other_with(
        &state.config,
        "/settings",
        Notice::NameChanged,
    ))
}

// ---- password ----------------------------------------------------------------------

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf_token: String,
    /// Absent for an account that has no password yet.
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, form): SignedInForm<PasswordForm>,
) -> Result<HttpResponse, UiError> {
    let PasswordForm {
        current_password,
        new_password,
        new_password_confirm,
        ..
    } = form;
    let changed = match new_password == new_password_confirm {
        true => {
            // Every session of the account ends with the change, this one
            // too; this browser, which just proved the password, gets a
            // fresh one.
            let change = ChangePassword {
                request_id: request_id_of(&req),
                client: counted_client(&req),
                user: signed_in.user.clone(),
                current: current_password.into(),
                new: new_password.into(),
                session: session_request(&state, &req),
            };
            ask(&state.actors.accounts, change).await
        }
        false => Err(ApiError::unprocessable(
            "passwords_differ",
            "the two new passwords are not the same",
        )),
    };
    let session = match changed {
        Ok(session) => session,
        Err(err) => {
            let (status, message) = form_error(err)?;
            let outcome = Outcome {
                password_error: Some(message),
                status: Some(status),
                ..Outcome::default()
            };
            return render(&state, &req, &signed_in, outcome).await;
        }
    };
    let cookie = session_cookie(&state.config, session);
    with_cookie(
        see_other_with(&state.config, "/settings", Notice::PasswordChanged),
        &cookie,
    )
}

// ---- API tokens --------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    /// Days until it expires; empty for never.
    #[serde(default)]
    expires_in_days: String,
}

/// The lifetime chosen on the form: days from 1 to the shared maximum, or
/// nothing for a token that never expires.
fn parse_expiry(raw: &str) -> Result<Option<i64>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(days) if (1..=MAX_EXPIRES_IN_DAYS).contains(&days) => Ok(Some(days)),
        _ => Err(ApiError::unprocessable(
            "invalid_expiry",
            format!("the lifetime must be a number of days from 1 to {MAX_EXPIRES_IN_DAYS}"),
        )),
    }
}

async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, form): SignedInForm<TokenForm>,
) -> Result<HttpResponse, UiError> {
    let TokenForm {
        name,
        expires_in_days,
        ..
    } = form;
    let created = match parse_expiry(&expires_in_days) {
        Ok(days) => {
            let create = CreateApiToken {
                request_id: request_id_of(&req),
                requester: Requester::Owner,
                user_id: signed_in.user.id,
                name: name.clone(),
                expires_in_days: days,
            };
            ask(&state.actors.accounts, create).await
        }
        Err(err) => Err(err),
    };
    let outcome = match created {
        Ok(created) => Outcome {
            new_token: Some(NewToken {
                name: created.stored.name,
                secret: created.secret,
                expires: created.stored.expires_at.map(When::from),
            }),
            ..Outcome::default()
        },
        Err(err) => {
            let (status, message) = form_error(err)?;
            Outcome {
                token_name: Some(name),
                token_expiry: Some(expires_in_days),
                token_error: Some(message),
                status: Some(status),
                ..Outcome::default()
            }
        }
    };
    render(&state, &req, &signed_in, outcome).await
}

async fn revoke_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    token_id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let token_id = parse_id(&token_id, "token")?;
    let revoke = RevokeApiToken {
        request_id: request_id_of(&req),
        user_id: signed_in.user.id,
        token_id,
    };
    ask(&state.actors.accounts, revoke).await?;
    Ok(see_other_with(
        &state.config,
        "/settings#tokens",
        Notice::TokenRevoked,
    ))
}

// ---- webhooks ----------------------------------------------------------------------

/// The endpoint form: one checkbox per event, each named after it.
#[derive(Deserialize)]
struct WebhookForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    description: String,
    #[serde(rename = "file.ready")]
    file_ready: Option<String>,
    #[serde(rename = "file.failed")]
    file_failed: Option<String>,
    #[serde(rename = "job.dead")]
    job_dead: Option<String>,
}

carries_csrf_token!(WebhookForm);

async fn add_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, form): SignedInForm<WebhookForm>,
) -> Result<HttpResponse, UiError> {
    let events: Vec<String> = [
        (EventType::FileReady, &form.file_ready),
        (EventType::FileFailed, &form.file_failed),
        (EventType::JobDead, &form.job_dead),
    ]
    .into_iter()
    .filter(|(_, checked)| checked.is_some())
    .map(|(event, _)| event.as_str().to_string())
    .collect();
    let added = add_endpoint(
        &state,
        request_id_of(&req),
        signed_in.user.id,
        &form.url,
        &events,
        Some(form.description.clone()),
    )
    .await;
    let outcome = match added {
        Ok(added) => Outcome {
            new_webhook: Some(NewWebhook {
                url: added.webhook.url,
                secret: added.secret,
            }),
            ..Outcome::default()
        },
        Err(err) => {
            let (status, message) = form_error(err)?;
            Outcome {
                webhook_draft: Some(WebhookDraft {
                    url: form.url,
                    description: form.description,
                    events,
                }),
                webhook_error: Some(message),
                status: Some(status),
                ..Outcome::default()
            }
        }
    };
    render(&state, &req, &signed_in, outcome).await
}

async fn delete_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    webhook_id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let webhook_id = parse_id(&webhook_id, "webhook")?;
    let delete = DeleteWebhook {
        request_id: request_id_of(&req),
        user_id: signed_in.user.id,
        webhook_id,
    };
    if !ask(&state.actors.catalog, delete).await? {
        return Err(ApiError::NotFound("webhook").into());
    }
    Ok(see_other_with(
        &state.config,
        "/settings#webhooks",
        Notice::WebhookDeleted,
    ))
}

async fn test_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, _): SignedInForm<CsrfForm>,
    webhook_id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let webhook_id = parse_id(&webhook_id, "webhook")?;
    queue_test(&state, request_id_of(&req), signed_in.user.id, webhook_id).await?;
    Ok(see_other_with(
        &state.config,
        "/settings#webhooks",
        Notice::WebhookTestQueued,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_lifetime_is_a_number_of_days_or_nothing() {
        assert_eq!(parse_expiry("").unwrap(), None);
        assert_eq!(parse_expiry(" 30 ").unwrap(), Some(30));
        assert!(parse_expiry("soon").is_err());
        assert!(parse_expiry("0").is_err());
        assert!(parse_expiry("3651").is_err());
    }
}
