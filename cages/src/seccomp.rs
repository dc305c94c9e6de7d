//! Seccomp policies: reviewed data in `assets/seccomp/<profile>.json` (seccompiler's JSON
//! format, one comment per rule), compiled into the binaries and into BPF with seccompiler.
//!
//! A profile file holds up to three filters, installed together in this order (when several
//! filters answer with an errno, the kernel keeps the answer of the one installed last):
//!
//! * `main`, the policy: an allow list. In `level`, anything not listed gets ENOSYS — unknown
//!   and future system calls look absent, so programs fall back (clone3 to clone, the new mount
//!   API to mount) to what the other filter checks; in `compositor`, EPERM.
//! * `deny` (`level`): EPERM for what a level may not do, including calls the allow list also
//!   leaves out (an explicit "forbidden" for the dangerous ones) and argument checks the allow
//!   list cannot express (namespace flags of clone, terminal and console ioctls, socket
//!   families).
//! * `enosys` (`compositor`): ENOSYS for calls libc must fall back from.
//!
//! Before them comes a four-instruction guard that seccompiler cannot express: x32 system calls
//! (numbers with bit 30 set, same architecture value as x86_64) would slip past a filter keyed
//! on x86_64 numbers, so they kill the process. seccompiler's own prologue kills any other
//! architecture (32-bit `int 0x80` calls).

use seccompiler::{BpfProgram, TargetArch, sock_filter};

/// Compiled-in profiles: (name, JSON).
pub const PROFILES: &[(&str, &str)] = &[
    ("level", include_str!("../../assets/seccomp/level.json")),
    (
        "compositor",
        include_str!("../../assets/seccomp/compositor.json"),
    ),
    // cloison-wg, a level's userspace WireGuard tunnel (outside every cage): its loop only.
    ("tunnel", include_str!("../../assets/seccomp/tunnel.json")),
];

/// The JSON of a profile.
pub fn profile(name: &str) -> Option<&'static str> {
    PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, json)| *json)
}

/// Errors compiling or installing a policy.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// No such profile.
    #[error("no seccomp profile {0:?}")]
    Unknown(String),
    /// The JSON does not compile.
    #[error("seccomp profile {0:?} does not compile: {1}")]
    Compile(String, String),
    /// The kernel refused the filter.
    #[error("seccomp(SECCOMP_SET_MODE_FILTER) failed: {0}")]
    Install(String),
}

/// A policy ready to install: BPF programs in installation order.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    programs: Vec<BpfProgram>,
}

impl CompiledPolicy {
    /// Total BPF instructions (each costs about 3 µs at load time).
    pub fn instructions(&self) -> usize {
        self.programs.iter().map(Vec::len).sum()
    }

    /// The programs in installation order (for tools that install them themselves, e.g.
    /// `bwrap --add-seccomp-fd` in the benchmark).
    pub fn programs(&self) -> &[BpfProgram] {
        &self.programs
    }
}

/// The filters a profile may hold, in installation order.
const FILTERS: [&str; 3] = ["main", "deny", "enosys"];

/// Compiles `name` for this machine. `errno_override` (tests only) replaces every EPERM answer
/// with another errno, rules unchanged (ENOSYS answers stay: libc's fallbacks depend on them).
pub fn compile(name: &str, errno_override: Option<u32>) -> Result<CompiledPolicy, SeccompError> {
    let json = profile(name).ok_or_else(|| SeccompError::Unknown(name.into()))?;
    let json = match errno_override {
        None => json.to_string(),
        Some(errno) => {
            let mut value: serde_json::Value = serde_json::from_str(json)
                .map_err(|e| SeccompError::Compile(name.into(), e.to_string()))?;
            for filter in FILTERS {
                let Some(filter) = value.get_mut(filter) else {
                    continue;
                };
                for action in ["match_action", "mismatch_action"] {
                    if filter[action].get("errno").and_then(|e| e.as_u64())
                        == Some(libc::EPERM as u64)
                    {
                        filter[action] = serde_json::json!({ "errno": errno });
                    }
                }
            }
            value.to_string()
        }
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SeccompError::Compile(name.into(), format!("{e:?}")))?;
    let mut map = seccompiler::compile_from_json(json.as_bytes(), arch)
        .map_err(|e| SeccompError::Compile(name.into(), e.to_string()))?;
    let mut programs = Vec::new();
    if cfg!(target_arch = "x86_64") {
        programs.push(x32_guard());
    }
    if !map.contains_key("main") {
        return Err(SeccompError::Compile(
            name.into(),
            "no filter \"main\"".into(),
        ));
    }
    for filter in FILTERS {
        if let Some(program) = map.remove(filter) {
            programs.push(program);
        }
    }
    if let Some(unknown) = map.keys().next() {
        return Err(SeccompError::Compile(
            name.into(),
            format!("unknown filter {unknown:?} (expected {FILTERS:?})"),
        ));
    }
    Ok(CompiledPolicy { programs })
}

/// Installs the policy on the calling thread (inherited by every child). Needs
/// `PR_SET_NO_NEW_PRIVS` or `CAP_SYS_ADMIN`.
pub fn install(policy: &CompiledPolicy) -> Result<(), SeccompError> {
    for program in &policy.programs {
        seccompiler::apply_filter(program).map_err(|e| SeccompError::Install(e.to_string()))?;
    }
    Ok(())
}

/// Kills the process on x32 system calls (x86_64 numbers with `__X32_SYSCALL_BIT`).
fn x32_guard() -> BpfProgram {
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    const NR_OFFSET: u32 = 0; // seccomp_data.nr
    let stmt = |code: u16, k: u32| sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    };
    vec![
        // Load the system call number.
        stmt(
            (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            NR_OFFSET,
        ),
        // x32 numbers are at or above bit 30: jump to the kill, else to the allow.
        sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: X32_SYSCALL_BIT,
        },
        stmt(
            (libc::BPF_RET | libc::BPF_K) as u16,
            libc::SECCOMP_RET_ALLOW,
        ),
        stmt(
            (libc::BPF_RET | libc::BPF_K) as u16,
            libc::SECCOMP_RET_KILL_PROCESS,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_profile_compiles_and_stays_short() {
        let policy = compile("level", None).unwrap();
        // Loading costs about 1.5 µs per instruction (2.2 ms for 1,895 measured on the CI
        // machine: the kernel emulates the filters once per system call number to build its
        // cache of always-allowed calls); keep an eye on growth.
        assert!(
            policy.instructions() <= 2000,
            "{} instructions",
            policy.instructions()
        );
        assert_eq!(
            policy.programs.len(),
            if cfg!(target_arch = "x86_64") { 3 } else { 2 }
        );
    }

    #[test]
    fn the_compositor_profile_compiles() {
        // Loaded once per session. At run time the kernel caches the verdict of every call
        // whose rule checks no argument, so the length costs nothing on the hot path.
        let policy = compile("compositor", None).unwrap();
        assert!(policy.instructions() <= 800, "{}", policy.instructions());
    }

    #[test]
    fn every_rule_carries_a_comment() {
        for (profile_name, json) in PROFILES {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            for (name, filter) in value.as_object().unwrap() {
                for rule in filter["filter"].as_array().unwrap() {
                    assert!(
                        rule["comment"].as_str().is_some_and(|c| !c.is_empty()),
                        "{profile_name}/{name}: {rule}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_override_changes_only_the_errno() {
        let a = compile("level", None).unwrap();
        let b = compile("level", Some(200)).unwrap();
        assert_eq!(a.instructions(), b.instructions());
        assert!(compile("nope", None).is_err());
    }
}
