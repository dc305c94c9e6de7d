//! Locking the screen: `cloison ctl lock`, the lock chord, or `[lock] idle_lock` without
//! input. While locked the outputs show only the lock screen ([`crate::ui::lock`]), no input
//! reaches any client (keys go to the password field; pointer and touch go nowhere), and
//! dialogs and notifications wait behind it. The password typed goes to the launcher in a
//! pipe — the compositor's cage has no password database and cannot run a setuid helper —
//! and only "accepted" or "refused" comes back. Nothing but an accepted answer unlocks: a
//! launcher that does not answer, or a check that fails, leaves the screen locked.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use cloison_ipc::session::ToLauncher;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smithay::input::keyboard::xkb;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, Mode, PostAction};

use crate::state::State;

/// How long the lock waits for a check's answer before taking a new password (the launcher
/// stops a check after 30 s).
const CHECK_LIMIT: Duration = Duration::from_secs(35);

impl State {
    /// Locks the screen (`why`: `ctl`, `chord`, `idle`). Menus close; the pointer leaves the
    /// clients; the launcher records it.
    pub fn lock_screen(&mut self, why: &str) {
        if self.ui.lock.locked {
            return;
        }
        tracing::info!(why, "screen locked");
        // Nothing a client holds goes on under the lock: touches are cancelled, a pointer
        // grab (a drag, a held button) ends.
        self.handle_touch_cancel();
        let pointers: Vec<_> = self
            .levels
            .iter()
            .filter_map(|level| level.seat.get_pointer())
            .collect();
        for pointer in pointers {
            pointer.unset_grab(self, smithay::utils::SERIAL_COUNTER.next_serial(), 0);
        }
        let lock = &mut self.ui.lock;
        lock.locked = true;
        lock.checking = false;
        lock.message = None;
        lock.clear();
        self.ui.menu.open = false;
        self.release_pointer();
        self.launcher.send(ToLauncher::Locked {
            locked: true,
            why: why.into(),
        });
        self.ui_changed();
    }

    /// The launcher locks the screen (before a suspend; `why` is recorded) and waits for
    /// [`ToLauncher::LockShown`]: said once every output has been given a frame of the lock,
    /// so no display shows a level's pixels when the machine wakes.
    pub fn lock_for_launcher(&mut self, why: &str) {
        self.lock_screen(why);
        let outputs = match self.backend {
            // The headless backend draws the primary output alone.
            crate::backend::Backend::Headless(_) => vec![self.output.clone()],
            _ => self.outputs.clone(),
        };
        self.ui.lock.to_show = Some(outputs);
        self.queue_redraw();
    }

    /// A frame went to `output` (after the redraw of every output: `done`): the launcher
    /// learns when the lock is on all of them.
    pub(crate) fn lock_drawn(&mut self, output: Option<&smithay::output::Output>) {
        if !self.ui.lock.locked {
            self.ui.lock.to_show = None;
            return;
        }
        let Some(waiting) = self.ui.lock.to_show.as_mut() else {
            return;
        };
        match output {
            Some(output) => waiting.retain(|o| o != output),
            // Outputs that went away wait for nothing.
            None => waiting.retain(|o| self.outputs.contains(o)),
        }
        if waiting.is_empty() {
            self.ui.lock.to_show = None;
            self.launcher.send(ToLauncher::LockShown);
        }
    }

    /// A key pressed on the lock screen: text goes into the field, Backspace takes a
    /// character back, Escape clears it, Enter submits it.
    pub(crate) fn lock_key(&mut self, sym: Option<xkb::Keysym>, text: &str) {
        match sym {
            Some(xkb::Keysym::Return | xkb::Keysym::KP_Enter) => self.submit_password(),
            Some(xkb::Keysym::BackSpace) => {
                // The bytes stay in the string's buffer until it is cleared or dropped, which
                // zeroes the whole buffer.
                self.ui.lock.typed.pop();
            }
            Some(xkb::Keysym::Escape) => self.ui.lock.clear(),
            _ => {
                if !self.ui.lock.checking {
                    self.ui.lock.type_text(text);
                }
            }
        }
        self.ui_changed();
    }

    /// Sends the typed password to the launcher (in a pipe), unless a check is running or the
    /// back-off has not passed.
    fn submit_password(&mut self) {
        let connected = self.launcher.connected();
        let lock = &mut self.ui.lock;
        // A check that never answered (the launcher went away) does not hold the field.
        if lock
            .checking_since
            .is_some_and(|at| at.elapsed() > CHECK_LIMIT)
        {
            lock.checking = false;
        }
        if lock.checking || lock.typed.is_empty() {
            return;
        }
        if !connected {
            lock.clear();
            lock.message = Some("No launcher can check the password: still locked".into());
            return;
        }
        if let Some(at) = lock.retry_at
            && at > Instant::now()
        {
            let wait = at.saturating_duration_since(Instant::now()).as_secs() + 1;
            lock.message = Some(format!("Too many attempts: try again in {wait} s"));
            return;
        }
        match password_pipe(lock.typed.as_bytes()) {
            Ok(read) => {
                lock.clear();
                lock.checking = true;
                lock.checking_since = Some(Instant::now());
                lock.message = None;
                self.launcher.send_with_fd(ToLauncher::Unlock, read);
            }
            Err(err) => {
                tracing::warn!("cannot hand the password over: {err}");
                lock.message = Some("The password could not be checked: still locked".into());
            }
        }
    }

    /// The launcher's answer to a password.
    pub(crate) fn unlock_result(
        &mut self,
        accepted: bool,
        message: Option<String>,
        retry_after_ms: u64,
    ) {
        let lock = &mut self.ui.lock;
        // Only the answer to a check this compositor asked for (not one a compositor that
        // died before it had asked for).
        if !lock.locked || !lock.checking {
            return;
        }
        lock.checking = false;
        lock.checking_since = None;
        lock.retry_at =
            (retry_after_ms > 0).then(|| Instant::now() + Duration::from_millis(retry_after_ms));
        if accepted {
            lock.locked = false;
            lock.message = None;
            lock.retry_at = None;
            lock.last_input = Instant::now();
            tracing::info!("screen unlocked");
            // A dialog that came up under the lock takes no answer before it has been seen.
            self.ui.dialog_since = Instant::now();
            self.launcher.send(ToLauncher::Locked {
                locked: false,
                why: "password".into(),
            });
        } else {
            lock.message = Some(cloison_config::text::sanitize(
                message.as_deref().unwrap_or("Refused"),
                120,
            ));
        }
        self.ui_changed();
    }

    /// Starts the idle lock's timer (`[lock] idle_lock`; 0: never). A timerfd, like every
    /// source of this loop: it fires when the idle time may have passed, and is set again for
    /// the rest of it.
    pub fn start_idle_lock(&mut self) {
        let idle = Duration::from_secs(self.config.lock.idle_lock_secs);
        if idle.is_zero() {
            return;
        }
        let arm = |timer: &TimerFd, after: Duration| {
            timer.set(
                Expiration::OneShot(TimeSpec::from_duration(
                    after.max(Duration::from_millis(10)),
                )),
                TimerSetTimeFlags::empty(),
            )
        };
        let timer = match TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        ) {
            Ok(timer) => timer,
            Err(err) => {
                tracing::error!("cannot start the idle lock: {err}");
                return;
            }
        };
        if let Err(err) = arm(&timer, idle) {
            tracing::error!("cannot start the idle lock: {err}");
            return;
        }
        let result = self.loop_handle.insert_source(
            Generic::new(timer, Interest::READ, Mode::Level),
            move |_, timer, state| {
                let _ = timer.wait();
                let mut quiet = state.ui.lock.last_input.elapsed();
                // A window on screen that holds the lock off (a video) counts as input.
                if quiet >= idle && !state.ui.lock.locked && state.idle_inhibited() {
                    state.ui.lock.last_input = Instant::now();
                    quiet = Duration::ZERO;
                }
                let next = if quiet >= idle {
                    state.lock_screen("idle");
                    // Locked: look again a whole idle time after the next input.
                    idle
                } else {
                    idle - quiet
                };
                if let Err(err) = arm(timer, next) {
                    tracing::error!("the idle lock stopped: {err}");
                    return Ok(PostAction::Remove);
                }
                Ok(PostAction::Continue)
            },
        );
        if let Err(err) = result {
            tracing::error!("cannot start the idle lock: {err}");
        }
    }
}

/// A pipe holding `password`: its read end. The password is far below a pipe's capacity, so
/// the write cannot block.
fn password_pipe(password: &[u8]) -> std::io::Result<OwnedFd> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut write = std::fs::File::from(write);
    std::io::Write::write_all(&mut write, password)?;
    Ok(read)
}
