//! `kiln process <processor> <input> <output>`: one processor on local files,
//! through the same code a worker runs, for operators debugging a file and for
//! benchmarks against other tools. Prints each output's format, size, pixel
//! size and the time taken. An image watermark reads its mark from `--watermark`,
//! where a worker reads the user's file the options' `image` names.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::config::Config;
use crate::processing::{self, Inputs};

#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// thumbnail, resize, webp, watermark or pdf_thumbnail.
    pub processor: String,
    /// The original to read.
    pub input: std::path::PathBuf,
    /// Where to write the output; a directory when the processor makes several
    /// (e.g. resize's default sizes), each then named `{variant}.{ext}`.
    pub output: std::path::PathBuf,
    /// Processor options as JSON, e.g. '{"width":200,"fit":"cover"}'.
    #[arg(long, default_value = "{}")]
    pub options: String,
    /// The variant name (defaults to the processor's).
    #[arg(long)]
    pub variant: Option<String>,
    /// The image to draw with the watermark processor (instead of `text`). The
    /// options' `image`, which names one of a user's files in the service, may be
    /// left out; it defaults to this path.
    #[arg(long, value_name = "PATH")]
    pub watermark: Option<std::path::PathBuf>,
}

pub fn run(config: &Config, args: ProcessArgs) -> anyhow::Result<()> {
    let mut options: Value =
        serde_json::from_str(&args.options).context("--options is not JSON")?;
    let watermark = match &args.watermark {
        Some(path) => {
            name_the_mark(&args.processor, &mut options, path)?;
            Some(read(path)?)
        }
        None if processing::watermark_image(&args.processor, &options).is_some() => {
            bail!("the options name a watermark image: pass its file with --watermark <PATH>")
        }
        None => None,
    };
    let default_variant = processing::validate(&args.processor, &options)?;
    let variant = args.variant.unwrap_or(default_variant);
    let input = read(&args.input)?;
    processing::set_pdfium_library(config.pdfium_library.clone());
    let limits = config.limits();

    let started = Instant::now();
    let inputs = Inputs {
        original: &input,
        watermark: watermark.as_deref(),
    };
    let processed = processing::run(&args.processor, &variant, &options, inputs, &limits)?;
    let elapsed = started.elapsed();

    let several = processed.outputs.len() > 1;
    if several {
        std::fs::create_dir_all(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
    }
    for output in &processed.outputs {
        let path = match several {
            true => args
                .output
                .join(format!("{}.{}", output.variant, output.extension())),
            false => args.output.clone(),
        };
        std::fs::write(&path, &output.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}\t{}\t{} bytes\t{}x{}\t{}",
            output.variant,
            output.content_type(),
            output.bytes.len(),
            output.width,
            output.height,
            path.display()
        );
    }
    if processed.outputs.is_empty() {
        println!("no output: nothing to make from this input with these options");
    }
    println!("took {:.1} ms", elapsed.as_secs_f64() * 1000.0);
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Makes `options` an image watermark drawn from `path`: `image` defaults to the
/// path (a label here; the bytes come from the file).
fn name_the_mark(processor: &str, options: &mut Value, path: &Path) -> anyhow::Result<()> {
    if processor != "watermark" {
        bail!("--watermark is for the watermark processor, not {processor}");
    }
    if options.is_null() {
        *options = Value::Object(Default::default());
    }
    let Some(map) = options.as_object_mut() else {
        bail!("--options must be a JSON object");
    };
    if map.contains_key("text") {
        bail!("--watermark draws an image; leave `text` out of --options");
    }
    map.entry("image")
        .or_insert_with(|| Value::String(path.display().to_string()));
    Ok(())
}
