//! Cloison's configuration.
//!
//! A configuration is TOML, found (in this order) at the path given with `--config FILE`, at
//! `$XDG_CONFIG_HOME/cloison/cloison.toml`, or else the built-in default
//! (`assets/cloison.toml`, compiled in). It declares the security levels — at least two —
//! and the flow policy between them.
//!
//! Parsing happens in two steps: serde reads the file into "raw" structs that keep the source
//! span of every value that can be wrong, then `validate.rs` checks what serde cannot (unique
//! names, distinguishable colours, known levels in the policy…) and builds the [`Config`] the
//! rest of Cloison uses. Every error names the file, the line and column, and a fix: an
//! administrator deploying a workstation must never have to guess what a message means.
//!
//! This file holds the validated model ([`Config`] and its parts) and loading; the flow
//! policy, the protocols a level is offered and the shortcuts have a file each.
//!
//! The validated [`Config`] is serde-serialisable so the launcher can hand exactly what it
//! validated to the compositor (as JSON in a sealed memory file, `--config-fd`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

mod color;
mod keyboard;
mod network;
mod policy;
mod protocols;
mod shortcuts;
pub mod text;
mod validate;

pub use color::Color;
pub use keyboard::*;
pub use network::*;
pub use policy::*;
pub use protocols::*;
pub use shortcuts::*;
use text::is_invisible;
pub use validate::*;

/// The built-in default configuration, also shipped as `assets/cloison.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/cloison.toml");
/// The colour of the default configuration's `low` level (green).
pub const DEFAULT_LOW_COLOR: Color = Color::rgb(0x2e, 0x9e, 0x44);
/// The colour of the default configuration's `high` level (red).
pub const DEFAULT_HIGH_COLOR: Color = Color::rgb(0xc6, 0x28, 0x28);

/// Display name used in messages about the built-in default.
pub const BUILTIN_NAME: &str = "<built-in default>";

/// Most levels a configuration may declare: each needs a distinguishable colour and room in
/// the trusted bar.
pub const MAX_LEVELS: usize = 8;

/// Longest level label, in characters: labels are drawn in window badges and the bar.
pub const MAX_LABEL_CHARS: usize = 16;

/// Two level colours closer than this (CIE76 ΔE in L*a*b*) are rejected: a user must tell levels
/// apart at a glance. 25 keeps e.g. a green and a teal apart but refuses two greens.
pub const MIN_COLOR_DISTANCE: f64 = 25.0;

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where this configuration came from, for messages.
    pub source: String,
    /// The session's keymap: trusted UI (shortcuts, the lock screen) reads keys with it, and
    /// it is every level's unless the level gives its own.
    pub keyboard: Keyboard,
    /// Compositor shortcuts.
    pub shortcuts: Shortcuts,
    /// The levels, in declaration order. At least two, names and colours unique.
    pub levels: Vec<Level>,
    /// The cross-level flow policy.
    pub policy: Policy,
    /// The compositor's own confinement.
    pub compositor: CompositorConfig,
    /// The cross-level clipboard's limits.
    pub clipboard: ClipboardConfig,
    /// File transfer limits.
    pub files: FilesConfig,
    /// Displays (the `drm` backend): mode and position by connector name.
    #[serde(default)]
    pub outputs: Vec<OutputConfig>,
    /// Touchpads (the `drm` backend).
    #[serde(default)]
    pub touchpad: TouchpadConfig,
    /// What each level's clients may hold in the compositor.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The lock screen.
    #[serde(default)]
    pub lock: LockConfig,
    /// The levels' notifications, as the compositor shows them.
    #[serde(default)]
    pub notifications: NotificationsConfig,
}

/// Where and how long the compositor shows the levels' notifications (`[notifications]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// The corner of the primary output the stack grows from (below the bar at the top).
    pub position: Corner,
    /// How long a notification shows when its app does not say, in milliseconds.
    pub expire_ms: u64,
    /// Notifications shown at once (the rest wait, counted).
    pub max_shown: usize,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            position: Corner::TopRight,
            expire_ms: 8_000,
            max_shown: 5,
        }
    }
}

/// A corner of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    /// Top right, below the bar.
    #[default]
    TopRight,
    /// Top left, below the bar.
    TopLeft,
    /// Bottom right.
    BottomRight,
    /// Bottom left.
    BottomLeft,
}

/// What each level's clients may hold in the compositor, all its clients together
/// (`[limits]`). The client that asks for more than its level has left is disconnected with a
/// protocol error (other clients, and other levels, carry on), and the bar says so once.
/// Descriptors the compositor holds for a level (clients, shm pools and buffers) are bounded
/// so that no level can use up the compositor's descriptors and lock the others out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Connected clients per level; further connections are closed at once.
    pub clients: usize,
    /// Surfaces (windows, popups, subsurfaces, cursors) per level.
    pub surfaces: usize,
    /// shm pools and shm buffers per level (each holds a descriptor in the compositor).
    pub shm_buffers: usize,
    /// Bytes of shm buffers (their pixels: stride × height) per level.
    pub shm_bytes: u64,
    /// Frame callbacks waiting per level.
    pub frame_callbacks: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            clients: 128,
            surfaces: 1024,
            shm_buffers: 2048,
            shm_bytes: 4 << 30,
            frame_callbacks: 16384,
        }
    }
}

/// The most every level together may hold in compositor descriptors (clients + shm pools and
/// buffers): the compositor's open-file limit is sized from it, plus 2048 of its own, to at
/// most the kernel's default `fs.nr_open` (the most a cage plan may ask for).
pub const MAX_COMPOSITOR_DESCRIPTORS: usize = (1 << 20) - 2048;

/// Descriptors one Wayland client may make the compositor hold besides the objects the quotas
/// count: its connection, and those it attached to messages that did not take them — at most
/// 256 waiting plus one read's 28 (the bound of the patched wayland-backend:
/// `vendor/README.md`).
pub const DESCRIPTORS_PER_CLIENT: usize = 1 + 256 + 28;

/// One display, by connector name (`[[output]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Connector name as the kernel calls it: `HDMI-A-1`, `DP-2`, `eDP-1`, `Virtual-1`.
    pub name: String,
    /// Width, height and refresh (Hz, if given); `None`: the display's preferred mode.
    pub mode: Option<(u32, u32, Option<u32>)>,
    /// Top-left corner in the layout (logical pixels); `None`: right of the outputs before it.
    pub position: Option<(i32, i32)>,
    /// Physical pixels per logical pixel (1 to 4): everything, trusted UI included, is drawn
    /// that many times larger.
    #[serde(default = "one")]
    pub scale: u32,
    /// Whether to use it at all.
    pub enabled: bool,
}

/// Touchpad behaviour (`[touchpad]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TouchpadConfig {
    /// A tap is a click.
    pub tap: bool,
    /// Content follows the fingers (scrolling is reversed).
    pub natural_scroll: bool,
}

impl Default for TouchpadConfig {
    fn default() -> Self {
        Self {
            tap: true,
            natural_scroll: false,
        }
    }
}

/// The lock screen (`[lock]`; its chord is `[shortcuts] lock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockConfig {
    /// Lock after this many seconds without input (0: never).
    pub idle_lock_secs: u64,
    /// The PAM service that checks the password (`/etc/pam.d/<name>`).
    pub pam_service: String,
    /// Lock before the machine suspends (logind's `PrepareForSleep`, with a delay
    /// inhibitor).
    pub before_suspend: bool,
}

impl Default for LockConfig {
    fn default() -> Self {
        Self {
            idle_lock_secs: 300,
            pam_service: "cloison".into(),
            before_suspend: true,
        }
    }
}

/// File transfer limits (flow rules may narrow or widen them per pair).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// Largest file, in bytes.
    pub max_file_bytes: u64,
    /// Largest request (all its files), in bytes.
    pub max_total_bytes: u64,
    /// Most files in one request.
    pub max_count: usize,
    /// How long a transfer's confirmation dialog waits for the user before the transfer is
    /// refused and the dialog withdrawn, in milliseconds.
    pub confirm_timeout_ms: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 4 << 30,
            max_total_bytes: 16 << 30,
            max_count: 1000,
            confirm_timeout_ms: 600_000,
        }
    }
}

/// The limits that apply to one ordered pair of levels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLimits {
    /// Largest file.
    pub max_file_bytes: u64,
    /// Largest request.
    pub max_total_bytes: u64,
    /// Most files per request.
    pub max_count: usize,
    /// Allowed extensions (lower case, without the dot); empty: any.
    pub extensions: Vec<String>,
}

/// The most a flow rule may allow through the clipboard.
pub const MAX_CLIPBOARD_BYTES: u64 = 64 << 20;

/// The cross-level clipboard's limits (flow rules may change the size cap per pair).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClipboardConfig {
    /// The most a copy may hold, in bytes (default 1 MiB, at most 64 MiB).
    pub max_bytes: u64,
    /// How long the source app has to hand its data over, in milliseconds.
    pub timeout_ms: u64,
    /// Whether a paste empties the global clipboard.
    pub clear_after_paste: bool,
}

impl Default for ClipboardConfig {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 20,
            timeout_ms: 2000,
            clear_after_paste: true,
        }
    }
}

/// Default outside uid/gid of the compositor's cage (when the session runs as root).
pub const DEFAULT_COMPOSITOR_UID: u32 = 1_900_000;
/// Default outside uid/gid of the first level's cage; the next levels get 100000 more each.
pub const DEFAULT_LEVEL_UID: u32 = 2_000_000;
/// Outside uids below this are refused: they belong to system accounts and real users.
pub const MIN_OUTSIDE_UID: u32 = 65_536;

/// The compositor's confinement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompositorConfig {
    /// Outside uid and gid of the compositor's cage when the session runs as root (run as a
    /// user, every cage maps to that user).
    pub uid: u32,
    /// How the drm backend renders.
    pub renderer: RendererChoice,
}

impl Default for CompositorConfig {
    fn default() -> Self {
        Self {
            uid: DEFAULT_COMPOSITOR_UID,
            renderer: RendererChoice::Auto,
        }
    }
}

/// The drm backend's renderer (`[compositor] renderer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RendererChoice {
    /// GLES where a GPU's EGL/GBM works in hardware; pixman on dumb buffers otherwise
    /// (virtual GPUs, simpledrm, software-only Mesa).
    #[default]
    Auto,
    /// GLES wherever EGL/GBM works, even in software (llvmpipe); pixman where it does not.
    Gles,
    /// pixman on dumb buffers everywhere.
    Pixman,
}

/// One security level: a confined user environment with its own Wayland socket and seat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// Identifier used in paths, sockets and commands: `[a-z][a-z0-9_-]*`, at most 32 bytes.
    pub name: String,
    /// What trusted UI shows for this level (badge, bar). Printable, at most 16 characters.
    pub label: String,
    /// The level's colour: frames, badge, bar.
    pub color: Color,
    /// Position in the flow order: data may flow by default from a lower rank to a higher one.
    pub rank: u32,
    /// The level's network access (applied by its cage).
    pub network: Network,
    /// Apps started in the level when the session starts.
    pub session: Vec<SessionApp>,
    /// What the level's clients may ask of the compositor.
    pub protocols: Protocols,
    /// Outside uid and gid of the level's cage when the session runs as root: files in the
    /// level's home belong to it. Unique per level.
    pub uid: u32,
    /// Whether the level's cage may start on a kernel without the Landlock features it needs.
    pub landlock: LandlockMode,
    /// Apps listed for this level in the trusted launcher menu (before `.desktop` entries).
    pub apps: Vec<MenuApp>,
    /// Whether the launcher menu also lists the applications installed in
    /// `/usr/share/applications` (as the level's cage sees them).
    pub desktop_entries: bool,
    /// Whether the level has a notification service (`cloison-notifyd` on its session bus)
    /// and may show notifications.
    pub notifications: bool,
    /// The level's X server (X11 apps): started when its first X client connects, with the
    /// level, or never.
    pub x11: X11Mode,
    /// The keymap of the level's seat: the session's `[keyboard]` unless the level gives its
    /// own layouts.
    pub keyboard: Keyboard,
}

/// When a level's X server (`Xvfb` and its bridge `cloison-x11`, inside the level's cage)
/// starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum X11Mode {
    /// When the level's first X client connects to `:0` (the socket listens from the start;
    /// the client waits while the server starts).
    #[default]
    OnDemand,
    /// With the level.
    Always,
    /// No X server: `DISPLAY` is unset and X11 apps fail to start.
    Off,
}

impl fmt::Display for X11Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            X11Mode::OnDemand => "on-demand",
            X11Mode::Always => "always",
            X11Mode::Off => "off",
        })
    }
}

/// What happens when the kernel lacks Landlock features a cage needs (ABI 6: abstract
/// sockets and signals scoped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LandlockMode {
    /// The cage refuses to start.
    #[default]
    Required,
    /// The cage starts with what the kernel offers; the launcher says what is not enforced.
    BestEffort,
}

/// An app in the launcher menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuApp {
    /// What the menu shows.
    pub name: String,
    /// argv, never passed through a shell. Non-empty.
    pub command: Vec<String>,
}

/// Parses an output size `WIDTHxHEIGHT` (each 64 to 16384), as `--size` takes it.
pub fn parse_size(s: &str) -> Result<(i32, i32), BadValue> {
    let (w, h) = s
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 1920x1080")?;
    let parse = |v: &str| v.parse::<i32>().ok().filter(|v| (64..=16384).contains(v));
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(BadValue::from(
            "width and height must be whole numbers from 64 to 16384",
        )),
    }
}

/// An app started with its level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionApp {
    /// argv, never passed through a shell. Non-empty.
    pub command: Vec<String>,
    /// What to do when it exits.
    pub restart: Restart,
}

/// Restart behaviour of a session app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Never restart; the bar says it exited.
    #[default]
    Never,
    /// Restart when it exits with a failure status or a signal.
    OnFailure,
    /// Restart whenever it exits.
    Always,
}

impl Config {
    /// The built-in default configuration.
    pub fn builtin() -> Config {
        match parse(DEFAULT_CONFIG, BUILTIN_NAME) {
            Ok(config) => config,
            // The default is checked by a unit test; this cannot happen in a tested build.
            Err(e) => panic!("the built-in configuration is invalid: {e}"),
        }
    }

    /// The level called `name`.
    pub fn level(&self, name: &str) -> Option<&Level> {
        self.levels.iter().find(|l| l.name == name)
    }

    /// The decision for `kind` of data flowing from level `from` to level `to`, and whether it
    /// came from an explicit rule. Flows within one level are not cross-level flows: `None`.
    pub fn decision(&self, kind: FlowKind, from: &str, to: &str) -> Option<(Decision, bool)> {
        if from == to {
            return None;
        }
        let (src, dst) = (self.level(from)?, self.level(to)?);
        if let Some(rule) = self
            .policy
            .flows
            .iter()
            .find(|f| f.from == from && f.to == to)
        {
            let decision = match kind {
                FlowKind::Clipboard => rule.clipboard,
                FlowKind::Files => rule.files,
            };
            return Some((decision, true));
        }
        Some((Policy::default_decision(kind, src, dst), false))
    }

    /// The clipboard's size cap for data going from `from` to `to`.
    pub fn clipboard_cap(&self, from: &str, to: &str) -> u64 {
        self.flow(from, to)
            .and_then(|f| f.clipboard_max_bytes)
            .unwrap_or(self.clipboard.max_bytes)
    }

    /// The largest cap of any flow out of `from` (what a copy in `from` may read).
    pub fn clipboard_cap_from(&self, from: &str) -> u64 {
        self.levels
            .iter()
            .filter(|l| l.name != from)
            .map(|l| self.clipboard_cap(from, &l.name))
            .max()
            .unwrap_or(self.clipboard.max_bytes)
    }

    /// Whether images may cross the clipboard from `from` to `to`.
    pub fn clipboard_images(&self, from: &str, to: &str) -> bool {
        self.flow(from, to).is_some_and(|f| f.clipboard_images)
    }

    /// Whether any flow out of `from` lets images through.
    pub fn clipboard_images_from(&self, from: &str) -> bool {
        self.policy
            .flows
            .iter()
            .any(|f| f.from == from && f.clipboard_images)
    }

    /// The file transfer limits for `from` → `to`.
    pub fn file_limits(&self, from: &str, to: &str) -> FileLimits {
        let flow = self.flow(from, to);
        FileLimits {
            max_file_bytes: flow
                .and_then(|f| f.files_max_file_bytes)
                .unwrap_or(self.files.max_file_bytes),
            max_total_bytes: flow
                .and_then(|f| f.files_max_total_bytes)
                .unwrap_or(self.files.max_total_bytes),
            max_count: flow
                .and_then(|f| f.files_max_count)
                .unwrap_or(self.files.max_count),
            extensions: flow.map(|f| f.files_extensions.clone()).unwrap_or_default(),
        }
    }

    /// The explicit rule for a pair, if any.
    pub fn flow(&self, from: &str, to: &str) -> Option<&Flow> {
        self.policy
            .flows
            .iter()
            .find(|f| f.from == from && f.to == to)
    }

    /// What is valid but weaker than it looks, as `cloison check-config` and `cloison run`
    /// warn.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for level in &self.levels {
            if level.network == Network::Host {
                out.push(format!(
                    "level {:?}: network = \"host\" is not isolation: the level shares the host's network namespace (services on the host's 127.0.0.1, its ports, abstract socket names); use \"nat\"",
                    level.name
                ));
            }
        }
        out
    }

    /// A short human-readable summary, as printed by `cloison check-config`.
    pub fn summary(&self) -> String {
        let mut out = format!("configuration {} is valid\n", self.source);
        out.push_str(&format!(
            "keyboard: layout {:?}{}\n",
            self.keyboard.layout,
            if self.keyboard.variant.is_empty() {
                String::new()
            } else {
                format!(" variant {:?}", self.keyboard.variant)
            }
        ));
        out.push_str(&format!("{} levels:\n", self.levels.len()));
        for level in &self.levels {
            out.push_str(&format!(
                "  {:<10} label {:<8} colour {}  rank {}  network {}  uid {}  keyboard {}  {} session app(s), {} menu app(s){}{}\n",
                level.name,
                level.label,
                level.color,
                level.rank,
                level.network,
                level.uid,
                level.keyboard.layout_names().join(","),
                level.session.len(),
                level.apps.len(),
                if level.desktop_entries {
                    " + installed applications"
                } else {
                    ""
                },
                if level.landlock == LandlockMode::BestEffort {
                    ", landlock best-effort"
                } else {
                    ""
                }
            ));
        }
        out.push_str(&format!(
            "limits per level: {} clients, {} surfaces, {} shm buffers ({} MiB), {} frame callbacks\n",
            self.limits.clients,
            self.limits.surfaces,
            self.limits.shm_buffers,
            self.limits.shm_bytes >> 20,
            self.limits.frame_callbacks
        ));
        out.push_str("flow policy (clipboard / files):\n");
        for from in &self.levels {
            for to in &self.levels {
                if from.name == to.name {
                    continue;
                }
                let show = |kind| match self.decision(kind, &from.name, &to.name) {
                    Some((d, true)) => d.to_string(),
                    Some((d, false)) => format!("{d} (default)"),
                    None => "-".to_string(),
                };
                out.push_str(&format!(
                    "  {} -> {}: {} / {}\n",
                    from.name,
                    to.name,
                    show(FlowKind::Clipboard),
                    show(FlowKind::Files)
                ));
            }
        }
        out
    }
}

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A file the user named, or the one found under `$XDG_CONFIG_HOME`.
    File(PathBuf),
    /// The built-in default.
    Builtin,
}

/// Finds the configuration to use: `explicit` if given, else
/// `$XDG_CONFIG_HOME/cloison/cloison.toml` if it exists, else the built-in default.
pub fn locate(explicit: Option<&Path>) -> ConfigSource {
    if let Some(path) = explicit {
        return ConfigSource::File(path.to_path_buf());
    }
    let dirs = xdg::BaseDirectories::with_prefix("cloison");
    match dirs.ok().and_then(|d| d.find_config_file("cloison.toml")) {
        Some(path) => ConfigSource::File(path),
        None => ConfigSource::Builtin,
    }
}

/// Loads and validates the configuration from `source`.
pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
    match source {
        ConfigSource::Builtin => parse(DEFAULT_CONFIG, BUILTIN_NAME),
        ConfigSource::File(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: name.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read the configuration: {e}"),
                fix: "check the path and its permissions, or omit --config to use the default"
                    .into(),
            })?;
            parse(&text, &name)
        }
    }
}

/// A value that does not parse or is out of range (a chord, a colour, a size, a level name…):
/// what is wrong with it, in words for the person who wrote it. A [`ConfigError`] carries it
/// with the place and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

impl From<String> for BadValue {
    fn from(message: String) -> BadValue {
        BadValue(message)
    }
}

impl From<&str> for BadValue {
    fn from(message: &str) -> BadValue {
        BadValue(message.to_string())
    }
}

impl From<BadValue> for String {
    fn from(bad: BadValue) -> String {
        bad.0
    }
}

/// A configuration error: where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}\n  fix: {fix}")]
pub struct ConfigError {
    /// The file's path, or [`BUILTIN_NAME`].
    pub file: String,
    /// 1-based line, 0 when the error is not about a place in the file.
    pub line: usize,
    /// 1-based column, 0 when the error is not about a place in the file.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let at = |span: Option<Range<usize>>, message: String, fix: String| {
        let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
        ConfigError {
            file: file.to_string(),
            line,
            column,
            message,
            fix,
        }
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().to_string();
        let fix = fix_for_parse_error(&message);
        at(e.span(), message, fix)
    })?;
    validate(raw, file, text).map_err(|(span, message, fix)| at(span, message, fix))
}

/// Byte offset to 1-based (line, column in characters).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn fix_for_parse_error(message: &str) -> String {
    if message.starts_with("unknown field") {
        "remove this key or correct its spelling; docs/configuration.md lists every option".into()
    } else if message.starts_with("missing field") {
        "add the missing key; docs/configuration.md shows an example".into()
    } else if message.starts_with("unknown variant") {
        "use one of the values the message lists".into()
    } else if message.starts_with("duplicate key") {
        "remove one of the two definitions".into()
    } else if message.starts_with("invalid type") {
        "give a value of the type the message names (strings need quotes)".into()
    } else {
        "fix the TOML syntax at this place".into()
    }
}

#[cfg(test)]
mod tests;
