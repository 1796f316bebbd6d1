//! Processors run in `kiln processor` children: a crash, a hang, the memory or
//! CPU limit, or a `kill -9` ends that attempt with a reason a user can read,
//! the job retries by the normal policy, and the worker, the API and the other
//! jobs go on. The faults are real: a debug build's child obeys the marker
//! `kiln-test-fault:KIND` at the end of an upload when `KILN_TEST_FAULTS` is set
//! (see `src/isolation/faults.rs`).

use std::time::Duration;

use kiln::actors::processors::ProcessorPids;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::api::file_id;
use crate::support::app::{TestApp, spawn_app_with};
use crate::support::cluster::Cluster;
use crate::support::fixtures::{fixture, fixture_with_fault};
use crate::support::wait::wait_until;

/// An app whose children obey fault markers, with one slot (so the child that
/// ran a job is the one that takes the next) and the given overrides.
async fn app_with_faults(overrides: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("KILN_TEST_FAULTS", "1"), ("WORKER_CONCURRENCY", "1")];
    settings.extend_from_slice(overrides);
    spawn_app_with(&settings).await
}

/// `small.jpg` asking its processor child for `fault`.
fn faulty_jpeg(fault: &str) -> Vec<u8> {
    fixture_with_fault("small.jpg", fault)
}

/// Uploads `bytes` for a thumbnail only and returns (file id, job id).
async fn upload_for_thumbnail(app: &TestApp, token: &str, bytes: Vec<u8>) -> (String, String) {
    let body = app
        .upload_accepted(token, "fault.jpg", bytes, Some("thumbnail"))
        .await;
    (
        file_id(&body),
        body["jobs"][0]["id"].as_str().unwrap().to_string(),
    )
}

/// Uploads a fault, waits for its file to be processed, and returns its job.
async fn job_after_fault(app: &TestApp, token: &str, fault: &str) -> Value {
    let (file_id, job_id) = upload_for_thumbnail(app, token, faulty_jpeg(fault)).await;
    app.wait_until_processed(token, &file_id).await;
    app.job(token, &job_id).await
}

/// The worker still makes thumbnails: a clean upload becomes `ready`.
async fn assert_the_worker_goes_on(app: &TestApp, token: &str) {
    let (file_id, _) = upload_for_thumbnail(app, token, fixture("small.jpg")).await;
    let details = app.wait_until_processed(token, &file_id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    let health = app.get("/healthz", None).await;
    assert_eq!(health.status(), StatusCode::OK);
}

async fn processor_pids(app: &TestApp) -> Vec<u32> {
    let pool = app
        .actors
        .processors
        .as_ref()
        .expect("a serve process has processors");
    pool.send(ProcessorPids).await.unwrap()
}

#[actix_rt::test]
async fn a_processor_that_crashes_fails_each_attempt_with_its_signal_then_dies_and_the_worker_goes_on()
 {
    let app = app_with_faults(&[("MAX_RETRIES", "1")]).await;
    let token = app.signed_in_user("crash@example.com").await;

    let job = job_after_fault(&app, &token, "crash").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(
        job["attempts"], 2,
        "a crash is retried by the normal policy: {job}"
    );
    assert_eq!(job["error"], "the processor crashed (SIGSEGV)");

    let job = job_after_fault(&app, &token, "abort").await;
    assert_eq!(job["error"], "the processor crashed (SIGABRT)", "{job}");
    assert_the_worker_goes_on(&app, &token).await;
}

#[actix_rt::test]
async fn a_processor_that_hangs_is_killed_at_the_job_timeout() {
    let app = app_with_faults(&[("MAX_RETRIES", "0"), ("JOB_TIMEOUT", "2s")]).await;
    let token = app.signed_in_user("hang@example.com").await;
    let before = processor_pids(&app).await;

    let job = job_after_fault(&app, &token, "sleep").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["error"], "timed out after 2s");
    // The hung child is gone and another took its slot.
    wait_until(Duration::from_secs(10), || async {
        let now = processor_pids(&app).await;
        now.len() == 1 && now != before
    })
    .await;
    assert_the_worker_goes_on(&app, &token).await;
}

#[actix_rt::test]
async fn a_processor_spinning_on_the_cpu_is_stopped_by_its_cpu_time_limit() {
    let app = app_with_faults(&[
        ("MAX_RETRIES", "0"),
        ("JOB_TIMEOUT", "60s"),
        ("PROCESSOR_CPU_LIMIT", "1s"),
    ])
    .await;
    let token = app.signed_in_user("spin@example.com").await;

    let job = job_after_fault(&app, &token, "spin").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(
        job["error"],
        "the processor used more than its 1s CPU time limit"
    );
    assert_the_worker_goes_on(&app, &token).await;
}

#[actix_rt::test]
async fn a_processor_past_its_memory_limit_is_named_as_such() {
    let app = app_with_faults(&[("MAX_RETRIES", "0"), ("PROCESSOR_MEMORY_LIMIT", "256MiB")]).await;
    let token = app.signed_in_user("oom@example.com").await;

    let job = job_after_fault(&app, &token, "oom").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(
        job["error"],
        "the processor used more than its 256 MiB memory limit"
    );
    assert_the_worker_goes_on(&app, &token).await;
}

#[actix_rt::test]
async fn an_image_whose_decoding_needs_more_than_the_memory_limit_fails_cleanly() {
    // 48 MP passes the pixel limit (50 MP), but its RGBA pixels alone take
    // 192 MB, more than the 160 MiB the processor may use.
    let app = spawn_app_with(&[("MAX_RETRIES", "0"), ("PROCESSOR_MEMORY_LIMIT", "160MiB")]).await;
    let token = app.signed_in_user("big@example.com").await;
    let mut png = Vec::new();
    image::RgbaImage::from_pixel(8000, 6000, image::Rgba([200, 30, 30, 128]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();

    let body = app
        .upload_accepted(&token, "big.png", png, Some("thumbnail"))
        .await;
    let details = app.wait_until_processed(&token, &file_id(&body)).await;
    let job = &details["jobs"][0];
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(
        job["error"],
        "the processor used more than its 160 MiB memory limit"
    );
    assert_the_worker_goes_on(&app, &token).await;
}

#[actix_rt::test]
async fn a_processor_that_panics_kills_its_job_at_once_and_its_child_lives_on() {
    let app = app_with_faults(&[]).await;
    let token = app.signed_in_user("panic@example.com").await;
    // The child says hello once it has started.
    wait_until(Duration::from_secs(10), || async {
        processor_pids(&app).await.len() == 1
    })
    .await;
    let before = processor_pids(&app).await;

    let job = job_after_fault(&app, &token, "panic").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 1, "a panic is not retried: {job}");
    assert_eq!(job["error"], "the processor crashed on this file");
    assert_the_worker_goes_on(&app, &token).await;
    assert_eq!(
        processor_pids(&app).await,
        before,
        "the same child ran both jobs"
    );
}

#[actix_rt::test]
async fn a_child_killed_mid_job_fails_that_attempt_and_the_retry_succeeds_in_a_new_child() {
    let app = app_with_faults(&[]).await;
    let token = app.signed_in_user("kill@example.com").await;
    wait_until(Duration::from_secs(10), || async {
        processor_pids(&app).await.len() == 1
    })
    .await;
    let before = processor_pids(&app).await;

    // The child naps 1.5 s inside the first attempt, then makes the thumbnail.
    let (file_id, job_id) = upload_for_thumbnail(&app, &token, faulty_jpeg("nap-1500")).await;
    app.wait_for_job(&token, &job_id, |job| job["status"] == "running")
        .await;
    let killed = std::process::Command::new("kill")
        .args(["-9", &before[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let details = app.wait_until_processed(&token, &file_id).await;
    let job = app.job(&token, &job_id).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "the killed attempt counts: {job}");
    let after = processor_pids(&app).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a fresh child took the slot");
}

#[actix_rt::test]
async fn a_child_cannot_reach_the_network_write_files_or_start_programs() {
    let app = app_with_faults(&[]).await;
    let token = app.signed_in_user("escape@example.com").await;

    let job = job_after_fault(&app, &token, "escape").await;
    assert_eq!(job["status"], "dead", "{job}");
    let error = job["error"].as_str().unwrap();
    for denied in ["network: denied", "file write: denied", "program: denied"] {
        assert!(error.contains(denied), "{denied:?} not in {error:?}");
    }
    assert!(
        error.contains("thread: allowed"),
        "a decoder may use threads: {error:?}"
    );
}

#[actix_rt::test]
async fn pdf_jobs_wait_for_a_missing_pdfium_and_finish_once_it_is_installed() {
    let library_dir = tempfile::tempdir().unwrap();
    let library = library_dir.path().join("libpdfium.so");
    let app = spawn_app_with(&[("PDFIUM_LIBRARY", library.to_str().unwrap())]).await;
    let token = app.signed_in_user("pdf@example.com").await;

    let body = app.upload_fixture(&token, "two-pages.pdf").await;
    let job_id = body["jobs"][0]["id"].as_str().unwrap().to_string();
    let job = app
        .wait_for_job(&token, &job_id, |job| job["status"] == "retrying")
        .await;
    assert_eq!(
        job["error"], "waiting for PDF rendering to be installed on the worker",
        "a safe sentence, without the library's path or the operator's remedy: {job}"
    );
    assert_eq!(job["attempts"], 0, "waiting uses up no attempt: {job}");

    // The operator sees it; the process stays ready for everything else.
    let readiness = app.get("/readyz", None).await;
    assert_eq!(readiness.status(), StatusCode::OK);
    let readiness: Value = readiness.json().await.unwrap();
    let pdf = readiness["checks"]["pdf"].as_str().unwrap();
    assert!(pdf.contains("libpdfium.so"), "{readiness}");

    let installed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".pdfium/libpdfium.so");
    std::fs::copy(installed, &library).unwrap();
    let details = app.wait_until_processed(&token, &file_id(&body)).await;
    assert_eq!(details["file"]["status"], "ready", "{details}");
    wait_until(Duration::from_secs(10), || async {
        let readiness: Value = app.get("/readyz", None).await.json().await.unwrap();
        readiness["checks"]["pdf"] == "ok"
    })
    .await;
}

/// The processes whose parent is `pid`, from `/proc`.
fn children_of(pid: u32) -> Vec<u32> {
    let parent_of = |stat: &str| {
        // After the command's closing parenthesis: state, then the parent's id.
        let fields = &stat[stat.rfind(')')? + 1..];
        fields.split_whitespace().nth(1)?.parse::<u32>().ok()
    };
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| parent_of(&stat))
                == Some(pid)
        })
        .collect()
}

/// Whether process `pid` still runs (a zombie waiting for its parent does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat[stat.rfind(')')? + 1..].trim_start().starts_with('Z')))
        == Some(false)
}

#[actix_rt::test]
async fn a_child_dies_with_its_worker_even_in_the_middle_of_a_job() {
    let cluster = Cluster::start(
        1,
        None,
        &[
            ("KILN_TEST_FAULTS", "1"),
            ("WORKER_CONCURRENCY", "1"),
            // Only the worker's death may end the sleeping job.
            ("JOB_TIMEOUT", "1h"),
        ],
    )
    .await;
    let worker = cluster.workers.first().unwrap_or(&cluster.api);
    cluster
        .upload_bytes("held.jpg", fixture_with_fault("small.jpg", "sleep"))
        .await;
    let running = "SELECT COUNT(*) FROM processing_jobs WHERE status = 'running'";
    wait_until(Duration::from_secs(30), || async {
        cluster.count(running).await > 0
    })
    .await;
    // The job's child, and the others the process keeps (its transform slots).
    let children = children_of(worker.child.id());
    assert!(!children.is_empty());

    worker.signal("KILL");
    wait_until(Duration::from_secs(10), || async {
        !children.iter().any(|&child| alive(child))
    })
    .await;
}
