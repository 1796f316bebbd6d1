//! Criterion benches of each processor, in process: [`kiln::processing::run`] on a
//! whole input already in memory, as a worker runs it, so no process start and no file
//! I/O are timed (`scripts/bench-processors.py` times whole `kiln process` runs against
//! other tools instead). Run with `make bench-criterion` or
//! `cargo bench --bench processors`; a name filter works as usual
//! (`cargo bench --bench processors -- thumbnail`).
//!
//! Inputs come from the corpus `scripts/bench-processors.py` builds (`KILN_BENCH_CORPUS`,
//! default `target/bench-corpus/`): `photos/storm-12mp.jpg`, `photos/storm-24mp.jpg`,
//! the camera-like files in `camera/` and `pdfs/bash.pdf`. Without it they fall back to `tests/fixtures/photo.jpg` (1200x800)
//! and `tests/fixtures/two-pages.pdf`, which exercise the same code on far less work.
//! `pdf_thumbnail` needs PDFium (`PDFIUM_LIBRARY`, default `.pdfium/libpdfium.so`, from
//! `make pdfium`); without it that bench is skipped with a message.
//!
//! Ten samples per bench, flat sampling (the same iteration count in each) and a short
//! measurement keep the whole run to about a minute on two cores once built; the
//! confidence intervals criterion reports are correspondingly wide.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kiln::processing::{self, Limits, ProcessError, Processed};
use serde_json::{Value, json};

const SAMPLES: usize = 10;
/// The shortest measurement; slow processors get ten runs' worth instead (see `bench`).
const MEASUREMENT: Duration = Duration::from_secs(3);

/// One input file, read once.
struct Input {
    /// The file's stem, used as the bench id ("storm-12mp", "photo").
    name: String,
    bytes: Vec<u8>,
}

impl Input {
    fn read(path: &Path) -> Option<Input> {
        let bytes = std::fs::read(path).ok()?;
        let name = path.file_stem()?.to_string_lossy().into_owned();
        Some(Input { name, bytes })
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("KILN_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/bench-corpus"))
}

/// The corpus files that exist, or else the fixture (the corpus is all or nothing in
/// practice: the script builds every file at once).
fn inputs(corpus_files: &[&str], fixture: &str) -> Vec<Input> {
    let corpus: Vec<Input> = corpus_files
        .iter()
        .filter_map(|file| Input::read(&corpus_dir().join(file)))
        .collect();
    if !corpus.is_empty() {
        return corpus;
    }
    eprintln!(
        "processors bench: no corpus in {}, using {fixture} (build the corpus with \
         `python3 scripts/bench-processors.py`)",
        corpus_dir().display()
    );
    let path = repo().join(fixture);
    let input = Input::read(&path).unwrap_or_else(|| panic!("cannot read {}", path.display()));
    vec![input]
}

/// Read once, on first use, and shared by the groups.
static PHOTOS: LazyLock<Vec<Input>> = LazyLock::new(|| {
    inputs(
        &["photos/storm-12mp.jpg", "photos/storm-24mp.jpg"],
        "tests/fixtures/photo.jpg",
    )
});
/// The camera-like corpus (2.4–2.5 bits per pixel), for `thumbnail-camera`, which
/// `scripts/bench-inprocess.py` runs pinned to one core beside pyvips.
static CAMERA: LazyLock<Vec<Input>> = LazyLock::new(|| {
    inputs(
        &[
            "camera/storm-12mp.jpg",
            "camera/wood-12mp.jpg",
            "camera/ladybird-12mp.jpg",
            "camera/storm-24mp.jpg",
            "camera/wood-24mp.jpg",
            "camera/ladybird-24mp.jpg",
            "camera/storm-12mp-progressive.jpg",
            "camera/wood-12mp-444.jpg",
            "camera/ladybird-12mp-restart.jpg",
        ],
        "tests/fixtures/photo.jpg",
    )
});
static PDFS: LazyLock<Vec<Input>> =
    LazyLock::new(|| inputs(&["pdfs/bash.pdf"], "tests/fixtures/two-pages.pdf"));

fn process(processor: &str, options: &Value, input: &Input) -> Result<Processed, ProcessError> {
    processing::run(
        processor,
        processor,
        options,
        &input.bytes,
        &Limits::default(),
    )
}

/// Benches `processor` with `options` on each input, as group `processor` with one
/// bench per input. One untimed run first checks the processor succeeds and sets the
/// measurement time to at least ten runs, so criterion neither warns nor stops short.
fn bench(c: &mut Criterion, processor: &str, options: Value, inputs: &[Input]) {
    bench_as(c, processor, processor, options, inputs);
}

/// [`bench`] under the group name `group`.
fn bench_as(c: &mut Criterion, group: &str, processor: &str, options: Value, inputs: &[Input]) {
    let mut group = c.benchmark_group(group);
    group.sample_size(SAMPLES).sampling_mode(SamplingMode::Flat);
    for input in inputs {
        let started = Instant::now();
        if let Err(err) = process(processor, &options, input) {
            panic!("{processor} on {}: {err}", input.name);
        }
        let once = started.elapsed();
        group.measurement_time(MEASUREMENT.max(once * (SAMPLES as u32 + 1)));
        group.bench_function(input.name.as_str(), |b| {
            b.iter(|| process(processor, black_box(&options), black_box(input)))
        });
    }
    group.finish();
}

fn thumbnail(c: &mut Criterion) {
    bench(c, "thumbnail", json!({}), &PHOTOS);
}

/// The default thumbnail (300 px, JPEG q85) of each camera-like file.
fn thumbnail_camera(c: &mut Criterion) {
    bench_as(c, "thumbnail-camera", "thumbnail", json!({}), &CAMERA);
}

fn resize(c: &mut Criterion) {
    // No options: the default set, sm/md/lg/xl (those narrower than the input).
    bench(c, "resize", json!({}), &PHOTOS[..1]);
}

fn webp(c: &mut Criterion) {
    bench(c, "webp", json!({}), &PHOTOS[..1]);
}

/// A 512-pixel thumbnail in each lossy format, at the qualities a page would
/// use, to weigh AVIF's CPU against its bytes (the sizes go to stderr).
fn formats(c: &mut Criterion) {
    for (format, quality) in [("jpeg", 80), ("webp", 75), ("avif", 65)] {
        let options = json!({"width": 512, "height": 512, "format": format, "quality": quality});
        for input in PHOTOS.iter() {
            if let Ok(processed) = process("thumbnail", &options, input) {
                let bytes = processed.outputs.first().map_or(0, |out| out.bytes.len());
                eprintln!(
                    "processors bench: {format} q{quality} of {}: {bytes} bytes",
                    input.name
                );
            }
        }
        bench_as(
            c,
            &format!("thumbnail-512-{format}"),
            "thumbnail",
            options,
            &PHOTOS,
        );
    }
}

fn watermark(c: &mut Criterion) {
    bench(c, "watermark", json!({"text": "© Kiln"}), &PHOTOS[..1]);
}

fn pdf_thumbnail(c: &mut Criterion) {
    let library = std::env::var_os("PDFIUM_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(processing::DEFAULT_PDFIUM_LIBRARY));
    if !library.exists() {
        eprintln!(
            "processors bench: skipping pdf_thumbnail, {} is missing (`make pdfium`)",
            library.display()
        );
        return;
    }
    processing::set_pdfium_library(library);
    match process("pdf_thumbnail", &json!({}), &PDFS[0]) {
        Err(err @ ProcessError::PdfiumUnavailable(_)) => {
            eprintln!("processors bench: skipping pdf_thumbnail: {err}");
        }
        _ => bench(c, "pdf_thumbnail", json!({}), &PDFS),
    }
}

criterion_group! {
    name = processors;
    config = Criterion::default()
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(MEASUREMENT);
    targets = thumbnail, thumbnail_camera, resize, webp, formats, watermark, pdf_thumbnail
}
criterion_main!(processors);
