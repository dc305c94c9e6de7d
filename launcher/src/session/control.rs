//! The sockets others connect to: the public control socket (`cloison ctl`; launcher requests
//! come to the loop, the rest go to the compositor) and each level's manager socket (served by
//! [`crate::manager::transfer`]).

use super::*;

impl Session {
    pub(super) fn ctl(&mut self, request: Request, reply: mpsc::Sender<Response>) {
        let level_index = |name: &str| self.config.levels.iter().position(|l| l.name == name);
        match request {
            Request::Quit => {
                tracing::info!("quit requested on the control socket");
                let _ = reply.send(Response::Ok(Reply::Done));
                self.outcome.get_or_insert(0);
            }
            Request::Spawn { level, argv, wait } => match level_index(&level) {
                Some(index) => self.spawn_for(index, argv, None, Some(reply), wait),
                None => {
                    let _ = reply.send(Response::Error(format!("no level {level:?}")));
                }
            },
            Request::CancelTransfer { id } => {
                let _ = reply.send(if self.transfers.cancel(id) {
                    Response::Ok(Reply::Done)
                } else {
                    Response::Error(format!("no transfer {id} is running"))
                });
            }
            Request::RestartLevel { level } => match level_index(&level) {
                Some(index) => {
                    if self.levels[index].cage.is_some() {
                        self.levels[index].restart = Some(Some(reply));
                        if self.levels[index].phase == Phase::Running {
                            self.stop_level(index);
                        }
                    } else {
                        self.start_level(index);
                        let _ = reply.send(Response::Ok(Reply::Done));
                    }
                }
                None => {
                    let _ = reply.send(Response::Error(format!("no level {level:?}")));
                }
            },
            other => {
                let _ = reply.send(Response::Error(format!(
                    "{other:?} is the compositor's to answer"
                )));
            }
        }
    }

    pub(super) fn cages(&self) -> Vec<Option<CageStatus>> {
        self.levels
            .iter()
            .zip(&self.config.levels)
            .map(|(run, level)| {
                let helper_pid = run.cage.as_ref().map(|c| c.helper.id());
                Some(CageStatus {
                    state: match run.phase {
                        Phase::Running => "running",
                        Phase::Stopping => "stopping",
                        Phase::Stopped => "stopped",
                    }
                    .into(),
                    helper_pid,
                    init_pid: helper_pid.and_then(init_of),
                    apps: run
                        .cage
                        .as_ref()
                        .map(|c| {
                            c.apps
                                .iter()
                                .map(|(pid, app)| AppStatus {
                                    pid: *pid,
                                    argv: app.argv.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    network: level.network.to_string(),
                    enforced: run.enforced.clone(),
                })
            })
            .collect()
    }
}

/// Serves the public control socket: one thread per connection.
pub(super) fn serve_ctl(
    handle: &LoopHandle<'static, Session>,
    listener: UnixListener,
    compositor: PathBuf,
) -> anyhow::Result<()> {
    on_connections(
        handle,
        listener,
        "the control socket",
        move |stream, session| {
            let events = session.events.clone();
            let compositor = compositor.clone();
            let _ = std::thread::Builder::new()
                .name("ctl".into())
                .spawn(move || crate::control::serve(stream, events_fn(events), &compositor));
        },
    )
}

/// Calls `serve` from the loop for each connection to `listener` (the one accept loop of the
/// launcher's sockets); `what` names the socket in errors.
fn on_connections(
    handle: &LoopHandle<'static, Session>,
    listener: UnixListener,
    what: &'static str,
    mut serve: impl FnMut(UnixStream, &mut Session) + 'static,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    // Out of descriptors, connections are shed rather than left to wake the loop for ever.
    let mut spare = cloison_ipc::listener::Spare::new();
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            move |_, listener, session| {
                spare.accept_all(
                    || cloison_ipc::listener::accept_waiting(listener),
                    |stream| serve(stream, session),
                );
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch {what}: {e}"))?;
    Ok(())
}

/// How long a request may take to be answered.
enum RequestKind {
    /// At once ([`REQUEST_TIMEOUT`]).
    Answers,
    /// When a program ends ([`WAIT_TIMEOUT`]).
    Waits,
}

/// The longest a program waited for may run (its caller has its own, shorter, timeout).
const WAIT_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a control connection's thread may ask of the loop.
pub(super) fn events_fn(events: Sender<Event>) -> crate::control::Loop {
    let cages = events.clone();
    crate::control::Loop {
        request: Box::new(move |request| {
            let request_kind = match &request {
                Request::Spawn { wait: true, .. } => RequestKind::Waits,
                _ => RequestKind::Answers,
            };
            let (reply, answer) = mpsc::channel();
            events
                .send(Event::Ctl { request, reply })
                .map_err(|_| "the session is ending".to_string())?;
            // A program waited for (`cloison exec`) may run for hours: its caller times it.
            let timeout = match &request_kind {
                RequestKind::Waits => WAIT_TIMEOUT,
                RequestKind::Answers => REQUEST_TIMEOUT,
            };
            answer.recv_timeout(timeout).map_err(|e| match e {
                mpsc::RecvTimeoutError::Disconnected => {
                    "the session ended first (or the level stopped)".to_string()
                }
                mpsc::RecvTimeoutError::Timeout => "the session did not answer".to_string(),
            })
        }),
        cages: Box::new(move || {
            let (reply, answer) = mpsc::channel();
            cages.send(Event::Cages { reply }).ok()?;
            answer.recv_timeout(REQUEST_TIMEOUT).ok()
        }),
    }
}

/// Serves a level's manager socket: the connection's level is the socket's, by construction
/// (requests: `hello`, and file transfers, `crate::manager::transfer`).
pub(super) fn serve_manager(
    handle: &LoopHandle<'static, Session>,
    index: usize,
    level: String,
    listener: UnixListener,
    transfers: Arc<crate::manager::transfer::Transfers>,
) -> anyhow::Result<()> {
    on_connections(handle, listener, "a manager socket", move |stream, _| {
        // At most MAX_CONNECTIONS at once per level: past that, closed at once.
        let Some(slot) = transfers.connect(&level) else {
            tracing::debug!(level, "too many manager connections: one closed");
            return;
        };
        let level = level.clone();
        let transfers = transfers.clone();
        // Each connection has its thread: a slow transfer never holds the loop.
        let _ = std::thread::Builder::new()
            .name(format!("manager-{index}"))
            .spawn(move || {
                let _ = stream.set_nonblocking(false);
                crate::manager::transfer::serve(stream, &level, &transfers, slot);
            });
    })
}
