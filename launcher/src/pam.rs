//! The lock screen's password check: `cloison pam-check`, a short-lived child of the launcher
//! (outside every cage: PAM may need `/etc/shadow` or a setuid helper, which the compositor's
//! cage cannot reach). The password arrives on standard input — the pipe the compositor
//! filled, passed on by the launcher unread — and never leaves this process: buffers are
//! zeroed, and the process cannot dump core.

use std::ffi::{CStr, CString};

use pam_client::{ConversationHandler, ErrorCode, Flag};
use zeroize::Zeroizing;

/// The longest password read, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 4096;
/// Exit code: the password is right and the account may log in.
pub const ACCEPTED: i32 = 0;
/// Exit code: refused (wrong password, or the account may not log in).
pub const REFUSED: i32 = 1;
/// Exit code: the check could not be made (no such service, no password given).
pub const FAILED: i32 = 2;

/// Answers PAM's questions: the password for the first hidden prompt, and nothing else (a
/// second hidden prompt — a one-time code — must not get the password; PAM knows the user).
/// What PAM says (an account locked, a password expired) is kept for the lock screen.
struct Answers {
    password: Option<Zeroizing<Vec<u8>>>,
    said: String,
}

impl ConversationHandler for Answers {
    fn prompt_echo_on(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        Err(ErrorCode::CONV_ERR)
    }

    fn prompt_echo_off(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        let mut password = self.password.take().ok_or(ErrorCode::CONV_ERR)?;
        // Moved, not copied: the buffer has room for the NUL, so CString does not reallocate.
        CString::new(std::mem::take(&mut *password)).map_err(|_| ErrorCode::CONV_ERR)
    }

    fn text_info(&mut self, msg: &CStr) {
        self.say(msg);
    }

    fn error_msg(&mut self, msg: &CStr) {
        self.say(msg);
    }
}

impl Answers {
    /// Keeps the first thing PAM said (the module's own words; what follows is usually the
    /// stack's summary of the same failure).
    fn say(&mut self, msg: &CStr) {
        if self.said.is_empty() {
            self.said = msg.to_string_lossy().trim().chars().take(200).collect();
        }
    }
}

/// Checks the password on standard input for `user` with PAM service `service`; the exit
/// code ([`ACCEPTED`], [`REFUSED`], [`FAILED`]).
pub fn check(service: &str, user: &str) -> i32 {
    // A check never outlives the session that asked for it.
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets the signal this process gets when its parent
    // goes.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if nix::unistd::getppid().as_raw() == 1 {
        return FAILED;
    }
    // Nothing of this process may end up in a core file.
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dump flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    // Read from descriptor 0 itself, not through std's stdin buffer (which would keep a copy).
    let mut password = Zeroizing::new(vec![0u8; MAX_PASSWORD_BYTES + 64]);
    let mut len = 0;
    loop {
        let room = &mut password[len..MAX_PASSWORD_BYTES + 1];
        match nix::unistd::read(0, room) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len > MAX_PASSWORD_BYTES {
                    return FAILED;
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return FAILED,
        }
    }
    password.truncate(len);
    if password.is_empty() || password.contains(&0) {
        return FAILED;
    }
    let answers = Answers {
        password: Some(password),
        said: String::new(),
    };
    let mut context = match pam_client::Context::new(service, Some(user), answers) {
        Ok(context) => context,
        Err(_) => return FAILED,
    };
    let accepted =
        context.authenticate(Flag::NONE).is_ok() && context.acct_mgmt(Flag::NONE).is_ok();
    // What PAM said goes to the launcher (standard output), for the lock screen.
    let said = &context.conversation().said;
    if !said.is_empty() {
        let _ = std::io::Write::write_all(&mut std::io::stdout(), said.as_bytes());
    }
    if accepted { ACCEPTED } else { REFUSED }
}
