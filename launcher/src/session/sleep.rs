//! The lock before suspend (`[lock] before_suspend`): on a machine whose system bus has
//! logind, the launcher holds a *delay* inhibitor for sleep. When logind announces
//! `PrepareForSleep(true)` the loop locks the screen, and the inhibitor is let go once the
//! compositor says a frame of the lock went to every output ([`ToLauncher::LockShown`]) — so a
//! display never wakes up showing a level — or after [`LOCK_WAIT`], so a compositor that cannot
//! answer never keeps the machine awake (logind itself waits at most `InhibitDelayMaxSec`, 5 s
//! by default). On wake-up (`PrepareForSleep(false)`) a new inhibitor is taken.
//!
//! The launcher talks to logind, not the compositor: the compositor's cage has no system bus.
//! Without a system bus or without logind (seatd, a container), nothing is watched and the
//! log says so once.
//!
//! [`ToLauncher::LockShown`]: cloison_ipc::session::ToLauncher::LockShown

use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::time::Duration;

use calloop::channel::Sender;

use super::Event;

/// How long sleep waits for the lock to be on screen.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(3);

const LOGIND: &str = "org.freedesktop.login1";
const MANAGER_PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";

/// Watches logind's `PrepareForSleep` on a thread of its own; each `true` becomes an
/// [`Event::Sleep`] whose answer (or [`LOCK_WAIT`]) lets the machine sleep.
pub(super) fn watch(events: Sender<Event>) {
    let spawned = std::thread::Builder::new()
        .name("sleep".into())
        .spawn(move || {
            if let Err(err) = watch_on_this_thread(&events) {
                tracing::info!("the screen is not locked before suspend: {err}");
            }
        });
    if let Err(err) = spawned {
        tracing::warn!("cannot watch for suspend: {err}");
    }
}

fn watch_on_this_thread(events: &Sender<Event>) -> Result<(), String> {
    let bus = zbus::blocking::Connection::system().map_err(|e| format!("no system bus ({e})"))?;
    let logind = zbus::blocking::Proxy::new(&bus, LOGIND, MANAGER_PATH, MANAGER)
        .map_err(|e| format!("cannot reach logind ({e})"))?;
    // Listening first: a suspend that starts while the inhibitor is taken is not missed.
    let announcements = logind
        .receive_signal("PrepareForSleep")
        .map_err(|e| format!("cannot watch logind ({e})"))?;
    let mut inhibitor = Some(inhibit(&logind).map_err(|e| format!("no logind ({e})"))?);
    tracing::info!("the screen locks before suspend (logind)");
    for message in announcements {
        let Ok(starting) = message.body().deserialize::<bool>() else {
            tracing::warn!("logind sent a PrepareForSleep without its argument");
            continue;
        };
        if starting {
            let (shown, wait) = mpsc::channel();
            if events.send(Event::Sleep(shown)).is_err() {
                return Ok(());
            }
            match wait.recv_timeout(LOCK_WAIT) {
                Ok(()) => tracing::info!("locked for suspend"),
                Err(_) => tracing::warn!(
                    "the lock was not on screen within {} s: letting the machine sleep",
                    LOCK_WAIT.as_secs()
                ),
            }
            // Let go: the machine may sleep now.
            inhibitor = None;
        } else if inhibitor.is_none() {
            match inhibit(&logind) {
                Ok(fd) => inhibitor = Some(fd),
                Err(err) => tracing::error!(
                    "cannot take logind's inhibitor again: the next suspend is not locked first ({err})"
                ),
            }
        }
    }
    drop(inhibitor);
    Err("the system bus connection ended".into())
}

/// A delay inhibitor for sleep: held while the descriptor is open.
fn inhibit(logind: &zbus::blocking::Proxy<'_>) -> zbus::Result<OwnedFd> {
    let fd: zbus::zvariant::OwnedFd = logind.call(
        "Inhibit",
        &(
            "sleep",
            "Cloison",
            "Lock the screen before the machine sleeps",
            "delay",
        ),
    )?;
    Ok(fd.into())
}
