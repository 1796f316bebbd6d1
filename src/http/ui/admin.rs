//! Pages for administrators (accounts with `is_admin`, set with
//! `kiln user set-role`): the jobs that failed across every user, dead or
//! waiting for a retry, and a way to bring a dead one back; and every account's
//! storage against its quota, with a form to set the quota. Everyone else gets
//! a 403 page; the retry is the API's own (the Ingest actor's [`RetryJob`]), with no
//! owner check, and the quota the same as `kiln user set-quota` sets.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Notice, Page, Pagination, SignedInForm, UiError, When, carries_csrf_token, form_error,
    see_other_with,
};
use crate::actors::catalog::User;
use crate::actors::catalog::admin::{FailedJob, ListUsers, QuotaLimit, SetQuota};
use crate::actors::catalog::jobs::JobScope;
use crate::actors::ingest::{RetryJob, ShowFailedJobs};
use crate::domain::jobs::JobStatus;
use crate::domain::quota::{Usage, human_size};
use crate::http::error::ApiError;
use crate::http::request_context::request_id_of;
use crate::http::session::SignedIn;
use crate::http::{AppState, ask};
use crate::telemetry::RequestId;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/jobs", web::get().to(jobs))
        .route("/admin/jobs/{id}/retry", web::post().to(retry))
        .route("/admin/users", web::get().to(users))
        .route("/admin/users/quota", web::post().to(set_quota));
}

/// A page's status and the message of the form that failed, if one did.
fn status_and_message(error: Option<(StatusCode, String)>) -> (StatusCode, Option<String>) {
    match error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    }
}

/// Jobs on one page.
const PAGE_SIZE: u64 = 25;

/// Refuses everyone but administrators.
fn require_admin(signed_in: &SignedIn) -> Result<(), UiError> {
    match signed_in.user.is_admin {
        true => Ok(()),
        false => Err(UiError::Api(ApiError::Forbidden(
            "only administrators can see this page".into(),
        ))),
    }
}

/// Which failed jobs the page lists, and which page of them. Read leniently
/// from the query: an unknown filter or page shows the first page of all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct View {
    status: Option<JobStatus>,
    page: u64,
}

#[derive(Deserialize)]
struct ViewQuery {
    status: Option<String>,
    page: Option<String>,
}

impl View {
    fn from_query(status: Option<&str>, page: Option<&str>) -> Self {
        let status = match status {
            Some("dead") => Some(JobStatus::Dead),
            Some("retrying") => Some(JobStatus::Retrying),
            _ => None,
        };
        let page = page
            .and_then(|p| p.parse::<u64>().ok())
            .filter(|p| (1..=1_000_000).contains(p))
            .unwrap_or(1);
        Self { status, page }
    }

    fn href(self) -> String {
        let mut href = String::from("/admin/jobs");
        let mut sep = '?';
        if let Some(status) = self.status {
            href.push_str(&format!("{sep}status={status}"));
            sep = '&';
        }
        if self.page > 1 {
            href.push_str(&format!("{sep}page={}", self.page));
        }
        href
    }
}

#[derive(Serialize)]
struct Tab {
    label: &'static str,
    count: u64,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct JobRow {
    id: Uuid,
    filename: String,
    owner_email: String,
    processor: String,
    variant: String,
    status: &'static str,
    attempts: i32,
    error: Option<String>,
    /// When it died, or when its last attempt failed.
    changed: When,
    /// When a retrying job is tried again.
    next_try: Option<When>,
    retryable: bool,
}

impl From<FailedJob> for JobRow {
    fn from(failed: FailedJob) -> Self {
        let status = failed.job.status;
        Self {
            id: failed.job.id,
            filename: failed.filename,
            owner_email: failed.owner_email,
            processor: failed.job.processor,
            variant: failed.job.variant,
            status: status.as_str(),
            attempts: failed.job.attempts,
            error: failed.job.error,
            changed: failed.updated_at.into(),
            next_try: (status == JobStatus::Retrying).then(|| failed.run_after.into()),
            retryable: status == JobStatus::Dead,
        }
    }
}

async fn render(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    view: View,
    error: Option<(StatusCode, String)>,
) -> Result<HttpResponse, UiError> {
    let listed = ask(
        &state.actors.ingest,
        ShowFailedJobs {
            request_id: request_id_of(req),
            status: view.status,
            offset: (view.page - 1) * PAGE_SIZE,
            limit: PAGE_SIZE,
        },
    )
    .await?;
    let total = match view.status {
        Some(JobStatus::Dead) => listed.dead,
        Some(_) => listed.retrying,
        None => listed.dead + listed.retrying,
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let tab = |label, status, count| Tab {
        label,
        count,
        href: View { status, page: 1 }.href(),
        current: view.status == status,
    };
    let tabs = [
        tab("All", None, listed.dead + listed.retrying),
        tab("Dead", Some(JobStatus::Dead), listed.dead),
        tab("Retrying", Some(JobStatus::Retrying), listed.retrying),
    ];
    let at = |page| View { page, ..view }.href();
    let pagination = Pagination {
        page: view.page,
        pages,
        previous: (view.page > 1).then(|| at(view.page.min(pages + 1) - 1)),
        next: (view.page < pages).then(|| at(view.page + 1)),
    };
    let jobs: Vec<JobRow> = listed.jobs.into_iter().map(JobRow::from).collect();
    let (status, error) = status_and_message(error);
    Page::new("pages/admin_jobs.html")
        .with("jobs", &jobs)
        .with("tabs", &tabs)
        .with("filter", &view.status.map(JobStatus::as_str))
        .with("pagination", &pagination)
        .with("page", &view.page)
        .with("first_page", &at(1))
        .with("error", &error)
        .status(status)
        .render(req, Some(signed_in))
}

async fn jobs(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
    query: web::Query<ViewQuery>,
) -> Result<HttpResponse, UiError> {
    require_admin(&signed_in)?;
    let view = View::from_query(query.status.as_deref(), query.page.as_deref());
    render(&state, &req, &signed_in, view, None).await
}

#[derive(Deserialize)]
struct RetryForm {
    #[serde(default)]
    csrf_token: String,
    /// The view to return to.
    status: Option<String>,
    page: Option<String>,
}

carries_csrf_token!(RetryForm);

async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, form): SignedInForm<RetryForm>,
    job_id: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    require_admin(&signed_in)?;
    let view = View::from_query(form.status.as_deref(), form.page.as_deref());
    let retried = match Uuid::parse_str(&job_id) {
        Ok(job_id) => {
            let retry = RetryJob {
                request_id: request_id_of(&req),
                scope: JobScope::AnyUser,
                job_id,
                file_id: None,
            };
            ask(&state.actors.ingest, retry).await
        }
        Err(_) => Err(ApiError::NotFound("job")),
    };
    match retried {
        Ok(job) => {
            tracing::info!(
                admin_id = %signed_in.user.id,
                job_id = %job.id,
                "an administrator retried a dead job"
            );
            Ok(see_other_with(
                &state.config,
                &view.href(),
                Notice::JobRetried,
            ))
        }
        Err(err) => {
            let error = form_error(err)?;
            render(&state, &req, &signed_in, view, Some(error)).await
        }
    }
}

// ---- accounts and their quotas ------------------------------------------------------

#[derive(Serialize)]
struct AccountRow {
    email: String,
    name: String,
    is_admin: bool,
    disabled: bool,
    used: String,
    quota: Option<String>,
    percent: Option<u8>,
    files: u64,
    quota_files: Option<u64>,
}

impl From<(User, Usage)> for AccountRow {
    fn from((user, usage): (User, Usage)) -> Self {
        Self {
            is_admin: user.is_admin,
            disabled: user.is_disabled(),
            email: user.email,
            name: user.name,
            used: human_size(usage.bytes),
            quota: usage.quota_bytes.map(human_size),
            percent: usage.percent_of_bytes(),
            files: usage.files,
            quota_files: usage.quota_files,
        }
    }
}

async fn render_users(
    state: &AppState,
    req: &HttpRequest,
    signed_in: &SignedIn,
    error: Option<(StatusCode, String)>,
) -> Result<HttpResponse, UiError> {
    let listed = ask(
        &state.actors.catalog,
        ListUsers {
            request_id: request_id_of(req),
        },
    )
    .await?;
    let accounts: Vec<AccountRow> = listed.into_iter().map(AccountRow::from).collect();
    let (status, error) = status_and_message(error);
    let defaults = state.config.quotas;
    Page::new("pages/admin_users.html")
        .with("accounts", &accounts)
        .with("default_bytes", &defaults.bytes.map(human_size))
        .with("default_files", &defaults.files)
        .with("error", &error)
        .status(status)
        .render(req, Some(signed_in))
}

async fn users(
    state: web::Data<AppState>,
    req: HttpRequest,
    signed_in: SignedIn,
) -> Result<HttpResponse, UiError> {
    require_admin(&signed_in)?;
    render_users(&state, &req, &signed_in, None).await
}

#[derive(Deserialize)]
struct QuotaForm {
    #[serde(default)]
    csrf_token: String,
    email: String,
    /// A size (`10GiB`); empty: the default.
    #[serde(default)]
    bytes: String,
    /// A count; empty: the default.
    #[serde(default)]
    files: String,
    /// Present when the box is ticked.
    unlimited: Option<String>,
}

carries_csrf_token!(QuotaForm);

impl QuotaForm {
    /// The change the form asks for, or what is wrong with it.
    fn to_change(&self, request_id: RequestId) -> Result<SetQuota, ApiError> {
        let invalid = |message: String| ApiError::unprocessable("invalid_quota", message);
        let bytes = match self.bytes.trim() {
            "" => QuotaLimit::Default,
            raw => QuotaLimit::Own(
                raw.parse::<bytesize::ByteSize>()
                    .map_err(|_| invalid(format!("{raw:?} is not a size like 10 GiB or 500 MB")))?
                    .as_u64(),
            ),
        };
        let files = match self.files.trim() {
            "" => QuotaLimit::Default,
            raw => QuotaLimit::Own(
                raw.parse::<u64>()
                    .map_err(|_| invalid(format!("{raw:?} is not a number of files")))?,
            ),
        };
        Ok(SetQuota {
            request_id,
            email: self.email.clone(),
            unlimited: self.unlimited.is_some(),
            bytes,
            files,
        })
    }
}

async fn set_quota(
    state: web::Data<AppState>,
    req: HttpRequest,
    SignedInForm(signed_in, form): SignedInForm<QuotaForm>,
) -> Result<HttpResponse, UiError> {
    require_admin(&signed_in)?;
    let saved = match form.to_change(request_id_of(&req)) {
        Ok(change) => ask(&state.actors.catalog, change)
            .await
            .and_then(|found| found.ok_or(ApiError::NotFound("account"))),
        Err(err) => Err(err),
    };
    match saved {
        Ok((user, usage)) => {
            tracing::info!(
                admin_id = %signed_in.user.id,
                user_id = %user.id,
                quota_bytes = ?usage.quota_bytes,
                quota_files = ?usage.quota_files,
                "an administrator set a quota"
            );
            Ok(see_other_with(
                &state.config,
                "/admin/users",
                Notice::QuotaSaved,
            ))
        }
        Err(err) => {
            let error = form_error(err)?;
            render_users(&state, &req, &signed_in, Some(error)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_comes_from_the_query_and_goes_back_into_links() {
        let view = View::from_query(Some("dead"), Some("3"));
        assert_eq!(view.status, Some(JobStatus::Dead));
        assert_eq!(view.href(), "/admin/jobs?status=dead&page=3");
        assert_eq!(View::from_query(None, None).href(), "/admin/jobs");
        assert_eq!(
            View::from_query(Some("succeeded"), Some("0")).href(),
            "/admin/jobs"
        );
        assert_eq!(
            View::from_query(None, Some("2")).href(),
            "/admin/jobs?page=2"
        );
        assert_eq!(View::from_query(Some("x"), Some("-1")).page, 1);
    }
}
