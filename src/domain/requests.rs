//! What a client may ask Kiln to make: the processors an upload names (its
//! `processors` and `options` fields), and one processing request on a stored
//! file. Each asked-for job is checked here, once, whatever the door: its
//! processor must exist, its options hold, its variant name be safe, and the
//! processor must read the file's type ([`Processor::check_input`]).

use serde_json::{Value, json};

use crate::processing::{self, JobSpec, MediaKind, ProcessError, Processor};

/// Longest variant name; names become part of storage keys.
pub const MAX_VARIANT_LEN: usize = 64;

/// Longest `processors` field an upload may send.
pub const PROCESSORS_FIELD_LIMIT: usize = 1024;
/// Longest `options` field an upload may send.
pub const OPTIONS_FIELD_LIMIT: usize = 16 * 1024;

/// Why a request for processing is refused. Each message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("{0}")]
    UnknownProcessor(String),
    /// The processors list itself is malformed (names none).
    #[error("{0}")]
    NoProcessor(String),
    #[error("{0}")]
    InvalidOptions(String),
    #[error(
        "variant must be 1 to {MAX_VARIANT_LEN} letters, digits, '-' or '_', and not \"original\""
    )]
    InvalidVariant,
    /// The processor cannot read this file's type.
    #[error("{0}")]
    CannotProcess(String),
}

impl From<ProcessError> for RequestError {
    fn from(err: ProcessError) -> Self {
        match err {
            ProcessError::UnknownProcessor(_) => Self::UnknownProcessor(err.to_string()),
            other => Self::InvalidOptions(other.to_string()),
        }
    }
}

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

/// Parses an upload's `processors` field (`thumbnail,webp`) into jobs with their
/// default variants, each a processor Kiln knows; a name given twice counts
/// once. `options`, the upload's optional `options` field, is a JSON object of
/// options per processor (`{"watermark": {"text": "© me"}}`): each key must be
/// one of the processors named, and each processor's options are checked as a
/// processing request checks them.
pub fn parse_processors(field: &str, options: Option<&str>) -> Result<Vec<JobSpec>, RequestError> {
    let mut per_processor = match options {
        None => serde_json::Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(RequestError::InvalidOptions(
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
        return Err(RequestError::InvalidOptions(format!(
            "options names {stray:?}, which the processors field does not"
        )));
    }
    let mut jobs: Vec<JobSpec> = Vec::new();
    for name in names {
        let options = per_processor.remove(name).unwrap_or_else(|| json!({}));
        let variant = processing::validate(name, &options)?;
        if jobs.iter().any(|j| j.variant == variant) {
            continue;
        }
        jobs.push(JobSpec {
            processor: name.to_string(),
            variant,
            options,
        });
    }
    if jobs.is_empty() {
        return Err(RequestError::NoProcessor(
            "processors names no processor".into(),
        ));
    }
    Ok(jobs)
}

/// The jobs an upload queues: those asked for, each checked against the file's
/// type (`kind`, `None` for an allowed extra type, which no processor reads;
/// `description` names it), or else the type's defaults.
pub fn jobs_for_upload(
    kind: Option<MediaKind>,
    description: &str,
    requested: Option<Vec<JobSpec>>,
    width: Option<u32>,
) -> Result<Vec<JobSpec>, RequestError> {
    let Some(requested) = requested else {
        return Ok(kind
            .map(|kind| processing::default_jobs(kind, width))
            .unwrap_or_default());
    };
    for job in &requested {
        check_reads(&job.processor, kind, description)?;
    }
    Ok(requested)
}

/// Whether the processor named `processor` reads a file of `kind` (`None`: a
/// type no processor reads, which `description` names).
fn check_reads(
    processor: &str,
    kind: Option<MediaKind>,
    description: &str,
) -> Result<(), RequestError> {
    let reader = Processor::from_name(processor)?;
    match kind {
        Some(kind) => reader
            .check_input(kind)
            .map_err(RequestError::CannotProcess),
        None => Err(RequestError::CannotProcess(format!(
            "{processor} cannot process {description}"
        ))),
    }
}

/// A request to run one processor on a stored file.
#[derive(Debug, Clone)]
pub struct ProcessRequest {
    pub processor: String,
    /// `None`: the processor's default name.
    pub variant: Option<String>,
    /// `None` (or JSON `null`): every option at its default.
    pub options: Option<Value>,
}

impl ProcessRequest {
    /// The job this request makes on a file of `kind` (`None`: a type no
    /// processor reads, which `description` names).
    pub fn job_for(
        self,
        kind: Option<MediaKind>,
        description: &str,
    ) -> Result<JobSpec, RequestError> {
        let options = self.options.unwrap_or_else(|| json!({}));
        let default_variant = processing::validate(&self.processor, &options)?;
        let variant = self.variant.unwrap_or(default_variant);
        if !valid_variant_name(&variant) {
            return Err(RequestError::InvalidVariant);
        }
        check_reads(&self.processor, kind, description)?;
        Ok(JobSpec {
            processor: self.processor,
            variant,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_are_short_safe_words_other_than_original() {
        assert!(valid_variant_name("watermark"));
        assert!(valid_variant_name("web-2x_final"));
        assert!(!valid_variant_name(""));
        assert!(!valid_variant_name("original"));
        assert!(!valid_variant_name("../x"));
        assert!(!valid_variant_name(&"a".repeat(65)));
    }

    #[test]
    fn processors_are_parsed_deduplicated_and_checked() {
        let jobs = parse_processors("thumbnail, thumbnail,resize", None).unwrap();
        let names: Vec<_> = jobs.iter().map(|j| j.processor.as_str()).collect();
        assert_eq!(names, ["thumbnail", "resize"]);
        assert!(matches!(
            parse_processors("thumbnail,sharpen", None),
            Err(RequestError::UnknownProcessor(_))
        ));
        assert!(matches!(
            parse_processors(" , ", None),
            Err(RequestError::NoProcessor(_))
        ));
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
                matches!(err, RequestError::InvalidOptions(_)),
                "{processors} {options}: {err:?}"
            );
        }
    }

    #[test]
    fn a_processor_is_refused_for_a_file_it_cannot_read() {
        let thumbnail = || parse_processors("thumbnail", None).unwrap();
        let err =
            jobs_for_upload(Some(MediaKind::Pdf), "a PDF", Some(thumbnail()), None).unwrap_err();
        assert_eq!(
            err,
            RequestError::CannotProcess("thumbnail cannot process a PDF; it needs an image".into())
        );
        let err = jobs_for_upload(None, "application/zip", Some(thumbnail()), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("thumbnail cannot process application/zip")
        );
        // Without a request, an extra type gets no jobs and an image its defaults.
        assert!(
            jobs_for_upload(None, "application/zip", None, None)
                .unwrap()
                .is_empty()
        );
        assert!(
            !jobs_for_upload(Some(MediaKind::Png), "a PNG image", None, Some(800))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_processing_request_gets_the_default_variant_and_a_checked_name() {
        let request = |variant: Option<&str>| ProcessRequest {
            processor: "thumbnail".into(),
            variant: variant.map(str::to_string),
            options: None,
        };
        let job = request(None)
            .job_for(Some(MediaKind::Jpeg), "a JPEG image")
            .unwrap();
        assert_eq!(
            (job.variant.as_str(), job.options.clone()),
            ("thumbnail", json!({}))
        );
        assert_eq!(
            request(Some("../x")).job_for(Some(MediaKind::Jpeg), "a JPEG image"),
            Err(RequestError::InvalidVariant)
        );
    }
}
