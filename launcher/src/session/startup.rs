//! Start-up: the session directory and sockets, the compositor's cage and its `ready`, and what
//! the launcher needs before the loop runs (open-file limit, banner); clean-up at the end.

use super::*;

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        &mut self,
        handle: &LoopHandle<'static, Session>,
        event_loop: &mut EventLoop<'static, Session>,
        ids: Ids,
        compositor_binary: &Path,
        backend: &str,
        size: (i32, i32),
        verbose: bool,
    ) -> anyhow::Result<()> {
        let config = self.config.clone();
        let paths = self.paths.clone();
        let caller = (ids.caller, ids.caller_gid);

        // Per level: its directory of sockets, its sockets, its home, its plan.
        plans::own_dir(&paths.session_dir.join("levels"), caller, 0o700)?;
        let mut wayland = Vec::new();
        for (index, level) in config.levels.iter().enumerate() {
            let outside = ids.outside(level.uid);
            plans::own_dir(
                &paths::level_dir(&paths.runtime_dir, &level.name),
                caller,
                0o700,
            )?;
            let socket = paths::level_wayland_socket(&paths.runtime_dir, &level.name);
            wayland.push((level.name.clone(), listen(&socket, outside)?, socket));
            let manager = listen(
                &paths::level_manager_socket(&paths.runtime_dir, &level.name),
                outside,
            )?;
            serve_manager(
                handle,
                index,
                level.name.clone(),
                manager,
                self.transfers.clone(),
            )?;
            let home = paths.level_home(&level.name);
            if let Some(parent) = home.parent() {
                plans::own_dir(parent, caller, 0o700)?;
            }
            plans::own_dir(&home, outside, 0o700)?;
            let plan = plans::level_plan(&paths, ids, level, &self.send_tool);
            plan.validate(ids.caller)
                .with_context(|| format!("level {}", level.name))?;
            let enforced = plans::enforced(&plan);
            tracing::info!(level = %level.name, uid = outside.0, "confinement: {enforced}");
            self.levels.push(LevelRun {
                plan,
                enforced,
                cage: None,
                generation: 0,
                phase: Phase::Stopped,
                restart: None,
                restarts: Vec::new(),
            });
            self.menus
                .push(apps::menu(level, Path::new("/usr/share/applications")));
        }

        // The public control socket: this process serves it.
        let ctl = listen(&paths::ctl_socket(&paths.runtime_dir), caller)?;
        let private_ctl_path = paths::compositor_ctl_socket(&paths.runtime_dir);
        plans::own_dir(
            private_ctl_path.parent().unwrap_or(&paths.session_dir),
            caller,
            0o700,
        )?;
        serve_ctl(handle, ctl, private_ctl_path.clone())?;

        // The compositor: its sockets and channel as descriptors, its configuration in a memfd.
        let compositor_ids = ids.outside(config.compositor.uid);
        let private_ctl = listen(&private_ctl_path, caller)?;
        let (ours, theirs) = UnixStream::pair().context("socketpair")?;
        let config_fd = config_memfd(&config)?;
        let home = paths.compositor_home();
        if let Some(parent) = home.parent() {
            plans::own_dir(parent, caller, 0o700)?;
        }
        plans::own_dir(&home, compositor_ids, 0o700)?;
        let parent = ParentDisplay::from_env(&paths.runtime_dir);
        // The nested backend's parent, as a descriptor: a connection to a Wayland parent, or
        // the X display's cookie alone.
        let parent_fd = if backend == "winit" {
            parent_descriptor(&parent)?
        } else {
            None
        };
        let mut pass: Vec<(OwnedFd, i32)> = Vec::new();
        let mut level_fds = Vec::new();
        for (i, (name, listener, path)) in wayland.into_iter().enumerate() {
            let fd = cloison_cages::plan::FIRST_PASSED_FD + i as i32;
            level_fds.push((name, fd, path));
            pass.push((OwnedFd::from(listener), fd));
        }
        let next = cloison_cages::plan::FIRST_PASSED_FD + level_fds.len() as i32;
        let fds = plans::CompositorFds {
            levels: level_fds,
            ctl: next,
            manager: next + 1,
            config: next + 2,
            parent: parent_fd.as_ref().map(|_| next + 3),
        };
        pass.push((OwnedFd::from(private_ctl), fds.ctl));
        pass.push((OwnedFd::from(theirs), fds.manager));
        pass.push((config_fd, fds.config));
        if let (Some(fd), Some(number)) = (parent_fd, fds.parent) {
            pass.push((fd, number));
        }
        let plan = plans::compositor_plan(
            &paths,
            ids,
            &config,
            compositor_binary,
            backend,
            size,
            verbose,
            &parent,
            &fds,
        );
        tracing::info!(
            uid = compositor_ids.0,
            "compositor confinement: {}",
            plans::enforced(&plan)
        );
        // Its output comes through a pipe too: no cage holds the launcher's terminal.
        let (output_read, output_write) = nix::unistd::pipe().context("pipe")?;
        crate::output::follow(
            "compositor".into(),
            output_read,
            crate::output::Sink::Verbatim,
        );
        let cage = Cage::start_with(
            &plan,
            &self.helper,
            CageIo {
                pass,
                output: Some(output_write),
            },
        )
        .context("cannot start the compositor's cage")?;
        let (helper, init_reader, init_writer) = cage.into_parts();
        read_compositor(ours.try_clone()?, self.events.clone());
        ours.set_write_timeout(Some(Duration::from_secs(2)))?;
        self.compositor = Some(CompositorRun {
            helper,
            channel: ours,
            ready: false,
            _init: (init_reader, init_writer),
        });
        let _ = handle;

        // Wait for it to serve (or fail).
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.compositor.as_ref().is_some_and(|c| c.ready) {
            if let Some(code) = self.outcome {
                bail!(
                    "the compositor failed to start{} (its messages are above)",
                    if code == 0 { " (interrupted)" } else { "" }
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "the compositor did not start within {} s",
                    READY_TIMEOUT.as_secs()
                );
            }
            event_loop
                .dispatch(Some(left.min(Duration::from_millis(200))), self)
                .context("the event loop failed")?;
        }
        let menu = ToCompositor::Menu {
            levels: config
                .levels
                .iter()
                .zip(&self.menus)
                .map(|(level, entries)| MenuLevel {
                    level: level.name.clone(),
                    apps: entries.iter().map(|e| e.name.clone()).collect(),
                })
                .collect(),
        };
        self.tell_compositor(&menu);
        Ok(())
    }
}

/// Raises the open-files limit to what every level may make the launcher hold (`needed`), or
/// at least to the hard limit: only root may go past that. Cages start from their own plan's
/// limits (ceilings), not from this.
pub(super) fn raise_nofile(needed: u64) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return;
    };
    if hard < needed && setrlimit(Resource::RLIMIT_NOFILE, needed, needed).is_ok() {
        return;
    }
    if soft < hard
        && let Err(err) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!("cannot raise the open-files limit to {hard}: {err}");
    }
    if hard < needed {
        tracing::warn!(
            "the open-files hard limit ({hard}) is below what the levels may make the launcher \
             hold ({needed}): one level's file transfers could starve another's; raise it \
             (e.g. LimitNOFILE= in the session's unit)"
        );
    }
}

/// A binary installed next to `cloison` (or in target/), else on PATH.
pub(super) fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|p| p.is_file());
    if let Some(path) = beside {
        return Ok(path);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .with_context(|| {
            format!("cannot find {name} next to cloison or on PATH (is Cloison installed?)")
        })
}

/// Binds a listening socket at `path`, owned by `owner` with mode 0600 (a stale file from a
/// crashed session is replaced).
pub(super) fn listen(path: &Path, owner: (u32, u32)) -> anyhow::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::os::unix::fs::lchown(path, Some(owner.0), Some(owner.1))
        .with_context(|| format!("cannot give {} to uid {}", path.display(), owner.0))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// What the nested compositor gets of its parent display: for X11, a memory file holding only
/// that display's entries of the X authority file (if there is one); for Wayland, the
/// launcher's connection to the parent's socket.
pub(super) fn parent_descriptor(parent: &ParentDisplay) -> anyhow::Result<Option<OwnedFd>> {
    use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
    if let Some((number, _)) = parent.x11_socket() {
        let Some(file) = parent.xauthority.as_ref().filter(|f| f.is_file()) else {
            return Ok(None);
        };
        let bytes = std::fs::read(file)
            .with_context(|| format!("cannot read the X authority file {}", file.display()))?;
        let Some(entries) = plans::xauthority_for(&bytes, &number) else {
            tracing::warn!(
                "{} is not an X authority file: not passed on",
                file.display()
            );
            return Ok(None);
        };
        let fd = memfd_create(c"cloison-xauthority", MemFdCreateFlag::MFD_CLOEXEC)
            .context("memfd_create")?;
        let mut out = std::fs::File::from(fd);
        out.write_all(&entries)?;
        std::io::Seek::rewind(&mut out)?;
        return Ok(Some(OwnedFd::from(out)));
    }
    if let Some(socket) = &parent.wayland {
        let stream = UnixStream::connect(socket).with_context(|| {
            format!("cannot connect to the parent display {}", socket.display())
        })?;
        return Ok(Some(OwnedFd::from(stream)));
    }
    Ok(None)
}

/// The configuration as JSON in a sealed memory file, for the compositor to read.
pub(super) fn config_memfd(config: &Config) -> anyhow::Result<OwnedFd> {
    use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
    let fd =
        memfd_create(c"cloison-config", MemFdCreateFlag::MFD_CLOEXEC).context("memfd_create")?;
    let mut file = std::fs::File::from(fd);
    file.write_all(&serde_json::to_vec(config)?)?;
    std::io::Seek::rewind(&mut file)?;
    Ok(OwnedFd::from(file))
}

/// Reads the compositor's channel into the loop, each message with its descriptor.
pub(super) fn read_compositor(stream: UnixStream, events: Sender<Event>) {
    use cloison_ipc::channel::{self, ChannelError, Fill, Receiver};
    let _ = std::thread::Builder::new()
        .name("compositor".into())
        .spawn(move || {
            let mut receiver = Receiver::new(channel::SESSION);
            loop {
                let fill = receiver.fill(&stream);
                loop {
                    match receiver.next_frame() {
                        Ok(Some(frame)) => {
                            if frame.lost_descriptors {
                                // Out of descriptors: that message's content is lost (the copy
                                // fails), the channel goes on.
                                tracing::error!(
                                    "a message from the compositor lost its descriptor"
                                );
                            }
                            match frame.decode::<ToLauncher>() {
                                Ok((message, mut fds)) => {
                                    if events.send(Event::Compositor(message, fds.pop())).is_err() {
                                        return;
                                    }
                                }
                                Err(err) => {
                                    tracing::warn!("bad message from the compositor: {err}")
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(err) => {
                            tracing::error!("the compositor's channel is out of step: {err}");
                            let _ = events.send(Event::CompositorGone);
                            return;
                        }
                    }
                }
                match fill {
                    Ok(Fill::Open) | Err(ChannelError::Truncated) => {}
                    Ok(Fill::Closed) | Err(_) => break,
                }
            }
            let _ = events.send(Event::CompositorGone);
        });
}

#[allow(clippy::disallowed_macros)]
pub(super) fn print_banner(config: &Config, paths: &SessionPaths, backend: &str, size: (i32, i32)) {
    println!("Cloison session running ({backend}, {}x{})", size.0, size.1);
    for level in &config.levels {
        println!(
            "  level {:<8} {:<8} WAYLAND_DISPLAY={}  home {}",
            level.name,
            format!("({})", level.label),
            paths::level_wayland_socket(&paths.runtime_dir, &level.name).display(),
            paths.level_home(&level.name).display()
        );
    }
    println!(
        "  control socket  {}  (cloison ctl status | screenshot FILE.png | quit; cloison spawn LEVEL -- CMD)",
        paths::ctl_socket(&paths.runtime_dir).display()
    );
    println!("Press Ctrl+C to end the session.");
    let _ = std::io::stdout().flush();
}

/// Removes the session's runtime directory (sockets).
pub(super) fn cleanup(session_dir: &Path) {
    if let Err(err) = std::fs::remove_dir_all(session_dir)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove {}: {err}", session_dir.display());
    }
}
