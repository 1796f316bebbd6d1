//! One `kiln processor` child, seen from its worker: starting it, one job's
//! exchange under a time limit, and naming how it died.
//!
//! The child is started with an empty environment (it must not hold the
//! worker's database, Redis or storage credentials), only its three pipes open,
//! and `PR_SET_PDEATHSIG`, so it dies with the thread that started it. Its
//! stderr (a panic message, say) goes to the worker's log, one line at a time.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::isolation::memory::OUT_OF_MEMORY_EXIT;
use crate::isolation::protocol::{
    self, Hello, Outcome, PROTOCOL_VERSION, ProtocolError, ReplyBounds, Request,
};

/// How to start a child: `{binary} processor --memory-limit … --pdfium …`.
#[derive(Debug, Clone)]
pub struct ChildCommand {
    pub binary: PathBuf,
    pub memory_limit: u64,
    pub cpu_limit: Duration,
    pub pdfium_library: PathBuf,
    pub test_faults: bool,
}

/// How long a new child may take to say hello.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a child whose pipe broke may take to be reaped before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Why a child could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start {binary}")]
    Spawn {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the processor did not say hello: {0}")]
    NoHello(String),
    #[error("the processor speaks protocol version {0}, this worker {PROTOCOL_VERSION}")]
    Version(u32),
}

/// How a child ended a job it did not answer. `Display` is the sentence a
/// user sees in the job's `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildDeath {
    #[error("the processor crashed ({})", signal_name(*.0))]
    Crashed(i32),
    #[error("the processor used more than its {} memory limit", spoken_bytes(*.limit))]
    OutOfMemory { limit: u64 },
    #[error("the processor used more than its {} CPU time limit", humantime::format_duration(*.limit))]
    CpuLimit { limit: Duration },
    #[error("timed out after {}", humantime::format_duration(*.after))]
    TimedOut { after: Duration },
    #[error("the processor exited unexpectedly (status {0})")]
    Exited(i32),
    /// It broke the protocol; the detail goes to the log only.
    #[error("the processor sent a reply the worker could not accept")]
    Misbehaved(String),
}

/// A running child, ready for jobs.
pub struct ProcessorProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pid: u32,
    hello: Hello,
    /// Its limits, to name them when it dies of one.
    memory_limit: u64,
    cpu_limit: Duration,
}

impl ProcessorProcess {
    /// Starts a child and waits for its hello.
    pub async fn start(command: &ChildCommand) -> Result<Self, StartError> {
        let mut process = Command::new(&command.binary);
        process
            .arg("processor")
            .arg("--memory-limit")
            .arg(command.memory_limit.to_string())
            .arg("--pdfium")
            .arg(&command.pdfium_library)
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if command.test_faults {
            process.arg("--test-faults");
        }
        // No code between fork and exec (the child asks for its parent-death
        // signal itself, `isolation::child`), so the child is started with
        // posix_spawn: a fork would copy this process's page tables first.
        let spawn_error = |source| StartError::Spawn {
            binary: command.binary.display().to_string(),
            source,
        };
        let mut child = process.spawn().map_err(spawn_error)?;
        let pid = child.id().unwrap_or_default();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(spawn_error(std::io::Error::other(
                "its pipes were not opened",
            )));
        };
        actix_rt::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(pid, "processor: {line}");
            }
        });
        let mut stdout = BufReader::new(stdout);
        let hello = match tokio::time::timeout(
            START_TIMEOUT,
            protocol::receive_header::<Hello>(&mut stdout),
        )
        .await
        {
            Ok(Ok(hello)) => hello,
            Ok(Err(err)) => {
                let status = child.wait().await.ok();
                return Err(StartError::NoHello(match status {
                    Some(status) => format!("it exited ({status})"),
                    None => crate::error_chain(&err),
                }));
            }
            Err(_) => {
                return Err(StartError::NoHello(format!(
                    "no answer within {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
        };
        if hello.version != PROTOCOL_VERSION {
            return Err(StartError::Version(hello.version));
        }
        Ok(Self {
            child,
            stdin,
            stdout,
            pid,
            hello,
            memory_limit: command.memory_limit,
            cpu_limit: command.cpu_limit,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Sends one job and reads its reply. `Err` means the child is dead (it
    /// died, ran past `time_limit` and was killed, or broke the protocol and
    /// was killed): the caller starts another.
    pub async fn run(
        &mut self,
        request: &Request,
        payloads: &[&[u8]],
        bounds: &ReplyBounds<'_>,
        time_limit: Duration,
    ) -> Result<Outcome, ChildDeath> {
        let exchange = async {
            protocol::send_frame(&mut self.stdin, request, payloads).await?;
            protocol::read_reply(&mut self.stdout, bounds).await
        };
        match tokio::time::timeout(time_limit, exchange).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(ProtocolError::Io(_))) => Err(self.reap().await),
            Ok(Err(violation)) => {
                self.kill().await;
                Err(ChildDeath::Misbehaved(crate::error_chain(&violation)))
            }
            Err(_) => {
                self.kill().await;
                Err(ChildDeath::TimedOut { after: time_limit })
            }
        }
    }

    /// Waits for a child whose pipe broke, and says how it ended.
    async fn reap(&mut self) -> ChildDeath {
        match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => death_of(status, self.memory_limit, self.cpu_limit),
            Ok(Err(err)) => ChildDeath::Misbehaved(format!("cannot wait for it: {err}")),
            Err(_) => {
                self.kill().await;
                ChildDeath::Misbehaved("it closed its pipe but did not exit".into())
            }
        }
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Names how a child ended from its exit status.
fn death_of(status: ExitStatus, memory_limit: u64, cpu_limit: Duration) -> ChildDeath {
    match (status.code(), status.signal()) {
        (Some(OUT_OF_MEMORY_EXIT), _) => ChildDeath::OutOfMemory {
            limit: memory_limit,
        },
        (Some(code), _) => ChildDeath::Exited(code),
        (None, Some(libc::SIGXCPU)) => ChildDeath::CpuLimit { limit: cpu_limit },
        (None, Some(signal)) => ChildDeath::Crashed(signal),
        // Neither a code nor a signal: not possible on Unix, named anyway.
        (None, None) => ChildDeath::Exited(-1),
    }
}

/// "SIGSEGV" for 11, and so on; the number for a signal without a name here.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGPIPE => "SIGPIPE",
        other => return format!("signal {other}"),
    };
    name.to_string()
}

/// "1 GiB", "512 MiB", or a byte count, for a limit in a sentence.
fn spoken_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .into_iter()
        .find(|(size, _)| bytes >= *size && bytes.is_multiple_of(*size))
        .map(|(size, unit)| format!("{} {unit}", bytes / size))
        .unwrap_or_else(|| format!("{bytes} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn killed_by(signal: i32) -> ExitStatus {
        ExitStatus::from_raw(signal)
    }

    fn exited(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    const GIB: u64 = 1 << 30;
    const TWO_MINUTES: Duration = Duration::from_secs(120);

    #[test]
    fn each_way_a_child_dies_is_named_in_words_a_user_can_read() {
        let death = |status| death_of(status, GIB, TWO_MINUTES).to_string();
        assert_eq!(
            death(killed_by(libc::SIGSEGV)),
            "the processor crashed (SIGSEGV)"
        );
        assert_eq!(
            death(killed_by(libc::SIGKILL)),
            "the processor crashed (SIGKILL)"
        );
        assert_eq!(death(killed_by(64)), "the processor crashed (signal 64)");
        assert_eq!(
            death(exited(OUT_OF_MEMORY_EXIT)),
            "the processor used more than its 1 GiB memory limit"
        );
        assert_eq!(
            death(killed_by(libc::SIGXCPU)),
            "the processor used more than its 2m CPU time limit"
        );
        assert_eq!(
            death(exited(3)),
            "the processor exited unexpectedly (status 3)"
        );
        assert_eq!(
            ChildDeath::TimedOut {
                after: Duration::from_secs(300)
            }
            .to_string(),
            "timed out after 5m"
        );
    }

    #[test]
    fn limits_are_spoken_in_the_largest_whole_unit() {
        assert_eq!(spoken_bytes(GIB), "1 GiB");
        assert_eq!(spoken_bytes(1536 << 20), "1536 MiB");
        assert_eq!(spoken_bytes(1000), "1000 bytes");
    }
}
