//! The lock screen's launcher half: each password the compositor hands over (a pipe, passed
//! on unread) is checked by a short-lived `cloison pam-check` child, timed out if it hangs;
//! failures back off (1 s, 2 s, 4 s … 30 s) and every lock, unlock and refused attempt is
//! recorded in the audit log. Only an accepted check answers "accepted": a child that hangs,
//! dies or cannot run leaves the screen locked, and the lock screen says so.

use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloison_ipc::session::ToCompositor;

use super::{Event, Session};
use crate::manager::audit::Entry;

/// How long a password check may take before it is stopped (the screen stays locked).
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// What the lock says when no check could be started.
const CANNOT_CHECK: &str = "The password cannot be checked: still locked";
/// The longest wait between attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The password checks of the session.
#[derive(Default)]
pub(super) struct Unlocking {
    /// A check is running.
    running: bool,
    /// Which compositor asked for it (its generation): only that one gets the answer.
    asked_by: u64,
    /// Refused attempts since the last unlock.
    failures: u32,
    /// No check before this.
    next_at: Option<Instant>,
}

/// How a check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Checked {
    Accepted,
    /// With what PAM said, if anything (an account locked, a password expired).
    Refused(Option<String>),
    /// The child could not check (no such PAM service, bad input), died or hung.
    Failed(&'static str),
}

impl Session {
    /// The screen locked or unlocked: recorded.
    pub(super) fn lock_changed(&mut self, locked: bool, why: &str) {
        self.locked = locked;
        let why = crate::manager::audit::one_line(why, 32);
        crate::manager::audit::record(
            &self.transfers.audit,
            Entry {
                event: if locked { "lock" } else { "unlock" }.into(),
                decision: if locked { "locked" } else { "unlocked" }.into(),
                rule: why,
                ..Entry::default()
            },
        );
    }

    /// Locks the screen now (`why`: what asked).
    pub(super) fn lock_now(&mut self, why: &str) {
        self.tell_compositor(&ToCompositor::Lock { why: why.into() });
    }

    /// The machine is about to sleep: the screen locks, and `shown` is answered once the lock
    /// is on every output (without a compositor serving, it is dropped: nothing to wait for).
    pub(super) fn before_sleep(&mut self, shown: std::sync::mpsc::Sender<()>) {
        // A compositor still starting reads the request once it serves (it starts locked
        // anyway after a death).
        if self.compositor.is_some() {
            self.sleep_waiting = Some(shown);
            self.lock_now("suspend");
        }
    }

    /// The compositor died and is started again, locked: recorded, with whether the screen
    /// was locked as far as the launcher knew.
    pub(super) fn record_restart(&mut self, why: &str) {
        crate::manager::audit::record(
            &self.transfers.audit,
            Entry {
                event: "compositor-restart".into(),
                decision: "locked".into(),
                rule: crate::manager::audit::one_line(why, 64),
                outcome: Some(
                    if self.locked {
                        "was locked"
                    } else {
                        "was unlocked"
                    }
                    .into(),
                ),
                ..Entry::default()
            },
        );
    }

    /// The user asks to unlock with the password in `pipe`.
    pub(super) fn unlock(&mut self, pipe: Option<OwnedFd>) {
        let now = Instant::now();
        let refuse = |message: &str, retry: Duration| ToCompositor::UnlockResult {
            accepted: false,
            message: Some(message.into()),
            retry_after_ms: retry.as_millis() as u64,
        };
        let Some(pipe) = pipe else {
            return self.tell_compositor(&refuse("No password came", Duration::ZERO));
        };
        if self.unlocking.running {
            return self.tell_compositor(&refuse("A check is running", Duration::ZERO));
        }
        if let Some(at) = self.unlocking.next_at.filter(|at| *at > now) {
            return self.tell_compositor(&refuse("Too many attempts: wait", at - now));
        }
        let exe = match std::env::current_exe() {
            Ok(exe) => exe,
            Err(err) => {
                tracing::error!("cannot find cloison to check a password: {err}");
                return self.tell_compositor(&refuse(CANNOT_CHECK, Duration::ZERO));
            }
        };
        let child = Command::new(exe)
            .args([
                "pam-check",
                "--service",
                &self.config.lock.pam_service,
                "--user",
                &crate::plans::session_user(),
            ])
            .stdin(Stdio::from(pipe))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group: a check that hangs is stopped with whatever PAM started.
            .process_group(0)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(err) => {
                tracing::error!("cannot start the password check: {err}");
                return self.tell_compositor(&refuse(CANNOT_CHECK, Duration::ZERO));
            }
        };
        self.unlocking.running = true;
        self.unlocking.asked_by = self.compositor_generation;
        let events = self.events.clone();
        let waiter = std::thread::Builder::new()
            .name("pam-check".into())
            .spawn(move || {
                let started = Instant::now();
                let checked = loop {
                    match child.try_wait() {
                        Ok(Some(status)) => {
                            break match status.code() {
                                Some(crate::pam::ACCEPTED) => Checked::Accepted,
                                Some(crate::pam::REFUSED) => {
                                    // What PAM said, at most a line, made safe to show.
                                    let mut said = String::new();
                                    if let Some(out) = child.stdout.take() {
                                        use std::io::Read as _;
                                        let _ = out.take(512).read_to_string(&mut said);
                                    }
                                    let said = cloison_config::text::sanitize(said.trim(), 120);
                                    Checked::Refused((!said.is_empty()).then_some(said))
                                }
                                Some(_) => Checked::Failed("the password check failed"),
                                None => Checked::Failed("the password check was killed"),
                            };
                        }
                        Ok(None) if started.elapsed() < CHECK_TIMEOUT => {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok(None) => {
                            let group = nix::unistd::Pid::from_raw(child.id() as i32);
                            let _ = nix::sys::signal::killpg(group, nix::sys::signal::SIGKILL);
                            let _ = child.kill();
                            let _ = child.wait();
                            break Checked::Failed("the password check did not answer");
                        }
                        Err(_) => break Checked::Failed("the password check was lost"),
                    }
                };
                let _ = events.send(Event::Unlocked(checked));
            });
        if let Err(err) = waiter {
            tracing::error!("cannot wait for the password check: {err}");
            self.unlocking.running = false;
            self.tell_compositor(&refuse(CANNOT_CHECK, Duration::ZERO));
        }
    }

    /// A password check ended.
    pub(super) fn unlock_checked(&mut self, checked: Checked) {
        self.unlocking.running = false;
        let (accepted, message, retry, decision) = match checked {
            Checked::Accepted => {
                self.unlocking.failures = 0;
                self.unlocking.next_at = None;
                (true, None, Duration::ZERO, "accepted".to_string())
            }
            Checked::Refused(ref said) => {
                self.unlocking.failures = self.unlocking.failures.saturating_add(1);
                let retry =
                    Duration::from_secs(1 << (self.unlocking.failures - 1).min(5)).min(MAX_BACKOFF);
                self.unlocking.next_at = Some(Instant::now() + retry);
                (
                    false,
                    Some(format!(
                        "{} ({} attempt(s)); next try in {} s",
                        said.as_deref().unwrap_or("Wrong password"),
                        self.unlocking.failures,
                        retry.as_secs()
                    )),
                    retry,
                    "refused".to_string(),
                )
            }
            Checked::Failed(why) => {
                tracing::warn!("{why}: the screen stays locked");
                (
                    false,
                    Some(format!("{why}: still locked")),
                    Duration::ZERO,
                    "failed".to_string(),
                )
            }
        };
        crate::manager::audit::record(
            &self.transfers.audit,
            Entry {
                event: "unlock-attempt".into(),
                decision,
                rule: format!("PAM service {}", self.config.lock.pam_service),
                count: (!accepted && self.unlocking.failures > 0)
                    .then_some(u64::from(self.unlocking.failures)),
                outcome: match checked {
                    Checked::Failed(why) => Some(why.into()),
                    Checked::Refused(said) => said.map(|said| format!("PAM said: {said}")),
                    Checked::Accepted => None,
                },
                ..Entry::default()
            },
        );
        // A compositor that died asked for this one: its successor (locked, and perhaps
        // checking a password of its own) must not take the answer.
        if self.unlocking.asked_by != self.compositor_generation {
            tracing::info!("a password check of a compositor that died ended: not passed on");
            return;
        }
        self.tell_compositor(&ToCompositor::UnlockResult {
            accepted,
            message,
            retry_after_ms: retry.as_millis() as u64,
        });
    }
}
