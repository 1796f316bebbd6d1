//! `kiln storage verify [--fix]`: checks the object store against the
//! database, both ways.
//!
//! Every file row must have its original with the recorded size and SHA-256
//! (read as a stream, so a large original is never held in memory), every
//! variant row its object with the recorded size (variants record no
//! checksum), and every object must be named by a row. Rows may share an
//! object (a deduplicated file names the objects of an earlier one): it is
//! checked once, and belongs to all of them. An object a cached
//! transform's row (`transforms`) names is no stray, and is not checked
//! further: the cache is evicted and refilled on its own. `--fix` repairs what
//! can be repaired without guessing:
//!
//! - an object no row names is deleted;
//! - a variant whose object is missing or corrupt loses its row, and the jobs
//!   that make it run again (every running Kiln's reconciler publishes them);
//! - an original that is missing or corrupt cannot be made again: it is
//!   reported, and the user's file is left for a person to decide about.
//!
//! Last, each account's recorded usage (what its quota is checked against)
//! is compared with what its file and variant rows add up to, after the
//! repairs above; `--fix` stores the sum where they differ.
//!
//! An upload or a job stores its object a moment before it records the row,
//! so objects younger than `--stray-min-age` are never called strays.

use std::collections::HashMap;
use std::time::Duration;

use actix::Addr;
use anyhow::bail;
use clap::Subcommand;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};

use super::progress::Progress;
use super::{FileScan, ask, open_catalog, open_storage};
use crate::actors::catalog::Catalog;
use crate::actors::catalog::Variant;
use crate::actors::catalog::admin::{RecountUsage, RemakeVariant, ScanTransforms};
use crate::actors::catalog::files::FileDetails;
use crate::actors::storage::messages::{DeleteObject, GetObject, ListAllObjects, ListedObject};
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::config::Config;
use crate::processing;
use crate::telemetry::RequestId;

#[derive(Debug, Subcommand)]
pub enum StorageAction {
    /// Checks that every file and variant has its object, intact, and that
    /// every object belongs to one; exits with 1 while problems remain.
    Verify {
        /// Repairs what can be repaired (see the README).
        #[arg(long)]
        fix: bool,
        /// Objects no row names count as strays only once this old: an
        /// upload or a job may be about to record a younger one.
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
        stray_min_age: Duration,
    },
}

pub async fn run(config: &Config, action: StorageAction) -> anyhow::Result<()> {
    let StorageAction::Verify { fix, stray_min_age } = action;
    let catalog = open_catalog(config).await?;
    let storage = open_storage(config)?;
    let listed = ask(
        &storage,
        ListAllObjects {
            request_id: RequestId::generate(),
        },
    )
    .await?;
    let listed_count = listed.len();
    let mut check = Check {
        catalog,
        storage,
        fix,
        pickup: humantime::format_duration(config.reconcile_interval).to_string(),
        // Resumable uploads' bytes belong to their upload until it finishes
        // or expires (`Retention` deletes them then).
        objects: listed
            .into_iter()
            .filter(|o| !o.key.starts_with("uploads/"))
            .map(|o| (o.key.clone(), o))
            .collect(),
        matched: HashMap::new(),
        found: 0,
        fixed: 0,
        progress: Progress::start("verifying storage", Some(listed_count as u64)),
    };

    let mut scan = FileScan::new(check.catalog.clone(), None, None);
    let (mut files, mut variants) = (0u64, 0u64);
    loop {
        let page = scan.next_page().await?;
        if page.is_empty() {
            break;
        }
        for details in &page {
            files += 1;
            variants += details.variants.len() as u64;
            check.original(details).await?;
            for variant in &details.variants {
                check.variant(details, variant).await?;
            }
        }
    }
    check.cached_transforms().await?;
    let young = check.strays(stray_min_age).await?;
    check.usage().await?;
    let Check {
        progress,
        found,
        fixed,
        ..
    } = check;
    progress.finish();

    println!(
        "checked {files} files, {variants} variants and {listed_count} objects: \
         {found} problems, {fixed} fixed"
    );
    if young > 0 {
        println!(
            "{young} objects younger than {} not yet recorded were left alone",
            humantime::format_duration(stray_min_age)
        );
    }
    let remaining = found - fixed;
    match (remaining, fix) {
        (0, _) => Ok(()),
        (_, false) => {
            bail!("{remaining} problems found; `kiln storage verify --fix` repairs what it can")
        }
        (_, true) => bail!("{remaining} problems remain that need a person (see above)"),
    }
}

/// One verification run: what is listed and not yet matched to a row, and
/// the counts so far.
struct Check {
    catalog: Addr<Catalog>,
    storage: Addr<Storage>,
    fix: bool,
    /// RECONCILE_INTERVAL, for saying when a job run again is picked up.
    pickup: String,
    /// Objects not yet matched to a row, by key.
    objects: HashMap<String, ListedObject>,
    /// Objects already matched to a row, with their size: a deduplicated
    /// file's rows name objects an earlier file's rows named first.
    matched: HashMap<String, u64>,
    found: u64,
    fixed: u64,
    progress: Progress,
}

/// What is wrong with a row's object.
enum Damage {
    Missing,
    Corrupt(String),
}

impl Check {
    /// Takes the object a row names off the unmatched list (or finds it
    /// matched already, when rows share it) and checks its size. Replies
    /// whether this row is the first to name it.
    fn take(&mut self, key: &str, recorded_size: i64) -> Result<bool, Damage> {
        let (size, first) = match self.objects.remove(key) {
            Some(object) => {
                self.progress.advance(1);
                self.matched.insert(key.to_string(), object.size);
                (object.size, true)
            }
            None => match self.matched.get(key) {
                Some(size) => (*size, false),
                None => return Err(Damage::Missing),
            },
        };
        match u64::try_from(recorded_size) == Ok(size) {
            true => Ok(first),
            false => Err(Damage::Corrupt(format!(
                "{size} bytes where {recorded_size} were recorded"
            ))),
        }
    }

    fn report(&mut self, line: String) {
        self.found += 1;
        self.progress.println(&line);
    }

    async fn original(&mut self, details: &FileDetails) -> anyhow::Result<()> {
        let file = &details.file;
        let mut checked = self.take(&file.storage_key, file.size_bytes);
        // A shared original is hashed once, for the first file naming it.
        if checked.as_ref().is_ok_and(|first| *first) {
            checked = match self.sha256_of(&file.storage_key).await? {
                None => Err(Damage::Missing),
                Some(sha256) if sha256 == file.sha256 => Ok(true),
                Some(_) => Err(Damage::Corrupt(
                    "its SHA-256 differs from the recorded one".into(),
                )),
            };
        }
        let damage = match checked {
            Ok(_) => return Ok(()),
            Err(Damage::Missing) => "missing".to_string(),
            Err(Damage::Corrupt(how)) => format!("corrupt: {how}"),
        };
        self.report(format!(
            "original {} of file {} (user {}) is {damage}; an original cannot be made again, so the \
             file is kept for a person to restore it from a backup or delete it",
            file.storage_key, file.id, file.user_id
        ));
        Ok(())
    }

    async fn variant(&mut self, details: &FileDetails, variant: &Variant) -> anyhow::Result<()> {
        let damage = match self.take(&variant.storage_key, variant.size_bytes) {
            Ok(_) => return Ok(()),
            Err(Damage::Missing) => "missing".to_string(),
            Err(Damage::Corrupt(how)) => format!("corrupt: {how}"),
        };
        let file_id = details.file.id;
        self.report(format!(
            "variant {} ({}) of file {file_id} is {damage}",
            variant.name, variant.storage_key
        ));
        if !self.fix {
            return Ok(());
        }
        let makers = details
            .jobs
            .iter()
            .filter(|job| {
                processing::variant_names(&job.processor, &job.variant, &job.options)
                    .contains(&variant.name)
            })
            .map(|job| job.id)
            .collect();
        let again = ask(
            &self.catalog,
            RemakeVariant {
                request_id: RequestId::generate(),
                file_id,
                name: variant.name.clone(),
                job_ids: makers,
            },
        )
        .await?;
        self.fixed += 1;
        let remade = match again.as_slice() {
            [] => "no finished job makes it, so it stays gone".to_string(),
            jobs => format!(
                "{} will run again: a running Kiln picks it up within RECONCILE_INTERVAL ({})",
                jobs.iter()
                    .map(|id| format!("job {id}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                self.pickup
            ),
        };
        self.progress
            .println(&format!("  fixed: the variant's row is removed; {remade}"));
        Ok(())
    }

    /// Takes the objects of cached transforms off the unmatched list.
    async fn cached_transforms(&mut self) -> anyhow::Result<()> {
        /// Rows read per page.
        const PAGE: u64 = 500;
        let mut after = None;
        loop {
            let scan = ScanTransforms {
                request_id: RequestId::generate(),
                after,
                limit: PAGE,
            };
            let page = ask(&self.catalog, scan).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.id);
            for cached in &page {
                if self.objects.remove(&cached.storage_key).is_some() {
                    self.progress.advance(1);
                }
            }
        }
    }

    /// Reports (and with `--fix` deletes) the objects no row named; replies
    /// how many were too young to judge.
    async fn strays(&mut self, min_age: Duration) -> anyhow::Result<u64> {
        let settled_before = chrono::Utc::now()
            - chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
        let mut strays: Vec<ListedObject> =
            std::mem::take(&mut self.objects).into_values().collect();
        strays.sort_by(|a, b| a.key.cmp(&b.key));
        let mut young = 0;
        for object in strays {
            self.progress.advance(1);
            if object.last_modified > settled_before {
                young += 1;
                continue;
            }
            self.report(format!(
                "object {} ({} bytes) belongs to no file or variant",
                object.key, object.size
            ));
            if !self.fix {
                continue;
            }
            let Ok(key) = ObjectKey::parse(&object.key) else {
                self.progress.println(
                    "  not fixed: Kiln does not make keys like this one; delete it by hand",
                );
                continue;
            };
            ask(
                &self.storage,
                DeleteObject {
                    request_id: RequestId::generate(),
                    key,
                },
            )
            .await?;
            self.fixed += 1;
            self.progress.println("  fixed: deleted");
        }
        Ok(young)
    }

    /// Reports (and with `--fix` corrects) each account whose recorded usage
    /// is not what its rows add up to.
    async fn usage(&mut self) -> anyhow::Result<()> {
        let recount = RecountUsage {
            request_id: RequestId::generate(),
            fix: self.fix,
        };
        for drift in ask(&self.catalog, recount).await? {
            let (bytes, files) = drift.recorded;
            let (counted_bytes, counted_files) = drift.counted;
            self.report(format!(
                "usage of {} is recorded as {bytes} bytes in {files} files, but its rows hold \
                 {counted_bytes} bytes in {counted_files} files",
                drift.email
            ));
            if self.fix {
                self.fixed += 1;
                self.progress
                    .println("  fixed: the usage is now what the rows hold");
            }
        }
        Ok(())
    }

    /// The SHA-256 of an object, read as a stream; `None` when it is gone.
    async fn sha256_of(&self, key: &str) -> anyhow::Result<Option<String>> {
        let key = ObjectKey::parse(key)?;
        let fetched = self
            .storage
            .send(GetObject {
                request_id: RequestId::generate(),
                key,
            })
            .await?;
        let object = match fetched {
            Ok(object) => object,
            // Deleted since the listing (the file is being deleted).
            Err(StorageError::NotFound) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        let mut hasher = Sha256::new();
        let mut body = object.body;
        while let Some(chunk) = body.try_next().await? {
            hasher.update(&chunk);
        }
        Ok(Some(hex::encode(hasher.finalize())))
    }
}
