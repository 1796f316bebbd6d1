//! What a test sets up through a [`TestApp`]'s actors rather than its routes,
//! as another part of Kiln would: files and jobs recorded, claimed, held or
//! failed as a worker would leave them, objects stored and removed behind the
//! catalog's back, an administrator made as `kiln user set-role` makes one.

use kiln::actors::catalog::admin::SetUserRole;
use kiln::actors::catalog::files::{NewFile, RecordUpload};
use kiln::actors::catalog::jobs::{AddJob, Claim, ClaimJob, FailJob, Recorded};
use kiln::processing::JobSpec;
use std::time::Duration;

use futures::{StreamExt, stream};
use kiln::actors::storage::ObjectKey;
use kiln::actors::storage::messages::{DeleteObject, ListObjects, PutObject};
use kiln::domain::jobs::Failure;
use kiln::telemetry::RequestId;
use serde_json::json;
use uuid::Uuid;

use super::app::TestApp;

/// The consumer name jobs are claimed under by [`TestApp::held_job`]: no
/// worker of that name runs, so such a job stays where the test leaves it.
pub const TEST_CONSUMER: &str = "test-held";

impl TestApp {
    /// Makes the account with `email` an administrator, as `kiln user set-role` does.
    pub async fn make_admin(&self, email: &str) {
        let user = self
            .actors
            .catalog
            .send(SetUserRole {
                request_id: RequestId::generate(),
                email: email.into(),
                is_admin: true,
            })
            .await
            .unwrap()
            .unwrap()
            .expect("the account exists");
        assert!(user.is_admin);
    }

    /// Every key under `prefix` (a user's id, say) in the configured store.
    pub async fn stored_keys(&self, prefix: &str) -> Vec<String> {
        self.actors
            .storage
            .send(ListObjects {
                request_id: RequestId::generate(),
                prefix: ObjectKey::parse(prefix).unwrap(),
            })
            .await
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect()
    }

    /// The bytes a user's originals and variants take in the configured
    /// store: every object under their id but cached transforms (`/t/`).
    pub async fn stored_bytes(&self, user_id: &str) -> u64 {
        self.actors
            .storage
            .send(ListObjects {
                request_id: RequestId::generate(),
                prefix: ObjectKey::parse(user_id).unwrap(),
            })
            .await
            .unwrap()
            .unwrap()
            .into_iter()
            .filter(|o| !o.key.contains("/t/"))
            .map(|o| o.size)
            .sum()
    }

    /// Stores `bytes` under `key` through the Storage actor, in 64 KiB chunks
    /// as an upload arrives; returns the size stored.
    pub async fn put_object(&self, key: &str, bytes: &[u8]) -> u64 {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
            .chunks(64 * 1024)
            .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk)))
            .collect();
        let stored = self
            .actors
            .storage
            .send(PutObject {
                request_id: RequestId::generate(),
                key: ObjectKey::parse(key).unwrap(),
                content_type: "image/png".into(),
                body: stream::iter(chunks).boxed(),
            })
            .await
            .unwrap()
            .unwrap();
        stored.size
    }

    /// Deletes the object under `key` through the Storage actor.
    pub async fn delete_object(&self, key: &str) {
        self.actors
            .storage
            .send(DeleteObject {
                request_id: RequestId::generate(),
                key: ObjectKey::parse(key).unwrap(),
            })
            .await
            .unwrap()
            .unwrap();
    }

    /// Records a file of the user's with `jobs`, through the Catalog, without
    /// storing or processing anything (without jobs it is `ready`): enough for
    /// whatever lists rows. Returns the file's id and its jobs' ids.
    pub async fn record_file(
        &self,
        user_id: Uuid,
        filename: &str,
        jobs: Vec<JobSpec>,
    ) -> (Uuid, Vec<Uuid>) {
        let id = Uuid::now_v7();
        let (file, jobs) = self
            .actors
            .catalog
            .send(RecordUpload {
                request_id: RequestId::generate(),
                file: NewFile {
                    id,
                    user_id,
                    filename: filename.into(),
                    content_type: "image/png".into(),
                    extension: "png".into(),
                    size_bytes: 2048,
                    sha256: "0".repeat(64),
                    storage_key: format!("{user_id}/{id}/original.png"),
                    width: Some(64),
                    height: Some(48),
                },
                jobs,
                from_upload: None,
            })
            .await
            .unwrap()
            .unwrap();
        (file.id, jobs.iter().map(|job| job.id).collect())
    }

    /// Adds `job` to the user's file through the Catalog, queued but not
    /// published: the reconciler publishes it when `REQUEUE_AFTER` says so.
    pub async fn add_job(&self, user_id: Uuid, file_id: Uuid, job: JobSpec) -> Uuid {
        let added = self
            .actors
            .catalog
            .send(AddJob {
                request_id: RequestId::generate(),
                user_id,
                file_id,
                job,
            })
            .await
            .unwrap()
            .unwrap()
            .expect("the file is the user's");
        added.id
    }

    /// Claims a job through the Catalog as the worker `consumer` would, so it
    /// is `running` under that name.
    pub async fn claim_job(&self, job_id: Uuid, consumer: &str) {
        let claim = self
            .actors
            .catalog
            .send(ClaimJob {
                job_id,
                consumer: consumer.into(),
                lease: Duration::from_secs(600),
                max_attempts: 3,
            })
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(claim, Claim::Claimed(_)), "{claim:?}");
    }

    /// Adds a `thumbnail` job (variant `variant`) to the user's file and
    /// claims it under [`TEST_CONSUMER`], so it is `running` and no real
    /// worker touches it: the file is `processing` until the test records an
    /// outcome for it under that name.
    pub async fn held_job(&self, user_id: Uuid, file_id: Uuid, variant: &str) -> Uuid {
        let job = JobSpec {
            processor: "thumbnail".into(),
            variant: variant.into(),
            options: json!({}),
        };
        let job_id = self.add_job(user_id, file_id, job).await;
        self.claim_job(job_id, TEST_CONSUMER).await;
        job_id
    }

    /// A [`TestApp::held_job`] of the user's file that then failed for good
    /// with `error`, so no worker ever ran it.
    pub async fn dead_job(&self, user_id: Uuid, file_id: Uuid, error: &str) -> Uuid {
        let job_id = self.held_job(user_id, file_id, "again").await;
        let failed = self
            .actors
            .catalog
            .send(FailJob {
                job_id,
                consumer: TEST_CONSUMER.into(),
                error: error.into(),
                failure: Failure::Permanent,
                max_retries: 3,
            })
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(failed, Recorded::Stored { .. }), "{failed:?}");
        job_id
    }
}
