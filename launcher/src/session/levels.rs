//! The levels' cages: starting, stopping and restarting them, their programs (through each
//! cage's init), and what happens when one of them, or the compositor, dies.

use super::*;

/// Restarts of a level's notification service allowed in a minute.
const NOTIFYD_RESTARTS: usize = 3;

impl Session {
    pub(super) fn start_levels(&mut self) {
        for index in 0..self.levels.len() {
            self.start_level(index);
        }
    }

    /// Builds a level's cage and starts its session apps.
    pub(super) fn start_level(&mut self, index: usize) {
        let name = self.config.levels[index].name.clone();
        let result = (|| -> anyhow::Result<()> {
            let (read, write) = nix::unistd::pipe().context("pipe")?;
            crate::output::follow(
                name.clone(),
                read,
                crate::output::Sink::Level(self.paths.level_log(&name)),
            );
            let run = &mut self.levels[index];
            let netns = run.net.as_ref().map(|n| n.netns()).transpose()?;
            let cage = Cage::start_with(
                &run.plan,
                &self.helper,
                CageIo {
                    pass: Vec::new(),
                    output: Some(write),
                    netns,
                },
            )?;
            let (helper, reader, writer) = cage.into_parts();
            writer.set_write_timeout(Some(Duration::from_secs(1)))?;
            run.generation += 1;
            read_init(index, run.generation, reader, self.events.clone());
            run.cage = Some(RunningCage {
                helper,
                writer,
                pending: VecDeque::new(),
                apps: BTreeMap::new(),
            });
            run.phase = Phase::Running;
            Ok(())
        })();
        match result {
            Ok(()) => {
                tracing::info!(level = %name, "cage started");
                self.tell_compositor(&ToCompositor::LevelState {
                    level: name.clone(),
                    running: true,
                });
                // The notification service first: the bus is up (its socket already listens).
                if self.levels[index].notifyd {
                    self.spawn(index, vec![plans::NOTIFYD_IN_CAGE.into()], None, None);
                }
                let session: Vec<Vec<String>> = self.config.levels[index]
                    .session
                    .iter()
                    .map(|a| a.command.clone())
                    .collect();
                for (i, argv) in session.into_iter().enumerate() {
                    self.spawn(index, argv, Some(i), None);
                }
            }
            Err(err) => {
                tracing::error!(level = %name, "cannot start the level's cage: {err:#}");
                self.notify(format!(
                    "{} could not start (see the log)",
                    self.label(index)
                ));
            }
        }
    }

    pub(super) fn label(&self, index: usize) -> String {
        self.config.levels[index].label.clone()
    }

    /// Asks a level's init to start `argv`.
    pub(super) fn spawn(
        &mut self,
        index: usize,
        argv: Vec<String>,
        session: Option<usize>,
        reply: Option<mpsc::Sender<Response>>,
    ) {
        self.spawn_for(index, argv, session, reply, false);
    }

    /// [`Session::spawn`]; with `wait`, the reply is sent when the program ends
    /// ([`Reply::Exited`]) rather than when it starts (`cloison exec`).
    pub(super) fn spawn_for(
        &mut self,
        index: usize,
        argv: Vec<String>,
        session: Option<usize>,
        reply: Option<mpsc::Sender<Response>>,
        wait: bool,
    ) {
        let name = self.config.levels[index].name.clone();
        let fail = |reply: Option<mpsc::Sender<Response>>, message: String| {
            if let Some(reply) = reply {
                let _ = reply.send(Response::Error(message));
            }
        };
        if argv.is_empty() || argv[0].is_empty() {
            return fail(reply, "an empty command".into());
        }
        let run = &mut self.levels[index];
        let Some(cage) = run.cage.as_mut().filter(|_| run.phase == Phase::Running) else {
            return fail(
                reply,
                format!(
                    "level {name} is not running; start it with `cloison ctl restart-level {name}`"
                ),
            );
        };
        let mut line = match serde_json::to_string(&InitRequest::Spawn { argv: argv.clone() }) {
            Ok(line) => line,
            Err(err) => return fail(reply, err.to_string()),
        };
        line.push('\n');
        if let Err(err) = cage.writer.write_all(line.as_bytes()) {
            return fail(reply, format!("level {name}'s init does not answer: {err}"));
        }
        cage.pending.push_back(Pending::Spawn {
            argv,
            session,
            reply,
            wait,
        });
    }

    /// Asks a level's init to stop everything; the cage ends when its programs have.
    pub(super) fn stop_level(&mut self, index: usize) {
        let run = &mut self.levels[index];
        let Some(cage) = run.cage.as_mut() else {
            return;
        };
        run.phase = Phase::Stopping;
        let mut line = serde_json::to_string(&InitRequest::Stop).unwrap_or_default();
        line.push('\n');
        if cage.writer.write_all(line.as_bytes()).is_ok() {
            cage.pending.push_back(Pending::Stop);
        } else {
            // Init is gone or stuck: the helper goes, and the kernel takes the cage with it.
            let _ = cage.helper.kill();
        }
    }

    pub(super) fn launch(&mut self, level: &str, app: usize) {
        let Some(index) = self.config.levels.iter().position(|l| l.name == level) else {
            tracing::warn!("the compositor asked to launch in unknown level {level:?}");
            return;
        };
        let Some(entry) = self.menus[index].get(app).cloned() else {
            tracing::warn!(
                level,
                app,
                "the compositor asked for a menu entry that does not exist"
            );
            return;
        };
        tracing::info!(level, app = %entry.name, "starting from the menu");
        let (reply, answer) = mpsc::channel();
        self.spawn(index, entry.argv, None, Some(reply));
        // A failure to send reaches the user through the bar.
        if let Ok(Response::Error(message)) = answer.try_recv() {
            self.notify(format!("cannot start {}: {message}", entry.name));
        }
    }

    pub(super) fn on_init(&mut self, index: usize, reply: InitReply) {
        let name = self.config.levels[index].name.clone();
        let label = self.label(index);
        let Some(cage) = self.levels[index].cage.as_mut() else {
            return;
        };
        match reply {
            InitReply::Exited { pid, status } => {
                let Some(app) = cage.apps.remove(&pid) else {
                    // Not one the launcher asked for: one of the cage's own programs, its
                    // bus daemon or its X bridge (`cloison-x11`, which outlives a compositor
                    // restart: it ends only when its X server does).
                    let x11 = self.levels[index]
                        .plan
                        .run
                        .iter()
                        .any(|argv| argv.first().is_some_and(|a| a == plans::X11_IN_CAGE));
                    let what = match (self.levels[index].bus, x11) {
                        (true, true) => "session bus or X display",
                        (true, false) => "session bus",
                        (false, true) => "X display",
                        (false, false) => "",
                    };
                    if !what.is_empty()
                        && self.levels[index].phase == Phase::Running
                        && self.outcome.is_none()
                    {
                        tracing::error!(level = %name, pid, status, "the level's {what} stopped");
                        self.notify(format!(
                            "{label}'s {what} stopped (status {status}): cloison ctl restart-level {name}"
                        ));
                    }
                    return;
                };
                tracing::info!(level = %name, pid, status, argv = ?app.argv, "program ended");
                if let Some(waiter) = &app.waiter {
                    let _ = waiter.send(Response::Ok(Reply::Exited { pid, status }));
                }
                if self.levels[index].phase != Phase::Running || self.outcome.is_some() {
                    return;
                }
                if app.service {
                    return self.notifyd_ended(index, status);
                }
                let Some(session) = app.session else {
                    return;
                };
                let policy = self.config.levels[index].session[session].restart;
                // A session app that ended with its compositor (it lost its windows) comes
                // back with the new one, whatever its policy.
                let with_compositor = self
                    .compositor_died_at
                    .is_some_and(|at| at.elapsed() < WITH_COMPOSITOR);
                let restart = with_compositor
                    || match policy {
                        Restart::Never => false,
                        Restart::OnFailure => status != 0,
                        Restart::Always => true,
                    };
                if !restart {
                    let program = app.argv[0].rsplit('/').next().unwrap_or("").to_string();
                    self.notify(format!("{program} exited in {label} (status {status})"));
                    // It may have seen the compositor die before the launcher did.
                    let now = Instant::now();
                    let generation = self.levels[index].generation;
                    self.ended_recently
                        .retain(|(.., at)| now.duration_since(*at) < WITH_COMPOSITOR);
                    self.ended_recently
                        .push((index, generation, session, app.argv, now));
                    return;
                }
                self.restart_session_app(index, session, app.argv);
            }
            InitReply::Spawned { pid } => match cage.pending.pop_front() {
                Some(Pending::Spawn {
                    argv,
                    session,
                    reply,
                    wait,
                }) => {
                    tracing::info!(level = %name, pid, argv = ?argv, "program started");
                    let service = session.is_none()
                        && reply.is_none()
                        && argv.first().is_some_and(|a| a == plans::NOTIFYD_IN_CAGE);
                    let (waiter, reply) = if wait { (reply, None) } else { (None, reply) };
                    cage.apps.insert(
                        pid,
                        App {
                            argv,
                            session,
                            service,
                            waiter,
                        },
                    );
                    if let Some(reply) = reply {
                        let _ = reply.send(Response::Ok(Reply::Spawned { pid }));
                    }
                }
                _ => tracing::warn!(level = %name, "init answered a request it was not sent"),
            },
            InitReply::Error(message) => match cage.pending.pop_front() {
                Some(Pending::Spawn { argv, reply, .. }) => {
                    tracing::warn!(level = %name, argv = ?argv, "cannot start: {message}");
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(Response::Error(message));
                        }
                        None => {
                            let program = argv[0].rsplit('/').next().unwrap_or("").to_string();
                            self.notify(format!("cannot start {program} in {label}"));
                        }
                    }
                }
                _ => tracing::warn!(level = %name, "init: {message}"),
            },
            InitReply::Stopping => {
                let _ = cage.pending.pop_front();
            }
        }
    }

    /// The level's notification service ended: started again, unless it ended more than
    /// [`NOTIFYD_RESTARTS`] times in a minute (then the bar says so).
    fn notifyd_ended(&mut self, index: usize, status: i32) {
        let label = self.label(index);
        let run = &mut self.levels[index];
        let now = Instant::now();
        run.notifyd_ended
            .retain(|at| now.duration_since(*at) < Duration::from_secs(60));
        run.notifyd_ended.push(now);
        if run.notifyd_ended.len() > NOTIFYD_RESTARTS {
            tracing::error!(level = %label, status, "the notification service keeps ending");
            self.notify(format!(
                "{label}'s notifications stopped (status {status}): cloison ctl restart-level {}",
                self.config.levels[index].name
            ));
            return;
        }
        tracing::warn!(level = %label, status, "the notification service ended: started again");
        self.spawn(index, vec![plans::NOTIFYD_IN_CAGE.into()], None, None);
    }

    /// SIGCHLD: see which cage (or the compositor) ended.
    pub(super) fn reap(&mut self) {
        for index in 0..self.levels.len() {
            let ended = match self.levels[index].cage.as_mut() {
                Some(cage) => match cage.helper.try_wait() {
                    Ok(Some(status)) => Some(status),
                    _ => None,
                },
                None => None,
            };
            let Some(status) = ended else {
                continue;
            };
            let name = self.config.levels[index].name.clone();
            let run = &mut self.levels[index];
            let was = run.phase;
            if let Some(cage) = run.cage.take() {
                // Whatever init had not answered will not be answered.
                for pending in cage.pending {
                    if let Pending::Spawn {
                        reply: Some(reply), ..
                    } = pending
                    {
                        let _ = reply.send(Response::Error(format!("level {name} stopped")));
                    }
                }
            }
            run.phase = Phase::Stopped;
            self.tell_compositor(&ToCompositor::LevelState {
                level: name.clone(),
                running: false,
            });
            if was == Phase::Running {
                tracing::error!(level = %name, %status, "the level's cage ended: restart it with `cloison ctl restart-level {name}`");
                self.notify(format!(
                    "{} stopped ({status}); cloison ctl restart-level {name}",
                    self.label(index)
                ));
            } else {
                tracing::info!(level = %name, %status, "cage stopped");
            }
            if let Some(reply) = self.levels[index].restart.take()
                && self.outcome.is_none()
            {
                self.start_level(index);
                if let Some(reply) = reply {
                    let _ = reply.send(Response::Ok(Reply::Done));
                }
            }
        }
        let compositor_ended = self
            .compositor
            .as_mut()
            .and_then(|c| c.helper.try_wait().ok().flatten());
        if let Some(status) = compositor_ended
            && self.outcome.is_none()
        {
            self.compositor_ended(status);
        }
    }

    /// The compositor's process ended: on its own accord (status 0: its nested window was
    /// closed, or it was told to stop) the session ends with it; otherwise it died.
    pub(super) fn compositor_ended(&mut self, status: std::process::ExitStatus) {
        if status.success() {
            tracing::info!("the compositor ended: ending the session");
            self.outcome = Some(0);
        } else {
            self.compositor_died(status.to_string());
        }
    }

    /// The compositor's channel closed (generation `generation`): if its process has not
    /// ended a moment later, it is a compositor that no longer talks, and it dies.
    pub(super) fn compositor_channel_closed(&mut self, generation: u64) {
        let ended = self
            .compositor
            .as_mut()
            .and_then(|c| c.helper.try_wait().ok().flatten());
        if let Some(status) = ended {
            return self.compositor_ended(status);
        }
        let timer = self.handle.insert_source(
            calloop::timer::Timer::from_duration(CHANNEL_GRACE),
            move |_, _, session| {
                if session.compositor_generation == generation
                    && session.compositor.is_some()
                    && session.outcome.is_none()
                {
                    session.reap();
                    if session.compositor_generation == generation && session.outcome.is_none() {
                        session.compositor_died("its channel closed".into());
                    }
                }
                calloop::timer::TimeoutAction::Drop
            },
        );
        if timer.is_err() {
            self.compositor_died("its channel closed".into());
        }
    }

    /// The compositor died (or stopped talking): another one is started on the same sockets,
    /// always with the screen locked — a compositor that fails never leaves the screen open,
    /// whether or not it had locked it (or said so) before dying — unless it never served, or
    /// died [`MAX_COMPOSITOR_RESTARTS`] times within [`RESTART_WINDOW`], or what is left of it
    /// does not end; then the session ends. The levels go on: their programs lose their windows
    /// (session apps come back, see [`WITH_COMPOSITOR`]), the global clipboard stays, a file
    /// transfer's question is asked again, a suspend waiting for the lock gets it from the new
    /// one.
    pub(super) fn compositor_died(&mut self, why: String) {
        let served = self.compositor.as_ref().is_some_and(|c| c.ready);
        let over = |why: String| {
            #[allow(clippy::disallowed_macros)]
            {
                eprintln!(
                    "cloison: the compositor stopped unexpectedly ({why}); the session is over"
                );
            }
            Some(1)
        };
        if let Some(old) = self.compositor.take()
            && !end_at_once(old)
        {
            self.outcome = over(format!("{why}, and what is left of it does not end"));
            return;
        }
        let now = Instant::now();
        self.compositor_restarts
            .retain(|at| now.duration_since(*at) < RESTART_WINDOW);
        if self.compositor_generation == 1 && !served {
            self.outcome = over(why);
            return;
        }
        if self.compositor_restarts.len() >= MAX_COMPOSITOR_RESTARTS {
            self.outcome = over(format!("{why}, a fourth time within a minute"));
            return;
        }
        self.compositor_restarts.push(now);
        self.compositor_died_at = Some(now);
        tracing::error!("the compositor stopped unexpectedly ({why}): starting it again, locked");
        self.record_restart(&why);
        for out in self.clipboard.compositor_restarted() {
            self.clipboard_out(out);
        }
        if let Err(err) = self.start_compositor(true) {
            self.outcome = over(format!("{why}, and it cannot be started again: {err:#}"));
            return;
        }
        if self.sleep_waiting.is_some() {
            // The machine waits to sleep until this one shows the lock.
            self.lock_now("suspend");
        }
        // Session apps that ended just before (they saw their connection close first) come
        // back too, if their cage is still the one they ran in.
        for (index, generation, session, argv, at) in std::mem::take(&mut self.ended_recently) {
            let run = &self.levels[index];
            if now.duration_since(at) < NOTICED_LATE
                && run.generation == generation
                && run.phase == Phase::Running
            {
                self.restart_session_app(index, session, argv);
            }
        }
        // One that does not serve in time ends the session.
        let generation = self.compositor_generation;
        let timer = self.handle.insert_source(
            calloop::timer::Timer::from_duration(READY_TIMEOUT),
            move |_, _, session| {
                let stuck = session.compositor_generation == generation
                    && session.compositor.as_ref().is_some_and(|c| !c.ready);
                if stuck && session.outcome.is_none() {
                    #[allow(clippy::disallowed_macros)]
                    {
                        eprintln!(
                            "cloison: the compositor started again did not serve within {} s; the session is over",
                            READY_TIMEOUT.as_secs()
                        );
                    }
                    session.outcome = Some(1);
                }
                calloop::timer::TimeoutAction::Drop
            },
        );
        if let Err(err) = timer {
            tracing::warn!("cannot time the compositor's start: {err}");
        }
    }

    /// Starts session app `session` of level `index` again, unless it was restarted
    /// [`MAX_RESTARTS`] times within [`RESTART_WINDOW`].
    fn restart_session_app(&mut self, index: usize, session: usize, argv: Vec<String>) {
        let label = self.label(index);
        let program = argv[0].rsplit('/').next().unwrap_or("").to_string();
        let now = Instant::now();
        let restarts = &mut self.levels[index].restarts;
        restarts.retain(|(_, at)| now.duration_since(*at) < RESTART_WINDOW);
        if restarts.iter().filter(|(s, _)| *s == session).count() >= MAX_RESTARTS {
            self.notify(format!(
                "{program} keeps exiting in {label}: not restarted again"
            ));
            return;
        }
        restarts.push((session, now));
        self.notify(format!("{program} exited in {label}: restarted"));
        self.spawn(index, argv, Some(session), None);
    }
}

/// Ends what is left of a compositor's cage before another one serves the same sockets: its
/// init is killed — every process of the cage's pid namespace dies with it, the compositor
/// too if it still runs — and its helper, which ends with init, is waited for (at most
/// [`STOP_GRACE`]). False if it did not end.
fn end_at_once(mut compositor: CompositorRun) -> bool {
    match init_of(compositor.helper.id()) {
        Some(init) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(init as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        None => {
            let _ = compositor.helper.kill();
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    loop {
        match compositor.helper.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => {
                let _ = compositor.helper.kill();
                tracing::error!("the dead compositor's cage does not end");
                return false;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The pid (outside) of a helper's only child: the cage's init.
pub(super) fn init_of(helper: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{helper}/task/{helper}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reads a cage's init, line by line, into the loop.
pub(super) fn read_init(
    level: usize,
    generation: u64,
    reader: BufReader<UnixStream>,
    events: Sender<Event>,
) {
    let _ = std::thread::Builder::new()
        .name(format!("init-{level}"))
        .spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<InitReply>(&line) {
                    Ok(reply) => {
                        if events
                            .send(Event::Init {
                                level,
                                generation,
                                reply,
                            })
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(err) => tracing::warn!(level, "bad line from init: {err}"),
                }
            }
        });
}
