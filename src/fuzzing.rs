//! The entry points of the fuzz targets in `fuzz/` (SECURITY.md, "Fuzzing"). Compiled
//! only with the `fuzzing` feature and in unit tests, so no normal build has them. The
//! tests replay every input a target once failed on (`tests/fixtures/fuzz/`), so
//! `make test` keeps each finding fixed without a fuzzer.
//!
//! Each function runs the code a worker or the upload handler runs on untrusted
//! bytes, with the limits a worker has ([`Limits::default`], the `MAX_IMAGE_PIXELS`
//! default), and then asserts what must hold of the result. None catches a panic: a
//! worker would (a processor's panic becomes a dead job), but the fuzzer must see it,
//! and a fault in C code (libjpeg, libwebp) is never caught anyway.
//!
//! A function that returns `bool` says whether the input belongs in that target's
//! corpus: a decoder target keeps only inputs its format's magic number selects, so
//! each corpus stays on its own decoder.
//!
//! ```text
//!  sniff      UploadType::of, MediaKind::sniff      (Ingest: what an upload is)
//!  probe      probe_dimensions                       (Ingest: pixel size from the header)
//!  decode     decode_image, decode_image_for         (every processor: full and JPEG
//!                                                     DCT-scaled decodes, EXIF, ICC; a
//!                                                     JPEG's scan split between threads)
//!  icc        convert_to_srgb, cmyk_to_srgb          (the decoders' colour conversion)
//!  options    parse_processors, validate             (the upload's processors and options
//!                                                     fields; the process endpoint's options)
//!  multipart  read_upload_form                       (POST /api/upload's body; its entry
//!                                                     point is beside the form reader,
//!                                                     `http::api::fuzz_upload_form`)
//!  process    processing::run                        (a processor job, end to end)
//!  pdf_child  isolation::child's job loop, pdf_thumbnail (a PDF job as the processor
//!             then the worker's read_reply               child runs it, and its reply as
//!                                                        the worker reads it)
//!  reply      read_reply                             (the worker reading a child's bytes)
//! ```

use image::{DynamicImage, GenericImageView, RgbImage, RgbaImage};

use crate::config::DEFAULT_PROCESSOR_MEMORY_LIMIT;
use crate::domain::UploadType;
use crate::domain::requests::{OPTIONS_FIELD_LIMIT, PROCESSORS_FIELD_LIMIT, parse_processors};
use crate::isolation::child;
use crate::isolation::protocol::{self, Outcome, ReplyBounds, Request};
use crate::processing::{
    self, Limits, MediaKind, Output, Processor, ShrinkOnLoad, assert_parts_agree, cmyk_profile,
    cmyk_to_srgb, convert_to_srgb, decode_image, decode_image_for, probe_dimensions,
};

/// Types an operator might allow beside images and PDFs (`ALLOWED_EXTRA_TYPES`).
const EXTRA_TYPES: [&str; 4] = [
    "application/zip",
    "application/gzip",
    "audio/mpeg",
    "video/mp4",
];

/// Type sniffing of an upload's first bytes, as Ingest does it.
pub fn sniff(data: &[u8]) {
    let extra: Vec<String> = EXTRA_TYPES.map(String::from).to_vec();
    let kind = MediaKind::sniff(data);
    assert_eq!(
        kind,
        MediaKind::sniff(&data[..data.len().min(MediaKind::SNIFF_LEN)]),
        "sniff reads only its prefix"
    );
    match UploadType::of(data, &extra) {
        Some(sniffed) => match sniffed.media {
            Some(media) => {
                assert_eq!(Some(media), kind);
                assert_eq!(sniffed.content_type, media.content_type());
                assert_eq!(sniffed.extension, media.extension());
            }
            None => {
                assert_eq!(kind, None);
                assert!(extra.contains(&sniffed.content_type), "{sniffed:?}");
            }
        },
        None => assert_eq!(kind, None),
    }
}

/// The header probe Ingest runs on an upload's first bytes.
pub fn probe(data: &[u8]) {
    if let Some((width, height)) = probe_dimensions(data) {
        assert!(width > 0 && height > 0);
        let kind = MediaKind::sniff(data).filter(|kind| kind.is_image());
        let kind = kind.unwrap_or_else(|| panic!("{width}x{height} probed from no image"));
        // Ingest plans the default jobs from the probed width.
        assert!(!processing::default_jobs(kind, Some(width)).is_empty());
    }
}

/// Decodes an original of `kind` twice: in full (as an image watermark's mark is) and
/// for a smaller output (as thumbnail, resize and webp do), at the DCT scale the
/// input's length picks (1, 1/2, 1/4 or 1/8 for a JPEG large enough). `false` for
/// bytes that are not of `kind`.
pub fn decode(kind: MediaKind, data: &[u8]) -> bool {
    if MediaKind::sniff(data) != Some(kind) {
        return false;
    }
    let limits = Limits::default();
    // Only the size is kept, so the two decodes never hold their pixels at once.
    let full = decode_image(data, &limits).map(|image| {
        assert!(
            matches!(
                image,
                DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_)
            ),
            "decoders yield 8-bit RGB(A)"
        );
        image.dimensions()
    });
    if let Ok((width, height)) = full {
        assert!(u64::from(width) * u64::from(height) <= limits.max_pixels);
    }
    // Within the pixel limit (as the full decode checks), a JPEG's scan split
    // between threads decodes as it does in one part.
    if kind == MediaKind::Jpeg && full.is_ok() {
        assert_parts_agree(data);
    }
    let divisor = [1, 2, 4, 8][data.len() % 4];
    let shrink = |side: u32| (side / (2 * divisor)).max(1);
    let shrink_on_load = if data.len().is_multiple_of(2) {
        ShrinkOnLoad::KeepMargin
    } else {
        ShrinkOnLoad::ToOutputSize
    };
    let reduced = decode_image_for(data, &limits, shrink_on_load, |width, height| {
        (shrink(width), shrink(height))
    });
    if let Ok(decoded) = &reduced {
        let (width, height) = decoded.image.dimensions();
        assert!(u64::from(decoded.width) * u64::from(decoded.height) <= limits.max_pixels);
        assert!(
            width <= decoded.width && height <= decoded.height,
            "a reduced decode is no larger than the image"
        );
        let region = decoded.region;
        assert!(region.left >= 0.0 && region.top >= 0.0);
        assert!(
            region.left + region.width <= f64::from(width) + 1e-6,
            "{region:?}"
        );
        assert!(
            region.top + region.height <= f64::from(height) + 1e-6,
            "{region:?}"
        );
        if let Ok(size) = full {
            assert_eq!(
                (decoded.width, decoded.height),
                size,
                "both decodes see the same (oriented) size"
            );
        }
    }
    true
}

/// Colour conversion through an ICC profile a file carries: `data` is the profile,
/// applied to small RGB and RGBA images and, when it is a CMYK one, to ink values.
pub fn icc(data: &[u8]) {
    let pixel = |x: u32, y: u32| [(x * 16) as u8, (y * 16) as u8, ((x + y) * 8) as u8];
    let rgb = RgbImage::from_fn(16, 16, |x, y| image::Rgb(pixel(x, y)));
    let rgba = RgbaImage::from_fn(16, 16, |x, y| {
        let [r, g, b] = pixel(x, y);
        image::Rgba([r, g, b, (x * 16) as u8])
    });
    for image in [DynamicImage::ImageRgb8(rgb), DynamicImage::ImageRgba8(rgba)] {
        let mut converted = image.clone();
        convert_to_srgb(&mut converted, data);
        assert_eq!(converted.dimensions(), image.dimensions());
        assert_eq!(converted.color(), image.color());
        if let (DynamicImage::ImageRgba8(before), DynamicImage::ImageRgba8(after)) =
            (&image, &converted)
        {
            let alpha = |img: &RgbaImage| img.pixels().map(|p| p.0[3]).collect::<Vec<_>>();
            assert_eq!(alpha(before), alpha(after), "alpha passes through");
        }
    }
    if let Some(profile) = cmyk_profile(data) {
        let inks: Vec<u8> = (0..=255u8)
            .flat_map(|v| [v, 255 - v, v / 2, v / 3])
            .collect();
        if let Some(rgb) = cmyk_to_srgb(&profile, &inks) {
            assert_eq!(rgb.len(), inks.len() / 4 * 3);
        }
    }
}

/// The upload's `processors` and `options` fields (the first line of `data` and the
/// rest), and the same options as the process endpoint checks them for each processor.
/// `false` for what the form reader refuses before any parsing (not UTF-8, too long).
pub fn options(data: &[u8]) -> bool {
    let (processors, options) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(processors) = std::str::from_utf8(processors) else {
        return false;
    };
    let options = match options.map(std::str::from_utf8) {
        Some(Err(_)) => return false,
        Some(Ok(text)) => Some(text),
        None => None,
    };
    if processors.len() > PROCESSORS_FIELD_LIMIT
        || options.is_some_and(|text| text.len() > OPTIONS_FIELD_LIMIT)
    {
        return false;
    }
    check_requested_jobs(processors, options);
    if let Some(value) = options.and_then(|text| serde_json::from_str(text).ok()) {
        for processor in Processor::ALL {
            let name = processor.name();
            match processing::validate(name, &value) {
                Ok(variant) => {
                    assert_eq!(variant, processor.default_variant());
                    let _ = processing::watermark_image(name, &value);
                    assert!(!processing::variant_names(name, &variant, &value).is_empty());
                }
                Err(err) => assert!(!err.to_string().is_empty()),
            }
        }
    }
    true
}

/// What the upload handler asks of its `processors` and `options` fields.
pub(crate) fn check_requested_jobs(processors: &str, options: Option<&str>) {
    if let Ok(jobs) = parse_processors(processors, options) {
        for job in &jobs {
            let variant = processing::validate(&job.processor, &job.options)
                .unwrap_or_else(|err| panic!("an accepted job is valid: {job:?}: {err}"));
            assert_eq!(variant, job.variant);
        }
        let mut variants: Vec<&str> = jobs.iter().map(|job| job.variant.as_str()).collect();
        variants.sort_unstable();
        variants.dedup();
        assert_eq!(variants.len(), jobs.len(), "variant names are unique");
    }
}

/// The processor child's job loop on one `pdf_thumbnail` job whose original is
/// `data`, as a worker sends it over the pipe, then the worker's reading of the
/// child's reply. PDFium is the library `make pdfium` installs
/// (`.pdfium/libpdfium.so` in the repository), or `PDFIUM_LIBRARY`. The options
/// are picked by the input's length. `false` for bytes that do not sniff as a PDF.
pub fn pdf_child(data: &[u8]) -> bool {
    const NO_CPU_LIMIT: u64 = 1 << 40;
    if MediaKind::sniff(data) != Some(MediaKind::Pdf) {
        return false;
    }
    static PDFIUM: std::sync::Once = std::sync::Once::new();
    PDFIUM.call_once(|| {
        let library = std::env::var_os("PDFIUM_LIBRARY").map_or_else(
            || {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(processing::DEFAULT_PDFIUM_LIBRARY)
            },
            std::path::PathBuf::from,
        );
        processing::set_pdfium_library(library);
        if let Err(err) = processing::load_pdfium() {
            panic!("the pdf_child target needs PDFium (make pdfium): {err}");
        }
    });
    let choices = [
        serde_json::json!({}),
        serde_json::json!({"width": 40, "height": 3000, "format": "png"}),
        serde_json::json!({"page": 2, "format": "jpeg", "quality": 20}),
    ];
    let options = &choices[data.len() % choices.len()];
    let request = Request {
        job_id: uuid::Uuid::nil(),
        processor: "pdf_thumbnail".into(),
        variant: "pdf_thumbnail".into(),
        options: options.clone(),
        limits: Limits::default(),
        // No CPU limit: libFuzzer's -timeout catches a slow input.
        cpu_limit_secs: NO_CPU_LIMIT,
        original_len: data.len() as u64,
        watermark_len: None,
    };
    let mut pipe_in = Vec::with_capacity(data.len() + 512);
    protocol::write_frame(&mut pipe_in, &request, &[data]).expect("a job fits a frame");
    let mut pipe_out = Vec::new();
    child::answer_jobs(&mut pipe_in.as_slice(), &mut pipe_out, false)
        .expect("the child answers a whole job");

    let variants = processing::variant_names("pdf_thumbnail", "pdf_thumbnail", options);
    let bounds = ReplyBounds {
        variants: &variants,
        max_bytes: DEFAULT_PROCESSOR_MEMORY_LIMIT,
    };
    let mut reply = pipe_out.as_slice();
    let outcome = futures::executor::block_on(protocol::read_reply(&mut reply, &bounds))
        .expect("the worker accepts what a sound child replies");
    assert!(reply.is_empty(), "the reply is one frame, read whole");
    match outcome {
        Outcome::Processed(processed) => {
            assert!(processed.source.page_count.is_some_and(|pages| pages >= 1));
            assert_eq!(processed.outputs.len(), 1, "{processed:?}");
            processed.outputs.iter().for_each(check_output);
        }
        Outcome::Refused(_) => {}
        Outcome::Panicked(reason) => panic!("pdf_thumbnail panicked in the child: {reason}"),
    }
    true
}

/// A worker reading `data` as a child's reply to a `thumbnail` job: whatever a
/// compromised child writes, the worker takes only outputs the job makes, within
/// the memory limit (here 1 MiB), or refuses the reply.
pub fn reply(data: &[u8]) {
    const MAX_BYTES: u64 = 1 << 20;
    let variants = vec!["thumbnail".to_string()];
    let bounds = ReplyBounds {
        variants: &variants,
        max_bytes: MAX_BYTES,
    };
    let mut pipe = data;
    if let Ok(Outcome::Processed(processed)) =
        futures::executor::block_on(protocol::read_reply(&mut pipe, &bounds))
    {
        assert!(processed.outputs.len() <= 1, "{processed:?}");
        let total: usize = processed.outputs.iter().map(|out| out.bytes.len()).sum();
        assert!(total as u64 <= MAX_BYTES);
        assert!(
            processed
                .outputs
                .iter()
                .all(|out| out.variant == "thumbnail")
        );
    }
}

/// One processor job on an image original, end to end: decode, geometry, resample,
/// encode. The job is picked by the input's length; an image watermark uses the
/// input as its mark too. `false` for bytes that are not an image Kiln reads.
pub fn process(data: &[u8]) -> bool {
    if !MediaKind::sniff(data).is_some_and(MediaKind::is_image) {
        return false;
    }
    let jobs = [
        ("thumbnail", serde_json::json!({})),
        (
            "thumbnail",
            serde_json::json!({"width": 7, "height": 50, "fit": "cover", "format": "png"}),
        ),
        ("resize", serde_json::json!({})),
        (
            "resize",
            serde_json::json!({"width": 33, "format": "webp", "quality": 40}),
        ),
        ("resize", serde_json::json!({"height": 3, "fit": "cover"})),
        (
            "webp",
            serde_json::json!({"lossless": true, "max_width": 20}),
        ),
        ("webp", serde_json::json!({"quality": 10})),
        (
            "watermark",
            serde_json::json!({"text": "Kiln ©", "position": "top-left"}),
        ),
        (
            "watermark",
            serde_json::json!({"image": "self", "scale": 0.5, "opacity": 0.7}),
        ),
    ];
    let (processor, options) = &jobs[data.len() % jobs.len()];
    let inputs = processing::Inputs {
        original: data,
        watermark: Some(data),
    };
    let limits = Limits::default();
    let Ok(processed) = processing::run(processor, processor, options, inputs, &limits) else {
        return true;
    };
    let (Some(width), Some(height)) = (processed.source.width, processed.source.height) else {
        panic!("an image run reports the image's size: {processed:?}");
    };
    for output in &processed.outputs {
        check_output(output);
        assert!(
            output.width <= width && output.height <= height,
            "never upscaled: {output:?} from {width}x{height}"
        );
    }
    true
}

/// What holds of every variant a processor makes: at least 1x1, a file Kiln
/// reads as the type it claims, of the size it says.
fn check_output(output: &Output) {
    assert!(output.width >= 1 && output.height >= 1, "{output:?}");
    let kind = MediaKind::sniff(&output.bytes)
        .unwrap_or_else(|| panic!("an output is a file Kiln reads: {output:?}"));
    assert_eq!(kind.content_type(), output.content_type());
    assert_eq!(
        probe_dimensions(&output.bytes),
        Some((output.width, output.height)),
        "an output is the size it says"
    );
}

/// A finding is kept as `tests/fixtures/fuzz/TARGET-what-it-was.ext`. Runs each
/// of `target`'s through `run` (given the target's name), which must return
/// without a panic and within the fuzzers' time limit (`FUZZ_TIMEOUT`, 60 s);
/// returns how many there were.
#[cfg(test)]
pub(crate) fn replay_findings(target: &str, run: fn(&str, &[u8])) -> usize {
    use std::path::Path;
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut findings: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/fuzz")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.split_once('-').map(|(of, _)| of) == Some(target)
        })
        .collect();
    findings.sort();
    for path in &findings {
        let (name, target) = (path.display().to_string(), target.to_string());
        let data = std::fs::read(path).unwrap();
        let (done, finished) = mpsc::channel();
        let running = std::thread::spawn(move || {
            run(&target, &data);
            let _ = done.send(());
        });
        match finished.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => running.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("{name} panicked in its target (the message is above)")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("{name} still runs after 60 s"),
        }
    }
    findings.len()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Runs `data` through the fuzz target `target` (the names of fuzz/Cargo.toml).
    fn run_target(target: &str, data: &[u8]) {
        match target {
            "sniff" => sniff(data),
            "probe" => probe(data),
            "decode_jpeg" => _ = decode(MediaKind::Jpeg, data),
            "decode_png" => _ = decode(MediaKind::Png, data),
            "decode_gif" => _ = decode(MediaKind::Gif, data),
            "decode_webp" => _ = decode(MediaKind::Webp, data),
            "decode_tiff" => _ = decode(MediaKind::Tiff, data),
            "decode_bmp" => _ = decode(MediaKind::Bmp, data),
            "icc" => icc(data),
            "options" => _ = options(data),
            "process" => _ = process(data),
            "pdf_child" => _ = pdf_child(data),
            "reply" => reply(data),
            other => panic!("no fuzz target `{other}`"),
        }
    }

    /// The PDFs and reply frames of `fuzz/seeds` run through their targets, so
    /// the targets work (PDFium renders, the worker reads the child's reply)
    /// before anyone starts a fuzzer.
    #[test]
    fn the_pdf_and_reply_seeds_run_through_their_targets() {
        let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
        let mut rendered = 0;
        for (target, dir) in [("pdf_child", "pdf"), ("reply", "reply")] {
            for entry in std::fs::read_dir(seeds.join(dir)).expect("the seeds") {
                let data = std::fs::read(entry.expect("a seed").path()).unwrap();
                run_target(target, &data);
                rendered += usize::from(target == "pdf_child");
            }
        }
        assert!(rendered >= 6, "{rendered} PDF seeds");
    }

    /// Every finding of the targets whose entry points are in this module now
    /// runs cleanly (the multipart target's findings are replayed beside its
    /// entry point).
    #[test]
    fn every_input_a_fuzz_target_failed_on_now_runs_cleanly() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
        let targets: std::collections::BTreeSet<String> = std::fs::read_dir(&dir)
            .expect("tests/fixtures/fuzz")
            .map(|entry| entry.expect("a directory entry").file_name())
            .map(|name| {
                let name = name.to_string_lossy().into_owned();
                let (target, _) = name
                    .split_once('-')
                    .unwrap_or_else(|| panic!("{name} is not named TARGET-what-it-was"));
                target.to_string()
            })
            .filter(|target| target != "multipart")
            .collect();
        let replayed: usize = targets
            .iter()
            .map(|target| replay_findings(target, run_target))
            .sum();
        assert!(replayed > 0);
    }
}
