//! What uploads Kiln accepts and how their jobs run: upload size and extra
//! types (`MAX_UPLOAD_SIZE`, `ALLOWED_EXTRA_TYPES`), the worker's slots and
//! patience (`WORKER_CONCURRENCY`, `JOB_TIMEOUT`, `MAX_RETRIES`), what a
//! processor may decode and load (`MAX_IMAGE_PIXELS`, `PDFIUM_LIBRARY`), the
//! `kiln processor` children's limits (`PROCESSOR_*`), and how often lost
//! transport entries are looked for (`RECONCILE_INTERVAL`, `REQUEUE_AFTER`).

use std::path::PathBuf;
use std::time::Duration;

use super::env::{ConfigError, Env};
use crate::domain::delivery::executes_in_browsers;

/// How the processor children (`kiln processor`) are started and confined.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// `PROCESSOR_BINARY`: the `kiln` executable to start as `kiln processor`;
    /// unset means this process's own executable. Tests point it at the built
    /// binary, since they run Kiln inside the test harness.
    pub binary: Option<PathBuf>,
    /// `PROCESSOR_MEMORY_LIMIT`: the address space a child may use (1 GiB).
    pub memory_limit: u64,
    /// `PROCESSOR_CPU_LIMIT`: CPU time one job may use (2m); `JOB_TIMEOUT`
    /// bounds its wall-clock time.
    pub cpu_limit: Duration,
    /// `KILN_TEST_FAULTS`: lets the test suite ask a child for a crash, a hang
    /// or an out-of-memory. Debug builds only: a release build refuses it at
    /// start, and its children have no fault code at all.
    pub test_faults: bool,
}

/// The default `PROCESSOR_MEMORY_LIMIT`.
pub const DEFAULT_PROCESSOR_MEMORY_LIMIT: u64 = 1 << 30;

/// The smallest `PROCESSOR_MEMORY_LIMIT`: below it a child cannot even map
/// the binary and its libraries.
const MIN_PROCESSOR_MEMORY: u64 = 64 << 20;

/// The pipeline settings, as [`read`] finds them (each a field of
/// [`super::Config`], documented there).
pub(super) struct Pipeline {
    pub max_upload_size: u64,
    pub extra_allowed_types: Vec<String>,
    pub worker_concurrency: usize,
    pub job_timeout: Duration,
    pub max_retries: u32,
    pub max_image_pixels: u64,
    pub max_frames: u32,
    pub pdfium_library: PathBuf,
    pub processor: ProcessorConfig,
    pub reconcile_interval: Duration,
    pub requeue_after: Duration,
}

/// Reads the pipeline variables.
pub(super) fn read(env: &Env<'_>) -> Result<Pipeline, ConfigError> {
    Ok(Pipeline {
        worker_concurrency: env.positive("WORKER_CONCURRENCY")?.unwrap_or(4) as usize,
        job_timeout: env
            .duration("JOB_TIMEOUT")?
            .unwrap_or(Duration::from_secs(300)),
        max_retries: env.parse("MAX_RETRIES")?.unwrap_or(3),
        max_upload_size: env
            .byte_size("MAX_UPLOAD_SIZE")?
            .unwrap_or(100 * 1024 * 1024),
        max_image_pixels: match env.parse::<u64>("MAX_IMAGE_PIXELS")? {
            Some(0) => return Err(ConfigError::new("MAX_IMAGE_PIXELS", "must be at least 1")),
            Some(pixels) => pixels,
            None => crate::processing::DEFAULT_MAX_PIXELS,
        },
        max_frames: env
            .positive("MAX_FRAMES")?
            .unwrap_or(crate::processing::DEFAULT_MAX_FRAMES),
        extra_allowed_types: env
            .string("ALLOWED_EXTRA_TYPES")
            .map(|list| parse_extra_types(&list))
            .transpose()?
            .unwrap_or_default(),
        pdfium_library: env
            .string("PDFIUM_LIBRARY")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(crate::processing::DEFAULT_PDFIUM_LIBRARY)),
        processor: processor_config(env)?,
        reconcile_interval: env
            .duration("RECONCILE_INTERVAL")?
            .unwrap_or(Duration::from_secs(5)),
        requeue_after: env
            .duration("REQUEUE_AFTER")?
            .unwrap_or(Duration::from_secs(30)),
    })
}

fn processor_config(env: &Env<'_>) -> Result<ProcessorConfig, ConfigError> {
    let memory_limit = env
        .byte_size("PROCESSOR_MEMORY_LIMIT")?
        .unwrap_or(DEFAULT_PROCESSOR_MEMORY_LIMIT);
    if memory_limit < MIN_PROCESSOR_MEMORY {
        return Err(ConfigError::new(
            "PROCESSOR_MEMORY_LIMIT",
            "must be at least 64MiB",
        ));
    }
    let test_faults = env.flag("KILN_TEST_FAULTS")?.unwrap_or(false);
    if test_faults && !cfg!(debug_assertions) {
        return Err(ConfigError::new(
            "KILN_TEST_FAULTS",
            "is for the test suite; a release build has no fault processors",
        ));
    }
    Ok(ProcessorConfig {
        binary: env.string("PROCESSOR_BINARY").map(PathBuf::from),
        memory_limit,
        cpu_limit: env
            .duration("PROCESSOR_CPU_LIMIT")?
            .unwrap_or(Duration::from_secs(120)),
        test_faults,
    })
}

/// `ALLOWED_EXTRA_TYPES`: a MIME list without any type browsers run as a page
/// or a script, which no response header makes safe to serve.
fn parse_extra_types(raw: &str) -> Result<Vec<String>, ConfigError> {
    const VARIABLE: &str = "ALLOWED_EXTRA_TYPES";
    let types = parse_mime_list(VARIABLE, raw)?;
    match types.iter().find(|t| executes_in_browsers(t)) {
        Some(runs) => Err(ConfigError::new(
            VARIABLE,
            format!(
                "{runs} is run by browsers (HTML, XML, SVG and JavaScript are), so Kiln cannot serve it safely; remove it"
            ),
        )),
        None => Ok(types),
    }
}

/// `type/subtype` entries, comma separated, lowercased.
fn parse_mime_list(variable: &'static str, raw: &str) -> Result<Vec<String>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let valid = entry.split_once('/').is_some_and(|(kind, sub)| {
                !kind.is_empty() && !sub.is_empty() && !entry.contains(char::is_whitespace)
            });
            match valid {
                true => Ok(entry.to_ascii_lowercase()),
                false => Err(ConfigError::new(
                    variable,
                    format!("{entry:?} is not a MIME type like application/zip"),
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::config;
    use super::*;

    #[test]
    fn extra_types_that_browsers_run_are_refused_by_name() {
        for list in [
            "text/html",
            "application/zip, image/svg+xml",
            "Text/JavaScript",
        ] {
            let err = config(&[("ALLOWED_EXTRA_TYPES", list)]).unwrap_err();
            assert_eq!(err.variable, "ALLOWED_EXTRA_TYPES", "{list}");
            assert!(err.to_string().contains("run by browsers"), "{err}");
        }
        let config = config(&[("ALLOWED_EXTRA_TYPES", "application/zip,video/mp4")]).unwrap();
        assert_eq!(config.extra_allowed_types, ["application/zip", "video/mp4"]);
    }

    #[test]
    fn sizes_and_durations_take_human_units() {
        let config = config(&[("MAX_UPLOAD_SIZE", "10MiB"), ("JOB_TIMEOUT", "90s")]).unwrap();
        assert_eq!(config.max_upload_size, 10 * 1024 * 1024);
        assert_eq!(config.job_timeout, Duration::from_secs(90));
    }
}
