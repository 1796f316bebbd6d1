//! The registry of processors: the names clients use, which originals each
//! reads, and the typed options of each, parsed by the processor they belong to.

use serde_json::Value;

use super::options::Options;
use super::pdf::PdfThumbnailOptions;
use super::resize::ResizeOptions;
use super::thumbnail::ThumbnailOptions;
use super::watermark::WatermarkOptions;
use super::webp::WebpOptions;
use super::{MediaKind, ProcessError};

/// The processors Kiln knows, in the order they are listed to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processor {
    Thumbnail,
    Resize,
    Webp,
    Watermark,
    PdfThumbnail,
}

impl Processor {
    pub const ALL: [Processor; 5] = [
        Processor::Thumbnail,
        Processor::Resize,
        Processor::Webp,
        Processor::Watermark,
        Processor::PdfThumbnail,
    ];

    /// Looks a processor up by the name clients use.
    pub fn from_name(name: &str) -> Result<Processor, ProcessError> {
        Processor::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| ProcessError::UnknownProcessor(name.to_owned()))
    }

    pub fn name(self) -> &'static str {
        match self {
            Processor::Thumbnail => "thumbnail",
            Processor::Resize => "resize",
            Processor::Webp => "webp",
            Processor::Watermark => "watermark",
            Processor::PdfThumbnail => "pdf_thumbnail",
        }
    }

    /// The variant name used when the client names none.
    pub fn default_variant(self) -> &'static str {
        self.name()
    }

    /// Whether this processor can run on an original of this kind.
    pub fn accepts(self, kind: MediaKind) -> bool {
        match self {
            Processor::Thumbnail | Processor::Resize | Processor::Webp | Processor::Watermark => {
                kind.is_image()
            }
            Processor::PdfThumbnail => kind == MediaKind::Pdf,
        }
    }

    /// Refuses an original this processor cannot read, saying what it needs
    /// ("thumbnail cannot process a PDF document; it needs an image"). Every
    /// check of a processor against a file is this one: at upload, at a
    /// processing request and when the job runs.
    pub fn check_input(self, kind: MediaKind) -> Result<(), String> {
        if self.accepts(kind) {
            return Ok(());
        }
        let needs = match self {
            Processor::PdfThumbnail => "a PDF",
            Processor::Thumbnail | Processor::Resize | Processor::Webp | Processor::Watermark => {
                "an image"
            }
        };
        Err(format!(
            "{} cannot process {}; it needs {needs}",
            self.name(),
            kind.description()
        ))
    }
}

/// The names of [`Processor::ALL`], for error messages (a test keeps them in step).
pub(super) const PROCESSOR_NAMES: &str = "thumbnail, resize, webp, watermark, pdf_thumbnail";

/// One job's options, typed for its processor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProcessorOptions {
    Thumbnail(ThumbnailOptions),
    Resize(ResizeOptions),
    Webp(WebpOptions),
    Watermark(WatermarkOptions),
    PdfThumbnail(PdfThumbnailOptions),
}

impl ProcessorOptions {
    /// Parses `options` (an object, or `null` for none) for `processor`.
    pub fn parse(processor: Processor, options: &Value) -> Result<ProcessorOptions, ProcessError> {
        let o = Options::new(processor.name(), options)?;
        Ok(match processor {
            Processor::Thumbnail => ProcessorOptions::Thumbnail(ThumbnailOptions::parse(&o)?),
            Processor::Resize => ProcessorOptions::Resize(ResizeOptions::parse(&o)?),
            Processor::Webp => ProcessorOptions::Webp(WebpOptions::parse(&o)?),
            Processor::Watermark => ProcessorOptions::Watermark(WatermarkOptions::parse(&o)?),
            Processor::PdfThumbnail => {
                ProcessorOptions::PdfThumbnail(PdfThumbnailOptions::parse(&o)?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_processor_names_are_those_of_the_registry() {
        let names: Vec<&str> = Processor::ALL.into_iter().map(Processor::name).collect();
        assert_eq!(PROCESSOR_NAMES, names.join(", "));
        for processor in Processor::ALL {
            assert_eq!(Processor::from_name(processor.name()).unwrap(), processor);
        }
    }
}
