//! Cage launch: `/bin/true` in a Cloison cage against bubblewrap, `unshare` and a bare
//! fork+exec, timed in the same interleaved run; and the floor of what the kernel does for the
//! same isolation (namespaces + Landlock + seccomp, no filesystem set-up).

use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use landlock::{
    ABI, Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
};

fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

struct Case {
    name: &'static str,
    command: Box<dyn Fn() -> Command>,
    stdin: Option<Vec<u8>>,
}

fn plan_json(home: &Path) -> Vec<u8> {
    let root = nix::unistd::geteuid().is_root();
    let outside = if root {
        100_000
    } else {
        nix::unistd::geteuid().as_raw()
    };
    serde_json::json!({
        "name": "bench",
        "network": "none",
        "identity": {"uid": 1000, "gid": 1000, "outside_uid": outside, "outside_gid": outside},
        "home": home.join("home"),
        "etc_cache": home.join("etc"),
        "env": [["PATH", "/usr/bin:/bin"]],
        "landlock": {"min_abi": 6, "best_effort": false},
        "seccomp": {"profile": "level"},
        "run": [["/bin/true"]],
        "exit_with_first": true
    })
    .to_string()
    .into_bytes()
}

/// Times each case `runs` times, interleaved; prints medians and ratios.
pub fn run(runs: usize) -> anyhow::Result<()> {
    let home = tempfile::Builder::new()
        .prefix("cloison-bench-home-")
        .tempdir()?;
    let level_home = home.path().join("home");
    std::fs::create_dir(&level_home)?;
    if nix::unistd::geteuid().is_root() {
        let id = Some(nix::unistd::Uid::from_raw(100_000));
        nix::unistd::chown(&level_home, id, Some(nix::unistd::Gid::from_raw(100_000)))?;
    }
    let helper = bin_dir().join("cloison-cage");
    anyhow::ensure!(
        helper.is_file(),
        "{} missing: build with --bins",
        helper.display()
    );
    let me = std::env::current_exe()?;
    let plan = plan_json(home.path());
    // The cage's /etc cache, built once by a first cage run, serves bwrap too.
    let same = SameIsolation::new(home.path())?;
    let cases = [
        Case {
            name: "fork+exec /bin/true",
            command: Box::new(|| Command::new("/bin/true")),
            stdin: None,
        },
        Case {
            name: "unshare -mUpniu --fork",
            command: Box::new(|| {
                let mut c = Command::new("unshare");
                c.args(["-m", "-U", "-p", "-n", "-i", "-u", "--fork", "/bin/true"]);
                c
            }),
            stdin: None,
        },
        Case {
            name: "namespaces+landlock+seccomp floor",
            command: Box::new(move || {
                let mut c = Command::new(&me);
                c.arg("floor");
                c
            }),
            stdin: None,
        },
        Case {
            name: "bwrap --unshare-all …",
            command: Box::new(|| {
                let mut c = Command::new("bwrap");
                c.args([
                    "--unshare-all",
                    "--die-with-parent",
                    "--ro-bind",
                    "/usr",
                    "/usr",
                    "--symlink",
                    "usr/lib",
                    "/lib",
                    "--symlink",
                    "usr/lib64",
                    "/lib64",
                    "--symlink",
                    "usr/bin",
                    "/bin",
                    "--proc",
                    "/proc",
                    "--dev",
                    "/dev",
                    "--tmpfs",
                    "/tmp",
                    "/bin/true",
                ]);
                c
            }),
            stdin: None,
        },
        Case {
            name: "bwrap, same isolation as a cage",
            command: Box::new(move || bwrap_same_isolation(&same)),
            stdin: None,
        },
        Case {
            name: "cloison cage",
            command: Box::new(move || {
                let mut c = Command::new(&helper);
                c.arg("run");
                c
            }),
            stdin: Some(plan),
        },
    ];
    // A first cage builds the level's /etc cache (bwrap's same-isolation case binds it too).
    let mut first = Command::new(bin_dir().join("cloison-cage"))
        .arg("run")
        .stdin(Stdio::piped())
        .spawn()?;
    first
        .stdin
        .take()
        .context("stdin")?
        .write_all(&plan_json(home.path()))?;
    anyhow::ensure!(first.wait()?.success(), "the first cage failed");
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); cases.len()];
    // One warm-up round, then the measured ones.
    for round in 0..=runs {
        for (i, case) in cases.iter().enumerate() {
            let mut command = (case.command)();
            command.stdout(Stdio::null()).stderr(Stdio::piped());
            if case.stdin.is_some() {
                command.stdin(Stdio::piped());
            }
            let start = Instant::now();
            let mut child = command
                .spawn()
                .with_context(|| format!("cannot run {}", case.name))?;
            if let (Some(data), Some(mut stdin)) = (&case.stdin, child.stdin.take()) {
                stdin.write_all(data)?;
            }
            let out = child.wait_with_output()?;
            let elapsed = start.elapsed().as_secs_f64() * 1000.0;
            if !out.status.success() {
                bail!(
                    "{} failed: {}",
                    case.name,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if round > 0 {
                samples[i].push(elapsed);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    let medians: Vec<f64> = samples.iter_mut().map(median).collect();
    let floor = medians[2];
    let bwrap = medians[3];
    let same = medians[4];
    #[allow(clippy::disallowed_macros)]
    {
        println!("Medians of {runs} interleaved runs (wall time from spawn to exit).\n");
        println!("| command | median (ms) | / bwrap | / bwrap same isolation | / floor |");
        println!("|---|---:|---:|---:|---:|");
        for (case, m) in cases.iter().zip(&medians) {
            println!(
                "| {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                case.name,
                m,
                m / bwrap,
                m / same,
                m / floor
            );
        }
    }
    Ok(())
}

/// What bwrap needs to build what a cage builds: the level's seccomp programs in files (passed
/// as descriptors), the same home and the same `/etc` files.
struct SameIsolation {
    dir: PathBuf,
    programs: usize,
}

impl SameIsolation {
    fn new(dir: &Path) -> anyhow::Result<SameIsolation> {
        let policy = cloison_cages::seccomp::compile("level", None)?;
        for (i, program) in policy.programs().iter().enumerate() {
            let bytes: Vec<u8> = program
                .iter()
                .flat_map(|f| {
                    let mut b = Vec::with_capacity(8);
                    b.extend_from_slice(&f.code.to_ne_bytes());
                    b.push(f.jt);
                    b.push(f.jf);
                    b.extend_from_slice(&f.k.to_ne_bytes());
                    b
                })
                .collect();
            std::fs::write(dir.join(format!("seccomp-{i}.bpf")), bytes)?;
        }
        Ok(SameIsolation {
            dir: dir.to_path_buf(),
            programs: policy.programs().len(),
        })
    }
}

/// bwrap with what a cage has and bwrap can do (all but Landlock, rlimits and the loopback
/// interface up): the same namespaces, user 1000, hostname, read-only system and `/etc`,
/// `/proc`, `/dev`, private `/tmp` and runtime directory, the home read-write, a read-only root,
/// a clean environment, no capabilities, and the level's seccomp programs.
fn bwrap_same_isolation(same: &SameIsolation) -> Command {
    let mut c = Command::new("bwrap");
    let home = same.dir.join("home");
    let etc = same.dir.join("etc");
    c.args(["--unshare-all", "--die-with-parent"]);
    c.args(["--uid", "1000", "--gid", "1000", "--hostname", "bench"]);
    c.args(["--ro-bind", "/usr", "/usr"]);
    for (link, target) in [
        ("/lib", "usr/lib"),
        ("/lib64", "usr/lib64"),
        ("/bin", "usr/bin"),
        ("/sbin", "usr/sbin"),
    ] {
        c.args(["--symlink", target, link]);
    }
    c.arg("--ro-bind").arg(&etc).arg("/etc");
    for dir in ["fonts", "ssl", "alternatives", "xdg"] {
        let host = Path::new("/etc").join(dir);
        if host.is_dir() {
            c.arg("--ro-bind")
                .arg(&host)
                .arg(Path::new("/etc").join(dir));
        }
    }
    c.args(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
    c.arg("--bind").arg(&home).arg("/home/user");
    c.args(["--perms", "0700", "--tmpfs", "/run/user/1000"]);
    c.args(["--remount-ro", "/", "--chdir", "/home/user"]);
    c.args(["--clearenv", "--setenv", "PATH", "/usr/bin:/bin"]);
    c.args(["--cap-drop", "ALL"]);
    let mut files = Vec::new();
    for i in 0..same.programs {
        let fd = 10 + i as i32;
        c.args(["--add-seccomp-fd", &fd.to_string()]);
        files.push((
            std::fs::File::open(same.dir.join(format!("seccomp-{i}.bpf"))).ok(),
            fd,
        ));
    }
    c.arg("/bin/true");
    // SAFETY: only dup2 between fork and exec (async-signal-safe); it places each program's
    // file at the descriptor bwrap was told (dup2 clears close-on-exec).
    unsafe {
        c.pre_exec(move || {
            for (file, fd) in &files {
                let Some(file) = file else {
                    return Err(std::io::Error::other("missing seccomp program"));
                };
                if libc::dup2(file.as_raw_fd(), *fd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    c
}

/// The floor: the same namespaces, a Landlock ruleset and the level's seccomp policy around
/// `/bin/true`, with no filesystem set-up at all. Never returns.
pub fn floor() -> ! {
    let code = match floor_inner() {
        Ok(code) => code,
        Err(e) => {
            #[allow(clippy::disallowed_macros)]
            {
                eprintln!("floor: {e:#}");
            }
            1
        }
    };
    std::process::exit(code);
}

fn floor_inner() -> anyhow::Result<i32> {
    let policy = cloison_cages::seccomp::compile("level", None)?;
    let flags = (libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP
        | libc::SIGCHLD) as libc::c_ulong;
    let (go_r, go_w) = nix::unistd::pipe()?;
    // SAFETY: fork-like clone in a single-threaded process; the child execs or exits.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        bail!("clone: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop(go_w);
        let mut b = [0u8; 1];
        let _ = std::io::Read::read(&mut std::fs::File::from(go_r), &mut b);
        let abi = ABI::V6;
        let mut created = Ruleset::default()
            .handle_access(AccessFs::from_all(abi))?
            .scope(Scope::AbstractUnixSocket | Scope::Signal)?
            .create()?;
        for path in ["/usr", "/lib", "/lib64", "/bin", "/etc"] {
            if let Ok(fd) = PathFd::new(path) {
                created = created.add_rule(PathBeneath::new(fd, AccessFs::from_read(abi)))?;
            }
        }
        created.restrict_self()?;
        cloison_cages::sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")?;
        cloison_cages::seccomp::install(&policy)?;
        let err = std::os::unix::process::CommandExt::exec(&mut Command::new("/bin/true"));
        bail!("exec: {err}");
    }
    drop(go_r);
    let root = nix::unistd::geteuid().is_root();
    let outside = if root {
        100_000
    } else {
        nix::unistd::geteuid().as_raw()
    };
    if !root {
        std::fs::write(format!("/proc/{pid}/setgroups"), "deny")?;
    }
    std::fs::write(format!("/proc/{pid}/uid_map"), format!("1000 {outside} 1"))?;
    std::fs::write(format!("/proc/{pid}/gid_map"), format!("1000 {outside} 1"))?;
    nix::unistd::write(&go_w, b"g")?;
    match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None)? {
        nix::sys::wait::WaitStatus::Exited(_, code) => Ok(code),
        other => bail!("child: {other:?}"),
    }
}
