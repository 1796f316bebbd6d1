//! `kiln process <processor> <input> <output>`: one processor on local files,
//! through the same code a worker runs, for operators debugging a file and for
//! benchmarks against other tools. Prints each output's format, size, pixel
//! size and the time taken.

use std::time::Instant;

use anyhow::Context as _;

use crate::cli::ProcessArgs;
use crate::config::Config;
use crate::processing::{self, Limits};

pub fn run(config: &Config, args: ProcessArgs) -> anyhow::Result<()> {
    let options: serde_json::Value =
        serde_json::from_str(&args.options).context("--options is not JSON")?;
    let default_variant = processing::validate(&args.processor, &options)?;
    let variant = args.variant.unwrap_or(default_variant);
    let input = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    processing::set_pdfium_library(config.pdfium_library.clone());
    let limits = Limits {
        max_pixels: config.max_image_pixels,
    };

    let started = Instant::now();
    let processed = processing::run(&args.processor, &variant, &options, &input, &limits)?;
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
                .join(format!("{}.{}", output.variant, output.extension)),
            false => args.output.clone(),
        };
        std::fs::write(&path, &output.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}\t{}\t{} bytes\t{}x{}\t{}",
            output.variant,
            output.content_type,
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
