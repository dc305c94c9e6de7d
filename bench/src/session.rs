//! A real `cloison run` (headless, no session apps) in a private directory, for the
//! benchmarks that go through the launcher.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The session: stopped with SIGTERM (and waited for) when dropped.
pub struct BenchSession {
    child: Child,
    /// Its `XDG_RUNTIME_DIR`.
    pub runtime: PathBuf,
}

impl BenchSession {
    /// Starts `cloison run` in `dir` with the built-in configuration minus its session apps,
    /// changed by `edit` (which may refuse it); state, data and cache stay in `dir`.
    pub fn start(
        dir: &Path,
        edit: impl FnOnce(String) -> anyhow::Result<String>,
    ) -> anyhow::Result<BenchSession> {
        let runtime = dir.join("run");
        std::fs::create_dir(&runtime)?;
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        let config = dir.join("cloison.toml");
        let text = include_str!("../../assets/cloison.toml")
            .replace("[[level.session]]\ncommand = [\"foot\"]\n", "");
        std::fs::write(&config, edit(text)?)?;
        let child = Command::new(crate::clipboard::bin("cloison"))
            .args(["run", "--backend", "headless", "--config"])
            .arg(&config)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("XDG_STATE_HOME", dir.join("state"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(BenchSession { child, runtime })
    }
}

impl Drop for BenchSession {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
