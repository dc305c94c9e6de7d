//! `cloison-cage`: builds one cage from a plan and supervises it.
//!
//! ```text
//! cloison-cage run [--control-fd N] < plan.json
//! ```
//!
//! The plan (JSON, see `cloison_cages::plan::CagePlan`) comes on standard input; the optional
//! control descriptor is the launcher's channel to the cage's init. The exit code is the
//! cage's (with `exit_with_first`, the first command's), 125 if the cage could not be built.

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let control = match args.as_slice() {
        [cmd] if cmd == "run" => None,
        [cmd, flag, fd] if cmd == "run" && flag == "--control-fd" => match fd.parse::<i32>() {
            // SAFETY: the launcher passes this descriptor to us and to nothing else.
            Ok(fd) if fd > 2 => Some(unsafe { cloison_cages::owned_fd(fd) }),
            _ => fail("--control-fd takes a descriptor number above 2"),
        },
        _ => fail("usage: cloison-cage run [--control-fd N] < plan.json"),
    };
    let mut json = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut json) {
        fail(&format!("cannot read the plan: {e}"));
    }
    let plan: cloison_cages::CagePlan = match serde_json::from_str(&json) {
        Ok(plan) => plan,
        Err(e) => fail(&format!("invalid plan: {e}")),
    };
    let netns = match plan.network {
        cloison_cages::plan::Network::Given { .. } => {
            // SAFETY: the launcher passes the level's namespace at this number, to us only.
            Some(unsafe { cloison_cages::owned_fd(cloison_cages::plan::NETNS_FD) })
        }
        _ => None,
    };
    match cloison_cages::run_helper(&plan, control, netns) {
        Ok(code) => std::process::exit(code),
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ! {
    #[allow(clippy::disallowed_macros)]
    {
        eprintln!("cloison-cage: {message}");
    }
    std::process::exit(125);
}
