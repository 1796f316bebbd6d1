//! How job outcomes land, below the HTTP API: every job of a file finishing at
//! once, through the Catalog's messages as the runners of several workers send
//! them (each outcome recorded, no "database is locked" on SQLite, and the
//! file's status following the last of them on PostgreSQL). A processor that
//! panics or dies is tested through real children in `processor_isolation`.

use futures::future::join_all;
use kiln::domain::jobs::{Failure, FileStatus};
use uuid::Uuid;

use crate::support::app::{TestApp, spawn_app_with};
use kiln::actors::catalog::jobs::{CompleteJob, FailJob, LearntFacts, NewVariant, Recorded};
use kiln::processing::JobSpec;

const FILES: usize = 12;
const JOBS_PER_FILE: usize = 3;
const CONSUMER: &str = "outcomes-test";

/// Records `FILES` files with `JOBS_PER_FILE` jobs each and claims every job
/// for `CONSUMER`; returns the job ids of each file.
async fn claimed_jobs(app: &TestApp, user_id: Uuid) -> Vec<Vec<Uuid>> {
    let mut files = Vec::new();
    for n in 0..FILES {
        let jobs = (0..JOBS_PER_FILE)
            .map(|j| JobSpec {
                processor: "thumbnail".into(),
                variant: format!("thumb-{j}"),
                options: serde_json::json!({}),
            })
            .collect();
        let (_, jobs) = app
            .record_file(user_id, &format!("photo-{n}.png"), jobs)
            .await;
        for &job in &jobs {
            app.claim_job(job, CONSUMER).await;
        }
        files.push(jobs);
    }
    files
}

/// The file status each recorded outcome reported, last writer per file.
fn final_statuses(files: &[Vec<Uuid>], outcomes: Vec<Recorded>) -> Vec<FileStatus> {
    let mut per_file = vec![FileStatus::Processing; files.len()];
    let mut finished = vec![0; files.len()];
    for outcome in outcomes {
        let Recorded::Stored { transition, .. } = outcome else {
            panic!("an outcome was not stored: {outcome:?}");
        };
        let file = files
            .iter()
            .position(|jobs| jobs.contains(&transition.job.id))
            .unwrap();
        finished[file] += 1;
        if transition.file_status != FileStatus::Processing {
            per_file[file] = transition.file_status;
        }
    }
    assert!(finished.iter().all(|&n| n == JOBS_PER_FILE));
    per_file
}

async fn app() -> TestApp {
    // The reconciler must not take the test's queued jobs before it claims them.
    spawn_app_with(&[("REQUEUE_AFTER", "1h")]).await
}

#[actix_rt::test]
async fn jobs_of_one_file_succeeding_together_leave_the_file_ready() {
    let app = app().await;
    let (token, user_id) = app.user_with_id("together@example.com").await;
    let files = claimed_jobs(&app, user_id.parse().unwrap()).await;
    // As workers record them: each with its variant and what it learnt of the
    // original, which writes the file's row (two such transactions once
    // deadlocked on PostgreSQL).
    let outcomes = join_all(files.iter().flatten().map(|&job_id| {
        app.actors.catalog.send(CompleteJob {
            job_id,
            consumer: CONSUMER.into(),
            variants: vec![NewVariant {
                name: format!("v-{job_id}"),
                storage_key: format!("variants/{job_id}.jpg"),
                content_type: "image/jpeg".into(),
                size_bytes: 100,
                width: 20,
                height: 10,
                sha256: format!("{:064x}", job_id.as_u128()),
            }],
            facts: LearntFacts {
                width: Some(200),
                height: Some(100),
                ..LearntFacts::default()
            },
        })
    }))
    .await;
    let outcomes = outcomes.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(
        final_statuses(&files, outcomes)
            .iter()
            .all(|s| *s == FileStatus::Ready)
    );
    let listed = app
        .get_json("/api/files?status=ready&limit=100", Some(&token))
        .await;
    assert_eq!(listed["files"].as_array().unwrap().len(), FILES);
}

#[actix_rt::test]
async fn jobs_of_one_file_failing_together_are_all_recorded() {
    let app = app().await;
    let (_, user_id) = app.user_with_id("apart@example.com").await;
    let files = claimed_jobs(&app, user_id.parse().unwrap()).await;
    let outcomes = join_all(files.iter().flatten().map(|&job_id| {
        app.actors.catalog.send(FailJob {
            job_id,
            consumer: CONSUMER.into(),
            error: "the image is truncated".into(),
            failure: Failure::Permanent,
            max_retries: 3,
        })
    }))
    .await;
    let outcomes = outcomes.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(
        final_statuses(&files, outcomes)
            .iter()
            .all(|s| *s == FileStatus::Failed)
    );
}
