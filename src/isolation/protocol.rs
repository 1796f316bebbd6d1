//! The frames a worker and its processor children exchange over the child's
//! stdin and stdout.
//!
//! A frame is a 4-byte little-endian length, that many bytes of JSON (the
//! header), then the byte payloads the header announces, back to back:
//!
//! ```text
//!  child  ─▶ parent   Hello                                     once, when ready
//!  parent ─▶ child    Request  + original [+ watermark image]   one job
//!  child  ─▶ parent   Reply::Done { outputs } + each output's bytes
//!                   | Reply::Refused(ProcessError) | Reply::Panicked(reason)
//! ```
//!
//! The child trusts its parent. The parent does not trust the child, which has
//! just parsed hostile bytes: [`read_reply`] bounds the header, the number and
//! size of outputs, and accepts only the variant names the job can make, so a
//! subverted child can neither exhaust the worker nor overwrite the original or
//! another file's objects.

use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use super::sandbox::SandboxReport;
use crate::processing::{Limits, Output, OutputFormat, ProcessError, Processed, SourceFacts};

/// Bumped whenever a frame changes; a child of another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest header either side reads: JSON options and error texts are small.
const MAX_HEADER_BYTES: u32 = 1 << 20;

/// Most outputs one job makes (`resize` with every size makes four).
const MAX_OUTPUTS: usize = 16;

/// The child's first frame: it is confined and ready for jobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// Whether PDFium could be loaded, or why not (an operator's problem).
    pub pdf: Result<(), String>,
    pub sandbox: SandboxReport,
}

/// One job for the child, followed by the original's bytes and, when
/// `watermark_len` is set, the watermark image's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub job_id: Uuid,
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
    /// `MAX_IMAGE_PIXELS` and `MAX_FRAMES`.
    pub limits: Limits,
    /// CPU seconds this job may use before the kernel stops the child.
    pub cpu_limit_secs: u64,
    pub original_len: u64,
    pub watermark_len: Option<u64>,
}

/// How a job ended in the child.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Followed by each output's bytes, in order.
    Done {
        outputs: Vec<OutputHeader>,
        source: SourceFacts,
    },
    /// The processor refused the input or the options.
    Refused(ProcessError),
    /// The processor panicked; the child caught it and lives on.
    Panicked(String),
}

/// An output's description; its bytes follow the header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputHeader {
    pub variant: String,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    pub len: u64,
}

/// A reply that breaks the protocol: the child is not to be trusted further.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("the pipe failed")]
    Io(#[from] io::Error),
    #[error("a header of {0} bytes is longer than allowed")]
    HeaderTooLong(u32),
    #[error("a header is not valid JSON")]
    Json(#[from] serde_json::Error),
    #[error("{0}")]
    Invalid(String),
}

// ---- both sides: writing and reading frames --------------------------------------

fn encode_header(header: &impl Serialize) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(header)?;
    let len = u32::try_from(json.len())
        .ok()
        .filter(|len| *len <= MAX_HEADER_BYTES)
        .ok_or_else(|| io::Error::other("a frame header is too long"))?;
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&json);
    Ok(frame)
}

fn parse_len(bytes: [u8; 4]) -> Result<usize, ProtocolError> {
    let len = u32::from_le_bytes(bytes);
    if len > MAX_HEADER_BYTES {
        return Err(ProtocolError::HeaderTooLong(len));
    }
    Ok(len as usize)
}

/// Writes a header and its payloads (blocking; the child's side).
pub fn write_frame(
    out: &mut impl Write,
    header: &impl Serialize,
    payloads: &[&[u8]],
) -> io::Result<()> {
    out.write_all(&encode_header(header)?)?;
    for payload in payloads {
        out.write_all(payload)?;
    }
    out.flush()
}

/// Reads a header (blocking; the child's side). `None` when the pipe closed
/// before a frame began: the parent is done with this child.
pub fn read_header<T: DeserializeOwned>(input: &mut impl Read) -> Result<Option<T>, ProtocolError> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    let mut json = vec![0u8; parse_len(len)?];
    input.read_exact(&mut json)?;
    Ok(Some(serde_json::from_slice(&json)?))
}

/// Reads a payload of `len` bytes (blocking; the child's side).
pub fn read_payload(input: &mut impl Read, len: u64) -> Result<Vec<u8>, ProtocolError> {
    let len =
        usize::try_from(len).map_err(|_| ProtocolError::Invalid("payload too long".into()))?;
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(payload)
}

/// Writes a header and its payloads (the parent's side).
pub async fn send_frame(
    out: &mut (impl AsyncWrite + Unpin),
    header: &impl Serialize,
    payloads: &[&[u8]],
) -> io::Result<()> {
    out.write_all(&encode_header(header)?).await?;
    for payload in payloads {
        out.write_all(payload).await?;
    }
    out.flush().await
}

/// Reads a header (the parent's side).
pub async fn receive_header<T: DeserializeOwned>(
    input: &mut (impl AsyncRead + Unpin),
) -> Result<T, ProtocolError> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).await?;
    let mut json = vec![0u8; parse_len(len)?];
    input.read_exact(&mut json).await?;
    Ok(serde_json::from_slice(&json)?)
}

// ---- the parent's side: a reply, checked ---------------------------------------

/// What the parent expects of a job's reply.
pub struct ReplyBounds<'a> {
    /// The variant names this job may produce ([`crate::processing::variant_names`]).
    pub variants: &'a [String],
    /// The most output bytes in total: a child cannot hold more than its memory limit.
    pub max_bytes: u64,
}

/// A reply whose outputs are read and checked.
#[derive(Debug)]
pub enum Outcome {
    Processed(Processed),
    Refused(ProcessError),
    Panicked(String),
}

/// Reads one job's reply from a child, checking it against `bounds`.
pub async fn read_reply(
    input: &mut (impl AsyncRead + Unpin),
    bounds: &ReplyBounds<'_>,
) -> Result<Outcome, ProtocolError> {
    let (headers, source) = match receive_header::<Reply>(input).await? {
        Reply::Refused(error) => return Ok(Outcome::Refused(error)),
        Reply::Panicked(reason) => return Ok(Outcome::Panicked(reason)),
        Reply::Done { outputs, source } => (outputs, source),
    };
    check_outputs(&headers, bounds)?;
    let mut outputs = Vec::with_capacity(headers.len());
    for header in headers {
        // check_outputs bounded the total by max_bytes, which fits memory.
        let mut bytes = vec![0u8; header.len as usize];
        input.read_exact(&mut bytes).await?;
        outputs.push(Output {
            variant: header.variant,
            bytes,
            format: header.format,
            width: header.width,
            height: header.height,
        });
    }
    Ok(Outcome::Processed(Processed { outputs, source }))
}

/// Refuses outputs a job cannot have made.
fn check_outputs(outputs: &[OutputHeader], bounds: &ReplyBounds<'_>) -> Result<(), ProtocolError> {
    if outputs.len() > MAX_OUTPUTS {
        return Err(ProtocolError::Invalid(format!("{} outputs", outputs.len())));
    }
    let mut total: u64 = 0;
    for (index, output) in outputs.iter().enumerate() {
        if !bounds.variants.contains(&output.variant) {
            return Err(ProtocolError::Invalid(format!(
                "an output named {:?}, which this job does not make",
                output.variant
            )));
        }
        if outputs[..index]
            .iter()
            .any(|earlier| earlier.variant == output.variant)
        {
            return Err(ProtocolError::Invalid(format!(
                "two outputs named {:?}",
                output.variant
            )));
        }
        total = total.saturating_add(output.len);
    }
    if total > bounds.max_bytes {
        return Err(ProtocolError::Invalid(format!(
            "{total} bytes of outputs, more than the {} allowed",
            bounds.max_bytes
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(variant: &str, len: u64) -> OutputHeader {
        OutputHeader {
            variant: variant.into(),
            format: OutputFormat::Png,
            width: 1,
            height: 1,
            len,
        }
    }

    async fn reply_from(
        frame: Vec<u8>,
        variants: &[&str],
        max_bytes: u64,
    ) -> Result<Outcome, ProtocolError> {
        let variants: Vec<String> = variants.iter().map(|v| v.to_string()).collect();
        let bounds = ReplyBounds {
            variants: &variants,
            max_bytes,
        };
        read_reply(&mut frame.as_slice(), &bounds).await
    }

    fn done(outputs: Vec<OutputHeader>, payloads: &[&[u8]]) -> Vec<u8> {
        let mut frame = Vec::new();
        write_frame(
            &mut frame,
            &Reply::Done {
                outputs,
                source: SourceFacts::image(10, 20),
            },
            payloads,
        )
        .unwrap();
        frame
    }

    #[actix_rt::test]
    async fn a_reply_with_outputs_round_trips_with_their_bytes() {
        let frame = done(vec![header("sm", 3), header("md", 2)], &[b"abc", b"de"]);
        let Outcome::Processed(processed) = reply_from(frame, &["sm", "md"], 100).await.unwrap()
        else {
            panic!("not processed")
        };
        assert_eq!(processed.source, SourceFacts::image(10, 20));
        let outputs: Vec<_> = processed
            .outputs
            .iter()
            .map(|o| {
                (
                    o.variant.as_str(),
                    o.bytes.as_slice(),
                    o.content_type(),
                    o.extension(),
                )
            })
            .collect();
        assert_eq!(
            outputs,
            [
                ("sm", &b"abc"[..], "image/png", "png"),
                ("md", &b"de"[..], "image/png", "png")
            ]
        );
    }

    #[actix_rt::test]
    async fn a_refusal_keeps_its_error() {
        let mut frame = Vec::new();
        let refusal = Reply::Refused(ProcessError::PageOutOfRange {
            page: 5,
            page_count: 2,
        });
        write_frame(&mut frame, &refusal, &[]).unwrap();
        let outcome = reply_from(frame, &["p"], 100).await.unwrap();
        assert!(
            matches!(
                outcome,
                Outcome::Refused(ProcessError::PageOutOfRange {
                    page: 5,
                    page_count: 2
                })
            ),
            "{outcome:?}"
        );
    }

    #[actix_rt::test]
    async fn a_child_cannot_name_an_output_its_job_does_not_make() {
        // "original" would overwrite the upload itself.
        let frame = done(vec![header("original", 1)], &[b"x"]);
        let err = reply_from(frame, &["thumbnail"], 100).await.unwrap_err();
        assert!(err.to_string().contains("\"original\""), "{err}");

        let frame = done(vec![header("sm", 1), header("sm", 1)], &[b"x", b"y"]);
        assert!(reply_from(frame, &["sm"], 100).await.is_err());
    }

    #[actix_rt::test]
    async fn a_child_cannot_announce_more_bytes_than_it_can_hold() {
        let frame = done(vec![header("sm", u64::MAX), header("md", 5)], &[]);
        let err = reply_from(frame, &["sm", "md"], 1 << 30).await.unwrap_err();
        assert!(matches!(err, ProtocolError::Invalid(_)), "{err:?}");
    }

    #[actix_rt::test]
    async fn a_huge_or_garbled_header_is_refused_before_it_is_read() {
        let mut frame = u32::MAX.to_le_bytes().to_vec();
        frame.extend_from_slice(b"{}");
        let err = reply_from(frame, &["sm"], 100).await.unwrap_err();
        assert!(matches!(err, ProtocolError::HeaderTooLong(_)), "{err:?}");

        let mut frame = 5u32.to_le_bytes().to_vec();
        frame.extend_from_slice(b"nope!");
        let err = reply_from(frame, &["sm"], 100).await.unwrap_err();
        assert!(matches!(err, ProtocolError::Json(_)), "{err:?}");
    }

    #[actix_rt::test]
    async fn a_reply_cut_short_is_an_io_error() {
        let mut frame = done(vec![header("sm", 10)], &[b"abc"]);
        frame.truncate(frame.len() - 1);
        let err = reply_from(frame, &["sm"], 100).await.unwrap_err();
        assert!(matches!(err, ProtocolError::Io(_)), "{err:?}");
    }

    #[test]
    fn the_child_reads_what_the_parent_sends() {
        let request = Request {
            job_id: Uuid::nil(),
            processor: "thumbnail".into(),
            variant: "thumbnail".into(),
            options: serde_json::json!({"width": 10}),
            limits: Limits {
                max_pixels: 99,
                max_frames: 3,
            },
            cpu_limit_secs: 7,
            original_len: 3,
            watermark_len: None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut pipe = Vec::new();
        runtime
            .block_on(send_frame(&mut pipe, &request, &[b"jpg"]))
            .unwrap();
        let mut input = pipe.as_slice();
        let read: Request = read_header(&mut input).unwrap().unwrap();
        assert_eq!(read.options, request.options);
        assert_eq!(read_payload(&mut input, read.original_len).unwrap(), b"jpg");
        assert!(read_header::<Request>(&mut input).unwrap().is_none());
    }
}
