//! What each processor's form offers: its fields, their labels and hints, and
//! the limits and defaults they show, which are the processors' own
//! ([`crate::processing`]), so a default changed there changes the form.

use crate::processing::{
    DEFAULT_FONT_SIZE, Fit, MAX_DIMENSION, MAX_FONT_SIZE, MAX_PDF_DIMENSION, MAX_QUALITY,
    MAX_WATERMARK_CHARS, OutputFormat, PdfThumbnailOptions, Position, Processor, ResizeOptions,
    Size, ThumbnailOptions, WatermarkOptions, WebpOptions,
};

/// What a field takes.
#[derive(Debug, Clone)]
pub(super) enum Kind {
    /// A whole number from `min` to `max`.
    Whole {
        min: u32,
        max: u32,
    },
    /// A number on a slider.
    Slider {
        min: f32,
        max: f32,
        step: f32,
    },
    Text {
        max_chars: usize,
    },
    /// One of these `(value, label)`s; the value `""` leaves the option out.
    Choice(Vec<(&'static str, &'static str)>),
    /// A checkbox: the option is `true` when it is ticked. Only for an option
    /// that is `false` by default, since an unticked box sends nothing.
    Flag,
}

/// One option as a form field.
pub(super) struct Spec {
    /// The option's key in the processor's options.
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// An empty field's placeholder (the processor's default), a slider's
    /// starting value, a choice's preselected value.
    pub default: String,
    pub hint: Option<String>,
    pub required: bool,
}

fn field(key: &'static str, label: &'static str, kind: Kind, default: impl ToString) -> Spec {
    Spec {
        key,
        label,
        kind,
        default: default.to_string(),
        hint: None,
        required: false,
    }
}

impl Spec {
    fn hinted(self, hint: impl Into<String>) -> Spec {
        Spec {
            hint: Some(hint.into()),
            ..self
        }
    }
}

fn side(max: u32) -> Kind {
    Kind::Whole { min: 1, max }
}

fn quality(default: u8, hint: &str) -> Spec {
    let kind = Kind::Whole {
        min: 1,
        max: u32::from(MAX_QUALITY),
    };
    field("quality", "Quality", kind, default).hinted(format!("1 to {MAX_QUALITY}{hint}"))
}

const FITS: [(Fit, &str, &str); 2] = [
    (Fit::Contain, "contain", "Fit inside the box"),
    (Fit::Cover, "cover", "Fill the box, cropping the edges"),
];
const FORMATS: [(OutputFormat, &str, &str); 4] = [
    (OutputFormat::Jpeg, "jpeg", "JPEG"),
    (OutputFormat::Png, "png", "PNG"),
    (OutputFormat::Webp, "webp", "WebP"),
    (OutputFormat::Avif, "avif", "AVIF"),
];

/// A choice among `offered` whose empty value is the processor's `default`:
/// labelled as that one, which is not offered again.
fn with_default<T: PartialEq + Copy>(
    default: T,
    offered: &[(T, &'static str, &'static str)],
) -> Kind {
    let label = offered
        .iter()
        .find(|(choice, ..)| *choice == default)
        .map_or("", |&(_, _, label)| label);
    let others = offered
        .iter()
        .filter(|(choice, ..)| *choice != default)
        .map(|&(_, value, label)| (value, label));
    Kind::Choice(std::iter::once(("", label)).chain(others).collect())
}

/// The formats of a processor that, unless asked, keeps the original's kind.
fn auto_formats() -> Kind {
    let auto = ("", "As the original (JPEG, or PNG if transparent)");
    let formats = FORMATS.iter().map(|&(_, value, label)| (value, label));
    Kind::Choice(std::iter::once(auto).chain(formats).collect())
}

/// `a, b and c`.
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The fields of `processor`'s form, with its defaults and limits.
pub(super) fn specs(processor: Processor) -> Vec<Spec> {
    const QUALITY_HINT: &str = ", for JPEG, WebP and AVIF.";
    match processor {
        Processor::Thumbnail => {
            let default = ThumbnailOptions::DEFAULT;
            vec![
                field("width", "Width", side(MAX_DIMENSION), default.width),
                field("height", "Height", side(MAX_DIMENSION), default.height),
                field("fit", "Fit", with_default(default.fit, &FITS), ""),
                field(
                    "format",
                    "Format",
                    with_default(default.format, &FORMATS),
                    "",
                ),
                quality(default.quality, QUALITY_HINT),
            ]
        }
        Processor::Resize => {
            let widths: Vec<String> = Size::ALL.map(|size| size.width().to_string()).into();
            vec![
                field("width", "Width", side(MAX_DIMENSION), "").hinted(format!(
                    "Pixels. Give a width, a height or both; an image is never enlarged. \
                     Leave both empty for the standard sizes ({} wide).",
                    listed(&widths)
                )),
                field("height", "Height", side(MAX_DIMENSION), ""),
                field(
                    "fit",
                    "Fit",
                    with_default(ResizeOptions::DEFAULT_FIT, &FITS),
                    "",
                )
                .hinted("When you give both a width and a height."),
                field("format", "Format", auto_formats(), ""),
                quality(ResizeOptions::DEFAULT_QUALITY, QUALITY_HINT),
            ]
        }
        Processor::Webp => vec![
            quality(WebpOptions::DEFAULT.quality, ": lower is smaller."),
            field("max_width", "Largest width", side(MAX_DIMENSION), "")
                .hinted("Pixels; narrower images keep their size."),
            field(
                "lossless",
                "Lossless (exact pixels, larger file)",
                Kind::Flag,
                "",
            ),
        ],
        Processor::Watermark => {
            let text = Kind::Text {
                max_chars: MAX_WATERMARK_CHARS,
            };
            let positions = Position::ALL
                .map(|position| (position.name(), position_label(position)))
                .into();
            let opacity = Kind::Slider {
                min: 0.0,
                max: 1.0,
                step: 0.05,
            };
            let font_size = Kind::Whole {
                min: 1,
                max: MAX_FONT_SIZE,
            };
            let font_share = (DEFAULT_FONT_SIZE * 100.0).round();
            vec![
                Spec {
                    required: true,
                    ..field("text", "Text", text, "© Your name")
                        .hinted("One line, drawn in white over a soft shadow.")
                },
                field(
                    "position",
                    "Position",
                    Kind::Choice(positions),
                    WatermarkOptions::DEFAULT_POSITION.name(),
                ),
                field(
                    "opacity",
                    "Opacity",
                    opacity,
                    WatermarkOptions::DEFAULT_OPACITY,
                ),
                field("font_size", "Font size", font_size, "").hinted(format!(
                    "Pixels. Empty: {font_share}% of the image's shorter side."
                )),
                field("format", "Format", auto_formats(), ""),
            ]
        }
        Processor::PdfThumbnail => {
            let default = PdfThumbnailOptions::DEFAULT;
            let page = Kind::Whole {
                min: 1,
                max: u32::MAX,
            };
            vec![
                field("page", "Page", page, default.page),
                field("width", "Width", side(MAX_PDF_DIMENSION), default.width),
                field("height", "Height", side(MAX_PDF_DIMENSION), default.height),
                // A page renders to PNG or JPEG.
                field(
                    "format",
                    "Format",
                    with_default(default.format, &FORMATS[..2]),
                    "",
                ),
            ]
        }
    }
}

fn position_label(position: Position) -> &'static str {
    match position {
        Position::TopLeft => "Top left",
        Position::Top => "Top",
        Position::TopRight => "Top right",
        Position::Left => "Left",
        Position::Center => "Center",
        Position::Right => "Right",
        Position::BottomLeft => "Bottom left",
        Position::Bottom => "Bottom",
        Position::BottomRight => "Bottom right",
    }
}

pub(super) fn label(processor: Processor) -> &'static str {
    match processor {
        Processor::Thumbnail => "Thumbnail",
        Processor::Resize => "Resize",
        Processor::Webp => "WebP copy",
        Processor::Watermark => "Watermark",
        Processor::PdfThumbnail => "PDF page preview",
    }
}

pub(super) fn description(processor: Processor) -> String {
    match processor {
        Processor::Thumbnail => {
            let ThumbnailOptions { width, height, .. } = ThumbnailOptions::DEFAULT;
            format!("A small preview that fits a box, {width} × {height} unless you say otherwise.")
        }
        Processor::Resize => "A copy at the width or height you choose.".into(),
        Processor::Webp => {
            "A WebP copy, usually much smaller than a JPEG or PNG of the same picture.".into()
        }
        Processor::Watermark => "Your text drawn over the whole image.".into(),
        Processor::PdfThumbnail => "An image of one page of the document.".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Submitted;
    use super::*;
    use crate::processing::{ProcessorOptions, validate};

    #[test]
    fn every_field_is_an_option_its_processor_knows_and_every_choice_is_valid() {
        for processor in Processor::ALL {
            for spec in specs(processor) {
                let value = match spec.kind {
                    Kind::Whole { min, .. } => json!(min),
                    Kind::Slider { max, .. } => json!(max),
                    Kind::Text { .. } => json!("Kiln"),
                    Kind::Flag => json!(true),
                    Kind::Choice(choices) => {
                        assert!(
                            choices.iter().all(|(_, label)| !label.is_empty()),
                            "{} {}: {choices:?}",
                            processor.name(),
                            spec.key
                        );
                        for (choice, _) in choices.iter().filter(|(v, _)| !v.is_empty()) {
                            let mut options = json!({ spec.key: choice });
                            if processor == Processor::Watermark && spec.key != "text" {
                                options["text"] = json!("Kiln");
                            }
                            validate(processor.name(), &options).unwrap_or_else(|e| {
                                panic!("{} {}={choice}: {e}", processor.name(), spec.key)
                            });
                        }
                        continue;
                    }
                };
                let mut options = json!({ spec.key: value });
                if processor == Processor::Watermark && spec.key != "text" {
                    options["text"] = json!("Kiln");
                }
                validate(processor.name(), &options)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", processor.name(), spec.key));
            }
        }
    }

    #[test]
    fn a_form_filled_in_with_the_defaults_it_shows_asks_for_what_an_empty_one_does() {
        for processor in Processor::ALL {
            let name = |spec: &Spec| format!("{}.{}", processor.name(), spec.key);
            let mut empty = vec![("processor".to_string(), processor.name().to_string())];
            let mut shown = empty.clone();
            let mut flags = Vec::new();
            for spec in specs(processor) {
                if spec.required {
                    empty.push((name(&spec), "Kiln".into()));
                    shown.push((name(&spec), "Kiln".into()));
                } else if matches!(spec.kind, Kind::Flag) {
                    flags.push(name(&spec));
                } else if !spec.default.is_empty() {
                    shown.push((name(&spec), spec.default.clone()));
                }
            }
            let parse = |fields: Vec<(String, String)>| {
                let (_, options) = Submitted::from_fields(fields).options().unwrap();
                ProcessorOptions::parse(processor, &options).unwrap()
            };
            let nothing_asked = parse(empty.clone());
            assert_eq!(parse(shown), nothing_asked, "{}", processor.name());
            // An unticked box sends nothing, so a box can only turn an option on.
            for flag in flags {
                let mut ticked = empty.clone();
                ticked.push((flag.clone(), "on".into()));
                assert_ne!(parse(ticked), nothing_asked, "{flag} is on by default");
            }
        }
    }
}
