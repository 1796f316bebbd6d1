//! Reading the upload form (`POST /api/upload`, multipart): the `file` field's bytes
//! go to a sink the caller gives, the small `processors` and `options` fields are
//! read as text within their limits, any other field is read and dropped.
//!
//! The handler's sink stages the original through the Ingest actor; the fuzz target
//! of the multipart parser ([`fuzzing`], SECURITY.md "Fuzzing") gives one that
//! counts bytes, so the fuzzer drives this very code on bytes, without actors.

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

use actix_multipart::{Field, Multipart, MultipartError};
use futures::{Future, TryStreamExt};

use super::pipe::pump_into;
use crate::actors::storage::messages::ByteStream;
use crate::domain::requests::{OPTIONS_FIELD_LIMIT, PROCESSORS_FIELD_LIMIT};
use crate::http::error::ApiError;

/// The parts of the form read so far. What the sink made of the file is kept even
/// when a later part fails, so the caller can undo it.
pub(crate) struct UploadForm<T> {
    /// The sink's result for the first `file` field, with the file name its
    /// Content-Disposition gave (if any). Later `file` fields are ignored.
    pub file: Option<(T, Option<String>)>,
    /// The first `processors` field, at most [`PROCESSORS_FIELD_LIMIT`] bytes of UTF-8.
    pub processors: Option<String>,
    /// The first `options` field, at most [`OPTIONS_FIELD_LIMIT`] bytes of UTF-8.
    pub options: Option<String>,
}

impl<T> Default for UploadForm<T> {
    fn default() -> Self {
        Self {
            file: None,
            processors: None,
            options: None,
        }
    }
}

/// Reads `payload` into `form`, handing the first `file` field's bytes to `sink` as
/// they arrive. Stops at the first error (a malformed body, a field over its limit,
/// or the sink's own error); `form` keeps what was read until then.
///
/// The sink gets a `'static`, `Send` stream (see [`pump_into`]), so it may hand
/// the bytes to an actor. A sink that returns before reading everything (it
/// refused the file) ends the pumping; the rest of that field is skipped.
pub(crate) async fn read_upload_form<T, S, F>(
    mut payload: Multipart,
    form: &mut UploadForm<T>,
    sink: S,
) -> Result<(), ApiError>
where
    S: FnOnce(ByteStream) -> F,
    F: Future<Output = Result<T, ApiError>>,
{
    let mut sink = Some(sink);
    while let Some(mut field) = payload.try_next().await.map_err(multipart_error)? {
        // The first `file` field takes the sink; later ones are read and dropped below.
        let file_sink = match field.name() {
            Some("file") => sink.take(),
            _ => None,
        };
        if let Some(sink) = file_sink {
            let filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string);
            // A field that failed (a body cut short) repeats its error for as
            // long as it is polled: the pump passes it on once, then ends.
            let result = pump_into(&mut field, sink).await;
            form.file = Some((result?, filename));
            continue;
        }
        match field.name() {
            Some("processors") if form.processors.is_none() => {
                form.processors = Some(
                    read_text_field(
                        field,
                        "processors",
                        "invalid_processors",
                        PROCESSORS_FIELD_LIMIT,
                    )
                    .await?,
                );
            }
            Some("options") if form.options.is_none() => {
                form.options = Some(
                    read_text_field(field, "options", "invalid_options", OPTIONS_FIELD_LIMIT)
                        .await?,
                );
            }
            // Other fields are ignored, but read so the body stays in sync.
            _ => while field.try_next().await.map_err(multipart_error)?.is_some() {},
        }
    }
    Ok(())
}

fn multipart_error(err: MultipartError) -> ApiError {
    ApiError::bad_request(
        "invalid_multipart",
        format!("invalid multipart body: {err}"),
    )
}

/// Reads a small text field of the upload form, at most `limit` bytes of UTF-8.
async fn read_text_field(
    mut field: Field,
    name: &str,
    code: &'static str,
    limit: usize,
) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        text.extend_from_slice(&chunk);
        if text.len() > limit {
            return Err(ApiError::bad_request(
                code,
                format!("the {name} field is longer than {limit} bytes"),
            ));
        }
    }
    String::from_utf8(text)
        .map_err(|_| ApiError::bad_request(code, format!("the {name} field is not text")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
    use bytes::Bytes;
    use futures::StreamExt;

    /// Reads `body` (boundary `b`) in chunks of `chunk` bytes with a sink that
    /// collects the file.
    fn read(body: &[u8], chunk: usize) -> (UploadForm<Vec<u8>>, Result<(), ApiError>) {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=b"),
        );
        let chunks: Vec<Result<Bytes, actix_web::error::PayloadError>> = body
            .chunks(chunk)
            .map(|part| Ok(Bytes::copy_from_slice(part)))
            .collect();
        let payload = Multipart::new(&headers, futures::stream::iter(chunks));
        let mut form = UploadForm::default();
        let collect = |body: ByteStream| async move {
            let chunks: Vec<Bytes> = body.try_collect().await.map_err(|_| {
                ApiError::bad_request("invalid_body", "the upload body could not be read")
            })?;
            Ok(chunks.concat())
        };
        let result = futures::executor::block_on(read_upload_form(payload, &mut form, collect));
        (form, result)
    }

    fn part(headers: &str, data: &[u8]) -> Vec<u8> {
        [
            format!("--b\r\n{headers}\r\n\r\n").as_bytes(),
            data,
            b"\r\n",
        ]
        .concat()
    }

    fn body_of(parts: &[Vec<u8>]) -> Vec<u8> {
        [parts.concat(), b"--b--\r\n".to_vec()].concat()
    }

    fn code(result: Result<(), ApiError>) -> &'static str {
        match result {
            Err(ApiError::BadRequest { code, .. }) => code,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn the_file_goes_to_the_sink_and_the_text_fields_are_read_whatever_the_chunking() {
        let file: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let body = body_of(&[
            part(
                r#"Content-Disposition: form-data; name="processors""#,
                b"thumbnail",
            ),
            part(
                r#"Content-Disposition: form-data; name="file"; filename="a.jpg""#,
                &file,
            ),
            part(r#"Content-Disposition: form-data; name="note""#, b"ignored"),
            part(r#"Content-Disposition: form-data; name="options""#, b"{}"),
        ]);
        for chunk in [1, 7, 4096, body.len()] {
            let (form, result) = read(&body, chunk);
            assert!(result.is_ok(), "chunks of {chunk}: {result:?}");
            let (bytes, filename) = form.file.expect("the file");
            assert_eq!(bytes, file, "chunks of {chunk}");
            assert_eq!(filename.as_deref(), Some("a.jpg"));
            assert_eq!(form.processors.as_deref(), Some("thumbnail"));
            assert_eq!(form.options.as_deref(), Some("{}"));
        }
    }

    #[test]
    fn only_the_first_file_field_reaches_the_sink() {
        let body = body_of(&[
            part(r#"Content-Disposition: form-data; name="file""#, b"first"),
            part(r#"Content-Disposition: form-data; name="file""#, b"second"),
        ]);
        let (form, result) = read(&body, 64);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(form.file, Some((b"first".to_vec(), None)));
    }

    #[test]
    fn a_text_field_past_its_limit_or_not_utf8_is_refused_and_the_file_is_kept_for_undoing() {
        let long = vec![b'a'; PROCESSORS_FIELD_LIMIT + 1];
        let body = body_of(&[
            part(r#"Content-Disposition: form-data; name="file""#, b"bytes"),
            part(
                r#"Content-Disposition: form-data; name="processors""#,
                &long,
            ),
        ]);
        let (form, result) = read(&body, 100);
        assert_eq!(code(result), "invalid_processors");
        assert_eq!(form.file, Some((b"bytes".to_vec(), None)));

        let body = body_of(&[part(
            r#"Content-Disposition: form-data; name="options""#,
            b"\xff\xfe",
        )]);
        assert_eq!(code(read(&body, 100).1), "invalid_options");
    }

    #[test]
    fn a_body_without_its_boundary_is_invalid_multipart_and_a_file_cut_short_is_the_sinks_error() {
        let (form, result) = read(b"no boundary here\r\n", 3);
        assert_eq!(code(result), "invalid_multipart");
        assert!(form.file.is_none() && form.processors.is_none());

        let cut = b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nno end";
        let (form, result) = read(cut, 3);
        assert_eq!(code(result), "invalid_body");
        assert!(form.file.is_none());
    }

    #[test]
    fn a_file_cut_short_ends_after_one_error_even_for_a_sink_that_reads_on() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("multipart/form-data; boundary=b"),
        );
        let cut =
            Bytes::from_static(b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ncut");
        let payload = Multipart::new(&headers, futures::stream::iter([Ok(cut)]));
        // Counts what it is given, errors too, and gives up at 100 (the pump once
        // passed the field's error on for ever).
        let read_on = |body: ByteStream| async move {
            let items: Vec<bool> = body.take(100).map(|item| item.is_ok()).collect().await;
            Ok(items)
        };
        let mut form = UploadForm::default();
        let result = futures::executor::block_on(read_upload_form(payload, &mut form, read_on));
        let (items, _) = form.file.expect("the sink's result");
        assert_eq!(
            items.last(),
            Some(&false),
            "the error reached the sink: {items:?}"
        );
        assert_eq!(items.iter().filter(|ok| !**ok).count(), 1, "{items:?}");
        assert!(result.is_err(), "the body is malformed: {result:?}");
    }
}
