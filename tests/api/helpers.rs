//! `spawn_app()`: the real Kiln on port 0 with its own database, storage prefix
//! and Redis namespace, in the mode the environment selects.

use std::collections::HashMap;
use std::time::Duration;

use kiln::actors::ActorHandles;
use kiln::config::Config;
use kiln::startup::{Application, Role};
use reqwest::{RequestBuilder, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

/// The JWT secret every test app uses, so tests can forge tokens.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!";
pub const PASSWORD: &str = "violet kettle drums at noon";

/// Every test app is reached from 127.0.0.1: with this setting it takes the
/// client's address from `X-Forwarded-For`, as behind a reverse proxy, so a
/// test can send requests from several addresses.
pub const BEHIND_A_PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1/32");

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub actors: ActorHandles,
    pub config: Config,
    _data_dir: tempfile::TempDir,
    database: Option<ServiceDatabase>,
}

/// Whether this run uses PostgreSQL, Redis and S3 instead of the embedded default.
pub fn services_mode() -> bool {
    std::env::var("KILN_TEST_MODE").as_deref() == Ok("services")
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("services mode needs {name}"))
}

/// A fresh PostgreSQL database, dropped when the test ends.
struct ServiceDatabase {
    admin_url: String,
    name: String,
}

impl Drop for ServiceDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any runtime we may block; use a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Variables for a fresh app in the current mode, before a test's overrides.
pub async fn base_env(
    data_dir: &std::path::Path,
) -> (HashMap<String, String>, Option<ServiceDatabaseHandle>) {
    let mut env = HashMap::from([
        ("HOST".to_string(), "127.0.0.1".to_string()),
        ("PORT".to_string(), "0".to_string()),
        ("DATA_DIR".to_string(), data_dir.display().to_string()),
        ("JWT_SECRET".to_string(), JWT_SECRET.to_string()),
        (
            "PDFIUM_LIBRARY".to_string(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/.pdfium/libpdfium.so").to_string(),
        ),
        // The app runs inside this test binary; its processor children are
        // the real `kiln` executable.
        (
            "PROCESSOR_BINARY".to_string(),
            env!("CARGO_BIN_EXE_kiln").to_string(),
        ),
    ]);
    if !services_mode() {
        return (env, None);
    }
    let id = Uuid::new_v4().simple().to_string();
    let admin_url = required_env("TEST_DATABASE_URL");
    let name = format!("kiln_test_{id}");
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create a test database");
    let mut database_url = url::Url::parse(&admin_url).unwrap();
    database_url.set_path(&name);
    env.extend([
        ("DATABASE_URL".to_string(), database_url.to_string()),
        ("REDIS_URL".to_string(), required_env("TEST_REDIS_URL")),
        ("REDIS_NAMESPACE".to_string(), format!("kiln-test-{id}")),
        (
            "MINIO_ENDPOINT".to_string(),
            required_env("TEST_S3_ENDPOINT"),
        ),
        (
            "MINIO_ACCESS_KEY".to_string(),
            required_env("TEST_S3_ACCESS_KEY"),
        ),
        (
            "MINIO_SECRET_KEY".to_string(),
            required_env("TEST_S3_SECRET_KEY"),
        ),
        ("MINIO_BUCKET".to_string(), required_env("TEST_S3_BUCKET")),
        ("STORAGE_PREFIX".to_string(), format!("test-{id}")),
    ]);
    (
        env,
        Some(ServiceDatabaseHandle(ServiceDatabase { admin_url, name })),
    )
}

/// Keeps a test's PostgreSQL database alive until the test ends.
pub struct ServiceDatabaseHandle(ServiceDatabase);

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns an app with some variables overridden (an empty value unsets one).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut env, database) = base_env(data_dir.path()).await;
    for (name, value) in overrides {
        if value.is_empty() {
            env.remove(*name);
        } else {
            env.insert(name.to_string(), value.to_string());
        }
    }
    let config = Config::from_map(&env).expect("test configuration is valid");
    let app = Application::build(config.clone(), Role::Serve)
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port().unwrap());
    let actors = app.actors().clone();
    actix_rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        actors,
        config,
        _data_dir: data_dir,
        database: database.map(|handle| handle.0),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        self.json_request(path, body, token).send().await.unwrap()
    }

    /// [`TestApp::post_json`] as it reaches Kiln through a proxy from
    /// `client` (see [`BEHIND_A_PROXY`]).
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
        let request = self.client.post(self.url(path)).json(body);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str) -> Response {
        self.post_json(
            "/api/auth/register",
            &json!({ "email": email, "password": PASSWORD, "name": "Test User" }),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    /// [`TestApp::login`] from `client`, through a proxy.
    pub async fn login_from(&self, client: &str, email: &str, password: &str) -> Response {
        self.post_json_from(
            client,
            "/api/auth/login",
            &json!({ "email": email, "password": password }),
            None,
        )
        .await
    }

    /// [`TestApp::register`] from `client`, through a proxy.
    pub async fn register_from(&self, client: &str, email: &str) -> Response {
        self.post_json_from(
            client,
            "/api/auth/register",
            &json!({ "email": email, "password": PASSWORD, "name": "Test User" }),
            None,
        )
        .await
    }

    /// Registers an account and returns a fresh access token for it.
    pub async fn signed_in_user(&self, email: &str) -> String {
        assert_eq!(self.register(email).await.status(), StatusCode::CREATED);
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Registers an account, verifies its address with the link Kiln mailed
    /// it, as its owner would, and returns a fresh access token for it. For
    /// apps without SMTP settings, whose mail is in [`TestApp::mail_dir`].
    pub async fn verified_user(&self, email: &str) -> String {
        let token = self.signed_in_user(email).await;
        let mail = self.mail_to(email).await;
        let verified = self
            .post_json(
                "/api/auth/email/verify",
                &json!({ "token": mail.token("verify-email") }),
                None,
            )
            .await;
        assert_eq!(verified.status(), StatusCode::NO_CONTENT);
        token
    }

    /// Where an app without SMTP settings writes its mail.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        match &self.config.mail.transport {
            kiln::config::MailTransport::Files { dir } => dir.clone(),
            kiln::config::MailTransport::Smtp(_) => panic!("this app mails through SMTP"),
        }
    }

    /// The first mail to `address` in [`TestApp::mail_dir`] (waiting for it,
    /// bounded).
    pub async fn mail_to(&self, address: &str) -> crate::mail::ReceivedMail {
        let mut inbox = crate::mail::Inbox::new(self.mail_dir());
        loop {
            let mail = inbox.next().await;
            if mail.is_to(address) {
                return mail;
            }
        }
    }

    pub fn uses_services(&self) -> bool {
        self.database.is_some()
    }
}

/// Reads an error response and checks it has the API's error shape.
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

/// Polls `condition` until it holds, failing the test after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads a fixture from `tests/fixtures/` (made by `scripts/make_fixtures.py`).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

impl TestApp {
    /// Uploads `bytes` as the `file` field, with an optional `processors` field.
    pub async fn upload(
        &self,
        token: &str,
        filename: &str,
        bytes: Vec<u8>,
        processors: Option<&str>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new();
        if let Some(processors) = processors {
            form = form.text("processors", processors.to_string());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
        );
        self.client
            .post(self.url("/api/upload"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads a fixture and returns the 202 body.
    pub async fn upload_fixture(&self, token: &str, name: &str) -> Value {
        let response = self.upload(token, name, fixture(name), None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "upload of {name}");
        response.json().await.unwrap()
    }

    /// Polls the file until its status is `ready` or `failed` and returns
    /// `GET /api/files/{id}`.
    pub async fn wait_until_processed(&self, token: &str, file_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let details: Value = self
                .get(&format!("/api/files/{file_id}"), Some(token))
                .await
                .json()
                .await
                .unwrap();
            if details["file"]["status"] != "processing" {
                return details;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "file {file_id} still processing: {details}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET /api/jobs/{id}`'s job.
    pub async fn job(&self, token: &str, job_id: &str) -> Value {
        let body: Value = self
            .get(&format!("/api/jobs/{job_id}"), Some(token))
            .await
            .json()
            .await
            .unwrap();
        body["job"].clone()
    }

    /// Follows a variant's or the original's link and returns the bytes.
    pub async fn download(&self, token: &str, path: &str) -> Vec<u8> {
        let redirect = self.get(path, Some(token)).await;
        assert_eq!(redirect.status(), StatusCode::FOUND, "{path}");
        let location = redirect.headers()["location"].to_str().unwrap().to_string();
        let response = reqwest::get(&location).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{location}");
        response.bytes().await.unwrap().to_vec()
    }

    /// Every key under the user's prefix in the configured store.
    pub async fn stored_keys(&self, user_id: &str) -> Vec<String> {
        use kiln::actors::storage::ObjectKey;
        use kiln::actors::storage::messages::ListObjects;
        self.actors
            .storage
            .send(ListObjects {
                request_id: kiln::telemetry::RequestId::generate(),
                prefix: ObjectKey::parse(user_id).unwrap(),
            })
            .await
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect()
    }
}

/// Signs up a user and returns `(token, user_id)`.
pub async fn user_with_id(app: &TestApp, email: &str) -> (String, String) {
    let token = app.signed_in_user(email).await;
    let me: Value = app.get("/api/me", Some(&token)).await.json().await.unwrap();
    (token, me["user"]["id"].as_str().unwrap().to_string())
}

/// The consumer name jobs are claimed under by [`TestApp::held_job`]: no
/// worker of that name runs, so such a job stays where the test leaves it.
pub const TEST_CONSUMER: &str = "test-held";

impl TestApp {
    /// Adds a `thumbnail` job (variant `variant`) to the user's file and
    /// claims it through the Catalog as a worker would, so it is `running`
    /// and no real worker touches it: the file is `processing` until the test
    /// records an outcome for it under [`TEST_CONSUMER`].
    pub async fn held_job(&self, user_id: Uuid, file_id: Uuid, variant: &str) -> Uuid {
        use kiln::actors::catalog::jobs::{AddJob, Claim, ClaimJob, NewJob};
        let job = self
            .actors
            .catalog
            .send(AddJob {
                request_id: kiln::telemetry::RequestId::generate(),
                user_id,
                file_id,
                job: NewJob {
                    processor: "thumbnail".into(),
                    variant: variant.into(),
                    options: json!({}),
                },
            })
            .await
            .unwrap()
            .unwrap()
            .expect("the file is the user's");
        let claim = self
            .actors
            .catalog
            .send(ClaimJob {
                job_id: job.id,
                consumer: TEST_CONSUMER.into(),
                lease: Duration::from_secs(600),
                max_attempts: 3,
            })
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
        job.id
    }
}
