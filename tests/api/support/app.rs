//! `spawn_app()`: the real Kiln in this process, on port 0, with its own
//! database, storage prefix and Redis namespace, in the mode the environment
//! selects (`KILN_TEST_MODE=services`: PostgreSQL, Redis and S3; otherwise the
//! embedded default). [`TestApp`] derefs to an [`Api`] for the HTTP routes and
//! adds what only a test inside the process can do: reach the actors, the
//! database and the mail an app without SMTP settings writes to disk.
//!
//! [`app_env`] gives the same settings to a `kiln` process started apart
//! ([`KilnProcess`](super::processes::KilnProcess), [`kiln`](super::cli::kiln)).
//! What a test sets up through the app's actors is in [`actors`](super::actors).

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use kiln::actors::ActorHandles;
use kiln::config::{Config, MailTransport};
use kiln::startup::{Application, Role};
use migration::{Migrator, MigratorTrait};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::api::Api;
use super::mail::{Inbox, ReceivedMail};

/// The JWT secret every test app uses, so tests can forge tokens.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!";
/// The password every test account is made with.
pub const PASSWORD: &str = "violet kettle drums at noon";
/// The password a test changes it to.
pub const NEW_PASSWORD: &str = "copper lantern orbits the fjord";

/// Every test app is reached from 127.0.0.1: with this setting it takes the
/// client's address from `X-Forwarded-For`, as behind a reverse proxy, so a
/// test can send requests from several addresses.
pub const BEHIND_A_PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1/32");

/// A process's environment: variable name to value.
pub type Env = HashMap<String, String>;

/// One setting a test gives an app: `("MAX_UPLOAD_SIZE", "16KiB")`, with
/// borrowed or owned strings, so that `&[("A", "b")]` and a server's
/// `Vec<(String, String)>` of settings both serve.
pub trait Setting {
    fn name(&self) -> &str;
    fn value(&self) -> &str;
}

impl<K: AsRef<str>, V: AsRef<str>> Setting for (K, V) {
    fn name(&self) -> &str {
        self.0.as_ref()
    }

    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

impl<S: Setting + ?Sized> Setting for &S {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn value(&self) -> &str {
        (**self).value()
    }
}

/// Applies `settings` to `env`; an empty value unsets a variable.
pub fn override_env<S: Setting>(env: &mut Env, settings: impl IntoIterator<Item = S>) {
    for setting in settings {
        match setting.value() {
            "" => env.remove(setting.name()),
            value => env.insert(setting.name().to_string(), value.to_string()),
        };
    }
}

/// Whether this run uses PostgreSQL, Redis and S3 instead of the embedded default.
pub fn services_mode() -> bool {
    std::env::var("KILN_TEST_MODE").as_deref() == Ok("services")
}

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("services mode needs {name}"))
}

/// A fresh PostgreSQL database of a test's own, dropped with this value.
pub struct ServiceDatabase {
    admin_url: String,
    name: String,
}

impl Drop for ServiceDatabase {
    /// Drops the database on a thread of its own, without waiting for it:
    /// PostgreSQL takes a checkpoint for every dropped database (0.4 to 0.8 s
    /// here), which the next test need not wait for. A drop still under way
    /// when the test process exits leaves its database behind;
    /// `scripts/test.sh` removes the run's databases after it ([`database_prefix`]).
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        std::thread::spawn(move || {
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
        });
    }
}

/// The embedded database file with every migration applied, made once per
/// test process: each app starts from a copy instead of migrating its own.
async fn migrated_sqlite_file() -> &'static [u8] {
    static FILE: OnceCell<Vec<u8>> = OnceCell::const_new();
    FILE.get_or_init(|| async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        // Closing the last connection folds the write-ahead log into the file.
        migrate(&format!("sqlite://{}?mode=rwc", path.display())).await;
        std::fs::read(&path).unwrap()
    })
    .await
}

/// A PostgreSQL database with every migration applied, made once per test
/// process (named with [`database_prefix`], so that the run's clean-up finds
/// it too): each test's database is created as a copy of it, which takes about a
/// fifth of the time migrating one does.
async fn migrated_postgres_template(admin: &DatabaseConnection, admin_url: &str) -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = format!("{}template_{}", database_prefix(), Uuid::new_v4().simple());
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the template database");
            migrate(&database_url(admin_url, &name)).await;
            name
        })
        .await
}

/// Applies every migration to the database at `url`, and closes the connection.
async fn migrate(url: &str) {
    let db = Database::connect(url)
        .await
        .expect("connect to the database to migrate");
    Migrator::up(&db, None)
        .await
        .expect("migrate the template database");
    db.close().await.unwrap();
}

/// How the name of every database a test process makes begins: `kiln_test_`,
/// then the id `scripts/test.sh` gives its run (`KILN_TEST_RUN`), so that its
/// clean-up drops this run's databases and not those of another run beside it.
fn database_prefix() -> String {
    match std::env::var("KILN_TEST_RUN") {
        Ok(run) if !run.is_empty() => format!("kiln_test_{run}_"),
        _ => "kiln_test_".to_string(),
    }
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).unwrap();
    url.set_path(name);
    url.to_string()
}

/// Creates `name` as a copy of `template`. A copy needs the template to have
/// no other session; the one that migrated it may take a moment to end.
async fn create_database_from(admin: &DatabaseConnection, name: &str, template: &str) {
    let statement = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
    let mut attempts = 0;
    loop {
        match admin.execute_unprepared(&statement).await {
            Ok(_) => return,
            Err(error)
                if attempts < 50 && error.to_string().contains("being accessed by other users") =>
            {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(error) => panic!("create a test database: {error}"),
        }
    }
}

/// The settings of a fresh app in the current mode, storing its files in
/// `data_dir`: in services mode with a database, storage prefix and Redis
/// namespace of its own (the database lives as long as the handle).
///
/// Every test starts Kiln through here before it talks to it, so this is
/// where the test process gets the TLS provider its reqwest clients need.
pub async fn app_env(data_dir: &Path) -> (Env, Option<ServiceDatabase>) {
    kiln::tls::install_crypto_provider();
    let mut env = Env::from([
        ("HOST".to_string(), "127.0.0.1".to_string()),
        ("PORT".to_string(), "0".to_string()),
        ("DATA_DIR".to_string(), data_dir.display().to_string()),
        ("JWT_SECRET".to_string(), JWT_SECRET.to_string()),
        (
            "PDFIUM_LIBRARY".to_string(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/.pdfium/libpdfium.so").to_string(),
        ),
        // The app may run inside this test binary; its processor children are
        // the real `kiln` executable.
        (
            "PROCESSOR_BINARY".to_string(),
            env!("CARGO_BIN_EXE_kiln").to_string(),
        ),
    ]);
    if !services_mode() {
        std::fs::write(data_dir.join("kiln.db"), migrated_sqlite_file().await)
            .expect("copy the migrated SQLite file");
        return (env, None);
    }
    let id = Uuid::new_v4().simple().to_string();
    let admin_url = required_env("TEST_DATABASE_URL");
    let name = format!("{}{id}", database_prefix());
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    let template = migrated_postgres_template(&admin, &admin_url).await;
    create_database_from(&admin, &name, template).await;
    admin.close().await.unwrap();
    override_env(
        &mut env,
        [
            ("DATABASE_URL", database_url(&admin_url, &name)),
            ("REDIS_URL", required_env("TEST_REDIS_URL")),
            ("REDIS_NAMESPACE", format!("kiln-test-{id}")),
            ("MINIO_ENDPOINT", required_env("TEST_S3_ENDPOINT")),
            ("MINIO_ACCESS_KEY", required_env("TEST_S3_ACCESS_KEY")),
            ("MINIO_SECRET_KEY", required_env("TEST_S3_SECRET_KEY")),
            ("MINIO_BUCKET", required_env("TEST_S3_BUCKET")),
            ("STORAGE_PREFIX", format!("test-{id}")),
        ],
    );
    (env, Some(ServiceDatabase { admin_url, name }))
}

pub struct TestApp {
    api: Api,
    pub actors: ActorHandles,
    pub config: Config,
    _data_dir: tempfile::TempDir,
    database: Option<ServiceDatabase>,
}

/// The routes: `app.get(..)`, `app.upload(..)` and the rest are [`Api`]'s.
impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(std::iter::empty::<(&str, &str)>()).await
}

/// Spawns an app with some settings overridden (an empty value unsets one).
pub async fn spawn_app_with<S: Setting>(settings: impl IntoIterator<Item = S>) -> TestApp {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut env, database) = app_env(data_dir.path()).await;
    override_env(&mut env, settings);
    let config = Config::from_map(&env).expect("test configuration is valid");
    let app = Application::build(config.clone(), Role::Serve)
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port().unwrap());
    let actors = app.actors().clone();
    actix_rt::spawn(app.run_until_stopped());
    TestApp {
        api: Api::new(address),
        actors,
        config,
        _data_dir: data_dir,
        database,
    }
}

impl TestApp {
    pub fn uses_services(&self) -> bool {
        self.database.is_some()
    }

    /// A connection of the test's own to the app's database, to move times
    /// where a test needs them rather than wait for them.
    pub async fn database(&self) -> DatabaseConnection {
        Database::connect(self.config.database.url.expose_secret())
            .await
            .unwrap()
    }

    /// Sets `column` to `at` in every row of its table: time moved (a link
    /// made a minute ago, a session idle for an hour) rather than waited for.
    pub async fn set_time<C>(&self, column: C, at: DateTime<Utc>)
    where
        C: ColumnTrait,
        C::EntityName: EntityTrait<Column = C>,
    {
        <C::EntityName as EntityTrait>::update_many()
            .col_expr(column, Expr::value(at))
            .exec(&self.database().await)
            .await
            .unwrap();
    }

    /// Where an app without SMTP settings writes its mail.
    pub fn mail_dir(&self) -> PathBuf {
        match &self.config.mail.transport {
            MailTransport::Files { dir } => dir.clone(),
            MailTransport::Smtp(_) => panic!("this app mails through SMTP"),
        }
    }

    /// The mail in [`TestApp::mail_dir`], from its first message on.
    pub fn inbox(&self) -> Inbox {
        Inbox::new(self.mail_dir())
    }

    /// The first mail to `address` in [`TestApp::mail_dir`] (waiting for it,
    /// bounded).
    pub async fn mail_to(&self, address: &str) -> ReceivedMail {
        let mut inbox = self.inbox();
        loop {
            let mail = inbox.next().await;
            if mail.is_to(address) {
                return mail;
            }
        }
    }

    /// Registers an account, verifies its address with the link Kiln mailed
    /// it, as its owner would, and returns a fresh access token for it. For
    /// apps without SMTP settings, whose mail is in [`TestApp::mail_dir`].
    pub async fn verified_user(&self, email: &str) -> String {
        let token = self.signed_in_user(email).await;
        let mail = self.mail_to(email).await;
        let verified = self.verify_email(&mail.token("verify-email")).await;
        assert_eq!(verified.status(), StatusCode::NO_CONTENT);
        token
    }
}
