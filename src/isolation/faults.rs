//! Faults the test suite asks a processor child for, so the crash, hang and
//! out-of-memory paths are tested on real children.
//!
//! Kept out of production twice over: this module exists only in debug builds
//! (`cfg(debug_assertions)`; a release binary has no fault code at all), and a
//! child obeys only when its parent was started with `KILN_TEST_FAULTS`, which
//! a release build refuses at start.
//!
//! A test asks by ending an upload with `kiln-test-fault:KIND` (image decoders
//! ignore bytes after the image's end, so the upload is still a valid image):
//!
//! | KIND      | the child, before running the processor              |
//! |-----------|-------------------------------------------------------|
//! | `crash`   | dies of SIGSEGV                                       |
//! | `abort`   | aborts (SIGABRT)                                      |
//! | `spin`    | spins on the CPU forever (the CPU limit ends it)      |
//! | `sleep`   | sleeps forever (only `JOB_TIMEOUT` ends it)           |
//! | `nap-MS`  | sleeps MS milliseconds, then processes as usual       |
//! | `oom`     | allocates until the memory limit stops it             |
//! | `panic`   | panics (caught: the job fails, the child lives)       |
//! | `escape`  | tries what the sandbox denies (and starting a thread, |
//! |           | which it allows), and fails the job with a report of  |
//! |           | each attempt                                          |

use std::time::Duration;

use crate::processing::ProcessError;

const MARKER: &[u8] = b"kiln-test-fault:";

/// The fault an input asks for: the word after the marker in its last bytes.
fn requested(input: &[u8]) -> Option<&str> {
    let tail = &input[input.len().saturating_sub(64)..];
    let at = tail
        .windows(MARKER.len())
        .position(|window| window == MARKER)?;
    std::str::from_utf8(&tail[at + MARKER.len()..])
        .ok()
        .map(str::trim)
}

/// Carries out the fault `input` asks for, if any. Most never return; `escape`
/// returns its report as the job's refusal.
pub(super) fn obey(input: &[u8]) -> Option<ProcessError> {
    match requested(input)? {
        "crash" => {
            // Rust's runtime handles SIGSEGV (to report stack overflows) and
            // returns from a raised one; restore the default action first.
            // SAFETY: resetting a signal's disposition and raising it at
            // ourselves; the default action ends the process.
            unsafe {
                libc::signal(libc::SIGSEGV, libc::SIG_DFL);
                libc::raise(libc::SIGSEGV);
            }
            None
        }
        "abort" => std::process::abort(),
        "spin" => loop {
            std::hint::spin_loop();
        },
        "sleep" => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
        "oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                // Touched, so the pages are really taken.
                hoard.push(vec![1u8; 16 << 20]);
            }
        }
        "panic" => panic!("a fault the test suite asked for"),
        "escape" => Some(ProcessError::Unsupported(try_to_escape())),
        other => {
            let millis = other.strip_prefix("nap-")?.parse().ok()?;
            std::thread::sleep(Duration::from_millis(millis));
            None
        }
    }
}

/// Tries to connect, write a file, start a program and start a thread (which
/// the sandbox allows); says how each went.
fn try_to_escape() -> String {
    fn verdict<T>(what: &str, attempt: std::io::Result<T>) -> String {
        match attempt {
            Ok(_) => format!("{what}: allowed"),
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                format!("{what}: denied")
            }
            // Not a refusal by the sandbox (e.g. nothing listens on the port).
            Err(err) => format!("{what}: failed ({})", err.kind()),
        }
    }
    let socket = std::net::TcpStream::connect("127.0.0.1:9");
    let file = std::fs::File::create(
        std::env::temp_dir().join(format!("kiln-escape-{}", std::process::id())),
    );
    let program = std::process::Command::new("/bin/true").status();
    let thread = std::thread::Builder::new()
        .spawn(|| ())
        .map(std::thread::JoinHandle::join);
    let report = [
        verdict("network", socket),
        verdict("file write", file),
        verdict("program", program),
        verdict("thread", thread),
    ];
    format!("sandbox escape: {}", report.join(", "))
}
