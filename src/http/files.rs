//! What is done to a user's file, whichever door asks: the JSON API
//! (`api/files.rs`) and the web UI's file pages (`ui/files.rs`) both call these,
//! so a processing request is checked, and a deletion carried out, the same way
//! from either.

use actix::Addr;
use serde_json::json;
use uuid::Uuid;

use super::error::ApiError;
use super::{AppState, ask};
use crate::actors::catalog::Job;
use crate::actors::catalog::files::{DeleteFile, FindFile, FindWatermarkImage};
use crate::actors::catalog::jobs::{AddJob, NewJob};
use crate::actors::dispatcher::announce_queued;
use crate::actors::storage::messages::DeleteObject;
use crate::actors::storage::{ObjectKey, Storage};
use crate::processing;
use crate::telemetry::RequestId;

/// Longest variant name; names become part of storage keys.
pub const MAX_VARIANT_LEN: usize = 64;

/// Whether `name` may name a variant: 1 to [`MAX_VARIANT_LEN`] letters, digits,
/// `-` or `_`, and not `original`.
pub fn valid_variant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_VARIANT_LEN
        && name != "original"
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Longest name search; a longer one is cut.
pub const MAX_NAME_SEARCH: usize = 200;

/// A name search as a query string gives it (`?q=`): trimmed and at most
/// [`MAX_NAME_SEARCH`] characters; `None` when empty.
pub fn name_search(q: Option<&str>) -> Option<String> {
    let q = q?.trim();
    (!q.is_empty()).then(|| q.chars().take(MAX_NAME_SEARCH).collect())
}

/// A request to run one processor on a file.
#[derive(Debug, Clone)]
pub struct ProcessRequest {
    pub processor: String,
    /// `None`: the processor's default name.
    pub variant: Option<String>,
    /// `None` (or JSON `null`): every option at its default.
    pub options: Option<serde_json::Value>,
}

/// Checks `request` against the user's file and queues its job: 422 for an
/// unknown processor, invalid options or variant name, a processor that cannot
/// read this file, or a watermark image that is not one of the user's images;
/// 404 when the file is not the user's.
pub async fn request_processing(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
    file_id: Uuid,
    request: ProcessRequest,
) -> Result<Job, ApiError> {
    let options = request.options.unwrap_or_else(|| json!({}));
    let default_variant = processing::validate(&request.processor, &options)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let variant = request.variant.unwrap_or(default_variant);
    if !valid_variant_name(&variant) {
        return Err(ApiError::unprocessable(
            "invalid_variant",
            format!(
                "variant must be 1 to {MAX_VARIANT_LEN} letters, digits, '-' or '_', and not \"original\""
            ),
        ));
    }
    let details = ask(
        &state.actors.catalog,
        FindFile {
            request_id: request_id.clone(),
            user_id,
            file_id,
        },
    )
    .await?
    .ok_or(ApiError::NotFound("file"))?;
    let kind = processing::MediaKind::from_extension(&details.file.extension);
    let processor = processing::Processor::from_name(&request.processor)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    if !kind.is_some_and(|kind| processor.accepts(kind)) {
        return Err(ApiError::unprocessable(
            "unsupported_processor",
            format!(
                "{} cannot process {}",
                request.processor, details.file.content_type
            ),
        ));
    }
    if let Some(image) = processing::watermark_image(&request.processor, &options) {
        check_watermark_image(state, &request_id, user_id, &image).await?;
    }
    let job = ask(
        &state.actors.catalog,
        AddJob {
            request_id,
            user_id,
            file_id,
            job: NewJob {
                processor: request.processor,
                variant,
                options,
            },
        },
    )
    .await?
    .ok_or(ApiError::NotFound("file"))?;
    announce_queued(state.actors.dispatcher.as_ref(), std::slice::from_ref(&job));
    Ok(job)
}

/// Deletes the user's file: its rows first, then the original and every
/// variant in storage. 404 when the file is not the user's.
pub async fn delete_file(
    state: &AppState,
    request_id: RequestId,
    user_id: Uuid,
    file_id: Uuid,
) -> Result<(), ApiError> {
    let keys = ask(
        &state.actors.catalog,
        DeleteFile {
            request_id: request_id.clone(),
            user_id,
            file_id,
        },
    )
    .await?
    .ok_or(ApiError::NotFound("file"))?;
    // The rows are gone, so nothing can reach these objects any more; a job in
    // flight finds its claim or completion refused and ends.
    delete_objects(&state.actors.storage, &request_id, keys).await?;
    tracing::info!(%file_id, "file deleted");
    Ok(())
}

/// Deletes a file's objects by their recorded keys (an absent one is no
/// error). `kiln files purge` deletes with it too.
pub async fn delete_objects(
    storage: &Addr<Storage>,
    request_id: &RequestId,
    keys: impl IntoIterator<Item = String>,
) -> Result<(), ApiError> {
    for key in keys {
        let Ok(key) = ObjectKey::parse(&key) else {
            continue;
        };
        ask(
            storage,
            DeleteObject {
                request_id: request_id.clone(),
                key,
            },
        )
        .await?;
    }
    Ok(())
}

/// A watermark's `image` must be the id of another of the caller's files, and that
/// file an image. Only its original is read, so it need not be `ready`. A missing
/// file and someone else's get the same answer.
pub async fn check_watermark_image(
    state: &AppState,
    request_id: &RequestId,
    user_id: Uuid,
    image: &str,
) -> Result<(), ApiError> {
    let refused = |message: String| ApiError::unprocessable("invalid_watermark_image", message);
    let file_id = Uuid::parse_str(image)
        .map_err(|_| refused("`image` must be the id of one of your image files".into()))?;
    let mark = ask(
        &state.actors.catalog,
        FindWatermarkImage {
            request_id: request_id.clone(),
            user_id,
            file_id,
        },
    )
    .await?
    .ok_or_else(|| {
        refused(format!(
            "the watermark image {file_id} is not one of your files"
        ))
    })?;
    match processing::MediaKind::from_extension(&mark.extension) {
        Some(kind) if kind.is_image() => Ok(()),
        kind => Err(refused(format!(
            "the watermark image must be an image, and {file_id} is {}",
            kind.map_or(mark.content_type.as_str(), |kind| kind.description())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::{name_search, valid_variant_name};

    #[test]
    fn a_name_search_is_trimmed_and_cut() {
        assert_eq!(name_search(None), None);
        assert_eq!(name_search(Some("  ")), None);
        assert_eq!(name_search(Some(" cat ")).as_deref(), Some("cat"));
        assert_eq!(
            name_search(Some(&"é".repeat(300))).unwrap().chars().count(),
            200
        );
    }

    #[test]
    fn variant_names_are_short_safe_words_other_than_original() {
        assert!(valid_variant_name("watermark"));
        assert!(valid_variant_name("web-2x_final"));
        assert!(!valid_variant_name(""));
        assert!(!valid_variant_name("original"));
        assert!(!valid_variant_name("../x"));
        assert!(!valid_variant_name(&"a".repeat(65)));
    }
}
