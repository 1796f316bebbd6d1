//! What the process boundary costs a job: a job run in process
//! ([`kiln::processing::run`]) against the same job sent through the processor
//! pool to a `kiln processor` child, as a worker sends it (pool → slot → pipes →
//! child → reply), with the child already started. Three jobs: `thumbnail` on
//! `tests/fixtures/small.jpg` (300x200), where the boundary's fixed cost shows,
//! `resize` to every size on the corpus' 12 MP photo
//! (`target/bench-corpus/photos/storm-12mp.jpg`), where the bytes sent both ways
//! are largest, and `pdf_thumbnail` on the corpus' `pdfs/bash.pdf` (400 KB, the
//! first page), where the child's own PDFium renders. The corpus is built by
//! `make bench-processors`; a job whose input is missing is skipped.
//! Run with `make bench-boundary` or `cargo bench --bench boundary`.
//!
//! The child is the `kiln` binary cargo builds for this bench. Both sides load
//! PDFium from `.pdfium/libpdfium.so` (`make pdfium`); without it the PDF job
//! fails and the bench stops.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use actix::Actor;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use kiln::actors::processors::{ChildCommand, ProcessorPids, ProcessorPool, RunProcessor};
use kiln::config::DEFAULT_PROCESSOR_MEMORY_LIMIT;
use kiln::processing::{self, Limits};
use serde_json::json;

/// One job to time both ways.
struct Job {
    name: &'static str,
    processor: &'static str,
    input: Vec<u8>,
    samples: usize,
}

fn jobs() -> Vec<Job> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut jobs = vec![Job {
        name: "thumbnail small.jpg",
        processor: "thumbnail",
        input: std::fs::read(repo.join("tests/fixtures/small.jpg")).expect("the fixture"),
        samples: 30,
    }];
    match std::fs::read(repo.join("target/bench-corpus/photos/storm-12mp.jpg")) {
        Ok(input) => jobs.push(Job {
            name: "resize storm-12mp.jpg",
            processor: "resize",
            input,
            samples: 10,
        }),
        Err(_) => eprintln!(
            "boundary bench: no 12 MP photo in target/bench-corpus; run make bench-processors"
        ),
    }
    match std::fs::read(repo.join("target/bench-corpus/pdfs/bash.pdf")) {
        Ok(input) => jobs.push(Job {
            name: "pdf_thumbnail bash.pdf",
            processor: "pdf_thumbnail",
            input,
            samples: 30,
        }),
        Err(_) => eprintln!(
            "boundary bench: no bash.pdf in target/bench-corpus; run make bench-processors"
        ),
    }
    jobs
}

fn boundary(c: &mut Criterion) {
    let pdfium = Path::new(env!("CARGO_MANIFEST_DIR")).join(processing::DEFAULT_PDFIUM_LIBRARY);
    processing::set_pdfium_library(pdfium.clone());
    let system = actix::System::new();
    let command = ChildCommand {
        binary: env!("CARGO_BIN_EXE_kiln").into(),
        memory_limit: DEFAULT_PROCESSOR_MEMORY_LIMIT,
        cpu_limit: Duration::from_secs(60),
        pdfium_library: pdfium,
        test_faults: false,
    };
    let pool = system.block_on(async {
        let pool = ProcessorPool::new(command, 1, Limits::default()).start();
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
    for job in jobs() {
        let mut group = c.benchmark_group(job.name);
        group
            .sample_size(job.samples)
            .measurement_time(Duration::from_secs(5));
        group.bench_function("in process", |b| {
            b.iter(|| {
                let inputs = &job.input;
                processing::run(
                    job.processor,
                    job.processor,
                    &json!({}),
                    inputs,
                    &Limits::default(),
                )
                .expect("the input makes its variants")
            })
        });
        let input = Bytes::from(job.input.clone());
        group.bench_function("in a processor child", |b| {
            b.iter_custom(|iterations| {
                system.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        let run = RunProcessor {
                            job_id: uuid::Uuid::nil(),
                            processor: job.processor.into(),
                            variant: job.processor.into(),
                            options: json!({}),
                            input: input.clone(),
                            watermark: None,
                            time_limit: Duration::from_secs(60),
                        };
                        let processed = pool.send(run).await.expect("the pool answers");
                        black_box(processed.expect("the input makes its variants"));
                    }
                    started.elapsed()
                })
            })
        });
        group.finish();
    }
}

criterion_group!(benches, boundary);
criterion_main!(benches);
