//! The levels' cages: starting, stopping and restarting them, their programs (through each
//! cage's init), and what happens when one of them, or the compositor, dies.

use super::*;

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
            crate::output::follow(name.clone(), read, crate::output::Sink::Level);
            let run = &mut self.levels[index];
            let cage = Cage::start_with(
                &run.plan,
                &self.helper,
                CageIo {
                    pass: Vec::new(),
                    output: Some(write),
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
                    return;
                };
                tracing::info!(level = %name, pid, status, argv = ?app.argv, "program ended");
                if self.levels[index].phase != Phase::Running {
                    return;
                }
                let Some(session) = app.session else {
                    return;
                };
                let policy = self.config.levels[index].session[session].restart;
                let restart = match policy {
                    Restart::Never => false,
                    Restart::OnFailure => status != 0,
                    Restart::Always => true,
                };
                let program = app.argv[0].rsplit('/').next().unwrap_or("").to_string();
                if !restart {
                    self.notify(format!("{program} exited in {label} (status {status})"));
                    return;
                }
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
                self.spawn(index, app.argv, Some(session), None);
            }
            InitReply::Spawned { pid } => match cage.pending.pop_front() {
                Some(Pending::Spawn {
                    argv,
                    session,
                    reply,
                }) => {
                    tracing::info!(level = %name, pid, argv = ?argv, "program started");
                    cage.apps.insert(pid, App { argv, session });
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
            self.compositor_died(status.to_string());
        }
    }

    pub(super) fn compositor_died(&mut self, why: String) {
        #[allow(clippy::disallowed_macros)]
        {
            eprintln!("cloison: the compositor stopped unexpectedly ({why}); the session is over");
        }
        self.outcome = Some(1);
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
