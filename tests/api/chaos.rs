//! The promise that no job is lost, tested for real with separate `kiln`
//! processes. A process is killed with SIGKILL while it holds jobs; Redis is
//! flushed mid-batch; Redis is stopped while uploads keep coming. Every file
//! must end ready with each variant exactly once.
//!
//! In services mode the processes are one `kiln api` and `kiln worker`s on
//! PostgreSQL, Redis and S3. On the embedded default a single `kiln serve` on
//! SQLite is killed and started again; the Redis tests give the processes a
//! private Redis over the same SQLite file.

use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, ServiceDatabaseHandle, base_env, fixture, services_mode, wait_until,
};
use crate::servers::{KilnProcess, PrivateRedis};

/// A scaled-out Kiln: its processes, their shared settings and a client. The
/// observability tests use it too.
pub(crate) struct Cluster {
    pub env: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
    pub api: KilnProcess,
    pub workers: Vec<KilnProcess>,
    pub client: reqwest::Client,
    pub token: String,
    db: DatabaseConnection,
    _database: Option<ServiceDatabaseHandle>,
}

impl Cluster {
    /// Starts an api and `workers` workers (or, on the embedded default without
    /// `redis`, one `kiln serve`); `redis` replaces the configured Redis.
    async fn start(workers: usize, redis: Option<&PrivateRedis>) -> Self {
        Self::start_with(workers, redis, &[]).await
    }

    /// Like [`Cluster::start`], with `extra` variables for every process.
    pub(crate) async fn start_with(
        workers: usize,
        redis: Option<&PrivateRedis>,
        extra: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (base, database) = base_env(dir.path()).await;
        let mut env: Vec<(String, String)> = base.into_iter().collect();
        env.extend(
            [
                ("LOG_LEVEL", "info"),
                ("WORKER_CONCURRENCY", "2"),
                // Short leases and reconciliation, so recovery fits in a test.
                ("JOB_TIMEOUT", "5s"),
                ("RECONCILE_INTERVAL", "1s"),
                ("REQUEUE_AFTER", "3s"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        if let Some(redis) = redis {
            env.retain(|(k, _)| k != "REDIS_URL");
            env.push(("REDIS_URL".into(), redis.url()));
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let database_url = env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, url)| url.clone())
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
        let client = reqwest::Client::new();
        let address = api.address();
        let register = client
            .post(format!("{address}/api/auth/register"))
            .json(&json!({ "email": "chaos@example.com", "password": PASSWORD, "name": "Chaos" }))
            .send()
            .await
            .unwrap();
        assert_eq!(register.status(), StatusCode::CREATED);
        let login: Value = client
            .post(format!("{address}/api/auth/login"))
            .json(&json!({ "email": "chaos@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            env,
            dir,
            api,
            workers,
            client,
            token: login["access_token"].as_str().unwrap().to_string(),
            db: Database::connect(&database_url).await.unwrap(),
            _database: database,
        }
    }

    pub(crate) async fn upload(&self, name: &str) -> Value {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(fixture(name)).file_name(name.to_string()),
        );
        let response = self
            .client
            .post(format!("{}/api/upload", self.api.address()))
            .bearer_auth(&self.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "{}",
            self.api.log()
        );
        response.json().await.unwrap()
    }

    async fn count(&self, sql: &str) -> i64 {
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
    pub(crate) async fn assert_all_ready(&self, files: usize, variants_per_file: i64) {
        wait_until(Duration::from_secs(120), || async {
            self.count("SELECT COUNT(*) FROM files WHERE status <> 'ready'")
                .await
                == 0
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

/// photo.jpg (1200 px wide) gets thumbnail, sm and md.
pub(crate) const PHOTO_VARIANTS: i64 = 3;

#[actix_rt::test]
async fn a_process_killed_while_holding_jobs_loses_none_of_them() {
    let mut cluster = Cluster::start(2, None).await;
    let mut files = Vec::new();
    for _ in 0..50 {
        files.push(cluster.upload("photo.jpg").await);
    }
    let victim = match cluster.workers.is_empty() {
        true => &cluster.api,
        false => &cluster.workers[0],
    };
    let pid = victim.child.id();
    // Kill it while it holds a lease, not before it took any work.
    let held = format!(
        "SELECT COUNT(*) FROM processing_jobs WHERE status = 'running' AND leased_by LIKE '%-{pid}-%'"
    );
    wait_until(Duration::from_secs(60), || async {
        cluster.count(&held).await > 0
    })
    .await;
    victim.signal("KILL");
    if cluster.workers.is_empty() {
        // Embedded: the only process died; start it again on the same data.
        let restarted = KilnProcess::spawn(&["serve"], cluster.dir.path(), &cluster.env);
        restarted.wait_for_log("kiln started").await;
        let killed = std::mem::replace(&mut cluster.api, restarted);
        assert_eq!(killed.wait_for_exit().await.0, None, "killed by a signal");
    } else {
        let killed = cluster.workers.remove(0);
        assert_eq!(killed.wait_for_exit().await.0, None, "killed by a signal");
    }
    cluster.assert_all_ready(files.len(), PHOTO_VARIANTS).await;
    let rerun = "SELECT COUNT(*) FROM processing_jobs WHERE attempts > 1";
    assert!(
        cluster.count(rerun).await > 0,
        "the killed process's jobs ran again"
    );
}

#[actix_rt::test]
async fn flushing_redis_in_the_middle_of_a_batch_loses_no_job() {
    let redis = PrivateRedis::start().await;
    let cluster = Cluster::start(1, Some(&redis)).await;
    let mut files = Vec::new();
    for _ in 0..15 {
        files.push(cluster.upload("photo.jpg").await);
    }
    wait_until(Duration::from_secs(60), || async {
        cluster
            .count("SELECT COUNT(*) FROM processing_jobs WHERE status = 'succeeded'")
            .await
            > 0
    })
    .await;
    redis.flush_all();
    for _ in 0..15 {
        files.push(cluster.upload("photo.jpg").await);
    }
    cluster.assert_all_ready(files.len(), PHOTO_VARIANTS).await;
}

#[actix_rt::test]
async fn uploads_are_accepted_while_redis_is_down_and_processed_when_it_returns() {
    let mut redis = PrivateRedis::start().await;
    let cluster = Cluster::start(1, Some(&redis)).await;
    redis.stop();
    let mut files = Vec::new();
    for _ in 0..10 {
        files.push(cluster.upload("photo.jpg").await);
    }
    assert_eq!(
        cluster
            .count("SELECT COUNT(*) FROM processing_jobs WHERE status = 'queued'")
            .await,
        20,
        "the outbox holds every job"
    );
    redis.resume().await;
    cluster.assert_all_ready(files.len(), PHOTO_VARIANTS).await;
}

#[actix_rt::test]
async fn a_watcher_on_the_api_process_sees_what_a_worker_process_did() {
    let redis = PrivateRedis::start().await;
    let cluster = Cluster::start(1, Some(&redis)).await;
    let accepted = cluster.upload("small.jpg").await;
    let id = accepted["file"]["id"].as_str().unwrap().to_string();
    cluster.assert_all_ready(1, 1).await;
    let mut stream = cluster
        .client
        .get(format!("{}/api/files/{id}/events", cluster.api.address()))
        .bearer_auth(&cluster.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // A new job, queued after the watcher connected: only the worker process
    // runs it, so its events reach the api process through Redis alone.
    let job: Value = cluster
        .client
        .post(format!("{}/api/files/{id}/process", cluster.api.address()))
        .bearer_auth(&cluster.token)
        .json(&json!({ "processor": "thumbnail", "variant": "relayed" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let succeeded = format!("\"job_id\":\"{}\"", job["job"]["id"].as_str().unwrap());
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !text
        .lines()
        .any(|l| l.contains(&succeeded) && l.contains("\"status\":\"succeeded\""))
    {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("the worker's events arrive in time")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.lines()
            .any(|l| l.contains(&succeeded) && l.contains("\"status\":\"running\"")),
        "{text}"
    );
}
