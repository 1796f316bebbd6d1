//! Prometheus itself (Debian's `prometheus`, installed by `scripts/test.sh`)
//! scrapes a running Kiln after a batch of uploads, and its HTTP API answers
//! queries over Kiln's series with the exact counts of what was done.
//!
//! On the embedded default it scrapes one `kiln serve`; in services mode a
//! `kiln api` on its port and a `kiln worker` on its `OPS_PORT`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::chaos::{Cluster, PHOTO_VARIANTS};
use crate::helpers::wait_until;
use crate::servers::{KilnProcess, free_port};

/// A Prometheus server of this test's own, scraping `targets` every second.
struct PrivatePrometheus {
    port: u16,
    child: Child,
}

impl PrivatePrometheus {
    fn start(dir: &Path, targets: &[u16]) -> Self {
        let port = free_port();
        let targets = targets
            .iter()
            .map(|port| format!("'127.0.0.1:{port}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: kiln\n    static_configs:\n      - targets: [{targets}]\n"
            ),
        )
        .unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs (scripts/test.sh installs Debian's prometheus)");
        Self { port, child }
    }

    /// The single value `query` evaluates to now, if it has exactly one.
    async fn value(&self, client: &reqwest::Client, query: &str) -> Option<f64> {
        let mut url =
            url::Url::parse(&format!("http://127.0.0.1:{}/api/v1/query", self.port)).unwrap();
        url.query_pairs_mut().append_pair("query", query);
        let response = client.get(url).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        let result = body["data"]["result"].as_array()?;
        match result.as_slice() {
            [only] => only["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Waits until `query` evaluates to `expected` (scrapes arrive each second).
    async fn assert_eventually(&self, client: &reqwest::Client, query: &str, expected: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let value = self.value(client, query).await;
            if value == Some(expected) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{query} is {value:?}, not {expected}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for PrivatePrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_rt::test]
async fn prometheus_scrapes_kiln_and_answers_queries_about_a_batch_of_uploads() {
    let mut cluster = Cluster::start_with(0, None, &[]).await;
    let mut targets = vec![cluster.api.port];
    if !cluster.env.iter().any(|(k, _)| k == "REDIS_URL") {
        // Embedded: `kiln serve` runs the jobs and is the only target.
    } else {
        let ops_port = free_port();
        let mut env = cluster.env.clone();
        env.push(("OPS_PORT".into(), ops_port.to_string()));
        let worker = KilnProcess::spawn(&["worker", "--no-migrate"], cluster.dir.path(), &env);
        worker.wait_for_log("kiln started").await;
        cluster.workers.push(worker);
        targets.push(ops_port);
    }
    const UPLOADS: usize = 4;
    for _ in 0..UPLOADS {
        cluster.upload("photo.jpg").await;
    }
    cluster.assert_all_ready(UPLOADS, PHOTO_VARIANTS).await;

    let prometheus_dir = tempfile::tempdir().unwrap();
    let prometheus = PrivatePrometheus::start(prometheus_dir.path(), &targets);
    let client = reqwest::Client::new();
    wait_until(Duration::from_secs(30), || async {
        prometheus.value(&client, "count(up == 1)").await == Some(targets.len() as f64)
    })
    .await;

    let uploads = UPLOADS as f64;
    prometheus
        .assert_eventually(&client, "sum(kiln_uploads_total)", uploads)
        .await;
    prometheus
        .assert_eventually(
            &client,
            r#"sum(kiln_http_requests_total{method="POST",route="/api/upload",status="202"})"#,
            uploads,
        )
        .await;
    // photo.jpg gets a thumbnail job and a resize job (two sizes).
    prometheus
        .assert_eventually(
            &client,
            r#"sum(kiln_jobs_finished_total{outcome="succeeded"})"#,
            uploads * 2.0,
        )
        .await;
    prometheus
        .assert_eventually(
            &client,
            r#"sum(kiln_jobs_enqueued_total{processor="thumbnail"})"#,
            uploads,
        )
        .await;
    prometheus
        .assert_eventually(
            &client,
            r#"max(kiln_jobs{status="succeeded"})"#,
            uploads * 2.0,
        )
        .await;
    prometheus
        .assert_eventually(&client, r#"max(kiln_jobs{status="dead"})"#, 0.0)
        .await;
    prometheus
        .assert_eventually(&client, "max(kiln_processor_pool_busy)", 0.0)
        .await;
    // A histogram Prometheus can take quantiles of.
    let p99 = prometheus
        .value(
            &client,
            "histogram_quantile(0.99, sum by (le) (kiln_job_duration_seconds_bucket))",
        )
        .await
        .expect("a job duration quantile");
    assert!(p99 > 0.0 && p99.is_finite(), "{p99}");
}
