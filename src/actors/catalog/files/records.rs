//! What the files aggregate replies with besides [`File`].

use crate::actors::catalog::{File, Job, Variant};
use crate::domain::jobs::FileStatus;

/// How many files there are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    pub processing: u64,
    pub ready: u64,
    pub failed: u64,
}

impl FileCounts {
    pub fn total(&self) -> u64 {
        self.processing + self.ready + self.failed
    }

    /// The count of one status, or of all for `None`.
    pub fn of(&self, status: Option<FileStatus>) -> u64 {
        match status {
            None => self.total(),
            Some(FileStatus::Processing) => self.processing,
            Some(FileStatus::Ready) => self.ready,
            Some(FileStatus::Failed) => self.failed,
        }
    }
}

/// A file with everything made from it.
#[derive(Debug, Clone)]
pub struct FileDetails {
    pub file: File,
    pub variants: Vec<Variant>,
    pub jobs: Vec<Job>,
}

/// A variant with the stored name of the file it was made from, which names
/// its download.
#[derive(Debug, Clone)]
pub struct VariantOfFile {
    pub filename: String,
    pub variant: Variant,
}
