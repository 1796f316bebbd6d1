//! `kiln files purge --older-than 30d [--user EMAIL] [--dry-run]`: removes
//! files uploaded before a cutoff, with every variant and job, from the
//! database and the object store.
//!
//! Each file goes through the Ingest actor's [`PurgeFile`]: its objects first,
//! then its rows, in the transaction `DELETE /api/files/{id}` uses, and any
//! object a job recorded meanwhile after that. A purge stopped between the two
//! leaves a file with rows whose objects are gone — still older than the
//! cutoff, so running the purge again finishes it — and never objects no row
//! names, which nothing would find again.

use anyhow::Context as _;
use chrono::Utc;
use clap::Subcommand;

use super::progress::Progress;
use super::{
    FileScan, ask, find_account, open_catalog, open_ingest, open_storage, parse_days, when,
};
use crate::actors::catalog::files::FileDetails;
use crate::actors::ingest::PurgeFile;
use crate::config::Config;
use crate::telemetry::RequestId;

#[derive(Debug, Subcommand)]
pub enum FilesAction {
    /// Removes files uploaded before a cutoff, with their variants and jobs,
    /// from the database and the object store.
    Purge {
        /// Files uploaded more than this many days ago, e.g. 30d.
        #[arg(long, value_name = "DAYS", value_parser = parse_days)]
        older_than: u32,
        /// Only this account's files.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        /// Lists what would be removed and removes nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(config: &Config, action: FilesAction) -> anyhow::Result<()> {
    let FilesAction::Purge {
        older_than,
        user,
        dry_run,
    } = action;
    let catalog = open_catalog(config).await?;
    let owner = match user {
        Some(email) => Some(find_account(&catalog, &email).await?.id),
        None => None,
    };
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(older_than));
    let ingest = match dry_run {
        true => None,
        false => Some(open_ingest(config, catalog.clone(), open_storage(config)?)),
    };
    let mut progress = Progress::start("purging files", None);
    if dry_run {
        progress.println(&format!(
            "{:<36}  {:<36}  {:>7}  {:>10}  {:<16}  NAME",
            "FILE ID", "OWNER ID", "OBJECTS", "SIZE", "UPLOADED"
        ));
    }
    let mut totals = Totals::default();
    let mut scan = FileScan::new(catalog, Some(cutoff), owner);
    loop {
        let page = scan.next_page().await?;
        if page.is_empty() {
            break;
        }
        for details in page {
            totals.add(&details);
            match &ingest {
                Some(ingest) => {
                    let file_id = details.file.id;
                    let purge = PurgeFile {
                        request_id: RequestId::generate(),
                        file: details,
                    };
                    ask(ingest, purge)
                        .await
                        .with_context(|| format!("cannot purge file {file_id}"))?;
                }
                None => progress.println(&would_purge(&details)),
            }
            progress.advance(1);
        }
    }
    progress.finish();
    let Totals {
        files,
        objects,
        bytes,
    } = totals;
    let bytes = bytesize::ByteSize::b(bytes);
    if dry_run {
        println!(
            "would remove {files} files uploaded before {} UTC ({objects} objects, {bytes}); \
             nothing was removed",
            when(cutoff)
        );
    } else {
        tracing::info!(files, objects, "files purged from the command line");
        println!(
            "removed {files} files uploaded before {} UTC ({objects} objects, {bytes})",
            when(cutoff)
        );
    }
    Ok(())
}

/// What a purge removes (or would).
#[derive(Default)]
struct Totals {
    files: u64,
    objects: u64,
    bytes: u64,
}

impl Totals {
    fn add(&mut self, details: &FileDetails) {
        self.files += 1;
        self.objects += 1 + details.variants.len() as u64;
        let sizes = std::iter::once(details.file.size_bytes)
            .chain(details.variants.iter().map(|v| v.size_bytes));
        self.bytes += sizes
            .map(|size| u64::try_from(size).unwrap_or(0))
            .sum::<u64>();
    }
}

/// One line of a dry run's list (the name last, since its width varies).
fn would_purge(details: &FileDetails) -> String {
    let file = &details.file;
    let size = bytesize::ByteSize::b(u64::try_from(file.size_bytes).unwrap_or(0));
    format!(
        "{}  {}  {:>7}  {:>10}  {}  {}",
        file.id,
        file.user_id,
        1 + details.variants.len(),
        size.to_string(),
        when(file.created_at),
        file.filename
    )
}
