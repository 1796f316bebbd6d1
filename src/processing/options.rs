//! What the processors' options share: the JSON a client sends (API.md "Processor
//! options") read key by key by [`Options`], and the vocabulary of more than one
//! processor (formats, fits, positions, sizes, dimension and quality limits).
//!
//! Each processor's own options (their type, defaults and parsing) live beside
//! that processor; [`super::registry::ProcessorOptions`] picks the one a job
//! names. Parsed by hand rather than with serde derive so every message says
//! which option is wrong and what would be right, as an
//! [`ProcessError::InvalidOptions`] that names the offending key.

use serde_json::{Map, Value};

use super::ProcessError;

/// Largest width or height a client may ask of an image processor (they never upscale,
/// so the source bounds the real output anyway).
pub const MAX_DIMENSION: u32 = 10_000;
/// Largest width or height of a rendered PDF page.
pub const MAX_PDF_DIMENSION: u32 = 4_096;
/// Highest `quality`; the lowest is 1.
pub const MAX_QUALITY: u8 = 100;
/// The `quality` of every processor that writes JPEG by default (all but `webp`).
pub const DEFAULT_QUALITY: u8 = 85;

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
    /// 256 colours per frame, made only by transforms (an animation stays one).
    Gif,
    /// AV1 in HEIF (rav1e through ravif) at the job's quality.
    Avif,
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

/// The `format`s of a processor that reads images: each image encoding.
pub(super) const IMAGE_FORMATS: [(&str, OutputFormat); 5] = [
    ("jpeg", OutputFormat::Jpeg),
    ("jpg", OutputFormat::Jpeg),
    ("png", OutputFormat::Png),
    ("webp", OutputFormat::Webp),
    ("avif", OutputFormat::Avif),
];

pub(super) fn invalid(message: String) -> ProcessError {
    ProcessError::InvalidOptions(message)
}

/// One processor's options object, read key by key.
pub(super) struct Options<'a> {
    /// `None`: the client sent `null`, which means no options.
    map: Option<&'a Map<String, Value>>,
    /// The processor's name, which the messages give.
    processor: &'static str,
}

impl<'a> Options<'a> {
    /// Reads `options` (an object, or `null` for none) for the processor named `processor`.
    pub(super) fn new(processor: &'static str, options: &'a Value) -> Result<Self, ProcessError> {
        match options {
            Value::Null => Ok(Options {
                map: None,
                processor,
            }),
            Value::Object(map) => Ok(Options {
                map: Some(map),
                processor,
            }),
            _ => Err(invalid(format!(
                "options for {processor} must be a JSON object"
            ))),
        }
    }

    /// The name of the processor whose options these are.
    pub(super) fn processor(&self) -> &'static str {
        self.processor
    }

    /// The raw value of `key`, for a processor that reads it its own way.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|map| map.get(key))
    }

    /// Refuses any key not in `known`, naming them.
    pub(super) fn only(&self, known: &[&str]) -> Result<(), ProcessError> {
        match self
            .map
            .into_iter()
            .flat_map(Map::keys)
            .find(|k| !known.contains(&k.as_str()))
        {
            Some(key) => Err(invalid(format!(
                "unknown option `{key}` for {}; its options are {}",
                self.processor,
                known.join(", ")
            ))),
            None => Ok(()),
        }
    }

    pub(super) fn whole_number(
        &self,
        key: &str,
        min: u32,
        max: u32,
    ) -> Result<Option<u32>, ProcessError> {
        let Some(value) = self.get(key) else {
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

    pub(super) fn dimension(&self, key: &str, max: u32) -> Result<Option<u32>, ProcessError> {
        self.whole_number(key, 1, max)
    }

    pub(super) fn quality(&self) -> Result<Option<u8>, ProcessError> {
        // 1..=MAX_QUALITY always fits a u8.
        Ok(self
            .whole_number("quality", 1, u32::from(MAX_QUALITY))?
            .and_then(|q| u8::try_from(q).ok()))
    }

    pub(super) fn choice<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ProcessError> {
        let Some(value) = self.get(key) else {
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
                    self.processor,
                    names.join(", ")
                )))
            }
        }
    }

    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, ProcessError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        value
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid(format!("`{key}` must be true or false, not {value}")))
    }

    /// A number from `min` to `max` inclusive.
    pub(super) fn number(
        &self,
        key: &str,
        min: f32,
        max: f32,
    ) -> Result<Option<f32>, ProcessError> {
        let Some(value) = self.get(key) else {
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

    pub(super) fn fit(&self) -> Result<Option<Fit>, ProcessError> {
        self.choice("fit", &[("contain", Fit::Contain), ("cover", Fit::Cover)])
    }

    pub(super) fn format(
        &self,
        formats: &[(&str, OutputFormat)],
    ) -> Result<Option<OutputFormat>, ProcessError> {
        self.choice("format", formats)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Processor;
    use super::super::registry::ProcessorOptions;
    use serde_json::json;

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
