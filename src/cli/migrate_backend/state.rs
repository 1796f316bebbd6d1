//! The resume marker: `DATA_DIR/migrate-backend.json`, written when a copy
//! starts and marked finished when everything is copied and verified.
//!
//! It lets a later run tell "a target this command was filling" (resume: copy
//! what is missing) from "a target that already holds someone's Kiln data"
//! (refuse), and makes a run after a finished one change nothing: by then the
//! new deployment may be live, and copying again would bring back rows it has
//! since deleted. It lives beside the source data, which it describes, rather
//! than as a foreign table in the target's schema. It names the target without
//! secrets (the database URL without its password).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::target::Target;

const FILE_NAME: &str = "migrate-backend.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Marker {
    pub target_database: String,
    pub target_storage: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Marker {
    pub fn new(target: &Target) -> Self {
        Self {
            target_database: target.database_label.clone(),
            target_storage: target.storage_label.clone(),
            started_at: Utc::now(),
            finished_at: None,
        }
    }

    /// The marker in `data_dir`, if a run ever started from there.
    pub fn load(data_dir: &Path) -> anyhow::Result<Option<Self>> {
        let path = path(data_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
        };
        let marker = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a migrate-backend marker; move it away to start afresh",
                path.display()
            )
        })?;
        Ok(Some(marker))
    }

    /// Whether this marker was written for a copy to `target`.
    pub fn is_for(&self, target: &Target) -> bool {
        self.target_database == target.database_label && self.target_storage == target.storage_label
    }

    /// Writes the marker whole (through a temporary file and a rename), so a
    /// crash never leaves half a marker.
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = path(data_dir);
        let partial = path.with_extension("json.partial");
        // A struct of strings and dates always serialises.
        let text = serde_json::to_string_pretty(self).expect("a marker serialises");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &path))
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}
