//! The `watermark` processor's options: the mark (a line of text or another
//! image), where it sits, how opaque it is, and the output's format.

use serde_json::Value;

use super::super::ProcessError;
use super::super::options::{
    DEFAULT_QUALITY, IMAGE_FORMATS, Options, OutputFormat, Position, invalid,
};
use super::super::text::{has_ink, missing_glyphs};

/// Longest watermark text, in characters.
pub const MAX_WATERMARK_CHARS: usize = 200;
/// Largest watermark font size a client may ask for, in pixels. Bounds the glyph
/// rasteriser's buffers (it allocates per glyph, proportional to the size squared).
pub const MAX_FONT_SIZE: u32 = 1_000;
/// An empty `font_size`: this fraction of the image's shorter side, and no less
/// than [`MIN_DEFAULT_FONT_SIZE`] pixels (see `text_mark`).
pub(crate) const DEFAULT_FONT_SIZE: f32 = 0.04;
pub(crate) const MIN_DEFAULT_FONT_SIZE: f32 = 12.0;
/// Bounds of an image watermark's `scale`.
pub const MIN_SCALE: f32 = 0.01;
pub const MAX_SCALE: f32 = 1.0;

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

/// A `watermark` job's options. Only the mark is required; the defaults of
/// the rest are [`WatermarkOptions`]'s constants.
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

impl WatermarkOptions {
    pub(crate) const DEFAULT_POSITION: Position = Position::BottomRight;
    pub(crate) const DEFAULT_OPACITY: f32 = 0.5;
    pub(crate) const DEFAULT_QUALITY: u8 = DEFAULT_QUALITY;

    pub(in crate::processing) fn parse(o: &Options<'_>) -> Result<Self, ProcessError> {
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
        Ok(WatermarkOptions {
            mark: Mark::parse(o)?,
            position: o
                .choice("position", &positions)?
                .unwrap_or(Self::DEFAULT_POSITION),
            opacity: o
                .number("opacity", 0.0, 1.0)?
                .unwrap_or(Self::DEFAULT_OPACITY),
            format: o.format(&IMAGE_FORMATS)?,
            quality: o.quality()?.unwrap_or(Self::DEFAULT_QUALITY),
        })
    }
}

impl Mark {
    /// An image mark's `scale` when none is given.
    const DEFAULT_SCALE: f32 = 0.25;

    /// The watermark's mark: `text` (with `font_size`) or `image` (with `scale`).
    fn parse(o: &Options<'_>) -> Result<Mark, ProcessError> {
        let rule = format!("a line of 1 to {MAX_WATERMARK_CHARS} characters");
        match (o.get("text"), o.get("image")) {
            (Some(_), Some(_)) => Err(invalid(
                "watermark takes either `text` or `image`, not both".into(),
            )),
            (None, None) => Err(invalid(format!(
                "{} needs `text`, {rule}, or `image`, the id of another of your image files",
                o.processor()
            ))),
            (Some(text), None) => {
                if o.get("scale").is_some() {
                    return Err(invalid(
                        "`scale` sizes an image watermark; text is sized by `font_size`".into(),
                    ));
                }
                Ok(Mark::Text {
                    text: watermark_text(text, &rule)?,
                    font_size: o.whole_number("font_size", 1, MAX_FONT_SIZE)?,
                })
            }
            (None, Some(image)) => {
                if o.get("font_size").is_some() {
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
                    scale: o
                        .number("scale", MIN_SCALE, MAX_SCALE)?
                        .unwrap_or(Self::DEFAULT_SCALE),
                })
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::super::registry::{Processor, ProcessorOptions};
    use super::*;
    use serde_json::json;

    fn parse(processor: Processor, options: Value) -> ProcessorOptions {
        ProcessorOptions::parse(processor, &options).unwrap()
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
}
