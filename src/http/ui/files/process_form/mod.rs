//! The "Run a processor" form of a file's page: which processors apply to the
//! file, the fields each one offers (label, limits, default), and the options
//! object a submitted form stands for.
//!
//! The form only translates: fields named `<processor>.<option>` become the
//! JSON options the API takes, typed by the table in [`fields`], and
//! [`crate::http::files::request_processing`] judges them exactly as it judges
//! an API request. So a limit shown here is a hint, never a second rule.

mod fields;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::processing::{MediaKind, Processor};
use fields::{Kind, Spec, description, label, specs};

/// The processors that can read a file of this kind, in the order users see
/// them (none for a type stored without processing).
fn processors_for(kind: Option<MediaKind>) -> Vec<Processor> {
    Processor::ALL
        .into_iter()
        .filter(|p| kind.is_some_and(|kind| p.accepts(kind)))
        .collect()
}

// ---- what a submitted form says ------------------------------------------------

/// A submitted form, as the fields it had.
#[derive(Debug, Clone, Default)]
pub struct Submitted {
    pub processor: String,
    /// `None` when left empty: the processor's default name.
    pub variant: Option<String>,
    values: HashMap<String, String>,
}

impl Submitted {
    /// Reads the form's fields; the CSRF token is the caller's to check.
    pub fn from_fields(fields: Vec<(String, String)>) -> Self {
        let mut submitted = Self::default();
        for (name, value) in fields {
            match name.as_str() {
                "processor" => submitted.processor = value,
                "variant" => {
                    let value = value.trim();
                    submitted.variant = (!value.is_empty()).then(|| value.to_string());
                }
                _ => {
                    submitted.values.insert(name, value);
                }
            }
        }
        submitted
    }

    fn value(&self, processor: Processor, key: &str) -> Option<&str> {
        self.values
            .get(&format!("{}.{key}", processor.name()))
            .map(|v| v.trim())
    }

    /// The processor and its options object, or a message for the person who
    /// filled in the form. Empty fields are left out, so the processor's
    /// defaults apply.
    pub fn options(&self) -> Result<(Processor, Value), String> {
        let processor = Processor::from_name(&self.processor)
            .map_err(|_| "Choose one of the processors in the list.".to_string())?;
        let mut options = Map::new();
        for spec in specs(processor) {
            let raw = self.value(processor, spec.key).unwrap_or_default();
            if raw.is_empty() {
                if spec.required {
                    return Err(format!(
                        "Fill in “{}” to run {}.",
                        spec.label,
                        label(processor).to_lowercase()
                    ));
                }
                continue;
            }
            let value = match spec.kind {
                Kind::Whole { .. } => raw
                    .parse::<u64>()
                    .map(Value::from)
                    .map_err(|_| format!("“{}” must be a whole number.", spec.label))?,
                Kind::Slider { .. } => raw
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("“{}” must be a number.", spec.label))?,
                Kind::Text { .. } | Kind::Choice(_) => Value::from(raw),
                Kind::Flag => Value::Bool(matches!(raw, "on" | "true")),
            };
            options.insert(spec.key.to_string(), value);
        }
        Ok((processor, Value::Object(options)))
    }
}

// ---- what the page shows -------------------------------------------------------------

#[derive(Serialize)]
pub struct ChoiceView {
    name: &'static str,
    label: &'static str,
    description: String,
    /// The variant name a job gets when the form names none.
    default_variant: &'static str,
    selected: bool,
    fields: Vec<FieldView>,
}

#[derive(Serialize)]
struct FieldView {
    id: String,
    name: String,
    label: &'static str,
    /// `number`, `text`, `range`, `select` or `checkbox`.
    input: &'static str,
    value: String,
    placeholder: String,
    min: Option<String>,
    max: Option<String>,
    step: Option<String>,
    maxlength: Option<usize>,
    options: Vec<OptionView>,
    checked: bool,
    hint: Option<String>,
    required: bool,
}

#[derive(Serialize)]
struct OptionView {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// The form's processors for a file of `kind` with `page_count` pages, filled
/// in with `submitted` (after a refused run) or the defaults.
pub fn choices(
    kind: Option<MediaKind>,
    page_count: Option<i32>,
    submitted: Option<&Submitted>,
) -> Vec<ChoiceView> {
    let processors = processors_for(kind);
    let selected = submitted
        .and_then(|s| Processor::from_name(&s.processor).ok())
        .filter(|p| processors.contains(p))
        .or(processors.first().copied());
    processors
        .into_iter()
        .map(|processor| ChoiceView {
            name: processor.name(),
            label: label(processor),
            description: description(processor),
            default_variant: processor.default_variant(),
            selected: Some(processor) == selected,
            fields: specs(processor)
                .iter()
                .map(|spec| field_view(processor, spec, page_count, submitted))
                .collect(),
        })
        .collect()
}

fn field_view(
    processor: Processor,
    spec: &Spec,
    page_count: Option<i32>,
    submitted: Option<&Submitted>,
) -> FieldView {
    let sent = submitted.and_then(|s| s.value(processor, spec.key));
    let mut view = FieldView {
        id: format!("opt-{}-{}", processor.name(), spec.key).replace('_', "-"),
        name: format!("{}.{}", processor.name(), spec.key),
        label: spec.label,
        input: "number",
        value: sent.unwrap_or_default().to_string(),
        placeholder: spec.default.clone(),
        min: None,
        max: None,
        step: None,
        maxlength: None,
        options: Vec::new(),
        checked: false,
        hint: spec.hint.clone(),
        required: spec.required,
    };
    match &spec.kind {
        &Kind::Whole { min, max } => {
            // A PDF's page count bounds its page.
            let max = match (spec.key, page_count) {
                ("page", Some(pages)) => u32::try_from(pages).unwrap_or(max),
                _ => max,
            };
            view.min = Some(min.to_string());
            view.max = (max != u32::MAX).then(|| max.to_string());
        }
        &Kind::Slider { min, max, step } => {
            view.input = "range";
            view.min = Some(min.to_string());
            view.max = Some(max.to_string());
            view.step = Some(step.to_string());
            view.value = sent.unwrap_or(&spec.default).to_string();
        }
        &Kind::Text { max_chars } => {
            view.input = "text";
            view.maxlength = Some(max_chars);
        }
        Kind::Choice(choices) => {
            view.input = "select";
            let chosen = sent.unwrap_or(&spec.default);
            view.options = choices
                .iter()
                .map(|&(value, label)| OptionView {
                    value,
                    label,
                    selected: value == chosen,
                })
                .collect();
        }
        Kind::Flag => {
            view.input = "checkbox";
            view.checked = sent.is_some_and(|v| matches!(v, "on" | "true"));
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::processing::validate;

    fn form(fields: &[(&str, &str)]) -> Submitted {
        Submitted::from_fields(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_watermark_form_becomes_the_options_the_api_takes() {
        let submitted = form(&[
            ("processor", "watermark"),
            ("variant", " "),
            ("watermark.text", " © Ada "),
            ("watermark.position", "top-left"),
            ("watermark.opacity", "0.75"),
            ("watermark.font_size", ""),
            ("watermark.format", ""),
            // Another processor's fields are ignored.
            ("webp.quality", "12"),
        ]);
        assert_eq!(submitted.variant, None);
        let (processor, options) = submitted.options().unwrap();
        assert_eq!(processor, Processor::Watermark);
        assert_eq!(
            options,
            json!({"text": "© Ada", "position": "top-left", "opacity": 0.75})
        );
        assert_eq!(validate("watermark", &options).unwrap(), "watermark");
    }

    #[test]
    fn numbers_flags_and_missing_text_are_read_or_refused_with_the_field_s_label() {
        let (_, options) = form(&[
            ("processor", "webp"),
            ("webp.quality", "60"),
            ("webp.lossless", "on"),
        ])
        .options()
        .unwrap();
        assert_eq!(options, json!({"quality": 60, "lossless": true}));
        let refused = form(&[("processor", "resize"), ("resize.width", "wide")])
            .options()
            .unwrap_err();
        assert_eq!(refused, "“Width” must be a whole number.");
        let refused = form(&[("processor", "watermark"), ("watermark.text", "  ")])
            .options()
            .unwrap_err();
        assert!(refused.contains("“Text”"), "{refused}");
        assert!(form(&[("processor", "nope")]).options().is_err());
    }

    #[test]
    fn a_pdf_is_offered_its_page_preview_and_an_image_the_image_processors() {
        let names = |kind| -> Vec<&str> {
            choices(kind, Some(3), None)
                .iter()
                .map(|choice| choice.name)
                .collect()
        };
        assert_eq!(names(Some(MediaKind::Pdf)), ["pdf_thumbnail"]);
        assert_eq!(
            names(Some(MediaKind::Png)),
            ["thumbnail", "resize", "webp", "watermark"]
        );
        assert!(names(None).is_empty());
        let pdf = choices(Some(MediaKind::Pdf), Some(3), None);
        assert_eq!(pdf[0].fields[0].max.as_deref(), Some("3"));
        assert!(pdf[0].selected);
    }

    #[test]
    fn a_refused_form_is_shown_again_as_it_was_sent() {
        let submitted = form(&[
            ("processor", "watermark"),
            ("watermark.text", "Draft"),
            ("watermark.position", "center"),
            ("watermark.opacity", "0.2"),
        ]);
        let views = choices(Some(MediaKind::Jpeg), None, Some(&submitted));
        let watermark = views.iter().find(|c| c.name == "watermark").unwrap();
        assert!(watermark.selected);
        assert_eq!(watermark.fields[0].value, "Draft");
        let position = &watermark.fields[1];
        assert!(
            position
                .options
                .iter()
                .any(|o| o.value == "center" && o.selected)
        );
        assert_eq!(watermark.fields[2].value, "0.2");
    }
}
