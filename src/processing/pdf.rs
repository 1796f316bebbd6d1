//! The `pdf_thumbnail` processor, its options, and the process-wide PDFium binding.
//!
//! PDFium is a C++ library loaded at run time from `libpdfium.so`
//! (`scripts/install-pdfium.sh` puts one at `.pdfium/libpdfium.so`). The path is a
//! process-wide setting: startup calls [`set_pdfium_library`] once with the configured
//! `PDFIUM_LIBRARY`; the first PDF job binds lazily, so a process that never sees a PDF
//! never loads the library, and a missing library fails PDF jobs only
//! ([`ProcessError::PdfiumUnavailable`]), not the start. A failed bind is not cached, so
//! installing the library fixes the next job; a successful bind lasts for the process.
//!
//! PDFium is not thread-safe: `pdfium-render`'s `thread_safe` feature (on by default)
//! serialises every call behind one global mutex. Each processor child is its own
//! process with its own PDFium ([`crate::isolation`]), so PDF jobs in different
//! slots render in parallel.
//!
//! Pages are rendered without form data, and no JavaScript runs: pdfium-render
//! gives PDFium no JavaScript platform, and the library `make pdfium` installs
//! is built without a JavaScript engine.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use fast_image_resize::Resizer;
use pdfium_render::prelude::{PdfRenderConfig, Pdfium, PdfiumError, PdfiumInternalError};

use super::decode::{Region, check_pixels};
use super::encode::encode;
use super::options::{DEFAULT_QUALITY, MAX_PDF_DIMENSION, Options, OutputFormat};
use super::{Limits, ProcessError, Processed, SourceFacts, ThumbHash};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PdfThumbnailOptions {
    /// 1-based.
    pub page: u32,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
    pub quality: u8,
}

/// The `format`s a page renders to.
const PDF_FORMATS: [(&str, OutputFormat); 3] = [
    ("png", OutputFormat::Png),
    ("jpeg", OutputFormat::Jpeg),
    ("jpg", OutputFormat::Jpeg),
];

impl PdfThumbnailOptions {
    /// What a request that names no option gets.
    pub(crate) const DEFAULT: PdfThumbnailOptions = PdfThumbnailOptions {
        page: 1,
        width: 300,
        height: 300,
        format: OutputFormat::Png,
        quality: DEFAULT_QUALITY,
    };

    pub(super) fn parse(o: &Options<'_>) -> Result<Self, ProcessError> {
        o.only(&["page", "width", "height", "format", "quality"])?;
        let default = Self::DEFAULT;
        Ok(PdfThumbnailOptions {
            page: o.whole_number("page", 1, u32::MAX)?.unwrap_or(default.page),
            width: o
                .dimension("width", MAX_PDF_DIMENSION)?
                .unwrap_or(default.width),
            height: o
                .dimension("height", MAX_PDF_DIMENSION)?
                .unwrap_or(default.height),
            format: o.format(&PDF_FORMATS)?.unwrap_or(default.format),
            quality: o.quality()?.unwrap_or(default.quality),
        })
    }
}

/// Where PDFium is looked for when [`set_pdfium_library`] was never called, relative
/// to the working directory.
pub const DEFAULT_PDFIUM_LIBRARY: &str = ".pdfium/libpdfium.so";

/// The configured library path; also serialises binding attempts.
static LIBRARY: Mutex<Option<PathBuf>> = Mutex::new(None);
static PDFIUM: OnceLock<Pdfium> = OnceLock::new();

/// Sets the path of `libpdfium.so` for this process. Call it once at start; it has no
/// effect once a PDF has been processed (the first successful binding wins).
pub fn set_pdfium_library(path: PathBuf) {
    *LIBRARY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(path);
}

/// The path PDFium is (or will be) loaded from.
pub fn pdfium_library() -> PathBuf {
    LIBRARY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PDFIUM_LIBRARY))
}

/// The bound library, binding it on first use.
fn pdfium() -> Result<&'static Pdfium, ProcessError> {
    if let Some(pdfium) = PDFIUM.get() {
        return Ok(pdfium);
    }
    let library = LIBRARY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(pdfium) = PDFIUM.get() {
        return Ok(pdfium); // another thread bound it while we waited for the lock
    }
    let path = library
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PDFIUM_LIBRARY));
    let bindings = Pdfium::bind_to_library(&path).map_err(|e| {
        // PdfiumError's Display is its pretty Debug; the loader's own message is clearer.
        let reason = match e {
            PdfiumError::LoadLibraryError(e) => crate::error_chain(&e),
            other => format!("{other:?}"),
        };
        ProcessError::PdfiumUnavailable(format!(
            "cannot load {} ({reason}); install it with `make pdfium` \
             (scripts/install-pdfium.sh) or point PDFIUM_LIBRARY at a libpdfium.so",
            path.display()
        ))
    })?;
    Ok(PDFIUM.get_or_init(|| Pdfium::new(bindings)))
}

/// Loads PDFium now rather than on the first PDF job, saying why it cannot be.
/// A failure is not kept: a later call (or PDF job) tries again.
pub fn load_pdfium() -> Result<(), ProcessError> {
    pdfium().map(drop)
}

/// Renders one page, fitted inside width x height, as PNG or JPEG.
pub(crate) fn run(
    variant: &str,
    options: &PdfThumbnailOptions,
    input: &[u8],
    limits: &Limits,
) -> Result<Processed, ProcessError> {
    let pdfium = pdfium()?;
    let document = pdfium
        .load_pdf_from_byte_slice(input, None)
        .map_err(from_load_error)?;
    let pages = document.pages();
    let page_count = u32::try_from(pages.len()).unwrap_or(0);
    if page_count == 0 {
        return Err(ProcessError::Corrupt("the PDF has no pages".into()));
    }
    if options.page > page_count {
        return Err(ProcessError::PageOutOfRange {
            page: options.page,
            page_count,
        });
    }
    // page <= page_count, which came from a c_int, so the index fits.
    let index = i32::try_from(options.page - 1).unwrap_or(i32::MAX);
    let page = pages.get(index).map_err(|e| {
        ProcessError::Corrupt(format!("page {} cannot be read ({e})", options.page))
    })?;

    // Points to pixels: fit the page (as displayed, /Rotate applied) inside the box.
    let (page_width, page_height) = (
        f64::from(page.width().value),
        f64::from(page.height().value),
    );
    if !(page_width > 0.0 && page_height > 0.0) {
        return Err(ProcessError::Corrupt(format!(
            "page {} has no size",
            options.page
        )));
    }
    let scale =
        (f64::from(options.width) / page_width).min(f64::from(options.height) / page_height);
    // Both sides are at most the box's (<= 4096), so the casts keep every value.
    let width = ((page_width * scale).round() as u32).clamp(1, options.width);
    let height = ((page_height * scale).round() as u32).clamp(1, options.height);
    check_pixels(width, height, limits)?;

    let config = PdfRenderConfig::new()
        .set_target_size(width as i32, height as i32)
        // Form fields are drawn from data an attacker controls; the page
        // itself is what a thumbnail shows.
        .render_form_data(false);
    let bitmap = page.render_with_config(&config).map_err(|e| {
        ProcessError::Corrupt(format!("page {} cannot be rendered ({e})", options.page))
    })?;
    let rendered = bitmap
        .as_image()
        .map_err(|e| ProcessError::Encode(format!("the rendered page cannot be read ({e})")))?;
    // PDFium paints onto an opaque white page; drop the alpha channel it reports.
    let rendered = image::DynamicImage::ImageRgb8(rendered.to_rgb8());
    let output = encode(variant, &rendered, options.format, options.quality)?;
    let thumbhash = ThumbHash::of(&mut Resizer::new(), &rendered, Region::whole(&rendered))?;
    Ok(Processed {
        outputs: vec![output],
        source: SourceFacts {
            page_count: Some(page_count),
            thumbhash: Some(thumbhash),
            ..SourceFacts::default()
        },
    })
}

fn from_load_error(err: PdfiumError) -> ProcessError {
    match err {
        PdfiumError::PdfiumLibraryInternalError(
            PdfiumInternalError::PasswordError | PdfiumInternalError::SecurityError,
        ) => ProcessError::Encrypted,
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => {
            ProcessError::Corrupt("the PDF structure cannot be parsed".into())
        }
        other => ProcessError::Corrupt(format!("the PDF cannot be opened ({other:?})")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Processor, ProcessorOptions};
    use super::super::test_support::{decode_output, fixture, only_output, use_test_pdfium};
    use super::super::{Limits, ProcessError, Processed, run as run_processor};
    use super::*;
    use serde_json::{Value, json};

    fn pdf_thumbnail(name: &str, options: Value) -> Result<Processed, ProcessError> {
        use_test_pdfium();
        run_processor(
            "pdf_thumbnail",
            "pdf_thumbnail",
            &options,
            &fixture(name),
            &Limits::default(),
        )
    }

    #[test]
    fn a_pdf_thumbnail_defaults_to_page_one_as_png() {
        assert_eq!(
            ProcessorOptions::parse(Processor::PdfThumbnail, &json!({"format": "jpg"})).unwrap(),
            ProcessorOptions::PdfThumbnail(PdfThumbnailOptions {
                page: 1,
                width: 300,
                height: 300,
                format: OutputFormat::Jpeg,
                quality: 85,
            })
        );
    }

    #[test]
    fn page_one_renders_to_a_png_within_300_by_300_and_counts_two_pages() {
        let processed = pdf_thumbnail("two-pages.pdf", json!({})).unwrap();
        assert_eq!(processed.source.page_count, Some(2));
        let out = only_output(&processed);
        assert_eq!((out.content_type(), out.extension()), ("image/png", "png"));
        let img = decode_output(out).to_rgb8();
        // US Letter, 612x792 points, fitted in 300x300.
        assert_eq!(img.dimensions(), (232, 300));
        // Not blank: the frame and the text are dark on white.
        let dark = img
            .pixels()
            .filter(|p| p.0.iter().all(|&c| c < 100))
            .count();
        let white = img
            .pixels()
            .filter(|p| p.0.iter().all(|&c| c > 240))
            .count();
        assert!(dark > 500, "only {dark} dark pixels");
        assert!(white > 40_000, "only {white} white pixels");
    }

    #[test]
    fn page_two_can_be_rendered_as_a_jpeg_of_another_size() {
        let processed = pdf_thumbnail(
            "two-pages.pdf",
            json!({"page": 2, "width": 600, "height": 400, "format": "jpeg", "quality": 70}),
        )
        .unwrap();
        let out = only_output(&processed);
        assert_eq!(out.content_type(), "image/jpeg");
        assert_eq!(decode_output(out).to_rgb8().dimensions(), (309, 400));
    }

    #[test]
    fn page_5_of_a_2_page_pdf_is_out_of_range_naming_the_page_count() {
        let err = pdf_thumbnail("two-pages.pdf", json!({"page": 5})).unwrap_err();
        assert!(
            matches!(
                err,
                ProcessError::PageOutOfRange {
                    page: 5,
                    page_count: 2
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "page 5 does not exist; the document has 2 pages"
        );
    }

    #[test]
    fn an_encrypted_pdf_is_refused_as_encrypted() {
        let err = pdf_thumbnail("encrypted.pdf", json!({})).unwrap_err();
        assert!(matches!(err, ProcessError::Encrypted), "{err:?}");
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn a_broken_pdf_is_corrupt() {
        let mut broken = b"%PDF-1.4\n".to_vec();
        broken.extend_from_slice(&[0x42; 300]);
        use_test_pdfium();
        let err = run_processor(
            "pdf_thumbnail",
            "p",
            &json!({}),
            &broken,
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ProcessError::Corrupt(_)), "{err:?}");

        let whole = fixture("two-pages.pdf");
        let err = run_processor(
            "pdf_thumbnail",
            "p",
            &json!({}),
            &whole[..200],
            &Limits::default(),
        );
        assert!(matches!(err, Err(ProcessError::Corrupt(_))), "{err:?}");
    }
}
