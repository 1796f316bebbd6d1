//! Processors: pure functions from an original's bytes to variant bytes.
//!
//! This module owns the processors (`thumbnail`, `resize`, `webp`, `watermark`,
//! `pdf_thumbnail`), their options and their errors. Each processor's module holds
//! its options (type, defaults, parsing) beside its code; `registry` names the
//! processors and picks a job's options; `options` holds what they share.
//!
//! It knows nothing of actors, storage or the database: the processor actors (a
//! `SyncArbiter`, so CPU work never blocks the async threads) call [`run`] with the
//! whole original in memory and store what comes back; the upload handler calls
//! [`MediaKind::sniff`], [`probe_dimensions`] and [`default_jobs`]; the process
//! endpoint calls [`validate`] to answer 422 before queueing anything. The uploads'
//! default jobs are `thumbnail` and `resize` (or `pdf_thumbnail`); `webp` and
//! `watermark` run when a client asks.
//!
//! One processor reads a second file: a `watermark` whose options name an `image`.
//! [`watermark_image`] tells the caller which (a file id in the service, checked
//! against the user's files before the job is queued), and the caller hands its bytes
//! over in [`Inputs::watermark`]; the mark goes through the same decoding checks as
//! any original.
//!
//! ```text
//!  run(processor, variant, options, inputs, limits)
//!    ├─ registry            typed options, parsed and ranges checked by their
//!    │                      processor's module                (also used by validate)
//!    ├─ thumbnail / resize  decode (JPEG: at 1/2-1/8 scale when the outputs allow,
//!    │                        decode::libjpeg)
//!    │                        ─▶ geometry + Lanczos3 ─▶ encode
//!    ├─ webp                decode (reduced as above for max_width) ─▶ (Lanczos3)
//!    │                        ─▶ libwebp lossy/lossless
//!    ├─ watermark           decode ─▶ text (embedded Open Sans, ab_glyph) ─▶ encode
//!    │                        or ─▶ image mark (decode, Lanczos3, its alpha) ─▶ encode
//!    │                      (decode: sniff, pixel limit from the header *before* any
//!    │                       allocation, EXIF orientation, ICC profile to sRGB,
//!    │                       8-bit RGB(A), first frame)
//!    │                      (encode: JPEG through jpeg-encoder, PNG, or WebP through
//!    │                       libwebp; pixels only, so no EXIF/XMP/GPS/ICC reaches an
//!    │                       output)
//!    └─ pdf                 PDFium renders page N ─▶ encode
//! ```
//!
//! Every [`ProcessError`] is permanent: the input or the request is wrong and running
//! the job again would fail the same way, so the pipeline marks the job dead at once
//! and never retries it. (`PdfiumUnavailable` is an operator's mistake, not the user's,
//! but retrying does not fix it either; the retry endpoint brings the job back once
//! the library is installed.) Panics are not errors: the processor actor catches them.

mod attention;
mod color;
mod decode;
mod encode;
mod libwebp;
mod options;
mod pdf;
mod placeholder;
mod registry;
mod resize;
mod sniff;
mod text;
mod thumbnail;
mod transform;
mod watermark;
mod webp;

#[cfg(test)]
mod test_support;

// What `crate::fuzzing` drives besides the public API (the `fuzzing` feature and tests).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use color::{cmyk_profile, cmyk_to_srgb, convert_to_srgb};
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use decode::{ShrinkOnLoad, assert_parts_agree, decode_image, decode_image_for};

pub use options::{
    DEFAULT_QUALITY, Fit, MAX_DIMENSION, MAX_PDF_DIMENSION, MAX_QUALITY, OutputFormat, Position,
    Size,
};
pub use pdf::{DEFAULT_PDFIUM_LIBRARY, load_pdfium, pdfium_library, set_pdfium_library};
pub use placeholder::ThumbHash;
pub use registry::Processor;
pub use sniff::{MediaKind, probe_dimensions};
pub use transform::{
    DEFAULT_TRANSFORM_MAX_DIMENSION, Gravity, TRANSFORM_FORMATS, TransformFit, TransformSpec,
    format_name,
};
pub use watermark::{MAX_FONT_SIZE, MAX_WATERMARK_CHARS};

// Each processor's options and their defaults, which the web UI's form shows.
pub(crate) use pdf::PdfThumbnailOptions;
pub(crate) use resize::ResizeOptions;
pub(crate) use thumbnail::ThumbnailOptions;
pub(crate) use watermark::{DEFAULT_FONT_SIZE, WatermarkOptions};
pub(crate) use webp::WebpOptions;

use registry::PROCESSOR_NAMES;
pub(crate) use registry::ProcessorOptions;
use resize::ResizeTarget;
use watermark::Mark;

/// The default `MAX_IMAGE_PIXELS`: 50 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 50_000_000;
/// The default `MAX_FRAMES`.
pub const DEFAULT_MAX_FRAMES: u32 = 300;

/// Resource limits applied to every job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Images whose header claims more pixels than this are refused before decoding
    /// (`MAX_IMAGE_PIXELS`). Also bounds the decoder's allocations and PDF renders,
    /// and, four times over, the pixels of all an animation's frames together.
    pub max_pixels: u64,
    /// Animations with more frames than this are refused (`MAX_FRAMES`).
    pub max_frames: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_frames: DEFAULT_MAX_FRAMES,
        }
    }
}

/// One job to create for an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub processor: String,
    pub variant: String,
    pub options: serde_json::Value,
}

/// The output of one processor run.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The variants to store, in order. May be empty: a `resize` with `sizes` on a
    /// source no wider than the smallest size has nothing to make, and that is success.
    pub outputs: Vec<Output>,
    pub source: SourceFacts,
}

/// What the run learnt about the original, for the `files` row.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SourceFacts {
    /// Image width and height after EXIF orientation (as a person sees it).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Number of pages of a PDF.
    pub page_count: Option<u32>,
    /// The picture's placeholder, from the processors that hold it whole and small
    /// (see [`ThumbHash`]); `None` from the others.
    pub thumbhash: Option<ThumbHash>,
}

impl SourceFacts {
    /// The facts of an image: its oriented width and height.
    pub fn image(width: u32, height: u32) -> Self {
        Self {
            width: Some(width),
            height: Some(height),
            ..Self::default()
        }
    }

    /// These facts with the picture's placeholder.
    pub(crate) fn with_thumbhash(self, thumbhash: ThumbHash) -> Self {
        Self {
            thumbhash: Some(thumbhash),
            ..self
        }
    }
}

/// One encoded variant.
#[derive(Clone, PartialEq)]
pub struct Output {
    pub variant: String,
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
}

impl Output {
    pub fn content_type(&self) -> &'static str {
        self.format.content_type()
    }

    /// The extension of the variant's object key.
    pub fn extension(&self) -> &'static str {
        self.format.extension()
    }
}

impl std::fmt::Debug for Output {
    // The bytes are elided: a Debug of a 2 MB Vec helps nobody.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("variant", &self.variant)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("format", &self.format)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// Why a processor refused or failed. Every variant is permanent (see the module doc).
/// `Display` is shown to users as the job's `error`. Serialisable, so a processor
/// child can send its refusal to the worker ([`crate::isolation::protocol`]).
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ProcessError {
    #[error("unknown processor `{0}`; the processors are {PROCESSOR_NAMES}")]
    UnknownProcessor(String),
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    #[error("unsupported input: {0}")]
    Unsupported(String),
    #[error(
        "the image is {width}x{height} pixels, more than the limit of {max} pixels; it was not decoded"
    )]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error("the file is truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("page {page} does not exist; the document has {}", pages(*page_count))]
    PageOutOfRange { page: u32, page_count: u32 },
    #[error("the PDF is password-protected; Kiln cannot open encrypted documents")]
    Encrypted,
    #[error("PDF rendering is unavailable: {0}")]
    PdfiumUnavailable(String),
    #[error("could not encode the output: {0}")]
    Encode(String),
    /// The mark of an image watermark was refused (too many pixels, corrupt, not an
    /// image), which is said apart from the same faults of the original.
    #[error("the watermark image cannot be used: {0}")]
    WatermarkImage(Box<ProcessError>),
}

fn pages(count: u32) -> String {
    if count == 1 {
        "1 page".to_owned()
    } else {
        format!("{count} pages")
    }
}

impl ProcessError {
    /// Always true: no processor error goes away on a retry (see the module doc).
    pub fn is_permanent(&self) -> bool {
        true
    }

    /// A stable snake_case word for logs, metrics and API error codes.
    pub fn code(&self) -> &'static str {
        match self {
            ProcessError::UnknownProcessor(_) => "unknown_processor",
            ProcessError::InvalidOptions(_) => "invalid_options",
            ProcessError::Unsupported(_) => "unsupported_input",
            ProcessError::TooManyPixels { .. } => "too_many_pixels",
            ProcessError::Corrupt(_) => "corrupt_input",
            ProcessError::PageOutOfRange { .. } => "page_out_of_range",
            ProcessError::Encrypted => "encrypted_pdf",
            ProcessError::PdfiumUnavailable(_) => "pdfium_unavailable",
            ProcessError::Encode(_) => "encode_failed",
            ProcessError::WatermarkImage(_) => "invalid_watermark_image",
        }
    }
}

/// The jobs an upload gets by default.
///
/// Images get `thumbnail` and, when wider than the smallest size (640), one `resize`
/// job listing the sizes narrower than the original (`{"sizes": ["sm", ...]}`). `width`
/// is the width from [`probe_dimensions`] (stored, before EXIF orientation); when it is
/// unknown all four sizes are listed and the processor skips those not narrower than
/// the real, oriented width. PDFs get `pdf_thumbnail`.
pub fn default_jobs(kind: MediaKind, width: Option<u32>) -> Vec<JobSpec> {
    let job = |processor: Processor, options: serde_json::Value| JobSpec {
        processor: processor.name().to_owned(),
        variant: processor.default_variant().to_owned(),
        options,
    };
    if kind == MediaKind::Pdf {
        return vec![job(Processor::PdfThumbnail, serde_json::json!({}))];
    }
    let mut jobs = vec![job(Processor::Thumbnail, serde_json::json!({}))];
    let sizes: Vec<&str> = Size::ALL
        .into_iter()
        .filter(|size| width.is_none_or(|w| w > size.width()))
        .map(Size::name)
        .collect();
    if !sizes.is_empty() {
        jobs.push(job(
            Processor::Resize,
            serde_json::json!({ "sizes": sizes }),
        ));
    }
    jobs
}

/// Checks a processor name and its options at request time, so a bad request is a 422
/// and never a dead job. Returns the variant name to use when the client gave none.
/// `options` may be `null` (same as `{}`).
pub fn validate(processor: &str, options: &serde_json::Value) -> Result<String, ProcessError> {
    let processor = Processor::from_name(processor)?;
    ProcessorOptions::parse(processor, options)?;
    Ok(processor.default_variant().to_owned())
}

/// The names of the variants a job can make: its `variant`, or for a `resize`
/// with `sizes` the sizes' names (each made only when the original is wider).
/// `kiln storage verify --fix` asks it to find the job that remakes a lost
/// variant. Options [`validate`] refuses make nothing.
pub fn variant_names(processor: &str, variant: &str, options: &serde_json::Value) -> Vec<String> {
    if processor == TRANSFORM {
        return vec![variant.to_owned()];
    }
    let Ok(processor) = Processor::from_name(processor) else {
        return Vec::new();
    };
    match ProcessorOptions::parse(processor, options) {
        Ok(ProcessorOptions::Resize(ResizeOptions {
            target: ResizeTarget::Sizes(sizes),
            ..
        })) => sizes.iter().map(|size| size.name().to_owned()).collect(),
        Ok(_) => vec![variant.to_owned()],
        Err(_) => Vec::new(),
    }
}

/// Names the image a job's options ask to read beside the original: a `watermark`'s
/// `image`. `None` for every other job, and for options [`validate`] refuses (the run
/// then fails on those with their own reason).
pub fn watermark_image(processor: &str, options: &serde_json::Value) -> Option<String> {
    let processor = Processor::from_name(processor).ok()?;
    match ProcessorOptions::parse(processor, options).ok()? {
        ProcessorOptions::Watermark(WatermarkOptions {
            mark: Mark::Image { source, .. },
            ..
        }) => Some(source),
        _ => None,
    }
}

/// The whole files a processor reads.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// The original the variants are made from.
    pub original: &'a [u8],
    /// The mark of a `watermark` whose options name an `image` ([`watermark_image`]);
    /// read by nothing else.
    pub watermark: Option<&'a [u8]>,
}

/// An original alone, as every processor but an image watermark reads it.
impl<'a, T: AsRef<[u8]> + ?Sized> From<&'a T> for Inputs<'a> {
    fn from(original: &'a T) -> Self {
        Inputs {
            original: original.as_ref(),
            watermark: None,
        }
    }
}

/// The internal processor that makes a transform ([`transform`]): a processor
/// child runs it for `kiln api`, and no job can name it.
pub const TRANSFORM: &str = "transform";

/// Runs one processor (or [`TRANSFORM`]) on a whole original.
///
/// `variant` names the output; a `resize` with `sizes` names its outputs by size
/// ("sm", "md", ...) instead. `inputs` is the original's bytes, or [`Inputs`] that
/// also carry a watermark's image. Types are sniffed from the bytes.
pub fn run<'a>(
    processor: &str,
    variant: &str,
    options: &serde_json::Value,
    inputs: impl Into<Inputs<'a>>,
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    let inputs = inputs.into();
    let input = inputs.original;
    if processor == TRANSFORM {
        let spec = TransformSpec::parse(&options::Options::new(TRANSFORM, options)?)?;
        MediaKind::sniff(input)
            .filter(|kind| kind.is_image())
            .ok_or_else(|| ProcessError::Unsupported("only an image can be transformed".into()))?;
        return transform::run(variant, &spec, input, limits);
    }
    let processor = Processor::from_name(processor)?;
    let options = ProcessorOptions::parse(processor, options)?;
    let kind = MediaKind::sniff(input).ok_or_else(|| {
        ProcessError::Unsupported("the file is not an image or PDF that Kiln can read".into())
    })?;
    processor
        .check_input(kind)
        .map_err(ProcessError::Unsupported)?;
    match options {
        ProcessorOptions::Thumbnail(opts) => thumbnail::run(variant, &opts, input, limits),
        ProcessorOptions::Resize(opts) => resize::run(variant, &opts, input, limits),
        ProcessorOptions::Webp(opts) => webp::run(variant, &opts, input, limits),
        ProcessorOptions::Watermark(opts) => {
            watermark::run(variant, &opts, input, inputs.watermark, limits)
        }
        ProcessorOptions::PdfThumbnail(opts) => pdf::run(variant, &opts, input, limits),
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::fixture;
    use super::*;
    use serde_json::json;

    fn sizes_of(jobs: &[JobSpec]) -> Option<serde_json::Value> {
        jobs.iter()
            .find(|j| j.processor == "resize")
            .map(|j| j.options["sizes"].clone())
    }

    #[test]
    fn an_image_wider_than_640_gets_a_thumbnail_and_the_sizes_narrower_than_it() {
        let jobs = default_jobs(MediaKind::Jpeg, Some(1200));
        assert_eq!(jobs[0].processor, "thumbnail");
        assert_eq!(jobs[0].variant, "thumbnail");
        assert_eq!(jobs[0].options, json!({}));
        assert_eq!(jobs[1].variant, "resize");
        assert_eq!(sizes_of(&jobs), Some(json!(["sm", "md"])));
        assert_eq!(jobs.len(), 2);
    }

    #[test]
    fn a_size_equal_to_the_original_width_is_not_made() {
        assert_eq!(
            sizes_of(&default_jobs(MediaKind::Png, Some(1920))),
            Some(json!(["sm", "md"]))
        );
        assert_eq!(
            sizes_of(&default_jobs(MediaKind::Png, Some(5000))),
            Some(json!(["sm", "md", "lg", "xl"]))
        );
    }

    #[test]
    fn an_image_640_wide_or_narrower_gets_only_a_thumbnail() {
        let jobs = default_jobs(MediaKind::Gif, Some(640));
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].processor, "thumbnail");
    }

    #[test]
    fn an_image_of_unknown_width_gets_every_size() {
        assert_eq!(
            sizes_of(&default_jobs(MediaKind::Tiff, None)),
            Some(json!(["sm", "md", "lg", "xl"]))
        );
    }

    #[test]
    fn a_pdf_gets_only_a_pdf_thumbnail() {
        let jobs = default_jobs(MediaKind::Pdf, Some(5000));
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].processor, "pdf_thumbnail");
        assert_eq!(jobs[0].variant, "pdf_thumbnail");
    }

    #[test]
    fn every_default_job_passes_validation() {
        for kind in [MediaKind::Jpeg, MediaKind::Pdf] {
            for job in default_jobs(kind, None) {
                assert_eq!(validate(&job.processor, &job.options).unwrap(), job.variant);
            }
        }
    }

    #[test]
    fn validate_returns_the_default_variant_name() {
        assert_eq!(validate("thumbnail", &json!(null)).unwrap(), "thumbnail");
        assert_eq!(
            validate("resize", &json!({"width": 800})).unwrap(),
            "resize"
        );
        assert_eq!(
            validate("pdf_thumbnail", &json!({"page": 3})).unwrap(),
            "pdf_thumbnail"
        );
    }

    #[test]
    fn a_job_makes_its_variant_or_a_resize_its_sizes() {
        assert_eq!(variant_names("thumbnail", "thumb", &json!({})), ["thumb"]);
        assert_eq!(
            variant_names("resize", "resize", &json!({"sizes": ["md", "sm"]})),
            ["sm", "md"]
        );
        assert_eq!(
            variant_names("resize", "wide", &json!({"width": 800})),
            ["wide"]
        );
        assert!(variant_names("resize", "x", &json!({"sizes": "all"})).is_empty());
    }

    #[test]
    fn validate_rejects_an_unknown_processor_naming_the_known_ones() {
        let err = validate("sharpen", &json!({})).unwrap_err();
        assert!(matches!(err, ProcessError::UnknownProcessor(_)));
        assert!(
            err.to_string()
                .contains("thumbnail, resize, webp, watermark, pdf_thumbnail"),
            "{err}"
        );
    }

    #[test]
    fn webp_and_watermark_take_images_only_and_default_to_their_own_variant_names() {
        for (name, options) in [("webp", json!({})), ("watermark", json!({"text": "Kiln"}))] {
            let processor = Processor::from_name(name).unwrap();
            assert_eq!(processor.default_variant(), name);
            assert_eq!(validate(name, &options).unwrap(), name);
            assert!(processor.accepts(MediaKind::Jpeg) && processor.accepts(MediaKind::Gif));
            assert!(!processor.accepts(MediaKind::Pdf));
            let err = run(
                name,
                name,
                &options,
                &fixture("two-pages.pdf"),
                &Limits::default(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("needs an image"), "{err}");
        }
    }

    #[test]
    fn only_a_watermark_naming_an_image_reads_a_second_file() {
        let id = "0190d7a2-6c3e-7b8e-9a51-1f2d3c4b5a69";
        assert_eq!(
            watermark_image("watermark", &json!({"image": id, "scale": 0.1})),
            Some(id.to_owned())
        );
        assert_eq!(watermark_image("watermark", &json!({"text": "Kiln"})), None);
        assert_eq!(watermark_image("thumbnail", &json!({"image": id})), None);
        assert_eq!(
            watermark_image("watermark", &json!({"image": id, "text": "Kiln"})),
            None,
            "invalid options name nothing (validate refuses them)"
        );
    }

    #[test]
    fn validate_rejects_unknown_keys_bad_types_and_out_of_range_values() {
        let cases = [
            ("thumbnail", json!({"widht": 100}), "widht"),
            ("thumbnail", json!({"width": 0}), "width"),
            ("thumbnail", json!({"width": "big"}), "width"),
            ("thumbnail", json!({"quality": 101}), "quality"),
            ("thumbnail", json!({"fit": "stretch"}), "stretch"),
            ("thumbnail", json!({"format": "gif"}), "gif"),
            ("thumbnail", json!([1, 2]), "object"),
            ("resize", json!({"sizes": ["sm", "huge"]}), "huge"),
            ("resize", json!({"sizes": []}), "sizes"),
            ("resize", json!({"sizes": ["sm"], "width": 100}), "sizes"),
            ("resize", json!({"width": 100_000}), "width"),
            ("pdf_thumbnail", json!({"page": 0}), "page"),
            ("pdf_thumbnail", json!({"format": "webp"}), "webp"),
            ("pdf_thumbnail", json!({"fit": "cover"}), "fit"),
            ("webp", json!({"quality": 0}), "quality"),
            ("webp", json!({"quality": 101}), "quality"),
            ("webp", json!({"lossless": 1}), "lossless"),
            ("webp", json!({"max_width": 0}), "max_width"),
            ("webp", json!({"format": "png"}), "format"),
            ("watermark", json!({}), "text"),
            ("watermark", json!({"text": ""}), "text"),
            (
                "watermark",
                json!({"text": "Kiln", "position": "middle"}),
                "middle",
            ),
            (
                "watermark",
                json!({"text": "Kiln", "opacity": 1.5}),
                "opacity",
            ),
            ("watermark", json!({"text": "Kiln", "format": "gif"}), "gif"),
            (
                "watermark",
                json!({"text": "Kiln", "image": "logo"}),
                "not both",
            ),
            ("watermark", json!({"image": "logo", "scale": 2}), "scale"),
        ];
        for (processor, options, mentions) in cases {
            match validate(processor, &options) {
                Err(err @ ProcessError::InvalidOptions(_)) => assert!(
                    err.to_string().contains(mentions),
                    "{processor} {options}: `{err}` should mention `{mentions}`"
                ),
                other => panic!("{processor} {options}: expected InvalidOptions, got {other:?}"),
            }
        }
    }

    #[test]
    fn every_error_message_is_a_readable_sentence() {
        let err = ProcessError::PageOutOfRange {
            page: 5,
            page_count: 2,
        };
        assert_eq!(
            err.to_string(),
            "page 5 does not exist; the document has 2 pages"
        );
        let err = ProcessError::PageOutOfRange {
            page: 2,
            page_count: 1,
        };
        assert_eq!(
            err.to_string(),
            "page 2 does not exist; the document has 1 page"
        );
        assert!(ProcessError::Encrypted.is_permanent());
    }

    #[test]
    fn an_image_processor_refuses_a_pdf_and_the_pdf_processor_refuses_an_image() {
        let pdf = fixture("two-pages.pdf");
        let err = run(
            "thumbnail",
            "thumbnail",
            &json!({}),
            &pdf,
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ProcessError::Unsupported(_)), "{err:?}");
        assert!(err.to_string().contains("a PDF"), "{err}");

        let jpeg = fixture("small.jpg");
        let err = run("pdf_thumbnail", "p", &json!({}), &jpeg, &Limits::default()).unwrap_err();
        assert!(matches!(err, ProcessError::Unsupported(_)), "{err:?}");
    }

    #[test]
    fn a_text_file_named_jpg_is_unsupported() {
        let err = run(
            "thumbnail",
            "thumbnail",
            &json!({}),
            &fixture("spoofed.jpg"),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ProcessError::Unsupported(_)), "{err:?}");
    }
}
