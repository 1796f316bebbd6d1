//! Prometheus itself (Debian's `prometheus`, installed by `scripts/test.sh`)
//! scrapes a running Kiln after a batch of uploads, and its HTTP API answers
//! queries over Kiln's series with the exact counts of what was done.
//!
//! On the embedded default it scrapes one `kiln serve`; in services mode a
//! `kiln api` on its port and a `kiln worker` on its `OPS_PORT`.

use std::time::Duration;

use crate::support::cluster::{Cluster, PHOTO_VARIANTS};
use crate::support::fixtures::{fixture, free_port};
use crate::support::servers::PrivatePrometheus;
use crate::support::wait::wait_until;

#[actix_rt::test]
async fn prometheus_scrapes_kiln_and_answers_queries_about_a_batch_of_uploads() {
    let mut cluster = Cluster::start(0, None, &[]).await;
    let mut targets = vec![cluster.api.port];
    if !cluster.env.contains_key("REDIS_URL") {
        // Embedded: `kiln serve` runs the jobs and is the only target.
    } else {
        let ops_port = free_port();
        let worker = cluster
            .start_worker(&[("OPS_PORT", &ops_port.to_string())])
            .await;
        cluster.workers.push(worker);
        targets.push(ops_port);
    }
    const UPLOADS: usize = 4;
    for upload in 0..UPLOADS {
        // Each a file of its own: an upload identical to a processed one would
        // take its variants without running a job.
        let mut photo = fixture("photo.jpg");
        photo.extend_from_slice(format!("upload {upload}").as_bytes());
        cluster.upload_bytes("photo.jpg", photo).await;
    }
    cluster.assert_all_ready(UPLOADS, PHOTO_VARIANTS).await;

    let prometheus_dir = tempfile::tempdir().unwrap();
    let prometheus = PrivatePrometheus::start(prometheus_dir.path(), &targets).await;
    wait_until(Duration::from_secs(30), || async {
        prometheus.value("count(up == 1)").await == Some(targets.len() as f64)
    })
    .await;

    let uploads = UPLOADS as f64;
    prometheus
        .assert_eventually("sum(kiln_uploads_total)", uploads)
        .await;
    prometheus
        .assert_eventually(
            r#"sum(kiln_http_requests_total{method="POST",route="/api/upload",status="202"})"#,
            uploads,
        )
        .await;
    // photo.jpg gets a thumbnail job and a resize job (two sizes).
    prometheus
        .assert_eventually(
            r#"sum(kiln_jobs_finished_total{outcome="succeeded"})"#,
            uploads * 2.0,
        )
        .await;
    prometheus
        .assert_eventually(
            r#"sum(kiln_jobs_enqueued_total{processor="thumbnail"})"#,
            uploads,
        )
        .await;
    prometheus
        .assert_eventually(r#"max(kiln_jobs{status="succeeded"})"#, uploads * 2.0)
        .await;
    prometheus
        .assert_eventually(r#"max(kiln_jobs{status="dead"})"#, 0.0)
        .await;
    prometheus
        .assert_eventually("max(kiln_processor_pool_busy)", 0.0)
        .await;
    // A histogram Prometheus can take quantiles of.
    let p99 = prometheus
        .value("histogram_quantile(0.99, sum by (le) (kiln_job_duration_seconds_bucket))")
        .await
        .expect("a job duration quantile");
    assert!(p99 > 0.0 && p99.is_finite(), "{p99}");
}
