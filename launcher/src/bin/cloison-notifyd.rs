//! `cloison-notifyd`: a level's notification service. The launcher starts it in each level's
//! cage (when the level has a session bus and `notifications = true`); it owns
//! `org.freedesktop.Notifications` on the level's own bus (the Desktop Notifications
//! specification 1.2: `Notify`, `CloseNotification`, `GetCapabilities`,
//! `GetServerInformation`, the `NotificationClosed` and `ActionInvoked` signals) and hands
//! each notification, cut to the manager's bounds, over the level's manager socket. The
//! compositor draws it in its trusted stack with the level's badge and colour: the level is
//! the socket's, nothing this program says can change it. It is the level's own program,
//! trusted by nobody: the manager checks everything again.
//!
//! Plain text only: `body-markup`, `body-hyperlinks` and `body-images` are not announced, and
//! icons and images in hints are ignored.

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use cloison_ipc::channel::{self, Fill, LEVEL, Receiver};
use cloison_ipc::level::{ManagerEvent, ManagerRequest, Notification};
use zbus::zvariant::OwnedValue;

const PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";

#[allow(clippy::disallowed_macros)]
fn say(line: &str) {
    eprintln!("cloison-notifyd: {line}");
}

/// The link to the level's manager socket: connected when the first notification comes, and
/// again after the manager closed it.
struct Manager {
    socket: PathBuf,
    stream: Mutex<Option<Arc<UnixStream>>>,
    /// The bus connection, for the signals.
    bus: OnceLock<zbus::blocking::Connection>,
}

impl Manager {
    /// Sends `request`, connecting first if needed.
    fn send(self: &Arc<Self>, request: &ManagerRequest) -> Result<(), String> {
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        if stream.is_none() {
            let connected = UnixStream::connect(&self.socket).map_err(|e| {
                format!("cannot reach the manager at {}: {e}", self.socket.display())
            })?;
            let connected = Arc::new(connected);
            let reader = connected.clone();
            let manager = self.clone();
            std::thread::Builder::new()
                .name("manager-events".into())
                .spawn(move || manager.events(&reader))
                .map_err(|e| e.to_string())?;
            *stream = Some(connected);
        }
        let result = channel::send(stream.as_deref().expect("connected"), request, &[], LEVEL);
        if let Err(err) = result {
            *stream = None;
            return Err(format!("the manager did not take the notification: {err}"));
        }
        Ok(())
    }

    /// Reads the manager's answers on `stream` until it closes: each becomes the signal the
    /// specification names, on the level's bus.
    fn events(&self, stream: &UnixStream) {
        let mut receiver = Receiver::new(LEVEL);
        loop {
            loop {
                let event = match receiver.next_frame() {
                    Ok(Some(frame)) => match frame.decode::<ManagerEvent>() {
                        Ok((event, _)) => event,
                        Err(err) => return self.lost(stream, &err.to_string()),
                    },
                    Ok(None) => break,
                    Err(err) => return self.lost(stream, &err.to_string()),
                };
                let Some(bus) = self.bus.get() else {
                    continue;
                };
                let sent = match event {
                    ManagerEvent::NotificationClosed { id, reason } => bus.emit_signal(
                        None::<&str>,
                        PATH,
                        INTERFACE,
                        "NotificationClosed",
                        &(id, reason),
                    ),
                    ManagerEvent::ActionInvoked { id, key } => {
                        bus.emit_signal(None::<&str>, PATH, INTERFACE, "ActionInvoked", &(id, key))
                    }
                    ManagerEvent::Error(why) => {
                        say(&format!("the manager refused: {why}"));
                        Ok(())
                    }
                    _ => Ok(()),
                };
                if let Err(err) = sent {
                    say(&format!("cannot emit a signal: {err}"));
                }
            }
            match receiver.fill(stream) {
                Ok(Fill::Open) => {}
                Ok(Fill::Closed) => return self.lost(stream, "closed"),
                Err(err) => return self.lost(stream, &err.to_string()),
            }
        }
    }

    /// The connection ended: the next notification connects again.
    fn lost(&self, stream: &UnixStream, why: &str) {
        say(&format!("the manager's connection ended ({why})"));
        let mut current = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_deref().is_some_and(|s| std::ptr::eq(s, stream)) {
            *current = None;
        }
    }
}

/// `org.freedesktop.Notifications` on the level's bus (its signals are emitted by
/// [`Manager::events`]).
struct Server {
    manager: Arc<Manager>,
    /// The last id given (ids start at 1).
    last_id: AtomicU32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Server {
    /// What this server shows: plain bodies and actions (a click is the `default` action).
    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    #[zbus(out_args("name", "vendor", "version", "spec_version"))]
    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "cloison-notifyd".into(),
            "Cloison".into(),
            env!("CARGO_PKG_VERSION").into(),
            "1.2".into(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        hints: HashMap<String, OwnedValue>,
        expire_timeout: i32,
    ) -> zbus::fdo::Result<u32> {
        // An id this server gave keeps its notification's place; any other is a new one.
        let id = if replaces_id != 0 && replaces_id <= self.last_id.load(Ordering::Relaxed) {
            replaces_id
        } else {
            self.last_id
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1)
                .max(1)
        };
        let urgency = hints
            .get("urgency")
            .and_then(|v| u8::try_from(v).ok())
            .unwrap_or(1);
        let notification = Notification {
            app: app_name,
            summary,
            body,
            urgency,
            expire_ms: match expire_timeout {
                t if t < 0 => None,
                t => Some(t as u32),
            },
            actions: actions
                .chunks(2)
                .map(|pair| (pair[0].clone(), pair.get(1).cloned().unwrap_or_default()))
                .collect(),
        }
        .bounded();
        self.manager
            .send(&ManagerRequest::Notify { id, notification })
            .map_err(zbus::fdo::Error::Failed)?;
        Ok(id)
    }

    fn close_notification(&self, id: u32) -> zbus::fdo::Result<()> {
        self.manager
            .send(&ManagerRequest::CloseNotification { id })
            .map_err(zbus::fdo::Error::Failed)
    }
}

fn main() -> std::process::ExitCode {
    let socket = std::env::var_os("CLOISON_MANAGER_SOCKET")
        .map(PathBuf::from)
        .unwrap_or_else(|| cloison_ipc::paths::CAGE_MANAGER_SOCKET.into());
    let manager = Arc::new(Manager {
        socket,
        stream: Mutex::new(None),
        bus: OnceLock::new(),
    });
    let server = Server {
        manager: manager.clone(),
        last_id: AtomicU32::new(0),
    };
    let bus = zbus::blocking::connection::Builder::session()
        .and_then(|b| b.serve_at(PATH, server))
        .and_then(|b| b.name(INTERFACE))
        .and_then(|b| b.build());
    let bus = match bus {
        Ok(bus) => bus,
        Err(err) => {
            say(&format!(
                "cannot serve {INTERFACE} on the session bus: {err}"
            ));
            return std::process::ExitCode::FAILURE;
        }
    };
    let _ = manager.bus.set(bus);
    // The bus connection serves on its own threads; this one only keeps the process alive.
    loop {
        std::thread::park();
    }
}
