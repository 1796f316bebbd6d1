//! `kiln processor`: the sandboxed child a worker's processor pool starts, one
//! per slot, to run jobs on untrusted bytes ([`crate::isolation`]). Workers
//! start it; people do not, so clap hides it.

use std::process::ExitCode;

use crate::isolation::child::{self, ChildSettings};

#[derive(Debug, clap::Args)]
pub struct ProcessorChildArgs {
    /// The address space the child may use, in bytes.
    #[arg(long)]
    pub memory_limit: u64,
    /// Where PDFium's shared library is.
    #[arg(long)]
    pub pdfium: std::path::PathBuf,
    /// The worker that starts the child: the child ends when it does.
    #[arg(long)]
    pub parent_pid: u32,
    /// Obey the test suite's fault markers (debug builds only).
    #[arg(long)]
    pub test_faults: bool,
}

/// Serves jobs until the worker closes the child's stdin.
pub fn run(args: ProcessorChildArgs) -> ExitCode {
    let settings = ChildSettings {
        memory_limit: args.memory_limit,
        pdfium_library: args.pdfium,
        parent_pid: args.parent_pid,
        test_faults: args.test_faults,
    };
    match child::serve(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kiln processor: {}", crate::error_chain(&err));
            ExitCode::FAILURE
        }
    }
}
