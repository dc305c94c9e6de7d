//! The trusted control protocol (`ctl.sock`).
//!
//! The compositor listens on `$XDG_RUNTIME_DIR/cloison/ctl.sock` (mode 0600, in a directory of
//! mode 0700 outside every level: no cage can reach it). The protocol is **line-delimited JSON**:
//! a client writes one [`Request`] as a single JSON object followed by `\n`, and reads one
//! [`Response`] line back; it may send further requests on the same connection.
//!
//! ```text
//! → {"request":"status"}
//! ← {"ok":{"reply":"status","protocol":1,"output":{...},"focused_level":"high","levels":[...],"windows":[...]}}
//! → {"request":"input","event":{"key":{"chord":"ctrl+shift+c"}}}
//! ← {"ok":{"reply":"done"}}
//! → {"request":"frobnicate"}
//! ← {"error":"bad request: unknown variant `frobnicate`, ..."}
//! ```
//!
//! # Compatibility promise
//!
//! [`PROTOCOL_VERSION`] is reported in every status reply. Within one version, the protocol only
//! grows: new requests, new reply kinds and new *fields* may appear, existing fields keep their
//! name, type and meaning. Clients must ignore fields they do not know (these types do, as serde
//! ignores unknown fields by default). A change that breaks this bumps the version.
//!
//! The compositor (server, through the launcher), the `cloison ctl` command and the tests share
//! exactly this one definition.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The control protocol's version; see the compatibility promise in the module docs.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request to the compositor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Levels, windows and focus.
    Status,
    /// A pixel-exact PNG of the whole output as composited.
    Screenshot,
    /// Inject input as if it came from real devices (the compositor's shortcuts see it too).
    Input {
        /// What to inject.
        event: InputEvent,
    },
    /// Lock the screen now (unlocked with the user's password on the lock screen).
    Lock,
    /// End the session (apps, cages, compositor).
    Quit,
    /// Start a program in a level's cage (answered by the launcher).
    Spawn {
        /// The level.
        level: String,
        /// Program and arguments (never given to a shell).
        argv: Vec<String>,
        /// Answer when the program ends ([`Reply::Exited`]) instead of when it starts.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        wait: bool,
    },
    /// Stop a level's cage if it still runs, then build it again and start its session apps
    /// (answered by the launcher).
    RestartLevel {
        /// The level.
        level: String,
    },
    /// Cancel a file transfer in progress (answered by the launcher).
    CancelTransfer {
        /// Its id (shown by `cloison-send` and in the bar).
        id: u64,
    },
}

impl Request {
    /// Whether the launcher answers this request itself (the others go to the compositor).
    pub fn for_launcher(&self) -> bool {
        matches!(
            self,
            Request::Quit
                | Request::Spawn { .. }
                | Request::RestartLevel { .. }
                | Request::CancelTransfer { .. }
        )
    }
}

/// Input to inject (also the command line's `cloison ctl input`, with the `clap` feature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::Subcommand))]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum InputEvent {
    /// Press and release a chord: xkb keysym names joined by `+`, e.g. `ctrl+shift+c`,
    /// `Return`, `super`. Modifiers are pressed in order, then released in reverse.
    Key {
        /// The chord.
        chord: String,
    },
    /// Type text with the configured layout (shift is pressed where needed; `\n` is Return).
    Type {
        /// The text.
        text: String,
    },
    /// Move the pointer to absolute output coordinates (pixels).
    PointerMove {
        /// Horizontal position.
        x: f64,
        /// Vertical position.
        y: f64,
    },
    /// Move the pointer by a relative amount, as a mouse does (a locked or confined pointer
    /// stays held; the client under it gets the relative motion).
    PointerMoveBy {
        /// Horizontal motion.
        #[cfg_attr(feature = "clap", arg(allow_negative_numbers = true))]
        dx: f64,
        /// Vertical motion.
        #[cfg_attr(feature = "clap", arg(allow_negative_numbers = true))]
        dy: f64,
    },
    /// Press and release a pointer button (left, middle, right) at the current position.
    Click {
        /// Which button.
        #[serde(default)]
        #[cfg_attr(feature = "clap", arg(default_value = "left"))]
        button: Button,
    },
    /// Press or release a pointer button (for drags).
    Button {
        /// Which button (left, middle, right).
        #[serde(default)]
        button: Button,
        /// `true` to press, `false` to release (on the command line: press or release).
        #[cfg_attr(
            feature = "clap",
            arg(value_name = "press|release", action = clap::ArgAction::Set, value_parser = press_or_release)
        )]
        pressed: bool,
    },
}

/// The command line's word for [`InputEvent::Button`]'s `pressed`.
#[cfg(feature = "clap")]
fn press_or_release(word: &str) -> Result<bool, String> {
    match word {
        "press" => Ok(true),
        "release" => Ok(false),
        other => Err(format!("{other:?}: say press or release")),
    }
}

/// A pointer button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Button {
    /// The primary button.
    #[default]
    Left,
    /// The secondary button.
    Right,
    /// The middle button (wheel press).
    Middle,
}

impl Button {
    /// The Linux input event code (`BTN_LEFT`…).
    pub fn code(self) -> u32 {
        match self {
            Button::Left => 0x110,
            Button::Right => 0x111,
            Button::Middle => 0x112,
        }
    }
}

/// A button name [`Button`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown button {0:?}: use left, middle or right")]
pub struct UnknownButton(pub String);

impl std::str::FromStr for Button {
    type Err = UnknownButton;
    fn from_str(s: &str) -> Result<Self, UnknownButton> {
        match s {
            "left" | "1" => Ok(Button::Left),
            "middle" | "2" => Ok(Button::Middle),
            "right" | "3" => Ok(Button::Right),
            other => Err(UnknownButton(other.to_string())),
        }
    }
}

/// The compositor's answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    /// The request succeeded.
    Ok(Reply),
    /// The request failed; the message says why.
    Error(String),
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    /// Answer to [`Request::Status`].
    Status(Status),
    /// Answer to [`Request::Screenshot`].
    Screenshot(Screenshot),
    /// The request was carried out.
    Done,
    /// Answer to [`Request::Spawn`].
    Spawned {
        /// The program's pid inside its cage.
        pid: i32,
    },
    /// Answer to [`Request::Spawn`] with `wait`: the program ended.
    Exited {
        /// The program's pid inside its cage.
        pid: i32,
        /// Its exit status (128 + the signal's number if a signal ended it).
        status: i32,
    },
}

/// The compositor's state as trusted UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The output.
    pub output: OutputStatus,
    /// Name of the level whose window has keyboard focus, if any.
    pub focused_level: Option<String>,
    /// Every configured level, in configuration order.
    pub levels: Vec<LevelStatus>,
    /// Every mapped window, bottom to top.
    pub windows: Vec<WindowStatus>,
    /// The file transfer the bar shows, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<TransferStatus>,
    /// Whether the screen is locked.
    #[serde(default)]
    pub locked: bool,
    /// The levels' notifications (boxed: a status is mostly moved around whole).
    #[serde(default)]
    pub notifications: Box<NotificationsStatus>,
    /// The pointer.
    #[serde(default)]
    pub pointer: PointerStatus,
}

/// Where the pointer is, and whether a level holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointerStatus {
    /// Horizontal position, in global coordinates.
    pub x: f64,
    /// Vertical position.
    pub y: f64,
    /// The level whose window locked or confined the pointer, while a constraint holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

/// The notification stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationsStatus {
    /// The cards shown, top to bottom (none while locked, or while a dialog or the menu is
    /// up).
    pub shown: Vec<NotificationStatus>,
    /// Every notification held, shown or not.
    pub held: usize,
    /// The counter lines under the cards (held back by a level's rate, more waiting).
    pub counts: Vec<String>,
    /// Do not disturb.
    pub quiet: bool,
}

/// One notification card on screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationStatus {
    /// The launcher's id.
    pub id: u64,
    /// Its level.
    pub level: String,
    /// App name, summary and body lines, as drawn.
    pub app: String,
    /// The summary, as drawn.
    pub summary: String,
    /// The body lines, as drawn.
    pub body: Vec<String>,
    /// Its action buttons' keys (and `default` when a click on the card is one).
    pub actions: Vec<String>,
    /// Critical urgency.
    pub critical: bool,
    /// Where the card is, in global coordinates.
    pub geometry: Rect,
}

/// A file transfer shown in the bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferStatus {
    /// Its id (for `cancel-transfer`).
    pub id: u64,
    /// What the bar says.
    pub text: String,
}

/// The output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputStatus {
    /// Backend in use: `headless`, `winit` or `drm`.
    pub backend: String,
    /// Width of the primary display, in pixels.
    pub width: i32,
    /// Height of the primary display, in pixels.
    pub height: i32,
    /// Every display, primary first, as laid out.
    #[serde(default)]
    pub displays: Vec<DisplayStatus>,
}

/// One display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisplayStatus {
    /// Its name (the connector's, e.g. `HDMI-A-1`, with the drm backend).
    pub name: String,
    /// Left edge in the layout.
    pub x: i32,
    /// Top edge in the layout.
    pub y: i32,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    /// Refresh rate in mHz.
    pub refresh: i32,
    /// What draws it: `pixman` or `gles`.
    #[serde(default)]
    pub renderer: String,
}

/// One level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelStatus {
    /// Level name from the configuration.
    pub name: String,
    /// Label shown in trusted UI.
    pub label: String,
    /// Colour as `#rrggbb`.
    pub color: String,
    /// Absolute path of the level's Wayland socket.
    pub socket: String,
    /// Clients currently connected through that socket.
    pub clients: usize,
    /// The level's network as the bar shows it (`NAT`, `tunnel up → PEER`…), when the session
    /// was started by `cloison run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The keyboard layout the level's seat uses now, as the bar names it (`"us"`,
    /// `"fr(bepo)"`).
    #[serde(default)]
    pub keyboard_layout: String,
    /// The level's cage, when the session was started by `cloison run` (filled in by the
    /// launcher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cage: Option<CageStatus>,
}

/// A level's cage as the launcher sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CageStatus {
    /// `running`, `stopped` (its init ended; `restart-level` brings it back) or `stopping`.
    pub state: String,
    /// The cage's supervisor process (outside), while running.
    pub helper_pid: Option<u32>,
    /// The cage's init (pid 1 inside), as a pid outside, while running.
    pub init_pid: Option<u32>,
    /// Programs running that init started, with their pids inside.
    pub apps: Vec<AppStatus>,
    /// The network setting applied.
    pub network: String,
    /// What confinement is enforced, e.g. `landlock ABI 7 (filesystem, abstract sockets,
    /// signals), seccomp level`.
    pub enforced: String,
}

/// A program running in a cage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppStatus {
    /// pid inside the cage.
    pub pid: i32,
    /// Its argv.
    pub argv: Vec<String>,
}

/// One window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStatus {
    /// Stable id for the window's lifetime.
    pub id: u64,
    /// The level it belongs to (decided by the socket its client came through).
    pub level: String,
    /// Its app_id, as sent by the client (untrusted).
    pub app_id: String,
    /// Its title, as sent by the client (untrusted).
    pub title: String,
    /// The client's content area in output pixels, frame excluded.
    pub geometry: Rect,
    /// Whether it has keyboard focus.
    pub focused: bool,
    /// Whether it is maximized.
    pub maximized: bool,
    /// Whether it is fullscreen.
    pub fullscreen: bool,
}

/// A rectangle in output pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub width: i32,
    /// Height.
    pub height: i32,
}

/// A screenshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Screenshot {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The PNG file (8-bit RGBA), base64-encoded.
    pub png_base64: String,
}

/// Errors of [`Client`].
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not connect to the socket.
    #[error("cannot connect to {path} (is the session running?)")]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// I/O on the connection failed.
    #[error("control connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The compositor closed the connection without answering.
    #[error("the compositor closed the control connection without answering")]
    Closed,
    /// The reply was not valid JSON of the expected shape.
    #[error("invalid reply from the compositor: {0}")]
    Json(#[from] serde_json::Error),
    /// The compositor answered with an error.
    #[error("{0}")]
    Remote(String),
}

/// A blocking client of the control socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the control socket at `path`.
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// How long a reply may take (30 s by default; `None`: for ever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.reader.get_ref().set_read_timeout(timeout)?;
        Ok(())
    }

    /// Sends one request and waits for its reply.
    pub fn request(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let mut line = serde_json::to_string(request)?;
        line.push('\n');
        self.writer.write_all(line.as_bytes())?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(ClientError::Closed);
        }
        match serde_json::from_str(&answer)? {
            Response::Ok(reply) => Ok(reply),
            Response::Error(message) => Err(ClientError::Remote(message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_documented_wire_form() {
        let json = serde_json::to_string(&Request::Status).unwrap();
        assert_eq!(json, r#"{"request":"status"}"#);
        let req = Request::Input {
            event: InputEvent::Key {
                chord: "ctrl+shift+c".into(),
            },
        };
        let json = serde_json::to_string(&req).unwrap();
        assert_eq!(
            json,
            r#"{"request":"input","event":{"key":{"chord":"ctrl+shift+c"}}}"#
        );
        let back: Request = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
        let click: Request =
            serde_json::from_str(r#"{"request":"input","event":{"click":{}}}"#).unwrap();
        assert_eq!(
            click,
            Request::Input {
                event: InputEvent::Click {
                    button: Button::Left
                }
            }
        );
    }

    #[test]
    fn responses_have_the_documented_wire_form() {
        let json = serde_json::to_string(&Response::Ok(Reply::Done)).unwrap();
        assert_eq!(json, r#"{"ok":{"reply":"done"}}"#);
        let json = serde_json::to_string(&Response::Error("no".into())).unwrap();
        assert_eq!(json, r#"{"error":"no"}"#);
    }

    #[test]
    fn clients_ignore_unknown_reply_fields() {
        let json = r#"{"ok":{"reply":"status","protocol":1,"future":true,
            "output":{"backend":"headless","width":10,"height":10,"hz":60},
            "focused_level":null,"levels":[],"windows":[]}}"#;
        let r: Response = serde_json::from_str(json).unwrap();
        assert!(matches!(r, Response::Ok(Reply::Status(_))));
    }

    #[test]
    fn unknown_requests_are_rejected() {
        assert!(serde_json::from_str::<Request>(r#"{"request":"frobnicate"}"#).is_err());
        assert!(
            serde_json::from_str::<Request>(
                r#"{"request":"input","event":{"key":{"chord":"a","x":1}}}"#
            )
            .is_err()
        );
    }
}
