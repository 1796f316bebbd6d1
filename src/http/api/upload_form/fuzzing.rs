//! The multipart fuzz target's entry point (SECURITY.md, "Fuzzing"), beside the
//! form reader it drives: `fuzz/fuzz_targets/multipart.rs` calls it as
//! `kiln::http::api::fuzz_upload_form`. Compiled only with the `fuzzing`
//! feature and in unit tests, like the other targets' entry points in
//! [`crate::fuzzing`].

use bytes::Bytes;
use futures::{StreamExt, stream};

use super::{UploadForm, read_upload_form};
use crate::domain::file_names::sanitize_filename;
use crate::domain::requests::{OPTIONS_FIELD_LIMIT, PROCESSORS_FIELD_LIMIT};
use crate::fuzzing::check_requested_jobs;

/// `POST /api/upload`'s body: the first line of `data` is the Content-Type header
/// (with its boundary), the rest the body, cut into chunks of a size its length
/// picks (so the parser meets boundaries split across reads). The file goes to a
/// sink that counts its bytes; the other fields go where the handler sends them.
pub fn upload_form(data: &[u8]) {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(content_type) = actix_web::http::header::HeaderValue::from_bytes(content_type) else {
        return;
    };
    let mut headers = actix_web::http::header::HeaderMap::new();
    headers.insert(actix_web::http::header::CONTENT_TYPE, content_type);
    let chunk = [1, 7, 64, 4096, usize::MAX][body.len() % 5];
    let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> = body
        .chunks(chunk.min(body.len()).max(1))
        .map(|part| Ok(Bytes::copy_from_slice(part)))
        .collect();
    let payload = actix_multipart::Multipart::new(&headers, stream::iter(chunks));
    let mut form = UploadForm::default();
    let count = |body: crate::actors::storage::messages::ByteStream| async move {
        let bytes = body
            .fold(0usize, |total, chunk| async move {
                total + chunk.map_or(0, |chunk| chunk.len())
            })
            .await;
        Ok(bytes)
    };
    let read = futures::executor::block_on(read_upload_form(payload, &mut form, count));
    if let Some((bytes, filename)) = &form.file {
        assert!(*bytes <= body.len());
        let name = sanitize_filename(filename.as_deref(), "jpg");
        assert!(!name.is_empty() && !name.contains(['/', '\\']), "{name:?}");
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
    assert!(
        form.processors
            .as_ref()
            .is_none_or(|text| text.len() <= PROCESSORS_FIELD_LIMIT)
    );
    assert!(
        form.options
            .as_ref()
            .is_none_or(|text| text.len() <= OPTIONS_FIELD_LIMIT)
    );
    if read.is_ok()
        && let Some(processors) = &form.processors
    {
        check_requested_jobs(processors, form.options.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use crate::fuzzing::replay_findings;

    /// The inputs the multipart target once failed on (a body whose file field
    /// is cut short made the reader spin) now run cleanly.
    #[test]
    fn every_input_the_multipart_target_failed_on_now_runs_cleanly() {
        let replayed = replay_findings("multipart", |_, data| super::upload_form(data));
        assert!(replayed > 0);
    }
}
