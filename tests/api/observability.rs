//! What operators see: `/metrics`, `/readyz` with latencies, the `OPS_PORT`
//! listener (the only one serving them when set) of a worker (which stops
//! taking jobs while Redis is down), and
//! `LOG_FORMAT=json` lines with the request's and the job's fields.
//! `prometheus.rs` has Prometheus itself scrape a running Kiln.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::{Api, file_id, metric_total as total};
use crate::support::app::{services_mode, spawn_app, spawn_app_with};
use crate::support::cluster::{Cluster, PHOTO_VARIANTS};
use crate::support::fixtures::free_port;
use crate::support::processes::{KilnProcess, json_lines};
use crate::support::servers::{CuttableProxy, PrivateRedis, RedisClient};
use crate::support::wait::{wait_for, wait_until};

/// The value of the sample whose line starts with `series` (name and labels
/// exactly as rendered), if there is one.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

#[actix_rt::test]
async fn metrics_count_requests_uploads_and_jobs_without_ids_in_labels() {
    let app = spawn_app().await;
    let token = app.signed_in_user("metrics@example.com").await;
    // Two different photos: a second copy of the same bytes would make no job.
    let mut ids = Vec::new();
    for photo in ["photo.jpg", "orientation6.jpg"] {
        ids.push(app.uploaded(&token, photo).await);
    }

    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let metrics = response.text().await.unwrap();
    // Other tests share this process's recorder, so counts are at least ours.
    assert!(
        total(
            &metrics,
            "kiln_http_requests_total",
            &[
                r#"method="POST""#,
                r#"route="/api/upload""#,
                r#"status="202""#
            ]
        ) >= 2.0,
        "{metrics}"
    );
    assert!(
        total(
            &metrics,
            "kiln_http_requests_total",
            &[r#"route="/api/files/{id}""#]
        ) >= 2.0,
        "a file's route is counted under its pattern:\n{metrics}"
    );
    assert!(total(&metrics, "kiln_uploads_total", &[]) >= 2.0);
    assert!(total(&metrics, "kiln_upload_bytes_total", &[]) > 0.0);
    for processor in ["thumbnail", "resize"] {
        let label = format!(r#"processor="{processor}""#);
        assert!(total(&metrics, "kiln_jobs_enqueued_total", &[&label]) >= 2.0);
        assert!(total(&metrics, "kiln_jobs_started_total", &[&label]) >= 2.0);
        assert!(
            total(
                &metrics,
                "kiln_jobs_finished_total",
                &[&label, r#"outcome="succeeded""#]
            ) >= 2.0
        );
        assert!(total(&metrics, "kiln_job_duration_seconds_count", &[&label]) >= 2.0);
        assert!(total(&metrics, "kiln_job_queue_wait_seconds_count", &[&label]) >= 2.0);
    }
    assert!(
        metrics.contains(r#"kiln_job_duration_seconds_bucket{processor="thumbnail",le="+Inf"}"#)
    );
    // The database's own view, measured at the scrape.
    assert!(total(&metrics, "kiln_jobs", &[r#"status="succeeded""#]) >= 4.0);
    assert!(sample(&metrics, r#"kiln_jobs{status="dead"}"#).is_some());
    assert!(sample(&metrics, "kiln_queue_length").is_some());
    assert!(sample(&metrics, "kiln_queue_oldest_pending_age_seconds").is_some());
    assert!(sample(&metrics, "kiln_processor_pool_size").unwrap() >= 1.0);
    assert!(sample(&metrics, "kiln_processor_pool_busy").is_some());
    assert!(
        total(
            &metrics,
            "kiln_db_operation_duration_seconds_count",
            &[r#"operation="record_upload""#]
        ) >= 2.0
    );
    assert!(
        total(
            &metrics,
            "kiln_storage_operation_duration_seconds_count",
            &[r#"operation="put""#]
        ) >= 2.0
    );
    if app.uses_services() {
        assert!(sample(&metrics, "kiln_queue_pending").is_some());
    }
    // Bounded labels only: no file id, no user id, no raw path.
    for id in &ids {
        assert!(!metrics.contains(id.as_str()), "a file id is a label");
    }
    assert!(!metrics.contains("metrics@example.com"));
    // Every series has help text.
    for name in [
        "kiln_http_requests_total",
        "kiln_jobs_finished_total",
        "kiln_jobs",
    ] {
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "{name} has no help"
        );
    }
}

#[actix_rt::test]
async fn readyz_reports_each_backends_latency() {
    let app = spawn_app().await;
    let body = app.get_json("/readyz", None).await;
    let latency = body["latency_ms"].as_object().unwrap();
    let mut names: Vec<&str> = latency.keys().map(String::as_str).collect();
    names.sort_unstable();
    let expected: &[&str] = match app.uses_services() {
        true => &["database", "redis", "storage"],
        false => &["database", "storage"],
    };
    assert_eq!(names, expected);
    for value in latency.values() {
        let ms = value.as_f64().unwrap();
        assert!((0.0..3000.0).contains(&ms), "{ms}");
    }
}

/// The routes a process serves on its `OPS_PORT`.
fn ops(port: u16) -> Api {
    Api::new(format!("http://127.0.0.1:{port}"))
}

#[actix_rt::test]
async fn with_ops_port_set_readyz_and_metrics_answer_only_there() {
    let ops_port = free_port();
    let app = spawn_app_with(&[("OPS_PORT", &ops_port.to_string())]).await;
    for path in ["/readyz", "/metrics"] {
        let public = app.get(path, None).await;
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "{path} on PORT");
        let ops = ops(ops_port).get(path, None).await;
        assert_eq!(ops.status(), StatusCode::OK, "{path} on OPS_PORT");
    }
    // Load balancers in front of the API still probe it there.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
}

/// Waits until the worker on `ops_port` reports `backend` down on `/readyz`
/// and says in its log that it takes no jobs.
async fn wait_until_paused_for(ops_port: u16, worker: &KilnProcess, backend: &str) {
    let ops = ops(ops_port);
    wait_until(Duration::from_secs(20), || async {
        ops.get("/readyz", None).await.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let body: Value = ops.get("/readyz", None).await.json().await.unwrap();
    assert_eq!(body["error"]["failed"], serde_json::json!([backend]));
    worker.wait_for_log("taking no jobs until it answers").await;
}

#[actix_rt::test]
async fn a_worker_answers_on_its_ops_port_and_takes_no_jobs_while_redis_is_down() {
    let mut redis = PrivateRedis::start().await;
    let cluster = Cluster::start(0, Some(&redis), &[]).await;
    let ops_port = free_port();
    let worker = cluster
        .start_worker(&[("OPS_PORT", &ops_port.to_string())])
        .await;
    let ops = ops(ops_port);

    let ready = ops.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert!(body["latency_ms"]["redis"].as_f64().is_some());
    let metrics = ops.metrics().await;
    assert_eq!(
        sample(&metrics, "kiln_processor_pool_size"),
        Some(2.0),
        "{metrics}"
    );
    // Only the operational routes: no API on this port.
    assert_eq!(
        ops.get("/api/files", None).await.status(),
        StatusCode::NOT_FOUND
    );

    redis.stop();
    wait_until_paused_for(ops_port, &worker, "redis").await;

    redis.resume().await;
    wait_until(Duration::from_secs(20), || async {
        ops.get("/readyz", None).await.status() == StatusCode::OK
    })
    .await;
    worker
        .wait_for_log("every backend answers again; taking jobs")
        .await;
    cluster.upload("photo.jpg").await;
    cluster.assert_all_ready(1, PHOTO_VARIANTS).await;
}

#[actix_rt::test]
async fn a_process_reports_its_connection_pools_at_the_sizes_it_was_given() {
    let redis = PrivateRedis::start().await;
    let cluster = Cluster::start(0, Some(&redis), &[]).await;
    let ops_port = free_port();
    let _worker = cluster
        .start_worker(&[
            ("OPS_PORT", &ops_port.to_string()),
            ("DATABASE_POOL_SIZE", "6"),
            ("REDIS_POOL_SIZE", "5"),
        ])
        .await;
    // The worker has claimed, recorded and published through both pools.
    cluster.upload("photo.jpg").await;
    cluster.assert_all_ready(1, PHOTO_VARIANTS).await;

    let metrics = ops(ops_port).metrics().await;
    for (pool, max) in [("database", 6.0), ("redis", 5.0)] {
        let series = |name: &str, state: Option<&str>| match state {
            Some(state) => format!(r#"{name}{{pool="{pool}",state="{state}"}}"#),
            None => format!(r#"{name}{{pool="{pool}"}}"#),
        };
        assert_eq!(
            sample(&metrics, &series("kiln_pool_max_connections", None)),
            Some(max),
            "{metrics}"
        );
        let busy = sample(&metrics, &series("kiln_pool_connections", Some("busy")));
        let idle = sample(&metrics, &series("kiln_pool_connections", Some("idle")));
        let open = busy.unwrap_or(-1.0) + idle.unwrap_or(-1.0);
        assert!(
            (1.0..=max).contains(&open),
            "{pool}: {open} open\n{metrics}"
        );
    }
}

#[actix_rt::test]
async fn json_logs_are_flat_lines_with_the_request_and_job_fields() {
    let cluster = Cluster::start(1, None, &[("LOG_FORMAT", "json")]).await;
    let file = cluster.upload("photo.jpg").await;
    cluster.assert_all_ready(1, PHOTO_VARIANTS).await;
    let uploaded = file_id(&file);

    let mut lines = json_lines(&cluster.api.log());
    for worker in &cluster.workers {
        lines.extend(json_lines(&worker.log()));
    }
    let upload = lines
        .iter()
        .find(|line| line["message"] == "request finished" && line["path"] == "/api/upload")
        .expect("the upload's request line");
    assert!(
        upload["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        upload["user_id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{upload:?}"
    );
    assert_eq!(upload["status"], 202);
    assert!(upload["duration_ms"].is_number());
    assert!(upload["level"].is_string() && upload["timestamp"].is_string());

    let attempt = lines
        .iter()
        .find(|line| line["message"] == "job attempt finished" && line["processor"] == "thumbnail")
        .expect("the thumbnail job's line");
    assert_eq!(attempt["file_id"], uploaded.as_str());
    assert!(
        attempt["job_id"]
            .as_str()
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
    );
    assert_eq!(attempt["attempt"], 1);
    assert!(attempt["duration_ms"].is_number(), "{attempt:?}");
    assert_eq!(attempt["outcome"], "succeeded");
}

/// The connections to `redis` whose last command read the job stream: the
/// workers' readers.
fn stream_readers(redis: &PrivateRedis) -> Vec<RedisClient> {
    redis
        .clients()
        .into_iter()
        .filter(|c| matches!(c.command.as_str(), "xreadgroup" | "xautoclaim" | "xack"))
        .collect()
}

/// The database going away under a worker: it reports not ready, takes no
/// deliveries off the stream (the api's gauges show the job waiting, not
/// pending), and runs the job once the database is back.
#[actix_rt::test]
async fn a_worker_that_loses_the_database_takes_no_jobs_until_it_is_back() {
    if !services_mode() {
        eprintln!(
            "SKIPPED database outage: the embedded database is a file in the process; \
             `scripts/test.sh services` runs this against PostgreSQL"
        );
        return;
    }
    // A Redis of its own, whose connections are all the cluster's.
    let redis = PrivateRedis::start().await;
    let cluster = Cluster::start(0, Some(&redis), &[]).await;
    let database_url = url::Url::parse(&cluster.env["DATABASE_URL"]).unwrap();
    let target = format!(
        "{}:{}",
        database_url.host_str().unwrap(),
        database_url.port().unwrap_or(5432)
    );
    let mut proxy = CuttableProxy::start(&target).await;
    let mut through_proxy = database_url.clone();
    through_proxy.set_host(Some("127.0.0.1")).unwrap();
    through_proxy.set_port(Some(proxy.port)).unwrap();
    let ops_port = free_port();
    let worker = cluster
        .start_worker(&[
            ("DATABASE_URL", through_proxy.as_str()),
            ("OPS_PORT", &ops_port.to_string()),
        ])
        .await;
    assert_eq!(
        ops(ops_port).get("/readyz", None).await.status(),
        StatusCode::OK
    );

    proxy.cut();
    wait_until_paused_for(ops_port, &worker, "database").await;
    // A read already waiting when the pause came may still take what arrives
    // within its block: wait until none waits and the worker has sent nothing
    // for two seconds (Redis counts whole ones), so it sends nothing more.
    let silent = wait_for(Duration::from_secs(10), async || {
        match stream_readers(&redis).as_slice() {
            [reader] if !reader.blocked && reader.idle >= Duration::from_secs(2) => Ok(reader.idle),
            readers => Err(format!("the job stream's readers: {readers:?}")),
        }
    })
    .await;
    let silent_since = tokio::time::Instant::now();

    // The api still reaches the database: the upload is accepted and queued.
    cluster.upload("photo.jpg").await;
    let api_metrics = || async { cluster.client.metrics().await };
    wait_until(Duration::from_secs(10), || async {
        sample(&api_metrics().await, "kiln_queue_length").is_some_and(|n| n >= 2.0)
    })
    .await;
    // The paused worker took none of them: it has sent the stream nothing
    // since before they were queued.
    let later = Duration::from_secs(silent_since.elapsed().as_secs());
    let readers = stream_readers(&redis);
    assert!(
        matches!(readers.as_slice(), [reader] if reader.idle >= silent + later),
        "the worker read the stream again: {readers:?}, silent {silent:?} {later:?} earlier"
    );
    let metrics = api_metrics().await;
    assert_eq!(
        sample(&metrics, "kiln_queue_pending"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(sample(&metrics, r#"kiln_jobs{status="queued"}"#), Some(2.0));

    proxy.restore().await;
    worker
        .wait_for_log("every backend answers again; taking jobs")
        .await;
    cluster.assert_all_ready(1, PHOTO_VARIANTS).await;
}
