//! [`Cluster`]: a scaled-out Kiln of separate `kiln` processes, as an operator
//! runs one. In services mode, a `kiln api` and `kiln worker`s on PostgreSQL,
//! Redis and S3; on the embedded default, one `kiln serve` on SQLite (or an api
//! and workers over the same SQLite file when the test brings a Redis). The
//! chaos, observability and Prometheus tests kill, cut and watch it.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;

use super::api::Api;
use super::app::{Env, ServiceDatabase, app_env, override_env, services_mode};
use super::fixtures::fixture;
use super::processes::KilnProcess;
use super::servers::PrivateRedis;
use super::wait::wait_for;

/// photo.jpg (1200 px wide) gets thumbnail, sm and md.
pub const PHOTO_VARIANTS: i64 = 3;

/// A scaled-out Kiln: its processes, their shared settings, and the API of
/// its api process with a signed-in account's token.
pub struct Cluster {
    pub env: Env,
    pub dir: tempfile::TempDir,
    pub api: KilnProcess,
    pub workers: Vec<KilnProcess>,
    pub client: Api,
    pub token: String,
    db: DatabaseConnection,
    _database: Option<ServiceDatabase>,
}

impl Cluster {
    /// Starts an api and `workers` workers (or, on the embedded default without
    /// `redis`, one `kiln serve`); `redis` replaces the configured Redis, and
    /// `extra` settings go to every process.
    pub async fn start(
        workers: usize,
        redis: Option<&PrivateRedis>,
        extra: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (mut env, database) = app_env(dir.path()).await;
        override_env(
            &mut env,
            [
                ("LOG_LEVEL", "info"),
                ("WORKER_CONCURRENCY", "2"),
                // Short leases and reconciliation, so recovery fits in a test.
                ("JOB_TIMEOUT", "5s"),
                ("RECONCILE_INTERVAL", "1s"),
                ("REQUEUE_AFTER", "3s"),
            ],
        );
        if let Some(redis) = redis {
            override_env(&mut env, [("REDIS_URL", redis.url())]);
        }
        override_env(&mut env, extra);
        let database_url = env
            .get("DATABASE_URL")
            .cloned()
            .unwrap_or_else(|| format!("sqlite://{}/kiln.db?mode=rwc", dir.path().display()));
        let scaled_out = services_mode() || redis.is_some();
        let api = KilnProcess::spawn(
            &[if scaled_out { "api" } else { "serve" }],
            dir.path(),
            &env,
        );
        api.wait_for_log("kiln started").await;
        let workers = match scaled_out {
            true => (0..workers)
                .map(|_| KilnProcess::spawn(&["worker", "--no-migrate"], dir.path(), &env))
                .collect::<Vec<_>>(),
            false => Vec::new(),
        };
        for worker in &workers {
            worker.wait_for_log("kiln started").await;
        }
        let client = Api::new(api.address());
        let token = client.signed_in_user("chaos@example.com").await;
        Self {
            env,
            dir,
            api,
            workers,
            client,
            token,
            db: Database::connect(&database_url).await.unwrap(),
            _database: database,
        }
    }

    /// Starts one more `kiln worker` on the cluster's settings and `extra`
    /// (it runs until the returned process is dropped).
    pub async fn start_worker(&self, extra: &[(&str, &str)]) -> KilnProcess {
        let mut env = self.env.clone();
        override_env(&mut env, extra);
        let worker = KilnProcess::spawn(&["worker", "--no-migrate"], self.dir.path(), &env);
        worker.wait_for_log("kiln started").await;
        worker
    }

    /// Uploads a fixture through the api process; returns the 202 body.
    pub async fn upload(&self, name: &str) -> Value {
        self.upload_bytes(name, fixture(name)).await
    }

    /// Uploads `bytes` named `name` through the api process; returns the 202 body.
    pub async fn upload_bytes(&self, name: &str, bytes: Vec<u8>) -> Value {
        let response = self.client.upload(&self.token, name, bytes, None).await;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "{}",
            self.api.log()
        );
        response.json().await.unwrap()
    }

    /// Runs `sql` on the cluster's database (to set up what the API cannot).
    pub async fn execute(&self, sql: &str) {
        self.db.execute_unprepared(sql).await.unwrap();
    }

    /// The number `sql` (a `SELECT COUNT(*) ...`) counts in the cluster's database.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// Waits until no file is processing, then checks every one is ready with
    /// each of its variants exactly once.
    pub async fn assert_all_ready(&self, files: usize, variants_per_file: i64) {
        wait_for(Duration::from_secs(120), async || {
            let waiting = "SELECT COUNT(*) FROM files WHERE status <> 'ready'";
            match self.count(waiting).await {
                0 => Ok(()),
                n => Err(format!("{n} of {files} files are not ready")),
            }
        })
        .await;
        assert_eq!(
            self.count("SELECT COUNT(*) FROM files WHERE status = 'ready'")
                .await,
            files as i64
        );
        assert_eq!(
            self.count("SELECT COUNT(*) FROM processing_jobs WHERE status <> 'succeeded'")
                .await,
            0
        );
        assert_eq!(
            self.count("SELECT COUNT(*) FROM file_variants").await,
            files as i64 * variants_per_file,
            "each variant exists once"
        );
    }
}
