//! Processor options: the JSON a client sends (API.md "Processor options") parsed into
//! typed values with their defaults, or an [`ProcessError::InvalidOptions`] that names
//! the offending key. Parsed by hand rather than with serde derive so every message
//! says which option is wrong and what would be right.

use serde_json::{Map, Value};

use super::text::{has_ink, missing_glyphs};
use super::{ProcessError, Processor};

/// Largest width or height a client may ask of an image processor (they never upscale,
/// so the source bounds the real output anyway).
pub const MAX_DIMENSION: u32 = 10_000;
/// Largest width or height of a rendered PDF page.
pub const MAX_PDF_DIMENSION: u32 = 4_096;

/// How an image meets a width x height box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Fit inside the box, keeping the aspect ratio (one side may be shorter).
    Contain,
    /// Fill the box, keeping the aspect ratio, and crop the overflow around the centre.
    Cover,
}

/// The encodings a processor can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Jpeg,
    Png,
    /// Lossy libwebp at the job's quality (the `webp` processor can also ask for lossless).
    Webp,
}

/// Where a watermark sits: one of nine anchors, a margin in from the edges it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    TopLeft,
    Top,
    TopRight,
    Left,
    Center,
    Right,
    BottomLeft,
    Bottom,
    BottomRight,
}

impl Position {
    pub const ALL: [Position; 9] = [
        Position::TopLeft,
        Position::Top,
        Position::TopRight,
        Position::Left,
        Position::Center,
        Position::Right,
        Position::BottomLeft,
        Position::Bottom,
        Position::BottomRight,
    ];

    /// The name clients use ("top-left", "center", ...).
    pub fn name(self) -> &'static str {
        match self {
            Position::TopLeft => "top-left",
            Position::Top => "top",
            Position::TopRight => "top-right",
            Position::Left => "left",
            Position::Center => "center",
            Position::Right => "right",
            Position::BottomLeft => "bottom-left",
            Position::Bottom => "bottom",
            Position::BottomRight => "bottom-right",
        }
    }
}

/// The named widths of the default `resize` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size {
    Sm,
    Md,
    Lg,
    Xl,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Sm, Size::Md, Size::Lg, Size::Xl];

    pub fn name(self) -> &'static str {
        match self {
            Size::Sm => "sm",
            Size::Md => "md",
            Size::Lg => "lg",
            Size::Xl => "xl",
        }
    }

    /// The output width; the height follows the aspect ratio.
    pub fn width(self) -> u32 {
        match self {
            Size::Sm => 640,
            Size::Md => 1024,
            Size::Lg => 1920,
            Size::Xl => 2560,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThumbnailOptions {
    pub width: u32,
    pub height: u32,
    pub fit: Fit,
    pub format: OutputFormat,
    pub quality: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResizeTarget {
    /// Named sizes from one decode, each only when narrower than the source.
    Sizes(Vec<Size>),
    /// One output: by width, by height, or into a box with a fit.
    Box {
        width: Option<u32>,
        height: Option<u32>,
        fit: Fit,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ResizeOptions {
    pub target: ResizeTarget,
    /// `None`: JPEG, or PNG when the source has an alpha channel.
    pub format: Option<OutputFormat>,
    pub quality: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PdfThumbnailOptions {
    /// 1-based.
    pub page: u32,
    pub width: u32,
    pub height: u32,
    pub format: OutputFormat,
    pub quality: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WebpOptions {
    /// Ignored when `lossless`.
    pub quality: u8,
    pub lossless: bool,
    /// Downscale to at most this width (aspect kept); never upscales.
    pub max_width: Option<u32>,
}

/// What a watermark draws: exactly one of `text` or `image`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    Text {
        /// One line of 1 to [`MAX_WATERMARK_CHARS`] characters, not all blank.
        text: String,
        /// Pixels; `None`: relative to the image (see the watermark module).
        font_size: Option<u32>,
    },
    Image {
        /// Names the mark's image: a file id in the service, which checks it and
        /// fetches the file; any label in `kiln process`, which reads `--watermark`.
        source: String,
        /// The fraction of the target's width the mark spans, [`MIN_SCALE`] to
        /// [`MAX_SCALE`]; the mark is never enlarged (see the watermark module).
        scale: f32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatermarkOptions {
    pub mark: Mark,
    pub position: Position,
    /// 0.0 (invisible) to 1.0. Multiplies an image mark's own alpha; text's shadow
    /// is drawn at 0.6 of it.
    pub opacity: f32,
    /// `None`: JPEG, or PNG when the source has an alpha channel.
    pub format: Option<OutputFormat>,
    pub quality: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ProcessorOptions {
    Thumbnail(ThumbnailOptions),
    Resize(ResizeOptions),
    Webp(WebpOptions),
    Watermark(WatermarkOptions),
    PdfThumbnail(PdfThumbnailOptions),
}

/// Longest watermark text, in characters.
pub const MAX_WATERMARK_CHARS: usize = 200;
/// Largest watermark font size a client may ask for, in pixels. Bounds the glyph
/// rasteriser's buffers (it allocates per glyph, proportional to the size squared).
pub const MAX_FONT_SIZE: u32 = 1_000;
/// Bounds and default of an image watermark's `scale`.
pub const MIN_SCALE: f32 = 0.01;
pub const MAX_SCALE: f32 = 1.0;
const DEFAULT_SCALE: f32 = 0.25;

const DEFAULT_QUALITY: u8 = 85;
const DEFAULT_WEBP_QUALITY: u8 = 80;
const DEFAULT_OPACITY: f32 = 0.5;
const THUMBNAIL_BOX: u32 = 300;

impl ProcessorOptions {
    /// Parses `options` (an object, or `null` for none) for `processor`.
    pub fn parse(processor: Processor, options: &Value) -> Result<ProcessorOptions, ProcessError> {
        let empty = Map::new();
        let map = match options {
            Value::Null => &empty,
            Value::Object(map) => map,
            _ => {
                return Err(invalid(format!(
                    "options for {} must be a JSON object",
                    processor.name()
                )));
            }
        };
        let o = Options { map, processor };
        match processor {
            Processor::Thumbnail => {
                o.only(&["width", "height", "fit", "format", "quality"])?;
                Ok(ProcessorOptions::Thumbnail(ThumbnailOptions {
                    width: o
                        .dimension("width", MAX_DIMENSION)?
                        .unwrap_or(THUMBNAIL_BOX),
                    height: o
                        .dimension("height", MAX_DIMENSION)?
                        .unwrap_or(THUMBNAIL_BOX),
                    fit: o.fit()?.unwrap_or(Fit::Contain),
                    format: o.format(&IMAGE_FORMATS)?.unwrap_or(OutputFormat::Jpeg),
                    quality: o.quality()?.unwrap_or(DEFAULT_QUALITY),
                }))
            }
            Processor::Resize => {
                o.only(&["sizes", "width", "height", "fit", "format", "quality"])?;
                let (width, height, fit) = (
                    o.dimension("width", MAX_DIMENSION)?,
                    o.dimension("height", MAX_DIMENSION)?,
                    o.fit()?,
                );
                let target = match o.sizes()? {
                    Some(_) if width.is_some() || height.is_some() || fit.is_some() => {
                        return Err(invalid(
                            "resize takes either `sizes` or `width`/`height`/`fit`, not both"
                                .into(),
                        ));
                    }
                    Some(sizes) => ResizeTarget::Sizes(sizes),
                    // No target at all means the default set.
                    None if width.is_none() && height.is_none() => {
                        ResizeTarget::Sizes(Size::ALL.to_vec())
                    }
                    None => ResizeTarget::Box {
                        width,
                        height,
                        fit: fit.unwrap_or(Fit::Contain),
                    },
                };
                Ok(ProcessorOptions::Resize(ResizeOptions {
                    target,
                    format: o.format(&IMAGE_FORMATS)?,
                    quality: o.quality()?.unwrap_or(DEFAULT_QUALITY),
                }))
            }
            Processor::Webp => {
                o.only(&["quality", "lossless", "max_width"])?;
                Ok(ProcessorOptions::Webp(WebpOptions {
                    quality: o.quality()?.unwrap_or(DEFAULT_WEBP_QUALITY),
                    lossless: o.boolean("lossless")?.unwrap_or(false),
                    max_width: o.dimension("max_width", MAX_DIMENSION)?,
                }))
            }
            Processor::Watermark => {
                o.only(&[
                    "text",
                    "image",
                    "position",
                    "opacity",
                    "font_size",
                    "scale",
                    "format",
                    "quality",
                ])?;
                let positions = Position::ALL.map(|p| (p.name(), p));
                Ok(ProcessorOptions::Watermark(WatermarkOptions {
                    mark: o.mark()?,
                    position: o
                        .choice("position", &positions)?
                        .unwrap_or(Position::BottomRight),
                    opacity: o.number("opacity", 0.0, 1.0)?.unwrap_or(DEFAULT_OPACITY),
                    format: o.format(&IMAGE_FORMATS)?,
                    quality: o.quality()?.unwrap_or(DEFAULT_QUALITY),
                }))
            }
            Processor::PdfThumbnail => {
                o.only(&["page", "width", "height", "format", "quality"])?;
                Ok(ProcessorOptions::PdfThumbnail(PdfThumbnailOptions {
                    page: o.whole_number("page", 1, u32::MAX)?.unwrap_or(1),
                    width: o
                        .dimension("width", MAX_PDF_DIMENSION)?
                        .unwrap_or(THUMBNAIL_BOX),
                    height: o
                        .dimension("height", MAX_PDF_DIMENSION)?
                        .unwrap_or(THUMBNAIL_BOX),
                    format: o.format(&PDF_FORMATS)?.unwrap_or(OutputFormat::Png),
                    quality: o.quality()?.unwrap_or(DEFAULT_QUALITY),
                }))
            }
        }
    }
}

const IMAGE_FORMATS: [(&str, OutputFormat); 4] = [
    ("jpeg", OutputFormat::Jpeg),
    ("jpg", OutputFormat::Jpeg),
    ("png", OutputFormat::Png),
    ("webp", OutputFormat::Webp),
];
const PDF_FORMATS: [(&str, OutputFormat); 3] = [
    ("png", OutputFormat::Png),
    ("jpeg", OutputFormat::Jpeg),
    ("jpg", OutputFormat::Jpeg),
];

fn invalid(message: String) -> ProcessError {
    ProcessError::InvalidOptions(message)
}

/// A watermark's `text`: one line, 1 to `MAX_WATERMARK_CHARS` characters, at least
/// one of them visible. `rule` says so, for the messages.
fn watermark_text(value: &Value, rule: &str) -> Result<String, ProcessError> {
    let Some(text) = value.as_str() else {
        return Err(invalid(format!("`text` must be {rule}, not {value}")));
    };
    let chars = text.chars().count();
    if text.trim().is_empty() {
        Err(invalid(format!(
            "`text` must be {rule}, and this one is blank"
        )))
    } else if chars > MAX_WATERMARK_CHARS {
        Err(invalid(format!(
            "`text` must be {rule}, and this one has {chars}"
        )))
    } else if text.chars().any(char::is_control) {
        Err(invalid(format!(
            "`text` must be {rule}, without line breaks, tabs or other control characters"
        )))
    } else {
        let missing = missing_glyphs(text)?;
        if !missing.is_empty() {
            let missing: String = missing.into_iter().collect();
            Err(invalid(format!(
                "`text` has characters the watermark font cannot draw: {missing}"
            )))
        } else if !has_ink(text)? {
            Err(invalid(
                "`text` has nothing visible to draw (only spaces or invisible characters)".into(),
            ))
        } else {
            Ok(text.to_owned())
        }
    }
}

/// One processor's options object, read key by key.
struct Options<'a> {
    map: &'a Map<String, Value>,
    processor: Processor,
}

impl Options<'_> {
    fn only(&self, known: &[&str]) -> Result<(), ProcessError> {
        match self.map.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(invalid(format!(
                "unknown option `{key}` for {}; its options are {}",
                self.processor.name(),
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    fn whole_number(&self, key: &str, min: u32, max: u32) -> Result<Option<u32>, ProcessError> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                let range = if max == u32::MAX {
                    format!("{min} or more")
                } else {
                    format!("from {min} to {max}")
                };
                invalid(format!(
                    "`{key}` must be a whole number {range}, not {value}"
                ))
            })
    }

    fn dimension(&self, key: &str, max: u32) -> Result<Option<u32>, ProcessError> {
        self.whole_number(key, 1, max)
    }

    fn quality(&self) -> Result<Option<u8>, ProcessError> {
        // 1..=100 always fits a u8.
        Ok(self
            .whole_number("quality", 1, 100)?
            .and_then(|q| u8::try_from(q).ok()))
    }

    fn choice<T: Copy>(&self, key: &str, choices: &[(&str, T)]) -> Result<Option<T>, ProcessError> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        let found = value
            .as_str()
            .and_then(|s| choices.iter().find(|(name, _)| *name == s));
        match found {
            Some((_, choice)) => Ok(Some(*choice)),
            None => {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                Err(invalid(format!(
                    "`{key}` for {} must be one of {}, not {value}",
                    self.processor.name(),
                    names.join(", ")
                )))
            }
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ProcessError> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        value
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid(format!("`{key}` must be true or false, not {value}")))
    }

    /// A number from `min` to `max` inclusive.
    fn number(&self, key: &str, min: f32, max: f32) -> Result<Option<f32>, ProcessError> {
        let Some(value) = self.map.get(key) else {
            return Ok(None);
        };
        value
            .as_f64()
            // Narrowed after the range check, so only precision nobody can see is lost.
            .filter(|n| (f64::from(min)..=f64::from(max)).contains(n))
            .map(|n| Some(n as f32))
            .ok_or_else(|| {
                invalid(format!(
                    "`{key}` must be a number from {min:?} to {max:?}, not {value}"
                ))
            })
    }

    /// The watermark's mark: `text` (with `font_size`) or `image` (with `scale`).
    fn mark(&self) -> Result<Mark, ProcessError> {
        let rule = format!("a line of 1 to {MAX_WATERMARK_CHARS} characters");
        match (self.map.get("text"), self.map.get("image")) {
            (Some(_), Some(_)) => Err(invalid(
                "watermark takes either `text` or `image`, not both".into(),
            )),
            (None, None) => Err(invalid(format!(
                "{} needs `text`, {rule}, or `image`, the id of another of your image files",
                self.processor.name()
            ))),
            (Some(text), None) => {
                if self.map.contains_key("scale") {
                    return Err(invalid(
                        "`scale` sizes an image watermark; text is sized by `font_size`".into(),
                    ));
                }
                Ok(Mark::Text {
                    text: watermark_text(text, &rule)?,
                    font_size: self.whole_number("font_size", 1, MAX_FONT_SIZE)?,
                })
            }
            (None, Some(image)) => {
                if self.map.contains_key("font_size") {
                    return Err(invalid(
                        "`font_size` sizes a text watermark; an image is sized by `scale`".into(),
                    ));
                }
                let source = image
                    .as_str()
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| {
                        invalid(format!(
                            "`image` must be the id of one of your image files, not {image}"
                        ))
                    })?;
                Ok(Mark::Image {
                    source: source.to_owned(),
                    scale: self
                        .number("scale", MIN_SCALE, MAX_SCALE)?
                        .unwrap_or(DEFAULT_SCALE),
                })
            }
        }
    }

    fn fit(&self) -> Result<Option<Fit>, ProcessError> {
        self.choice("fit", &[("contain", Fit::Contain), ("cover", Fit::Cover)])
    }

    fn format(
        &self,
        formats: &[(&str, OutputFormat)],
    ) -> Result<Option<OutputFormat>, ProcessError> {
        self.choice("format", formats)
    }

    fn sizes(&self) -> Result<Option<Vec<Size>>, ProcessError> {
        let Some(value) = self.map.get("sizes") else {
            return Ok(None);
        };
        let expected = || {
            invalid(format!(
                "`sizes` must be a non-empty list of \"sm\", \"md\", \"lg\", \"xl\", not {value}"
            ))
        };
        let items = value
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(expected)?;
        let mut sizes = Vec::with_capacity(items.len());
        for item in items {
            let size = Size::ALL
                .into_iter()
                .find(|s| item.as_str() == Some(s.name()))
                .ok_or_else(expected)?;
            sizes.push(size);
        }
        sizes.sort();
        sizes.dedup();
        Ok(Some(sizes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(processor: Processor, options: Value) -> ProcessorOptions {
        ProcessorOptions::parse(processor, &options).unwrap()
    }

    #[test]
    fn an_empty_thumbnail_request_means_a_300_box_jpeg_at_quality_85() {
        assert_eq!(
            parse(Processor::Thumbnail, json!({})),
            ProcessorOptions::Thumbnail(ThumbnailOptions {
                width: 300,
                height: 300,
                fit: Fit::Contain,
                format: OutputFormat::Jpeg,
                quality: 85,
            })
        );
    }

    #[test]
    fn an_empty_resize_request_means_every_size() {
        let ProcessorOptions::Resize(opts) = parse(Processor::Resize, json!(null)) else {
            panic!("not resize");
        };
        assert_eq!(opts.target, ResizeTarget::Sizes(Size::ALL.to_vec()));
        assert_eq!(opts.format, None);
    }

    #[test]
    fn sizes_are_sorted_and_deduplicated() {
        let ProcessorOptions::Resize(opts) =
            parse(Processor::Resize, json!({"sizes": ["xl", "sm", "xl"]}))
        else {
            panic!("not resize");
        };
        assert_eq!(opts.target, ResizeTarget::Sizes(vec![Size::Sm, Size::Xl]));
    }

    #[test]
    fn a_resize_by_width_alone_keeps_the_aspect_ratio() {
        let ProcessorOptions::Resize(opts) = parse(
            Processor::Resize,
            json!({"width": 800, "format": "webp", "quality": 70}),
        ) else {
            panic!("not resize");
        };
        assert_eq!(
            opts.target,
            ResizeTarget::Box {
                width: Some(800),
                height: None,
                fit: Fit::Contain
            }
        );
        assert_eq!(opts.format, Some(OutputFormat::Webp));
        assert_eq!(opts.quality, 70);
    }

    #[test]
    fn a_pdf_thumbnail_defaults_to_page_one_as_png() {
        assert_eq!(
            parse(Processor::PdfThumbnail, json!({"format": "jpg"})),
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
    fn an_empty_webp_request_means_lossy_at_quality_80_at_full_size() {
        assert_eq!(
            parse(Processor::Webp, json!({})),
            ProcessorOptions::Webp(WebpOptions {
                quality: 80,
                lossless: false,
                max_width: None,
            })
        );
        assert_eq!(
            parse(Processor::Webp, json!({"lossless": true, "max_width": 640})),
            ProcessorOptions::Webp(WebpOptions {
                quality: 80,
                lossless: true,
                max_width: Some(640),
            })
        );
    }

    #[test]
    fn a_watermark_needs_only_text_and_defaults_to_bottom_right_at_half_opacity() {
        assert_eq!(
            parse(Processor::Watermark, json!({"text": "© Kiln"})),
            ProcessorOptions::Watermark(WatermarkOptions {
                mark: Mark::Text {
                    text: "© Kiln".into(),
                    font_size: None,
                },
                position: Position::BottomRight,
                opacity: 0.5,
                format: None,
                quality: 85,
            })
        );
    }

    #[test]
    fn an_image_watermark_spans_a_quarter_of_the_width_unless_scale_says_otherwise() {
        let id = "0190d7a2-6c3e-7b8e-9a51-1f2d3c4b5a69";
        assert_eq!(
            parse(Processor::Watermark, json!({"image": id})),
            ProcessorOptions::Watermark(WatermarkOptions {
                mark: Mark::Image {
                    source: id.into(),
                    scale: 0.25,
                },
                position: Position::BottomRight,
                opacity: 0.5,
                format: None,
                quality: 85,
            })
        );
        let ProcessorOptions::Watermark(opts) = parse(
            Processor::Watermark,
            json!({"image": id, "scale": 0.01, "opacity": 1}),
        ) else {
            panic!("not watermark");
        };
        assert_eq!(
            opts.mark,
            Mark::Image {
                source: id.into(),
                scale: 0.01
            }
        );
        assert_eq!(opts.opacity, 1.0);
    }

    #[test]
    fn a_watermark_takes_exactly_one_of_text_and_image_with_its_own_size_option() {
        let refused = |options: Value| {
            ProcessorOptions::parse(Processor::Watermark, &options)
                .unwrap_err()
                .to_string()
        };
        let both = refused(json!({"text": "Kiln", "image": "logo"}));
        assert!(
            both.contains("either `text` or `image`, not both"),
            "{both}"
        );
        let neither = refused(json!({"position": "top"}));
        assert!(
            neither.contains("needs `text`") && neither.contains("or `image`"),
            "{neither}"
        );
        let scaled_text = refused(json!({"text": "Kiln", "scale": 0.5}));
        assert!(scaled_text.contains("`scale`"), "{scaled_text}");
        let sized_image = refused(json!({"image": "logo", "font_size": 20}));
        assert!(sized_image.contains("`font_size`"), "{sized_image}");
        for image in [json!(""), json!("  "), json!(42), json!(null)] {
            let message = refused(json!({ "image": image }));
            assert!(message.contains("`image` must be"), "{image}: {message}");
        }
        for scale in [json!(0.005), json!(0), json!(1.5), json!("0.5")] {
            let message = refused(json!({"image": "logo", "scale": scale}));
            assert!(
                message.contains("`scale` must be a number from 0.01 to 1.0"),
                "{scale}: {message}"
            );
        }
    }

    #[test]
    fn every_watermark_position_is_accepted_by_its_name() {
        for position in Position::ALL {
            let options = json!({"text": "Kiln", "position": position.name()});
            let ProcessorOptions::Watermark(opts) = parse(Processor::Watermark, options) else {
                panic!("not watermark");
            };
            assert_eq!(opts.position, position);
        }
    }

    #[test]
    fn an_unknown_option_is_named_with_the_valid_ones() {
        let err = ProcessorOptions::parse(Processor::Thumbnail, &json!({"colour": 1})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid options: unknown option `colour` for thumbnail; its options are width, height, fit, format, quality"
        );
    }

    #[test]
    fn a_fractional_or_negative_width_is_refused() {
        for width in [json!(1.5), json!(-3), json!(null), json!(true)] {
            let err = ProcessorOptions::parse(Processor::Thumbnail, &json!({ "width": width }))
                .unwrap_err();
            assert!(
                err.to_string()
                    .contains("`width` must be a whole number from 1 to 10000")
            );
        }
    }
}
