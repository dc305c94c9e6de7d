//! Start-up: the session directory and sockets, the compositor's cage and its `ready`, and what
//! the launcher needs before the loop runs (open-file limit, banner); clean-up at the end.

use super::*;

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start(
        &mut self,
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
        let handle = self.handle.clone();

        // Per level: its directory of sockets, its sockets, its home, its plan.
        plans::own_dir(&paths.session_dir.join("levels"), caller, 0o700)?;
        // The daemon runs in the cages: it must be where they see the host's programs.
        let bus_daemon =
            on_path("dbus-daemon").filter(|p| p.starts_with("/usr") || p.starts_with("/bin"));
        if bus_daemon.is_none() {
            tracing::warn!(
                "dbus-daemon is not installed under /usr: the levels have no session bus (install dbus-daemon)"
            );
        }
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
                &handle,
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
            // Its session bus: a socket the cage's init makes for its dbus-daemon.
            let bus = bus_daemon.is_some();
            let notifyd = self
                .notifyd
                .as_deref()
                .filter(|_| bus && level.notifications);
            let (net, net_status) = self.build_network(index, ids);
            let network = match &net {
                Some(net) => cloison_cages::plan::Network::Given {
                    resolv: net.resolv.clone(),
                },
                None => plans::plain_network(level),
            };
            let plan = plans::level_plan(
                &paths,
                ids,
                level,
                &self.send_tool,
                bus_daemon.as_deref(),
                notifyd,
                self.x11.as_deref().map(|binary| plans::X11Bridge {
                    binary,
                    display: plans::x11_display(level, index),
                }),
                network,
            );
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
                bus,
                notifyd: notifyd.is_some(),
                notifyd_ended: Vec::new(),
                net,
                net_status,
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
        serve_ctl(&handle, ctl, private_ctl_path.clone())?;
        let private_ctl = listen(&private_ctl_path, caller)?;
        let home = paths.compositor_home();
        if let Some(parent) = home.parent() {
            plans::own_dir(parent, caller, 0o700)?;
        }
        plans::own_dir(&home, ids.outside(config.compositor.uid), 0o700)?;

        self.compositor_start = Some(CompositorStart {
            binary: compositor_binary.to_path_buf(),
            backend: backend.into(),
            size,
            verbose,
            ids,
            levels: wayland,
            ctl: private_ctl,
        });
        self.start_compositor(false)?;

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
        Ok(())
    }

    /// Starts the compositor's cage (again, after one died): the levels' listening sockets
    /// and the private control socket are the launcher's, handed over as copies, so a client
    /// that connects meanwhile waits in the backlog; `locked`: it starts with the screen
    /// locked, before it serves anyone.
    pub(super) fn start_compositor(&mut self, locked: bool) -> anyhow::Result<()> {
        let start = self
            .compositor_start
            .as_ref()
            .context("the compositor's sockets are not ready")?;
        let (config, paths) = (&self.config, &self.paths);
        let compositor_ids = start.ids.outside(config.compositor.uid);
        let (ours, theirs) = UnixStream::pair().context("socketpair")?;
        let config_fd = config_memfd(config)?;
        let parent = ParentDisplay::from_env(&paths.runtime_dir);
        // The nested backend's parent, as a descriptor: a connection to a Wayland parent, or
        // the X display's cookie alone.
        let parent_fd = if start.backend == "winit" {
            parent_descriptor(&parent)?
        } else {
            None
        };
        let mut pass: Vec<(OwnedFd, i32)> = Vec::new();
        let mut level_fds = Vec::new();
        for (i, (name, listener, path)) in start.levels.iter().enumerate() {
            let fd = cloison_cages::plan::FIRST_PASSED_FD + i as i32;
            level_fds.push((name.clone(), fd, path.clone()));
            pass.push((OwnedFd::from(listener.try_clone()?), fd));
        }
        let next = cloison_cages::plan::FIRST_PASSED_FD + level_fds.len() as i32;
        let fds = plans::CompositorFds {
            levels: level_fds,
            ctl: next,
            manager: next + 1,
            config: next + 2,
            parent: parent_fd.as_ref().map(|_| next + 3),
        };
        pass.push((OwnedFd::from(start.ctl.try_clone()?), fds.ctl));
        pass.push((OwnedFd::from(theirs), fds.manager));
        pass.push((config_fd, fds.config));
        if let (Some(fd), Some(number)) = (parent_fd, fds.parent) {
            pass.push((fd, number));
        }
        let mut plan = plans::compositor_plan(
            paths,
            start.ids,
            config,
            &start.binary,
            &start.backend,
            start.size,
            start.verbose,
            &parent,
            &fds,
        );
        if locked {
            // The compositor is the cage's first (and only) program.
            if let Some(argv) = plan.run.first_mut() {
                argv.push("--locked".into());
            }
        }
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
                netns: None,
            },
        )
        .context("cannot start the compositor's cage")?;
        let (helper, init_reader, init_writer) = cage.into_parts();
        self.compositor_generation += 1;
        read_compositor(
            ours.try_clone()?,
            self.compositor_generation,
            self.events.clone(),
        );
        ours.set_write_timeout(Some(Duration::from_secs(2)))?;
        self.compositor = Some(CompositorRun {
            helper,
            channel: ours,
            ready: false,
            _init: (init_reader, init_writer),
        });
        Ok(())
    }

    /// The compositor serves: it gets the launcher menu, which levels run, and the questions
    /// still waiting for the user (after a restart).
    pub(super) fn compositor_ready(&mut self) {
        if let Some(c) = self.compositor.as_mut() {
            c.ready = true;
        }
        tracing::info!("the compositor serves");
        let menu = ToCompositor::Menu {
            levels: self
                .config
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
        for index in 0..self.levels.len() {
            if self.levels[index].phase == Phase::Running {
                self.tell_compositor(&ToCompositor::LevelState {
                    level: self.config.levels[index].name.clone(),
                    running: true,
                });
            }
        }
        for index in 0..self.levels.len() {
            let status = self.levels[index].net_status.clone();
            self.tell_network(index, &status);
        }
        for dialog in self.asks.dialogs() {
            self.tell_compositor(&dialog);
        }
    }

    /// Builds level `index`'s network when the launcher builds it (NAT, a tunnel). A level
    /// whose network cannot be built (no root session, a bad tunnel file, no nft) gets none:
    /// never a network with less isolation than configured.
    fn build_network(
        &self,
        index: usize,
        ids: Ids,
    ) -> (Option<crate::network::LevelNet>, crate::network::Status) {
        use crate::network::Status;
        let level = &self.config.levels[index];
        match &level.network {
            Network::None => return (None, Status::ok("no network")),
            Network::Host => return (None, Status::alert("host network")),
            Network::Netns(name) => return (None, Status::ok(format!("netns {name}"))),
            _ => {}
        }
        if ids.caller != 0 {
            tracing::warn!(
                level = %level.name,
                "network {} needs a root session: the level has no network (use network = \"host\" for the host's, without isolation)",
                level.network
            );
            return (None, Status::alert("no network (needs root)"));
        }
        let events = self.events.clone();
        let report: crate::network::Report = Arc::new(move |status| {
            let _ = events.send(Event::Network(index, status));
        });
        // cloison-wg runs as a uid of the level's block that owns nothing (the cage maps only
        // its first).
        let tunnel_uid = ids.outside(level.uid).0.saturating_add(1);
        match crate::network::build(level, &self.networks, report, tunnel_uid) {
            Ok(net) => {
                tracing::info!(level = %level.name, "network: {}", net.summary);
                let status = net.status.clone();
                (Some(net), status)
            }
            Err(err) => {
                tracing::error!(level = %level.name, "the level's network could not be built, it has none: {err:#}");
                (None, Status::alert("no network (see the log)"))
            }
        }
    }

    /// A level's network changed: the log and the bar say so.
    pub(super) fn network_changed(&mut self, index: usize, status: crate::network::Status) {
        let Some(run) = self.levels.get_mut(index) else {
            return;
        };
        if run.net_status == status {
            return;
        }
        let level = &self.config.levels[index].name;
        if status.alert {
            tracing::warn!(level = %level, "network: {}", status.text);
        } else {
            tracing::info!(level = %level, "network: {}", status.text);
        }
        run.net_status = status.clone();
        self.tell_network(index, &status);
    }

    fn tell_network(&mut self, index: usize, status: &crate::network::Status) {
        self.tell_compositor(&ToCompositor::LevelNetwork {
            level: self.config.levels[index].name.clone(),
            text: status.text.clone(),
            alert: status.alert,
        });
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

/// A program on PATH.
pub(super) fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
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
    on_path(name).with_context(|| {
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
pub(super) fn read_compositor(stream: UnixStream, generation: u64, events: Sender<Event>) {
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
                                    if events
                                        .send(Event::Compositor(generation, message, fds.pop()))
                                        .is_err()
                                    {
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
                            let _ = events.send(Event::CompositorGone(generation));
                            return;
                        }
                    }
                }
                match fill {
                    Ok(Fill::Open) | Err(ChannelError::Truncated) => {}
                    Ok(Fill::Closed) | Err(_) => break,
                }
            }
            let _ = events.send(Event::CompositorGone(generation));
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
        "  programs' output  {}  (cloison logs LEVEL)",
        paths.logs_dir().join("LEVEL.log").display()
    );
    println!(
        "  control socket  {}",
        paths::ctl_socket(&paths.runtime_dir).display()
    );
    // Ready to paste into another shell: without XDG_RUNTIME_DIR, `cloison ctl` looks in the
    // standard places, so only a session elsewhere needs it said.
    let uid = nix::unistd::getuid().as_raw();
    let prefix = if paths::fallback_runtime_dirs(uid).contains(&paths.runtime_dir) {
        String::new()
    } else {
        format!("XDG_RUNTIME_DIR={} ", paths.runtime_dir.display())
    };
    println!(
        "  from another shell: {prefix}cloison ctl status | screenshot FILE.png | quit;  {prefix}cloison spawn LEVEL -- CMD;  cloison logs LEVEL"
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
