//! The Ingest actor turns an upload into a stored original and a recorded file
//! with its jobs. It owns the rules of accepting a file, not a resource:
//!
//! 1. [`StageOriginal`]: the type is sniffed from the first bytes (never taken
//!    from the client), the pixel size read from the header, and the body is
//!    streamed to storage while its size is checked against `MAX_UPLOAD_SIZE`
//!    and its SHA-256 computed. A refused or failed upload leaves nothing behind.
//! 2. [`CommitUpload`]: the file row and one row per job are written in one
//!    transaction (the outbox), then the Dispatcher is told. If the commit
//!    fails, the staged original is deleted.
//!
//! Two steps because a multipart client may send the `processors` field after
//! the file itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture, Supervised};
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::actors::catalog::files::{NewFile, RecordUpload};
use crate::actors::catalog::jobs::NewJob;
use crate::actors::catalog::{Catalog, CatalogError, File, Job};
use crate::actors::dispatcher::{Dispatcher, announce_queued};
use crate::actors::restart::RestartBackoff;
use crate::actors::storage::messages::{ByteStream, DeleteObject, PutObject};
use crate::actors::storage::{ObjectKey, Storage, StorageError};
use crate::domain::text::is_invisible_format;
use crate::processing::{self, MediaKind};
use crate::telemetry::{RequestId, metrics};

/// Bytes read before deciding the type and size: enough for every header we probe.
const SNIFF_LEN: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the file is empty")]
    Empty,
    #[error("upload exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error(
        "unsupported file type: only JPEG, PNG, GIF, WebP, BMP, TIFF images and PDF documents are accepted"
    )]
    UnsupportedType,
    #[error("{0}")]
    InvalidProcessors(String),
    #[error("{0}")]
    InvalidOptions(String),
    #[error("reading the upload failed")]
    Body(#[source] std::io::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("an internal service did not answer")]
    Mailbox(#[from] actix::MailboxError),
}

pub struct Ingest {
    storage: Addr<Storage>,
    catalog: Addr<Catalog>,
    dispatcher: Option<Addr<Dispatcher>>,
    max_upload_size: u64,
    /// `ALLOWED_EXTRA_TYPES`: stored without processing.
    extra_allowed_types: Arc<[String]>,
    restarts: RestartBackoff,
}

impl Ingest {
    pub fn new(
        storage: Addr<Storage>,
        catalog: Addr<Catalog>,
        dispatcher: Option<Addr<Dispatcher>>,
        max_upload_size: u64,
        extra_allowed_types: Vec<String>,
    ) -> Self {
        Self {
            storage,
            catalog,
            dispatcher,
            max_upload_size,
            extra_allowed_types: extra_allowed_types.into(),
            restarts: RestartBackoff::default(),
        }
    }
}

/// What an upload is, from its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniffedType {
    /// An image or PDF Kiln processes; `None` for an allowed extra type.
    pub media: Option<MediaKind>,
    pub content_type: String,
    pub extension: String,
}

impl SniffedType {
    /// Identifies the bytes as a processable kind, or as one of `extra_allowed`.
    pub fn of(head: &[u8], extra_allowed: &[String]) -> Option<Self> {
        if let Some(kind) = MediaKind::sniff(head) {
            return Some(Self {
                media: Some(kind),
                content_type: kind.content_type().into(),
                extension: kind.extension().into(),
            });
        }
        let other = infer::get(head)?;
        extra_allowed
            .iter()
            .any(|allowed| allowed == other.mime_type())
            .then(|| Self {
                media: None,
                content_type: other.mime_type().into(),
                extension: other.extension().into(),
            })
    }

    pub fn describe(&self) -> &str {
        match self.media {
            Some(media) => media.description(),
            None => &self.content_type,
        }
    }
}

impl Actor for Ingest {
    type Context = Context<Self>;
}

impl Supervised for Ingest {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.restarts.pause_before_restart("ingest", ctx);
    }
}

/// An original in storage, not yet recorded.
#[derive(Debug, Clone)]
pub struct StagedOriginal {
    pub file_id: Uuid,
    pub user_id: Uuid,
    pub key: ObjectKey,
    pub kind: SniffedType,
    pub size: u64,
    pub sha256: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Message)]
#[rtype(result = "Result<StagedOriginal, IngestError>")]
pub struct StageOriginal {
    pub request_id: RequestId,
    pub user_id: Uuid,
    pub body: ByteStream,
}

/// A processor the client asked for by name.
#[derive(Debug, Clone)]
pub struct RequestedJob {
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
}

#[derive(Message)]
#[rtype(result = "Result<(File, Vec<Job>), IngestError>")]
pub struct CommitUpload {
    pub request_id: RequestId,
    pub staged: StagedOriginal,
    pub filename: String,
    /// `None`: the default jobs for the file's type.
    pub requested: Option<Vec<RequestedJob>>,
}

/// Parses the `processors` field (`thumbnail,webp`) into jobs with their default
/// variants; each must be a processor Kiln knows. `options`, the upload's optional
/// `options` field, is a JSON object of options per processor
/// (`{"watermark": {"text": "© me"}}`); each of its keys must be one of the
/// processors named, and each processor's options are checked as
/// `POST /api/files/{id}/process` checks them.
pub fn parse_processors(
    field: &str,
    options: Option<&str>,
) -> Result<Vec<RequestedJob>, IngestError> {
    let invalid_options = |message: String| IngestError::InvalidOptions(message);
    let mut per_processor = match options {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                return Err(invalid_options(
                    "options must be a JSON object of options per processor, e.g. {\"watermark\": {\"text\": \"© me\"}}".into(),
                ));
            }
        },
    };
    let names: Vec<&str> = field
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(stray) = per_processor
        .keys()
        .find(|key| !names.contains(&key.as_str()))
    {
        return Err(invalid_options(format!(
            "options names {stray:?}, which the processors field does not"
        )));
    }
    let mut jobs: Vec<RequestedJob> = Vec::new();
    for name in names {
        let options = per_processor
            .remove(name)
            .unwrap_or_else(|| serde_json::json!({}));
        let variant = processing::validate(name, &options).map_err(|e| match e {
            processing::ProcessError::UnknownProcessor(_) => {
                IngestError::InvalidProcessors(e.to_string())
            }
            other => invalid_options(other.to_string()),
        })?;
        if jobs.iter().any(|j| j.variant == variant) {
            continue;
        }
        jobs.push(RequestedJob {
            processor: name.to_string(),
            variant,
            options,
        });
    }
    if jobs.is_empty() {
        return Err(IngestError::InvalidProcessors(
            "processors names no processor".into(),
        ));
    }
    Ok(jobs)
}

/// Keeps a client's file name as harmless metadata: the last path segment,
/// without control characters, bidirectional controls or zero-width characters
/// (which could make it show another extension in listings), at most 255
/// characters.
pub fn sanitize_filename(raw: Option<&str>, extension: &str) -> String {
    let base = raw
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .take(255)
        .collect::<String>();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        format!("upload.{extension}")
    } else {
        base.to_string()
    }
}

impl Handler<StageOriginal> for Ingest {
    type Result = ResponseFuture<Result<StagedOriginal, IngestError>>;

    fn handle(&mut self, msg: StageOriginal, _: &mut Self::Context) -> Self::Result {
        let storage = self.storage.clone();
        let limit = self.max_upload_size;
        let extra_allowed = self.extra_allowed_types.clone();
        Box::pin(async move {
            // Fused: the sniffing below may read it to its end before the rest
            // is chained after the head.
            let mut body = msg.body.fuse();
            // Enough of the start to know what this is.
            let mut head = BytesMut::new();
            while head.len() < SNIFF_LEN {
                match body.next().await {
                    Some(chunk) => head.extend_from_slice(&chunk.map_err(IngestError::Body)?),
                    None => break,
                }
                if head.len() as u64 > limit {
                    return Err(IngestError::TooLarge { limit });
                }
            }
            if head.is_empty() {
                return Err(IngestError::Empty);
            }
            let kind =
                SniffedType::of(&head, &extra_allowed).ok_or(IngestError::UnsupportedType)?;
            let (width, height) = match kind.media.is_some_and(MediaKind::is_image) {
                true => processing::probe_dimensions(&head).unzip(),
                false => (None, None),
            };

            let file_id = Uuid::now_v7();
            let key = ObjectKey::parse(&format!(
                "{}/{file_id}/original.{}",
                msg.user_id, kind.extension
            ))?;
            let hasher = Arc::new(std::sync::Mutex::new(Sha256::new()));
            let too_large = Arc::new(AtomicBool::new(false));
            let counted = {
                let hasher = hasher.clone();
                let too_large = too_large.clone();
                let mut size = 0u64;
                stream::once(async move { Ok::<Bytes, std::io::Error>(head.freeze()) })
                    .chain(body)
                    .map(move |chunk| {
                        let chunk = chunk?;
                        size += chunk.len() as u64;
                        if size > limit {
                            too_large.store(true, Ordering::Relaxed);
                            return Err(std::io::Error::other("upload too large"));
                        }
                        if let Ok(mut hasher) = hasher.lock() {
                            hasher.update(&chunk);
                        }
                        Ok(chunk)
                    })
            };
            let stored = storage
                .send(PutObject {
                    request_id: msg.request_id,
                    key: key.clone(),
                    content_type: kind.content_type.clone(),
                    body: Box::pin(counted),
                })
                .await?;
            let stored = match stored {
                Ok(stored) => stored,
                Err(_) if too_large.load(Ordering::Relaxed) => {
                    return Err(IngestError::TooLarge { limit });
                }
                Err(StorageError::Body(err)) => return Err(IngestError::Body(err)),
                Err(err) => return Err(err.into()),
            };
            let sha256 = hasher
                .lock()
                .map(|h| hex::encode(h.clone().finalize()))
                .map_err(|_| IngestError::Body(std::io::Error::other("hashing failed")))?;
            Ok(StagedOriginal {
                file_id,
                user_id: msg.user_id,
                key,
                kind,
                size: stored.size,
                sha256,
                width,
                height,
            })
        })
    }
}

impl Handler<CommitUpload> for Ingest {
    type Result = ResponseFuture<Result<(File, Vec<Job>), IngestError>>;

    fn handle(&mut self, msg: CommitUpload, _: &mut Self::Context) -> Self::Result {
        let storage = self.storage.clone();
        let catalog = self.catalog.clone();
        let dispatcher = self.dispatcher.clone();
        Box::pin(async move {
            let staged = msg.staged;
            let kind = staged.kind.clone();
            let jobs = match jobs_for(&kind, msg.requested, staged.width) {
                Ok(jobs) => jobs,
                Err(err) => {
                    discard(&storage, msg.request_id, staged.key).await;
                    return Err(err);
                }
            };
            let recorded = catalog
                .send(RecordUpload {
                    request_id: msg.request_id.clone(),
                    file: NewFile {
                        id: staged.file_id,
                        user_id: staged.user_id,
                        filename: msg.filename,
                        content_type: kind.content_type.clone(),
                        extension: kind.extension.clone(),
                        size_bytes: staged.size as i64,
                        sha256: staged.sha256.clone(),
                        storage_key: staged.key.as_str().into(),
                        width: staged.width.map(|w| w as i32),
                        height: staged.height.map(|h| h as i32),
                    },
                    jobs,
                })
                .await;
            let (file, jobs) = match recorded {
                Ok(Ok(recorded)) => recorded,
                failed => {
                    // Nothing may stay half-written: the original goes too.
                    discard(&storage, msg.request_id, staged.key).await;
                    return Err(match failed {
                        Ok(Err(err)) => err.into(),
                        Err(err) => err.into(),
                        Ok(Ok(_)) => unreachable!("matched above"),
                    });
                }
            };
            metrics::upload_accepted(staged.size);
            announce_queued(dispatcher.as_ref(), &jobs);
            Ok((file, jobs))
        })
    }
}

/// Discards a staged original the upload will not commit (the request failed
/// after the file was stored).
#[derive(Message)]
#[rtype(result = "()")]
pub struct DiscardStaged {
    pub request_id: RequestId,
    pub staged: StagedOriginal,
}

impl Handler<DiscardStaged> for Ingest {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: DiscardStaged, _: &mut Self::Context) -> Self::Result {
        let storage = self.storage.clone();
        Box::pin(async move { discard(&storage, msg.request_id, msg.staged.key).await })
    }
}

/// Deletes a staged original that will not be recorded.
async fn discard(storage: &Addr<Storage>, request_id: RequestId, key: ObjectKey) {
    let _ = storage.send(DeleteObject { request_id, key }).await;
}

/// The jobs an upload queues: the ones asked for, each checked against the
/// file's type, or the type's defaults.
fn jobs_for(
    kind: &SniffedType,
    requested: Option<Vec<RequestedJob>>,
    width: Option<u32>,
) -> Result<Vec<NewJob>, IngestError> {
    Ok(match requested {
        Some(requested) => {
            for job in &requested {
                let processor = processing::Processor::from_name(&job.processor)
                    .map_err(|e| IngestError::InvalidProcessors(e.to_string()))?;
                if !kind.media.is_some_and(|media| processor.accepts(media)) {
                    return Err(IngestError::InvalidProcessors(format!(
                        "{} cannot process {}",
                        job.processor,
                        kind.describe()
                    )));
                }
            }
            requested
                .into_iter()
                .map(|j| NewJob {
                    processor: j.processor,
                    variant: j.variant,
                    options: j.options,
                })
                .collect()
        }
        None => kind
            .media
            .map(|media| processing::default_jobs(media, width))
            .unwrap_or_default()
            .into_iter()
            .map(|spec| NewJob {
                processor: spec.processor,
                variant: spec.variant,
                options: spec.options,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_their_last_segment_and_printable_characters() {
        assert_eq!(sanitize_filename(Some("../../etc/passwd"), "png"), "passwd");
        assert_eq!(
            sanitize_filename(Some("C:\\photos\\cat\u{7}.jpg"), "jpg"),
            "cat.jpg"
        );
        assert_eq!(sanitize_filename(Some("  "), "pdf"), "upload.pdf");
        assert_eq!(sanitize_filename(None, "gif"), "upload.gif");
    }

    #[test]
    fn file_names_lose_the_characters_that_would_spoof_their_extension() {
        assert_eq!(
            sanitize_filename(Some("invoice\u{202E}fdp.exe"), "pdf"),
            "invoicefdp.exe"
        );
        assert_eq!(
            sanitize_filename(Some("\u{2067}cat\u{200B}.jpg\u{2069}"), "jpg"),
            "cat.jpg"
        );
        assert_eq!(
            sanitize_filename(Some("\u{202E}\u{200D}"), "png"),
            "upload.png"
        );
    }

    #[test]
    fn extra_types_are_recognised_only_when_allowed() {
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00";
        assert_eq!(SniffedType::of(zip, &[]), None);
        let allowed = SniffedType::of(zip, &["application/zip".to_string()]).unwrap();
        assert_eq!((allowed.media, allowed.extension.as_str()), (None, "zip"));
        let png = SniffedType::of(b"\x89PNG\r\n\x1a\n0000", &[]).unwrap();
        assert_eq!(png.media, Some(MediaKind::Png));
    }

    #[test]
    fn processors_are_parsed_deduplicated_and_checked() {
        let jobs = parse_processors("thumbnail, thumbnail,resize", None).unwrap();
        assert_eq!(
            jobs.iter()
                .map(|j| j.processor.as_str())
                .collect::<Vec<_>>(),
            ["thumbnail", "resize"]
        );
        assert!(matches!(
            parse_processors("thumbnail,sharpen", None),
            Err(IngestError::InvalidProcessors(_))
        ));
        assert!(parse_processors(" , ", None).is_err());
    }

    #[test]
    fn options_go_to_the_processor_they_name_and_are_checked_like_later_jobs() {
        let jobs = parse_processors(
            "thumbnail,watermark",
            Some(r#"{"watermark": {"text": "© Kiln", "position": "top-left"}, "thumbnail": {"width": 120}}"#),
        )
        .unwrap();
        assert_eq!(jobs[0].options["width"], 120);
        assert_eq!(jobs[1].options["text"], "© Kiln");
        for (processors, options) in [
            ("thumbnail", r#"{"watermark": {"text": "x"}}"#),
            ("thumbnail", r#"{"thumbnail": {"width": 0}}"#),
            ("watermark", "{}"),
            ("thumbnail", "[1, 2]"),
            ("thumbnail", "not json"),
        ] {
            let err = parse_processors(processors, Some(options)).unwrap_err();
            assert!(
                matches!(err, IngestError::InvalidOptions(_)),
                "{processors} {options}: {err:?}"
            );
        }
    }
}
