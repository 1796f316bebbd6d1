//! Confining a processor child before it reads its first job.
//!
//! What a child may do is what a decoder needs: read its pipes, allocate
//! memory, read files (PDFium loads itself and its fonts), and nothing else.
//! [`confine`] applies, in this order:
//!
//! 1. Resource limits (always enforced): an address-space limit
//!    (`PROCESSOR_MEMORY_LIMIT`), no core files, no regular file may be written
//!    past 0 bytes (`RLIMIT_FSIZE`; the pipes are not files), at most
//!    [`MAX_OPEN_FILES`] descriptors. [`limit_cpu_for_next_job`] sets the CPU
//!    time limit before each job (`PROCESSOR_CPU_LIMIT`).
//! 2. Landlock, where the kernel has it: the whole filesystem read-only, no TCP
//!    bind or connect, no signals or abstract sockets outside the child. Best
//!    effort: an older kernel enforces part or none of it, which
//!    [`SandboxReport::landlock`] says.
//! 3. A seccomp filter (any Linux since 3.5): `EPERM` for creating sockets,
//!    connecting, running a program, starting a process (threads excepted: a
//!    JPEG with restart markers is decoded in bands on several), tracing
//!    another process, and opening a file for writing.
//!
//! The seccomp filter is a deny list, not an allow list: PDFium and the C
//! codecs make system calls that differ across library versions, and a missing
//! entry in an allow list would crash real jobs. The dangerous capabilities an
//! exploited decoder would want (network, exec, fork, writing files) are the
//! ones listed.

use std::collections::BTreeMap;
use std::io;

use landlock::{
    ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
    Scope, path_beneath_rules,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use serde::{Deserialize, Serialize};

/// Descriptors a child may hold: its three pipes, the PDFium library and a
/// few fonts.
pub const MAX_OPEN_FILES: u64 = 64;

/// What a child's confinement amounts to on this kernel, sent to the parent in
/// its hello and logged once per pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    /// "fully enforced", "partially enforced" or why it is not.
    pub landlock: String,
    /// Whether the seccomp filter is installed, or why not.
    pub seccomp: Result<(), String>,
}

impl SandboxReport {
    /// One line for the log.
    pub fn describe(&self) -> String {
        let seccomp = match &self.seccomp {
            Ok(()) => "installed".to_string(),
            Err(reason) => format!("not installed ({reason})"),
        };
        format!("landlock {}; seccomp filter {seccomp}", self.landlock)
    }
}

/// Applies every limit to the calling process, which must have no other
/// thread yet. Resource limits must hold, so failing to set one is an error;
/// Landlock and seccomp are reported as far as the kernel enforces them.
pub fn confine(memory_limit: u64) -> io::Result<SandboxReport> {
    set_limit(libc::RLIMIT_AS, memory_limit, memory_limit)?;
    set_limit(libc::RLIMIT_CORE, 0, 0)?;
    set_limit(libc::RLIMIT_FSIZE, 0, 0)?;
    set_limit(libc::RLIMIT_NOFILE, MAX_OPEN_FILES, MAX_OPEN_FILES)?;
    let landlock = match restrict_filesystem_and_network() {
        Ok(RulesetStatus::FullyEnforced) => "fully enforced".to_string(),
        Ok(RulesetStatus::PartiallyEnforced) => "partially enforced".to_string(),
        Ok(RulesetStatus::NotEnforced) => "not enforced (the kernel lacks it)".to_string(),
        Err(err) => format!("not enforced ({err})"),
    };
    let seccomp = install_seccomp_filter().map_err(|err| err.to_string());
    Ok(SandboxReport { landlock, seccomp })
}

/// Lets the next job use `seconds` of CPU time from now: past it the kernel
/// sends SIGXCPU, which ends the child. CPU time adds up over a child's life,
/// so the limit moves forward before every job.
pub fn limit_cpu_for_next_job(seconds: u64) -> io::Result<()> {
    let used = cpu_seconds_used()?;
    let soft = used.saturating_add(seconds);
    set_limit(libc::RLIMIT_CPU, soft, libc::RLIM_INFINITY)
}

fn cpu_seconds_used() -> io::Result<u64> {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a valid pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let seconds = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec;
    // Rounded up, so a job never starts with less than its whole allowance.
    Ok(u64::try_from(seconds).unwrap_or(0) + 1)
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: a valid resource and a pointer to a struct we own.
    match unsafe { libc::setrlimit(resource, &limit) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// The newest Landlock ABI this code asks for; an older kernel grants what it has.
const LANDLOCK_ABI: ABI = ABI::V6;

fn restrict_filesystem_and_network() -> Result<RulesetStatus, landlock::RulesetError> {
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))?
        .handle_access(AccessNet::from_all(LANDLOCK_ABI))?
        .scope(Scope::from_all(LANDLOCK_ABI))?
        .create()?
        // Reading anywhere; writing, creating, removing nowhere; no TCP port at all.
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(LANDLOCK_ABI)))?
        .restrict_self()?;
    Ok(status.ruleset)
}

/// A rule that matches when the bits `mask` of argument `arg` equal `value`.
fn masked(arg: u8, mask: u64, value: u64) -> Result<SeccompRule, seccompiler::Error> {
    let condition = SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )?;
    Ok(SeccompRule::new(vec![condition])?)
}

/// Rules that match an open whose flags (argument `flags_arg`) make it a write.
fn write_open_rules(flags_arg: u8) -> Result<Vec<SeccompRule>, seccompiler::Error> {
    [libc::O_WRONLY, libc::O_RDWR, libc::O_CREAT, libc::O_TRUNC]
        .into_iter()
        .map(|flag| masked(flags_arg, flag as u64, flag as u64))
        .collect()
}

fn install_seccomp_filter() -> Result<(), seccompiler::Error> {
    // An empty rule list denies the call whatever its arguments.
    let always = Vec::new;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = [
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_connect,
        libc::SYS_bind,
        libc::SYS_listen,
        libc::SYS_accept,
        libc::SYS_accept4,
        libc::SYS_execve,
        libc::SYS_execveat,
        libc::SYS_fork,
        libc::SYS_vfork,
        libc::SYS_ptrace,
        libc::SYS_process_vm_writev,
        libc::SYS_process_vm_readv,
        libc::SYS_creat,
        libc::SYS_openat2,
        libc::SYS_unlink,
        libc::SYS_unlinkat,
        libc::SYS_rename,
        libc::SYS_renameat,
        libc::SYS_renameat2,
        libc::SYS_mkdir,
        libc::SYS_mkdirat,
        libc::SYS_link,
        libc::SYS_linkat,
        libc::SYS_symlink,
        libc::SYS_symlinkat,
    ]
    .into_iter()
    .map(|call| (call, always()))
    .collect();
    // A new process, but not a new thread.
    let thread = libc::CLONE_THREAD as u64;
    rules.insert(libc::SYS_clone, vec![masked(0, thread, 0)?]);
    rules.insert(libc::SYS_open, write_open_rules(1)?);
    rules.insert(libc::SYS_openat, write_open_rules(2)?);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        std::env::consts::ARCH.try_into()?,
    )?;
    let program: BpfProgram = filter.try_into()?;
    seccompiler::apply_filter_all_threads(&program)?;
    // clone3 passes its flags in memory a filter cannot read, so it is answered
    // as by a kernel without it: glibc then starts a thread with clone, whose
    // flags the rule above reads. (A second filter, because this one answers
    // ENOSYS; the kernel takes this answer over the first filter's Allow.)
    let no_clone3 = SeccompFilter::new(
        [(libc::SYS_clone3, always())].into_iter().collect(),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        std::env::consts::ARCH.try_into()?,
    )?;
    let program: BpfProgram = no_clone3.try_into()?;
    seccompiler::apply_filter_all_threads(&program)
}
