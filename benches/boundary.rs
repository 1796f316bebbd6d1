//! What the process boundary costs a job: `thumbnail` on `tests/fixtures/small.jpg`
//! (300x200) run in process ([`kiln::processing::run`]) against the same job sent
//! through the processor pool to a `kiln processor` child, as a worker sends it
//! (pool → slot → pipes → child → reply), with the child already started.
//! Run with `make bench-boundary` or `cargo bench --bench boundary`.
//!
//! The child is the `kiln` binary cargo builds for this bench; PDFium is not
//! needed (the child reports it missing and goes on).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use actix::Actor;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use kiln::actors::processors::{ChildCommand, ProcessorPids, ProcessorPool, RunProcessor};
use kiln::config::DEFAULT_PROCESSOR_MEMORY_LIMIT;
use kiln::processing::{self, DEFAULT_MAX_PIXELS, Limits};
use serde_json::json;

fn small_jpeg() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small.jpg");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn boundary(c: &mut Criterion) {
    let input = small_jpeg();
    let mut group = c.benchmark_group("thumbnail small.jpg");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));

    group.bench_function("in process", |b| {
        b.iter(|| {
            processing::run(
                "thumbnail",
                "thumbnail",
                &json!({}),
                &input,
                &Limits::default(),
            )
            .expect("the fixture makes a thumbnail")
        })
    });

    let system = actix::System::new();
    let command = ChildCommand {
        binary: env!("CARGO_BIN_EXE_kiln").into(),
        memory_limit: DEFAULT_PROCESSOR_MEMORY_LIMIT,
        cpu_limit: Duration::from_secs(60),
        pdfium_library: Path::new(env!("CARGO_MANIFEST_DIR")).join(".pdfium/libpdfium.so"),
        test_faults: false,
    };
    let pool = system.block_on(async {
        let pool = ProcessorPool::new(command, 1, DEFAULT_MAX_PIXELS).start();
        while pool
            .send(ProcessorPids)
            .await
            .expect("the pool answers")
            .is_empty()
        {
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        pool
    });
    let input = Bytes::from(input);
    group.bench_function("in a processor child", |b| {
        b.iter_custom(|iterations| {
            system.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let job = RunProcessor {
                        job_id: uuid::Uuid::nil(),
                        processor: "thumbnail".into(),
                        variant: "thumbnail".into(),
                        options: json!({}),
                        input: input.clone(),
                        watermark: None,
                        time_limit: Duration::from_secs(60),
                    };
                    let processed = pool.send(job).await.expect("the pool answers");
                    black_box(processed.expect("the fixture makes a thumbnail"));
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, boundary);
criterion_main!(benches);
