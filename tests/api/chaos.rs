//! The promise that no job is lost, tested for real with separate `kiln`
//! processes. A process is killed with SIGKILL while it holds jobs; Redis is
//! flushed mid-batch; Redis is stopped while uploads keep coming; a backlog
//! outwaits `REQUEUE_AFTER` and loses stream entries. Every file must end
//! ready with each variant exactly once.
//!
//! In services mode the processes are one `kiln api` and `kiln worker`s on
//! PostgreSQL, Redis and S3. On the embedded default a single `kiln serve` on
//! SQLite is killed and started again; the Redis tests give the processes a
//! private Redis over the same SQLite file.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::api::{file_id, metric_total};
use crate::support::cluster::{Cluster, PHOTO_VARIANTS};
use crate::support::fixtures::fixture_with_fault;
use crate::support::processes::KilnProcess;
use crate::support::servers::PrivateRedis;
use crate::support::wait::wait_until;

/// A photo whose every job takes at least `millis` ms, so that a test can act
/// while jobs run (the processes need `TEST_FAULTS`).
fn slow_photo(millis: u32) -> Vec<u8> {
    fixture_with_fault("photo.jpg", &format!("nap-{millis}"))
}

/// The setting that lets the processes' children obey [`slow_photo`].
const TEST_FAULTS: (&str, &str) = ("KILN_TEST_FAULTS", "1");

#[actix_rt::test]
async fn a_process_killed_while_holding_jobs_loses_none_of_them() {
    let mut cluster = Cluster::start(2, None, &[TEST_FAULTS]).await;
    let victim = match cluster.workers.is_empty() {
        true => &cluster.api,
        false => &cluster.workers[0],
    };
    let pid = victim.child.id();
    // Kill it while it holds a lease, not before it took any work: uploads go on
    // (at least ten, so work is left) until it does or fifty were made.
    let held = format!(
        "SELECT COUNT(*) FROM processing_jobs WHERE status = 'running' AND leased_by LIKE '%-{pid}-%'"
    );
    let mut files = Vec::new();
    while files.len() < 50 && (files.len() < 10 || cluster.count(&held).await == 0) {
        files.push(cluster.upload_bytes("photo.jpg", slow_photo(300)).await);
    }
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
    let cluster = Cluster::start(1, Some(&redis), &[TEST_FAULTS]).await;
    let mut files = Vec::new();
    for _ in 0..15 {
        files.push(cluster.upload_bytes("photo.jpg", slow_photo(100)).await);
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
        files.push(cluster.upload_bytes("photo.jpg", slow_photo(100)).await);
    }
    cluster.assert_all_ready(files.len(), PHOTO_VARIANTS).await;
}

#[actix_rt::test]
async fn uploads_are_accepted_while_redis_is_down_and_processed_when_it_returns() {
    let mut redis = PrivateRedis::start().await;
    let cluster = Cluster::start(1, Some(&redis), &[]).await;
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
async fn a_backlog_waiting_past_requeue_after_is_published_once_and_lost_entries_again() {
    let redis = PrivateRedis::start().await;
    // No worker: every job waits on the stream, far longer than REQUEUE_AFTER.
    let settings = [("REQUEUE_AFTER", "1s"), ("REDIS_NAMESPACE", "backlog")];
    let cluster = Cluster::start(0, Some(&redis), &settings).await;
    for _ in 0..5 {
        cluster.upload("photo.jpg").await;
    }
    let jobs = cluster.count("SELECT COUNT(*) FROM processing_jobs").await;
    let stream_length = || redis.run(&["XLEN", "backlog:jobs"]).parse::<i64>().unwrap();
    let republished = async |reason: &str| {
        let metrics = cluster.client.metrics().await;
        let label = format!("reason=\"{reason}\"");
        metric_total(&metrics, "kiln_reconciler_published_total", &[&label])
    };
    // Several reconciliations find every job stale, and the stream holds each.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(stream_length(), jobs, "each job is on the stream once");
    assert_eq!(republished("entry_lost").await, 0.0);

    // Redis loses the four oldest entries: those four, and only they, come back.
    redis.run(&["XTRIM", "backlog:jobs", "MAXLEN", &(jobs - 4).to_string()]);
    wait_until(Duration::from_secs(15), || async {
        stream_length() == jobs
    })
    .await;
    assert_eq!(republished("entry_lost").await, 4.0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stream_length(),
        jobs,
        "no job is published again once it is back"
    );

    let _worker = cluster.start_worker(&[]).await;
    cluster.assert_all_ready(5, PHOTO_VARIANTS).await;
    let rerun = "SELECT COUNT(*) FROM processing_jobs WHERE attempts <> 1";
    assert_eq!(cluster.count(rerun).await, 0, "each job ran once");
}

#[actix_rt::test]
async fn a_watcher_on_the_api_process_sees_what_a_worker_process_did() {
    let redis = PrivateRedis::start().await;
    let cluster = Cluster::start(1, Some(&redis), &[]).await;
    let accepted = cluster.upload("small.jpg").await;
    let id = file_id(&accepted);
    cluster.assert_all_ready(1, 1).await;
    let mut stream = cluster
        .client
        .event_stream(&cluster.token, &format!("/api/files/{id}/events"))
        .await;
    // A new job, queued after the watcher connected: only the worker process
    // runs it, so its events reach the api process through Redis alone.
    let job: Value = cluster
        .client
        .process(
            &cluster.token,
            &id,
            &json!({ "processor": "thumbnail", "variant": "relayed" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let job_id = job["job"]["id"].as_str().unwrap().to_string();
    let heard = |events: &[Value], status: &str| {
        events
            .iter()
            .any(|e| e["job_id"] == job_id.as_str() && e["status"] == status)
    };
    stream
        .read_until(Duration::from_secs(60), |events| heard(events, "succeeded"))
        .await;
    assert!(heard(&stream.events, "running"), "{:?}", stream.events);
}
