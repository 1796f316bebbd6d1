//! [`Api`]: Kiln's JSON API over HTTP, one helper per route or per step a
//! user takes through it (sign up, upload, wait for processing, read a job,
//! download). It serves any running Kiln: a [`TestApp`](super::app::TestApp)
//! in this process derefs to one, and a [`Cluster`](super::cluster::Cluster)
//! of `kiln` processes holds one for its api process.
//!
//! Requests carry a bearer token when a helper takes one. Helpers named after
//! a route return its response untouched, for the test to judge; helpers named
//! after a step (`signed_in_user`, `upload_fixture`, `wait_until_processed`)
//! assert that the step worked and return what the next step needs.

use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde_json::{Value, json};

use super::app::PASSWORD;
use super::events::EventStream;
use super::fixtures::fixture;
use super::wait::wait_for;

/// How long a file may take to be processed, or a job to reach a state, on a
/// busy machine.
const PROCESSING: Duration = Duration::from_secs(60);

/// How long the client reuses an idle connection: less than the server's
/// keep-alive (actix-web's default, 5 s). A connection reused as the server
/// closes it fails mid-request (a broken pipe while an upload's body is written),
/// which a test that spends about 5 s between two requests (making a large image
/// on a loaded machine) would otherwise meet now and then.
const POOLED_CONNECTION_IDLE: Duration = Duration::from_secs(3);

pub struct Api {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub address: String,
    /// Follows no redirect, so a test sees each one.
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(POOLED_CONNECTION_IDLE)
                .build()
                .expect("a reqwest client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn authorized(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        Self::authorized(self.client.get(self.url(path)), token)
            .send()
            .await
            .unwrap()
    }

    /// This process's Prometheus text exposition (`GET /metrics`).
    pub async fn metrics(&self) -> String {
        self.get("/metrics", None).await.text().await.unwrap()
    }

    /// The JSON body of a `GET` that must answer 200.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.json_request(path, body, token).send().await.unwrap()
    }

    /// [`Api::post_json`] as it reaches Kiln through a proxy from `client`
    /// (see [`BEHIND_A_PROXY`](super::app::BEHIND_A_PROXY)).
    pub async fn post_json_from(
        &self,
        client: &str,
        path: &str,
        body: &Value,
        token: Option<&str>,
    ) -> Response {
        self.json_request(path, body, token)
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap()
    }

    fn json_request(&self, path: &str, body: &Value, token: Option<&str>) -> RequestBuilder {
        Self::authorized(self.client.post(self.url(path)).json(body), token)
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/auth/register` with [`PASSWORD`] and the name "Test User".
    pub async fn register(&self, email: &str) -> Response {
        self.post_json("/api/auth/register", &registration(email), None)
            .await
    }

    /// [`Api::register`] from `client`, through a proxy.
    pub async fn register_from(&self, client: &str, email: &str) -> Response {
        self.post_json_from(client, "/api/auth/register", &registration(email), None)
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json("/api/auth/login", &credentials(email, password), None)
            .await
    }

    /// [`Api::login`] from `client`, through a proxy.
    pub async fn login_from(&self, client: &str, email: &str, password: &str) -> Response {
        self.post_json_from(
            client,
            "/api/auth/login",
            &credentials(email, password),
            None,
        )
        .await
    }

    /// A fresh access token from the JSON login, or `None` if it is refused.
    pub async fn access_token(&self, email: &str, password: &str) -> Option<String> {
        access_token_of(self.login(email, password).await).await
    }

    /// [`Api::access_token`] from `client`, through a proxy.
    pub async fn access_token_from(
        &self,
        client: &str,
        email: &str,
        password: &str,
    ) -> Option<String> {
        access_token_of(self.login_from(client, email, password).await).await
    }

    /// Registers an account and returns a fresh access token for it.
    pub async fn signed_in_user(&self, email: &str) -> String {
        let registered = self.register(email).await;
        let status = registered.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            registered.text().await.unwrap()
        );
        self.access_token(email, PASSWORD)
            .await
            .expect("a new account signs in")
    }

    /// Registers an account and returns `(access token, user id)`.
    pub async fn user_with_id(&self, email: &str) -> (String, String) {
        let token = self.signed_in_user(email).await;
        let id = self.user_id(&token).await;
        (token, id)
    }

    /// `GET /api/me`, which must answer 200.
    pub async fn me(&self, token: &str) -> Value {
        self.get_json("/api/me", Some(token)).await
    }

    /// Whether `token` opens `/api/me`: its status.
    pub async fn me_status(&self, token: &str) -> StatusCode {
        self.get("/api/me", Some(token)).await.status()
    }

    /// The id of the account `token` belongs to.
    pub async fn user_id(&self, token: &str) -> String {
        self.me(token).await["user"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `POST /api/auth/email/verify` with the token a mailed link carries.
    pub async fn verify_email(&self, token: &str) -> Response {
        self.post_json("/api/auth/email/verify", &json!({ "token": token }), None)
            .await
    }

    /// `POST /api/auth/email/resend`, signed in with `token` (or not).
    pub async fn resend_verification(&self, token: Option<&str>) -> Response {
        self.post_json("/api/auth/email/resend", &json!({}), token)
            .await
    }

    /// [`Api::resend_verification`] from `client`, through a proxy.
    pub async fn resend_verification_from(&self, client: &str, token: &str) -> Response {
        self.post_json_from(client, "/api/auth/email/resend", &json!({}), Some(token))
            .await
    }

    /// `POST /api/auth/password/forgot`.
    pub async fn forgot_password(&self, email: &str) -> Response {
        self.post_json(
            "/api/auth/password/forgot",
            &json!({ "email": email }),
            None,
        )
        .await
    }

    /// `POST /api/auth/password/reset` with the token a mailed link carries.
    pub async fn reset_password(&self, token: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/password/reset",
            &json!({ "token": token, "password": password }),
            None,
        )
        .await
    }

    /// Makes a personal API token named `name` for the account signed in with
    /// `session` (its address must be verified) and returns its secret.
    pub async fn api_token(&self, session: &str, name: &str) -> String {
        let created = self
            .post_json("/api/tokens", &json!({ "name": name }), Some(session))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let created: Value = created.json().await.unwrap();
        created["token"].as_str().unwrap().to_string()
    }

    /// Posts an upload form (see [`upload_form`]) to `/api/upload`.
    pub async fn post_upload(&self, token: &str, form: Form) -> Response {
        self.client
            .post(self.url("/api/upload"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `bytes` as the `file` field, with an optional `processors` field.
    pub async fn upload(
        &self,
        token: &str,
        filename: &str,
        bytes: Vec<u8>,
        processors: Option<&str>,
    ) -> Response {
        let fields: Vec<(&str, &str)> = processors.map(|p| ("processors", p)).into_iter().collect();
        self.post_upload(token, upload_form(filename, bytes, &fields))
            .await
    }

    /// [`Api::upload`] that must be accepted; returns the 202 body.
    pub async fn upload_accepted(
        &self,
        token: &str,
        filename: &str,
        bytes: Vec<u8>,
        processors: Option<&str>,
    ) -> Value {
        let response = self.upload(token, filename, bytes, processors).await;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "upload of {filename}"
        );
        response.json().await.unwrap()
    }

    /// Uploads a fixture and returns the 202 body.
    pub async fn upload_fixture(&self, token: &str, name: &str) -> Value {
        self.upload_accepted(token, name, fixture(name), None).await
    }

    /// Uploads a fixture, waits until its own jobs are done, and returns the
    /// file's id.
    pub async fn uploaded(&self, token: &str, name: &str) -> String {
        let id = file_id(&self.upload_fixture(token, name).await);
        self.wait_until_processed(token, &id).await;
        id
    }

    /// `POST /api/files/{id}/process` with `request` (`{"processor": ..}`).
    pub async fn process(&self, token: &str, file_id: &str, request: &Value) -> Response {
        self.post_json(
            &format!("/api/files/{file_id}/process"),
            request,
            Some(token),
        )
        .await
    }

    /// `POST /api/jobs/{id}/retry`.
    pub async fn retry_job(&self, token: &str, job_id: &str) -> Response {
        self.post_json(
            &format!("/api/jobs/{job_id}/retry"),
            &json!({}),
            Some(token),
        )
        .await
    }

    /// Waits until the file is `ready` or `failed`; returns `GET /api/files/{id}`.
    pub async fn wait_until_processed(&self, token: &str, file_id: &str) -> Value {
        let path = format!("/api/files/{file_id}");
        until_processed(file_id, || self.get_json(&path, Some(token))).await
    }

    /// Waits until every job of the file has ended (succeeded or dead) and
    /// returns its details. A file is `failed` as soon as one job is dead,
    /// while its other jobs may still run and store what they make.
    pub async fn wait_until_every_job_ended(&self, token: &str, file_id: &str) -> Value {
        let path = format!("/api/files/{file_id}");
        wait_for(PROCESSING, async || {
            let details = self.get_json(&path, Some(token)).await;
            let jobs = details["jobs"].as_array().cloned().unwrap_or_default();
            match jobs
                .iter()
                .all(|job| job["status"] == "succeeded" || job["status"] == "dead")
            {
                true => Ok(details),
                false => Err(format!("file {file_id} has jobs still to end: {details}")),
            }
        })
        .await
    }

    /// `GET /api/jobs/{id}`'s job.
    pub async fn job(&self, token: &str, job_id: &str) -> Value {
        self.get_json(&format!("/api/jobs/{job_id}"), Some(token))
            .await["job"]
            .clone()
    }

    /// Waits until the job is as `wanted` says, and returns it.
    pub async fn wait_for_job(
        &self,
        token: &str,
        job_id: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_for(PROCESSING, || async {
            let job = self.job(token, job_id).await;
            match wanted(&job) {
                true => Ok(job),
                false => Err(format!("job {job_id} is {job}")),
            }
        })
        .await
    }

    /// Follows a download route (an original's or a variant's) to its signed
    /// link and returns the link's response. A local link is Kiln's own route;
    /// an S3 link is served by S3, elsewhere.
    pub async fn download_response(&self, token: &str, path: &str) -> Response {
        let redirect = self.get(path, Some(token)).await;
        assert_eq!(redirect.status(), StatusCode::FOUND, "{path}");
        let location = redirect.headers()["location"].to_str().unwrap().to_string();
        let response = reqwest::get(&location).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{location}");
        response
    }

    /// The bytes behind a download route.
    pub async fn download(&self, token: &str, path: &str) -> Vec<u8> {
        let response = self.download_response(token, path).await;
        response.bytes().await.unwrap().to_vec()
    }

    /// Opens the event stream at `path` (`/api/events`, `/api/files/{id}/events`).
    pub async fn event_stream(&self, token: &str, path: &str) -> EventStream {
        EventStream::new(self.get(path, Some(token)).await)
    }
}

fn registration(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD, "name": "Test User" })
}

fn credentials(email: &str, password: &str) -> Value {
    json!({ "email": email, "password": password })
}

async fn access_token_of(login: Response) -> Option<String> {
    if login.status() != StatusCode::OK {
        return None;
    }
    let body: Value = login.json().await.unwrap();
    Some(body["access_token"].as_str().unwrap().to_string())
}

/// An upload as Kiln's page and clients send it: the text `fields` first,
/// then the `file` part.
pub fn upload_form(filename: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Form {
    let form = fields.iter().fold(Form::new(), |form, (name, value)| {
        form.text(name.to_string(), value.to_string())
    });
    form.part("file", Part::bytes(bytes).file_name(filename.to_string()))
}

/// The file id in an upload's 202 body.
pub fn file_id(accepted: &Value) -> String {
    accepted["file"]["id"].as_str().unwrap().to_string()
}

/// The one rule for "processed", whoever asks: polls `details` (the file's
/// `GET /api/files/{id}`) until its status is no longer `processing`.
pub async fn until_processed(file_id: &str, mut details: impl AsyncFnMut() -> Value) -> Value {
    wait_for(PROCESSING, async || {
        let details = details().await;
        match details["file"]["status"] == "processing" {
            true => Err(format!("file {file_id} still processing: {details}")),
            false => Ok(details),
        }
    })
    .await
}

/// Reads an error response and checks it has the API's error shape; returns
/// its code.
pub async fn error_code(response: Response) -> String {
    assert!(
        response.headers().contains_key("x-request-id"),
        "error responses carry X-Request-Id"
    );
    let body: Value = response.json().await.expect("error bodies are JSON");
    let message = body["error"]["message"]
        .as_str()
        .expect("error.message is a string");
    assert!(!message.is_empty());
    body["error"]["code"]
        .as_str()
        .expect("error.code is a string")
        .to_string()
}

/// The seconds a 429's `Retry-After` asks for.
pub fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is a number of seconds")
}

/// The first item of a file's details' `list` (`jobs`, `variants`) whose
/// `key` is `value`.
fn item<'a>(details: &'a Value, list: &str, key: &str, value: &str) -> &'a Value {
    details[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no {list} item with {key} {value} in {details}"))
}

/// The first job in a file's details (its `GET /api/files/{id}`) whose status
/// is `status`.
pub fn job_in(details: &Value, status: &str) -> Value {
    item(details, "jobs", "status", status).clone()
}

/// The variant named `name` in a file's details.
pub fn variant<'a>(details: &'a Value, name: &str) -> &'a Value {
    item(details, "variants", "name", name)
}

/// The names of a file's variants, in the order listed.
pub fn variant_names(details: &Value) -> Vec<&str> {
    details["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

/// A request with no account and no cookies, as a browser or CDN that was only
/// given `url` makes it, with `headers` (`If-None-Match`, `Range`).
pub async fn fetch(url: &str, method: Method, headers: &[(header::HeaderName, &str)]) -> Response {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.send().await.unwrap()
}

/// A response's header, which must be there, as text.
pub fn header_of(response: &Response, name: header::HeaderName) -> String {
    response.headers()[name].to_str().unwrap().to_string()
}

/// The sum of every sample of `name` whose labels contain all of `labels`, in
/// a Prometheus text exposition (`/metrics`).
pub fn metric_total(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let labelled = series.strip_prefix(name)?;
            let matches = (labelled.is_empty() || labelled.starts_with('{'))
                && labels.iter().all(|label| labelled.contains(label));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}
