//! The cage plan: everything a cage is, as plain data, validated before anything is done.
//!
//! A plan is built by the trusted launcher from the configuration; nothing in it ever comes
//! from inside a cage. [`CagePlan::validate`] rejects contradictory or unsafe plans with a
//! message that names the field and says what to do.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A level's network, as its cage applies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A fresh network namespace with only `lo` up.
    None,
    /// The host's network.
    Host,
    /// Join the named namespace `/run/netns/NAME` (root only).
    Netns(String),
    /// Join the namespace the launcher built for the level (NAT, a tunnel), passed to the
    /// helper as descriptor [`NETNS_FD`] and closed before the cage exists; `resolv` is the
    /// cage's `/etc/resolv.conf`.
    Given {
        /// The contents of the cage's `/etc/resolv.conf`.
        resolv: String,
    },
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Network::None => f.write_str("none"),
            Network::Host => f.write_str("host"),
            Network::Netns(name) => write!(f, "netns:{name}"),
            Network::Given { .. } => f.write_str("the level's own"),
        }
    }
}

/// The helper's descriptor of the network namespace to join ([`Network::Given`]).
pub const NETNS_FD: i32 = 4;

/// Longest generated `/etc/resolv.conf`.
pub const MAX_RESOLV: usize = 4096;

/// Who the cage's processes are, inside and outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// uid inside the cage (never 0).
    pub uid: u32,
    /// gid inside the cage (never 0).
    pub gid: u32,
    /// uid the inside uid maps to outside. Must be the caller's uid when not running as root;
    /// as root, a uid of the level's own (so the kernel's own checks separate levels' files).
    pub outside_uid: u32,
    /// gid the inside gid maps to outside.
    pub outside_gid: u32,
}

/// A bind mount into the cage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bind {
    /// Host path (absolute; must exist when the cage starts).
    pub source: PathBuf,
    /// Path inside the cage (absolute, normalised).
    pub target: PathBuf,
    /// Writable (read-only otherwise). Always nosuid and nodev.
    #[serde(default)]
    pub writable: bool,
}

/// Landlock requirements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockPolicy {
    /// The lowest Landlock ABI the cage accepts (6 gives abstract-socket and signal scoping).
    pub min_abi: u8,
    /// Start even when the kernel offers less than `min_abi`, enforcing what it can (the
    /// configuration must say `landlock = "best-effort"` for this).
    pub best_effort: bool,
}

/// Seccomp settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompPolicy {
    /// Profile name: `assets/seccomp/<profile>.json`, compiled into the binaries.
    pub profile: String,
    /// Tests only: return this errno instead of EPERM for calls the `main` filter denies, so a
    /// test can tell "denied by the filter" from "refused by the kernel". Rules are unchanged.
    #[serde(default)]
    pub errno_override: Option<u32>,
}

/// Resource limits (soft = hard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rlimits {
    /// RLIMIT_NPROC: processes of the cage's outside uid.
    pub nproc: u64,
    /// RLIMIT_NOFILE.
    pub nofile: u64,
    /// RLIMIT_CORE (0: no core dumps).
    pub core: u64,
}

impl Default for Rlimits {
    fn default() -> Self {
        Rlimits {
            nproc: 4096,
            nofile: 4096,
            core: 0,
        }
    }
}

/// Everything a cage is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CagePlan {
    /// The level's name: hostname inside, and in messages.
    pub name: String,
    /// Network namespace.
    pub network: Network,
    /// uid/gid inside and outside.
    pub identity: Identity,
    /// Host directory mounted read-write at `/home/user`.
    pub home: PathBuf,
    /// Where the helper keeps this level's curated `/etc` between cage starts (a directory the
    /// launcher owns, outside every cage). Without it, `/etc` is rebuilt in memory at each start
    /// (slower: one file creation per entry).
    #[serde(default)]
    pub etc_cache: Option<PathBuf>,
    /// Further bind mounts (the level's sockets, test binaries…).
    #[serde(default)]
    pub binds: Vec<Bind>,
    /// The environment apps start with (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Resource limits.
    #[serde(default)]
    pub rlimits: Rlimits,
    /// Landlock.
    pub landlock: LandlockPolicy,
    /// Seccomp.
    pub seccomp: SeccompPolicy,
    /// Commands started when the cage is up (argv arrays, never through a shell).
    #[serde(default)]
    pub run: Vec<Vec<String>>,
    /// When the first command exits, stop the cage and exit with its status.
    #[serde(default)]
    pub exit_with_first: bool,
    /// Descriptors the helper inherits (numbers from [`FIRST_PASSED_FD`] up) that the `run`
    /// commands inherit too, e.g. the listening sockets the launcher hands the compositor.
    /// Programs started later by spawn requests do not get them.
    #[serde(default)]
    pub pass_fds: Vec<i32>,
    /// Listening sockets init makes inside the cage, under the cage user's runtime directory
    /// (or [`X11_SOCKET_DIR`], on the cage's private `/tmp`),
    /// before it starts the `run` commands, which inherit each at its number (as with
    /// `pass_fds`); init keeps none. A socket bound inside has the path its users see (a
    /// D-Bus daemon announces the address it was bound at to the services it starts), and
    /// it listens before any program of the cage runs.
    #[serde(default)]
    pub listen: Vec<Listen>,
}

/// Where X11 sockets are (X clients find display `:N` at `X{N}` there, a path no variable
/// changes); inside a cage it is on the cage's private `/tmp`.
pub const X11_SOCKET_DIR: &str = "/tmp/.X11-unix";

/// A listening socket init makes (see [`CagePlan::listen`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// Where, inside the cage (under `/run/user/<uid>` or [`X11_SOCKET_DIR`]).
    pub path: PathBuf,
    /// The descriptor number the `run` commands get it at.
    pub fd: i32,
}

/// Inside paths a plan's binds may not replace: the cage's own structure.
/// Passed descriptors are numbered from here, clear of the helper's own (stdio, control 3,
/// pipes and signalfd allocated from 4 up).
pub const FIRST_PASSED_FD: i32 = 10;

const RESERVED_TARGETS: [&str; 10] = [
    "/",
    "/usr",
    "/etc",
    "/dev",
    "/proc",
    "/tmp",
    "/home",
    "/home/user",
    "/run",
    "/sys",
];

/// A rejected plan: which field, what is wrong, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cage plan for {level:?}: {field}: {problem}; {fix}")]
pub struct PlanError {
    /// The plan's level name.
    pub level: String,
    /// The field.
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub fix: String,
}

/// Whether `path` is absolute and has no `.`, `..` or empty components.
pub fn is_normal_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && !path.as_os_str().as_encoded_bytes().ends_with(b"/")
        || path == Path::new("/")
}

impl CagePlan {
    /// Checks the plan. `caller_uid` is the effective uid that will build the cage.
    pub fn validate(&self, caller_uid: u32) -> Result<(), PlanError> {
        let err = |field: &str, problem: String, fix: &str| PlanError {
            level: self.name.clone(),
            field: field.into(),
            problem,
            fix: fix.into(),
        };
        cloison_config::check_level_name(&self.name)
            .map_err(|m| err("name", m.into(), "use the level's configured name"))?;

        let id = &self.identity;
        if id.uid == 0 || id.gid == 0 {
            return Err(err(
                "identity",
                "apps would run as root inside the cage".into(),
                "use a non-zero uid and gid (1000 by default)",
            ));
        }
        if caller_uid == 0 {
            if id.outside_uid == 0 || id.outside_gid == 0 {
                return Err(err(
                    "identity",
                    "the cage would map to root outside".into(),
                    "give each level its own outside uid and gid (e.g. a subordinate range)",
                ));
            }
        } else if id.outside_uid != caller_uid {
            return Err(err(
                "identity.outside_uid",
                format!(
                    "{} is not the caller's uid {caller_uid}; only root can map to another uid",
                    id.outside_uid
                ),
                "run as root to give levels their own uids, or map to your own uid",
            ));
        }

        match &self.network {
            Network::Netns(name) => {
                if name.is_empty()
                    || name == "."
                    || name == ".."
                    || name.contains('/')
                    || name.contains('\0')
                {
                    return Err(err(
                        "network",
                        format!("invalid namespace name {name:?}"),
                        "name a namespace in /run/netns",
                    ));
                }
                if caller_uid != 0 {
                    return Err(err(
                        "network",
                        format!("joining /run/netns/{name} needs root"),
                        "run the session as root, or use network \"none\" or \"host\"",
                    ));
                }
            }
            Network::Given { resolv } => {
                if resolv.len() > MAX_RESOLV || resolv.contains('\0') {
                    return Err(err(
                        "network",
                        format!("resolv.conf of {} bytes", resolv.len()),
                        "at most 4096 bytes of text",
                    ));
                }
            }
            Network::None | Network::Host => {}
        }

        if let Some(cache) = &self.etc_cache
            && !is_normal_absolute(cache)
        {
            return Err(err(
                "etc_cache",
                format!("{cache:?} is not an absolute, normalised path"),
                "use an absolute path without . or ..",
            ));
        }
        if !is_normal_absolute(&self.home) {
            return Err(err(
                "home",
                format!("{:?} is not an absolute, normalised path", self.home),
                "use an absolute path without . or ..",
            ));
        }
        let mut targets: Vec<&Path> = Vec::new();
        for (i, bind) in self.binds.iter().enumerate() {
            let field = format!("binds[{i}]");
            if !is_normal_absolute(&bind.source) {
                return Err(err(
                    &field,
                    format!(
                        "source {:?} is not an absolute, normalised path",
                        bind.source
                    ),
                    "use an absolute host path",
                ));
            }
            if !is_normal_absolute(&bind.target) || bind.target == Path::new("/") {
                return Err(err(
                    &field,
                    format!(
                        "target {:?} is not an absolute, normalised path",
                        bind.target
                    ),
                    "use an absolute path inside the cage, not /",
                ));
            }
            // The exceptions: the host's sysfs and its input and DRM device directories,
            // read-only, at their own places: the compositor on a seat finds (stats) its
            // devices there. Binds are always nodev, so no device can be opened through them:
            // the seat manager opens them and passes descriptors.
            let device_view = ["/sys", "/dev/input", "/dev/dri"]
                .iter()
                .any(|p| bind.source == Path::new(p) && bind.target == Path::new(p))
                && !bind.writable;
            if !device_view
                && (RESERVED_TARGETS.iter().any(|r| bind.target == Path::new(r))
                    || ["/proc", "/dev", "/sys", "/usr", "/etc"]
                        .iter()
                        .any(|r| bind.target.starts_with(r)))
            {
                return Err(err(
                    &field,
                    format!(
                        "target {:?} would replace part of the cage's own layout",
                        bind.target
                    ),
                    "bind somewhere else, e.g. under /run or /opt",
                ));
            }
            if targets.contains(&bind.target.as_path()) {
                return Err(err(
                    &field,
                    format!("target {:?} is bound twice", bind.target),
                    "keep one bind per target",
                ));
            }
            targets.push(&bind.target);
        }

        for (i, (key, value)) in self.env.iter().enumerate() {
            if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
                return Err(err(
                    &format!("env[{i}]"),
                    format!("invalid variable {key:?}"),
                    "use NAME=value pairs without '=' in names or NUL bytes",
                ));
            }
        }
        for (i, argv) in self.run.iter().enumerate() {
            if argv.is_empty() || argv[0].is_empty() || argv.iter().any(|a| a.contains('\0')) {
                return Err(err(
                    &format!("run[{i}]"),
                    "an empty command or a NUL byte".into(),
                    "give a program and its arguments",
                ));
            }
        }
        let mut seen = Vec::new();
        for (i, &fd) in self.pass_fds.iter().enumerate() {
            if !(FIRST_PASSED_FD..1024).contains(&fd) || seen.contains(&fd) {
                return Err(err(
                    &format!("pass_fds[{i}]"),
                    format!("descriptor {fd} is out of range or passed twice"),
                    "pass each descriptor once, numbered from 10 to 1023",
                ));
            }
            seen.push(fd);
        }
        let runtime = PathBuf::from(format!("/run/user/{}", self.identity.uid));
        for (i, listen) in self.listen.iter().enumerate() {
            let fd = listen.fd;
            if !(FIRST_PASSED_FD..1024).contains(&fd) || seen.contains(&fd) {
                return Err(err(
                    &format!("listen[{i}].fd"),
                    format!("descriptor {fd} is out of range or passed twice"),
                    "give each socket its own descriptor, numbered from 10 to 1023",
                ));
            }
            seen.push(fd);
            let plain = listen.path.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )
            });
            let under_runtime = listen.path.starts_with(&runtime) && listen.path != runtime;
            // An X socket: a file directly in the X socket directory.
            let x11 = listen.path.parent() == Some(Path::new(X11_SOCKET_DIR));
            if !plain || !(under_runtime || x11) {
                return Err(err(
                    &format!("listen[{i}].path"),
                    format!(
                        "{} is neither under {} nor in {X11_SOCKET_DIR}",
                        listen.path.display(),
                        runtime.display()
                    ),
                    "listen under the cage user's runtime directory or /tmp/.X11-unix",
                ));
            }
        }
        if (!self.pass_fds.is_empty() || !self.listen.is_empty()) && self.run.is_empty() {
            return Err(err(
                "pass_fds",
                "descriptors are passed but there is no command to take them".into(),
                "add the command that uses them to run",
            ));
        }
        if self.exit_with_first && self.run.is_empty() {
            return Err(err(
                "exit_with_first",
                "there is no first command".into(),
                "add a command to run, or drop exit_with_first",
            ));
        }

        if !(1..=7).contains(&self.landlock.min_abi) {
            return Err(err(
                "landlock.min_abi",
                format!(
                    "{} is not a Landlock ABI this build knows (1 to 7)",
                    self.landlock.min_abi
                ),
                "use 6 (scoping of abstract sockets and signals)",
            ));
        }
        if crate::seccomp::profile(&self.seccomp.profile).is_none() {
            return Err(err(
                "seccomp.profile",
                format!("no profile {:?}", self.seccomp.profile),
                &format!(
                    "use one of: {}",
                    crate::seccomp::PROFILES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let r = &self.rlimits;
        if r.nproc == 0 || r.nofile < 16 || r.nofile > (1 << 20) {
            return Err(err(
                "rlimits",
                format!(
                    "nproc {} / nofile {} cannot run a desktop app",
                    r.nproc, r.nofile
                ),
                "use nproc ≥ 1 and 16 ≤ nofile ≤ 1048576",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn plan() -> CagePlan {
        CagePlan {
            name: "low".into(),
            network: Network::None,
            identity: Identity {
                uid: 1000,
                gid: 1000,
                outside_uid: 100_000,
                outside_gid: 100_000,
            },
            home: "/var/lib/cloison/low/home".into(),
            etc_cache: None,
            binds: vec![Bind {
                source: "/run/user/0/cloison/levels/low/wayland-0".into(),
                target: "/run/user/1000/wayland-0".into(),
                writable: true,
            }],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            rlimits: Rlimits::default(),
            landlock: LandlockPolicy {
                min_abi: 6,
                best_effort: false,
            },
            seccomp: SeccompPolicy {
                profile: "level".into(),
                errno_override: None,
            },
            run: vec![vec!["foot".into()]],
            exit_with_first: false,
            pass_fds: vec![],
            listen: vec![],
        }
    }

    fn rejects(p: CagePlan, caller: u32, needle: &str) {
        let e = p.validate(caller).expect_err(needle);
        assert!(e.to_string().contains(needle), "{e}");
    }

    #[test]
    fn a_good_plan_passes_and_round_trips() {
        let p = plan();
        p.validate(0).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<CagePlan>(&json).unwrap(), p);
    }

    #[test]
    fn only_read_only_device_views_may_be_bound_under_sys_and_dev() {
        let with = |source: &str, target: &str, writable: bool| {
            let mut p = plan();
            p.binds.push(Bind {
                source: source.into(),
                target: target.into(),
                writable,
            });
            p
        };
        with("/sys", "/sys", false).validate(0).unwrap();
        rejects(with("/sys", "/sys", true), 0, "would replace");
        rejects(with("/tmp", "/sys", false), 0, "would replace");
        rejects(with("/sys", "/sys/class", false), 0, "would replace");
        rejects(with("/proc", "/proc", false), 0, "would replace");
        with("/dev/input", "/dev/input", false).validate(0).unwrap();
        with("/dev/dri", "/dev/dri", false).validate(0).unwrap();
        rejects(with("/dev/input", "/dev/input", true), 0, "would replace");
        rejects(with("/dev/snd", "/dev/snd", false), 0, "would replace");
        rejects(with("/dev/input", "/dev/dri", false), 0, "would replace");
    }

    #[test]
    fn contradictory_or_unsafe_plans_are_rejected() {
        rejects(
            CagePlan {
                pass_fds: vec![3],
                ..plan()
            },
            0,
            "out of range",
        );
        rejects(
            CagePlan {
                pass_fds: vec![10, 10],
                ..plan()
            },
            0,
            "passed twice",
        );
        rejects(
            CagePlan {
                pass_fds: vec![10],
                run: vec![],
                ..plan()
            },
            0,
            "no command to take them",
        );
        // Sockets init makes: under the cage user's runtime directory only, each on its own
        // descriptor, for a command that takes them.
        let listen = |path: &str, fd: i32| Listen {
            path: path.into(),
            fd,
        };
        let runtime = format!("/run/user/{}", plan().identity.uid);
        CagePlan {
            listen: vec![listen(&format!("{runtime}/bus"), 10)],
            ..plan()
        }
        .validate(0)
        .unwrap();
        // An X display's socket, directly in the cage's /tmp/.X11-unix.
        CagePlan {
            listen: vec![listen("/tmp/.X11-unix/X0", 11)],
            ..plan()
        }
        .validate(0)
        .unwrap();
        for (bad, why) in [
            (listen("/tmp/bus", 10), "is neither under"),
            (
                listen(&format!("{runtime}/../../etc/bus"), 10),
                "is neither under",
            ),
            (listen(&runtime, 10), "is neither under"),
            (listen("/tmp/.X11-unix", 10), "is neither under"),
            (listen("/tmp/.X11-unix/sub/X0", 10), "is neither under"),
            (listen("/tmp/.X11-unix/../X0", 10), "is neither under"),
            (listen(&format!("{runtime}/bus"), 3), "out of range"),
        ] {
            rejects(
                CagePlan {
                    listen: vec![bad],
                    ..plan()
                },
                0,
                why,
            );
        }
        rejects(
            CagePlan {
                pass_fds: vec![10],
                listen: vec![listen(&format!("{runtime}/bus"), 10)],
                ..plan()
            },
            0,
            "passed twice",
        );
        rejects(
            CagePlan {
                listen: vec![listen(&format!("{runtime}/bus"), 10)],
                run: vec![],
                ..plan()
            },
            0,
            "no command to take them",
        );
        rejects(
            CagePlan {
                identity: Identity {
                    uid: 0,
                    ..plan().identity
                },
                ..plan()
            },
            0,
            "root inside",
        );
        rejects(
            CagePlan {
                identity: Identity {
                    outside_uid: 0,
                    ..plan().identity
                },
                ..plan()
            },
            0,
            "root outside",
        );
        rejects(plan(), 1000, "not the caller's uid");
        let mine = CagePlan {
            identity: Identity {
                outside_uid: 1000,
                outside_gid: 1000,
                ..plan().identity
            },
            ..plan()
        };
        mine.validate(1000).unwrap();
        rejects(
            CagePlan {
                network: Network::Netns("ipsec".into()),
                ..mine.clone()
            },
            1000,
            "needs root",
        );
        rejects(
            CagePlan {
                network: Network::Netns("../x".into()),
                ..plan()
            },
            0,
            "invalid namespace",
        );
        rejects(
            CagePlan {
                home: "relative/home".into(),
                ..plan()
            },
            0,
            "home",
        );
        rejects(
            CagePlan {
                home: "/a/../etc".into(),
                ..plan()
            },
            0,
            "normalised",
        );
        let bind = |target: &str| Bind {
            source: "/tmp/x".into(),
            target: target.into(),
            writable: false,
        };
        rejects(
            CagePlan {
                binds: vec![bind("/proc/self")],
                ..plan()
            },
            0,
            "cage's own layout",
        );
        rejects(
            CagePlan {
                binds: vec![bind("/etc/passwd")],
                ..plan()
            },
            0,
            "cage's own layout",
        );
        rejects(
            CagePlan {
                binds: vec![bind("/home/user")],
                ..plan()
            },
            0,
            "cage's own layout",
        );
        rejects(
            CagePlan {
                binds: vec![bind("/opt/a"), bind("/opt/a")],
                ..plan()
            },
            0,
            "bound twice",
        );
        rejects(
            CagePlan {
                binds: vec![bind("/opt/../etc/x")],
                ..plan()
            },
            0,
            "normalised",
        );
        rejects(
            CagePlan {
                env: vec![("A=B".into(), "c".into())],
                ..plan()
            },
            0,
            "invalid variable",
        );
        rejects(
            CagePlan {
                run: vec![vec![]],
                ..plan()
            },
            0,
            "empty command",
        );
        rejects(
            CagePlan {
                run: vec![],
                exit_with_first: true,
                ..plan()
            },
            0,
            "no first command",
        );
        rejects(
            CagePlan {
                landlock: LandlockPolicy {
                    min_abi: 9,
                    best_effort: false,
                },
                ..plan()
            },
            0,
            "Landlock ABI",
        );
        rejects(
            CagePlan {
                seccomp: SeccompPolicy {
                    profile: "nope".into(),
                    errno_override: None,
                },
                ..plan()
            },
            0,
            "no profile",
        );
        rejects(
            CagePlan {
                name: "Bad Name".into(),
                ..plan()
            },
            0,
            "invalid level name",
        );
    }
}
