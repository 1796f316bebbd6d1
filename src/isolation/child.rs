//! `kiln processor`: the loop a processor child runs.
//!
//! Started by a worker's processor pool with its stdin and stdout as pipes, the
//! child loads PDFium (so a PDF job does not pay for it), confines itself
//! ([`super::sandbox`]), says hello, then answers one job at a time until its
//! stdin closes. A processor's panic is caught and reported as the job's
//! failure; anything worse (a signal, running out of memory, the CPU limit)
//! ends the child, and its parent names the reason and starts another.
//!
//! The child reads no configuration and no environment: everything it needs
//! comes from its parent on the command line and in each request.

use std::io::{self, BufWriter, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use super::protocol::{self, Hello, OutputHeader, PROTOCOL_VERSION, Reply, Request};
use super::{memory, sandbox};
use crate::processing::{self, Inputs, ProcessError, Processed};

/// What a child is started with (`kiln processor` arguments).
#[derive(Debug, Clone)]
pub struct ChildSettings {
    pub memory_limit: u64,
    pub pdfium_library: PathBuf,
    /// The worker's process id: the child dies with it.
    pub parent_pid: u32,
    /// Debug builds only: obey the fault markers the test suite puts in inputs.
    pub test_faults: bool,
}

/// Why a child stopped other than by its stdin closing.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("the worker that started the child is gone")]
    Orphaned,
    #[error("cannot apply the processor's resource limits")]
    Limits(#[source] io::Error),
    #[error("the pipe to the worker failed")]
    Pipe(#[from] protocol::ProtocolError),
    #[error("cannot write to the worker")]
    Write(#[from] io::Error),
}

/// Runs the child until its parent closes stdin.
pub fn serve(settings: ChildSettings) -> Result<(), ChildError> {
    die_with(settings.parent_pid)?;
    memory::exit_on_allocation_failure();
    processing::set_pdfium_library(settings.pdfium_library);
    let pdf = processing::load_pdfium().map_err(|err| err.to_string());
    let sandbox = sandbox::confine(settings.memory_limit).map_err(ChildError::Limits)?;
    memory::keep_freed_memory();

    let mut input = io::stdin().lock();
    let mut output = BufWriter::new(io::stdout().lock());
    let hello = Hello {
        version: PROTOCOL_VERSION,
        pdf,
        sandbox,
    };
    protocol::write_frame(&mut output, &hello, &[])?;
    answer_jobs(&mut input, &mut output, settings.test_faults)
}

/// Has the kernel kill this child when the worker that started it dies, even
/// mid-job (a closed stdin is noticed only between jobs). Asked for here, not
/// between fork and exec in the worker, so that the worker starts children with
/// posix_spawn instead of a fork that copies its page tables. A worker that died
/// before this ran has already left the child to another parent: it stops.
fn die_with(parent_pid: u32) -> Result<(), ChildError> {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and nothing else;
    // getppid cannot fail.
    let parent = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::getppid()
    };
    match u32::try_from(parent) == Ok(parent_pid) {
        true => Ok(()),
        false => Err(ChildError::Orphaned),
    }
}

/// Answers jobs from `input` on `output`, one at a time, until `input` ends.
/// The part of [`serve`] after the hello, on any pipe: the `pdf_child` fuzz
/// target drives it with bytes in memory.
pub(crate) fn answer_jobs(
    input: &mut impl Read,
    output: &mut impl Write,
    test_faults: bool,
) -> Result<(), ChildError> {
    while let Some(request) = protocol::read_header::<Request>(input)? {
        let original = protocol::read_payload(input, request.original_len)?;
        let watermark = request
            .watermark_len
            .map(|len| protocol::read_payload(input, len))
            .transpose()?;
        sandbox::limit_cpu_for_next_job(request.cpu_limit_secs).map_err(ChildError::Limits)?;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match test_faults.then(|| test_fault(&original)).flatten() {
                Some(refusal) => Err(refusal),
                None => run(&request, &original, watermark.as_deref()),
            }
        }));
        drop((original, watermark));
        match outcome {
            Ok(Ok(processed)) => send_outputs(output, processed)?,
            Ok(Err(refusal)) => protocol::write_frame(output, &Reply::Refused(refusal), &[])?,
            Err(panic) => {
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                protocol::write_frame(output, &Reply::Panicked(reason), &[])?;
            }
        }
        output.flush()?;
    }
    Ok(())
}

/// The fault the test suite asked for in `input`, if any (see `faults`).
#[cfg(debug_assertions)]
fn test_fault(input: &[u8]) -> Option<ProcessError> {
    super::faults::obey(input)
}

/// Release builds have no faults.
#[cfg(not(debug_assertions))]
fn test_fault(_: &[u8]) -> Option<ProcessError> {
    None
}

fn run(
    request: &Request,
    original: &[u8],
    watermark: Option<&[u8]>,
) -> Result<Processed, ProcessError> {
    let inputs = Inputs {
        original,
        watermark,
    };
    let limits = request.limits;
    processing::run(
        &request.processor,
        &request.variant,
        &request.options,
        inputs,
        &limits,
    )
}

fn send_outputs(output: &mut impl Write, processed: Processed) -> io::Result<()> {
    let headers = processed
        .outputs
        .iter()
        .map(|out| OutputHeader {
            variant: out.variant.clone(),
            format: out.format,
            width: out.width,
            height: out.height,
            len: out.bytes.len() as u64,
        })
        .collect();
    let payloads: Vec<&[u8]> = processed
        .outputs
        .iter()
        .map(|out| out.bytes.as_slice())
        .collect();
    let reply = Reply::Done {
        outputs: headers,
        source: processed.source,
    };
    protocol::write_frame(output, &reply, &payloads)
}
