//! Cloison's configuration.
//!
//! A configuration is TOML, found (in this order) at the path given with `--config FILE`, at
//! `$XDG_CONFIG_HOME/cloison/cloison.toml`, or else the built-in default
//! (`assets/cloison.toml`, compiled in). It declares the security levels — at least two —
//! and the flow policy between them.
//!
//! Parsing happens in two steps: serde reads the file into "raw" structs that keep the source
//! span of every value that can be wrong, then [`validate`] checks what serde cannot (unique
//! names, distinguishable colours, known levels in the policy…) and builds the [`Config`] the
//! rest of Cloison uses. Every error names the file, the line and column, and a fix: an
//! administrator deploying a workstation must never have to guess what a message means.
//!
//! The validated [`Config`] is serde-serialisable so the launcher can hand exactly what it
//! validated to the compositor (as JSON in a sealed memory file, `--config-fd`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

mod color;
pub mod text;
pub use color::Color;
use text::is_invisible;

/// The built-in default configuration, also shipped as `assets/cloison.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/cloison.toml");

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
    /// Keyboard layout given to every level's seat.
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
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_file_bytes: 4 << 30,
            max_total_bytes: 16 << 30,
            max_count: 1000,
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

/// The xkb keymap (RMLVO names) and key repeat for all seats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keyboard {
    /// xkb rules, empty for the system default.
    pub rules: String,
    /// xkb model, empty for the system default.
    pub model: String,
    /// xkb layout, e.g. `"us"` or `"fr"`.
    pub layout: String,
    /// xkb variant, e.g. `"oss"`.
    pub variant: String,
    /// xkb options, e.g. `"ctrl:nocaps"`.
    pub options: String,
    /// Delay before a held key repeats, in milliseconds.
    pub repeat_delay: u32,
    /// Repeats per second once repeating.
    pub repeat_rate: u32,
}

impl Default for Keyboard {
    fn default() -> Self {
        Self {
            rules: String::new(),
            model: String::new(),
            layout: "us".into(),
            variant: String::new(),
            options: String::new(),
            repeat_delay: 600,
            repeat_rate: 25,
        }
    }
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
pub fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 1920x1080")?;
    let parse = |v: &str| v.parse::<i32>().ok().filter(|v| (64..=16384).contains(v));
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err("width and height must be whole numbers from 64 to 16384".into()),
    }
}

/// A level's network, applied by its cage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// A fresh network namespace with only `lo` up.
    None,
    /// The host's network.
    Host,
    /// Join the named namespace `/run/netns/NAME` (e.g. one bound to an IPsec tunnel).
    Netns(String),
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Network::None => f.write_str("none"),
            Network::Host => f.write_str("host"),
            Network::Netns(name) => write!(f, "netns:{name}"),
        }
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

/// Globals every level gets: without them no client can show a window.
pub const CORE_GLOBALS: [&str; 5] = [
    "wl_compositor",
    "wl_shm",
    "xdg_wm_base",
    "wl_seat",
    "wl_output",
];

/// Globals a level may be offered (all of them by default); `[level.protocols] globals`
/// narrows the list.
pub const OPTIONAL_GLOBALS: [&str; 12] = [
    "wl_subcompositor",
    "zxdg_output_manager_v1",
    "zxdg_decoration_manager_v1",
    "wl_data_device_manager",
    "zwp_primary_selection_device_manager_v1",
    "wp_viewporter",
    "wp_presentation",
    "wp_fractional_scale_manager_v1",
    "wp_cursor_shape_manager_v1",
    "wp_single_pixel_buffer_manager_v1",
    "xdg_activation_v1",
    "zwp_relative_pointer_manager_v1",
];

/// Protocols that are never offered to a level, whatever the configuration says: they would
/// let a level see, capture or drive what belongs to another (or to trusted UI).
pub const NEVER_OFFERED: [&str; 20] = [
    "zwlr_screencopy_manager_v1",
    "ext_image_copy_capture_manager_v1",
    "ext_output_image_capture_source_manager_v1",
    "zwlr_data_control_manager_v1",
    "ext_data_control_manager_v1",
    "zwp_virtual_keyboard_manager_v1",
    "zwlr_virtual_pointer_manager_v1",
    "zwlr_layer_shell_v1",
    "ext_session_lock_manager_v1",
    "ext_foreign_toplevel_list_v1",
    "zwlr_foreign_toplevel_manager_v1",
    "zwlr_output_manager_v1",
    "zwlr_gamma_control_manager_v1",
    "zwp_input_method_manager_v2",
    "zwp_text_input_manager_v3",
    "zwp_keyboard_shortcuts_inhibit_manager_v1",
    "wp_security_context_manager_v1",
    "zwlr_export_dmabuf_manager_v1",
    "wp_drm_lease_device_v1",
    "zxdg_exporter_v2",
];

/// Per-level protocol policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// Whether clients may make their windows fullscreen themselves.
    pub fullscreen: bool,
    /// The optional globals offered to the level (see [`OPTIONAL_GLOBALS`]); the
    /// [`CORE_GLOBALS`] are always offered.
    pub globals: Vec<String>,
}

impl Default for Protocols {
    fn default() -> Self {
        Self {
            fullscreen: true,
            globals: OPTIONAL_GLOBALS.iter().map(|g| g.to_string()).collect(),
        }
    }
}

impl Protocols {
    /// Whether the level is offered the global with this interface name.
    pub fn offers(&self, interface: &str) -> bool {
        CORE_GLOBALS.contains(&interface) || self.globals.iter().any(|g| g == interface)
    }
}

/// Compositor shortcuts: chords of key names joined by `+` (`"super+q"`), or `"none"`.
/// They are handled by the compositor and never delivered to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Shortcuts {
    /// Focus the next window (most recently used first); hold the modifier to keep cycling.
    pub cycle_windows: String,
    /// Focus the previous window.
    pub cycle_windows_backward: String,
    /// Maximize or restore the focused window.
    pub maximize: String,
    /// Make the focused window fullscreen (the trusted bar stays visible), or restore it.
    pub fullscreen: String,
    /// Ask the focused window to close.
    pub close: String,
    /// Minimize the focused window (Alt+Tab brings it back).
    pub minimize: String,
    /// Open the trusted launcher menu. `"super"` alone means a tap of the Super key.
    pub launcher_menu: String,
    /// Copy the focused level's clipboard to the global clipboard.
    pub copy_to_global: String,
    /// Paste the global clipboard into the focused level's clipboard (the flow policy decides).
    pub paste_from_global: String,
}

impl Default for Shortcuts {
    fn default() -> Self {
        Self {
            cycle_windows: "alt+Tab".into(),
            cycle_windows_backward: "alt+shift+Tab".into(),
            maximize: "super+Up".into(),
            fullscreen: "super+f".into(),
            close: "super+q".into(),
            minimize: "super+Down".into(),
            launcher_menu: "super".into(),
            copy_to_global: "ctrl+shift+c".into(),
            paste_from_global: "ctrl+shift+v".into(),
        }
    }
}

impl Shortcuts {
    /// (action name, chord) pairs, disabled ones left out.
    pub fn bindings(&self) -> Vec<(&'static str, &str)> {
        [
            ("cycle_windows", self.cycle_windows.as_str()),
            (
                "cycle_windows_backward",
                self.cycle_windows_backward.as_str(),
            ),
            ("maximize", self.maximize.as_str()),
            ("fullscreen", self.fullscreen.as_str()),
            ("close", self.close.as_str()),
            ("minimize", self.minimize.as_str()),
            ("launcher_menu", self.launcher_menu.as_str()),
            ("copy_to_global", self.copy_to_global.as_str()),
            ("paste_from_global", self.paste_from_global.as_str()),
        ]
        .into_iter()
        .filter(|(_, chord)| *chord != "none")
        .collect()
    }
}

/// A parsed chord: modifiers and one key name (an xkb keysym name, checked by the compositor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chord {
    /// Ctrl held.
    pub ctrl: bool,
    /// Alt held.
    pub alt: bool,
    /// Shift held.
    pub shift: bool,
    /// Super (logo) held.
    pub logo: bool,
    /// The key.
    pub key: String,
}

/// Parses `"ctrl+shift+c"`-style chords.
pub fn parse_chord(chord: &str) -> Result<Chord, String> {
    let mut parsed = Chord {
        ctrl: false,
        alt: false,
        shift: false,
        logo: false,
        key: String::new(),
    };
    let parts: Vec<&str> = chord.split('+').map(str::trim).collect();
    let Some((key, mods)) = parts.split_last() else {
        return Err("an empty chord".into());
    };
    for m in mods {
        let flag = match m.to_ascii_lowercase().as_str() {
            "ctrl" | "control" => &mut parsed.ctrl,
            "alt" => &mut parsed.alt,
            "shift" => &mut parsed.shift,
            "super" | "logo" | "win" => &mut parsed.logo,
            other => {
                return Err(format!(
                    "unknown modifier {other:?} (use ctrl, alt, shift, super)"
                ));
            }
        };
        if *flag {
            return Err(format!("modifier {m:?} given twice"));
        }
        *flag = true;
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "invalid key name {key:?} (use an xkb key name such as q, Tab, Up, F1)"
        ));
    }
    if matches!(
        key.to_ascii_lowercase().as_str(),
        "ctrl" | "control" | "alt" | "shift" | "super" | "logo" | "win"
    ) {
        return Err("a shortcut needs a key besides its modifiers".into());
    }
    parsed.key = key.to_string();
    Ok(parsed)
}

/// What the flow policy says about one kind of data between one ordered pair of levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The flow happens without asking.
    Allow,
    /// The user confirms each flow in a trusted dialog.
    Confirm,
    /// The flow is refused.
    Deny,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Allow => "allow",
            Decision::Confirm => "confirm",
            Decision::Deny => "deny",
        })
    }
}

/// The kinds of data the flow policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowKind {
    /// The cross-level clipboard.
    Clipboard,
    /// Cross-level file transfer.
    Files,
}

/// The cross-level flow policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Explicit rules per ordered pair. Pairs not listed get [`Policy::default_decision`].
    pub flows: Vec<Flow>,
}

/// The rule for one ordered pair of levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Source level name.
    pub from: String,
    /// Target level name.
    pub to: String,
    /// Clipboard decision.
    pub clipboard: Decision,
    /// File transfer decision.
    pub files: Decision,
    /// The clipboard's size cap for this pair (default: `[clipboard] max_bytes`).
    #[serde(default)]
    pub clipboard_max_bytes: Option<u64>,
    /// Whether PNG images may cross the clipboard for this pair (re-encoded on the way).
    #[serde(default)]
    pub clipboard_images: bool,
    /// Largest file for this pair (default: `[files] max_file_bytes`).
    #[serde(default)]
    pub files_max_file_bytes: Option<u64>,
    /// Largest request for this pair (default: `[files] max_total_bytes`).
    #[serde(default)]
    pub files_max_total_bytes: Option<u64>,
    /// Most files per request for this pair (default: `[files] max_count`).
    #[serde(default)]
    pub files_max_count: Option<usize>,
    /// Only these extensions may cross for this pair (e.g. `["pdf", "txt"]`); default: any.
    #[serde(default)]
    pub files_extensions: Vec<String>,
    /// Whether clipboard text keeps its control characters for this pair (default: every C0
    /// and C1 control but tab and newline is removed, carriage returns become newlines).
    #[serde(default)]
    pub clipboard_control_characters: bool,
}

impl Policy {
    /// The default for a pair with no rule: upward allowed (clipboard) or confirmed (files),
    /// everything else denied.
    pub fn default_decision(kind: FlowKind, from: &Level, to: &Level) -> Decision {
        if from.rank < to.rank {
            match kind {
                FlowKind::Clipboard => Decision::Allow,
                FlowKind::Files => Decision::Confirm,
            }
        } else {
            Decision::Deny
        }
    }
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
                "  {:<10} label {:<8} colour {}  rank {}  network {}  uid {}  {} session app(s), {} menu app(s){}{}\n",
                level.name,
                level.label,
                level.color,
                level.rank,
                level.network,
                level.uid,
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

// ---------------------------------------------------------------------------------------------
// Raw (as written) form. Every value that validation can reject keeps its span.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    keyboard: Keyboard,
    #[serde(default)]
    shortcuts: RawShortcuts,
    #[serde(default, rename = "level")]
    levels: Vec<Spanned<RawLevel>>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    compositor: Option<Spanned<CompositorConfig>>,
    #[serde(default)]
    clipboard: Option<Spanned<ClipboardConfig>>,
    #[serde(default)]
    files: Option<Spanned<FilesConfig>>,
    #[serde(default, rename = "output")]
    outputs: Vec<Spanned<RawOutput>>,
    #[serde(default)]
    touchpad: TouchpadConfig,
    #[serde(default)]
    limits: Option<Spanned<LimitsConfig>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: Spanned<String>,
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    position: Option<Spanned<Vec<i64>>>,
    #[serde(default)]
    scale: Option<Spanned<i64>>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    name: Spanned<String>,
    label: Spanned<String>,
    color: Spanned<String>,
    rank: u32,
    #[serde(default)]
    network: Option<Spanned<String>>,
    #[serde(default)]
    session: Vec<Spanned<RawApp>>,
    #[serde(default)]
    protocols: Option<Spanned<Protocols>>,
    #[serde(default)]
    uid: Option<Spanned<u32>>,
    #[serde(default)]
    landlock: LandlockMode,
    #[serde(default, rename = "app")]
    apps: Vec<Spanned<MenuApp>>,
    #[serde(default = "yes")]
    desktop_entries: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawShortcuts {
    cycle_windows: Option<Spanned<String>>,
    cycle_windows_backward: Option<Spanned<String>>,
    maximize: Option<Spanned<String>>,
    fullscreen: Option<Spanned<String>>,
    close: Option<Spanned<String>>,
    minimize: Option<Spanned<String>>,
    launcher_menu: Option<Spanned<String>>,
    copy_to_global: Option<Spanned<String>>,
    paste_from_global: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    command: Vec<String>,
    #[serde(default)]
    restart: Restart,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default, rename = "flow")]
    flows: Vec<Spanned<RawFlow>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFlow {
    from: Spanned<String>,
    to: Spanned<String>,
    clipboard: Decision,
    files: Decision,
    #[serde(default)]
    clipboard_max_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    clipboard_images: bool,
    #[serde(default)]
    files_max_file_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    files_max_total_bytes: Option<Spanned<u64>>,
    #[serde(default)]
    files_max_count: Option<Spanned<usize>>,
    #[serde(default)]
    files_extensions: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    clipboard_control_characters: bool,
}

type Invalid = (Option<Range<usize>>, String, String);

fn invalid(span: Range<usize>, message: impl Into<String>, fix: impl Into<String>) -> Invalid {
    (Some(span), message.into(), fix.into())
}

/// Checks a level name: it becomes a path component, a seat name and a command argument.
pub fn check_level_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if name.len() > 32 || !first_ok || !rest_ok {
        return Err(format!(
            "invalid level name {name:?}: it must start with a lowercase letter, use only a-z, 0-9, '-' and '_', and have at most 32 characters"
        ));
    }
    Ok(())
}

fn validate(raw: RawConfig, file: &str, text: &str) -> Result<Config, Invalid> {
    let line_of = |span: &Range<usize>| line_col(text, span.start).0;
    let mut levels: Vec<Level> = Vec::new();
    // (name span, colour span) of each level, for "first declared at" messages.
    let mut spans: Vec<(Range<usize>, Range<usize>)> = Vec::new();

    if raw.levels.len() > MAX_LEVELS {
        return Err(invalid(
            raw.levels[MAX_LEVELS].span(),
            format!(
                "{} levels are declared; at most {MAX_LEVELS} are supported",
                raw.levels.len()
            ),
            "merge or remove levels",
        ));
    }

    for spanned in &raw.levels {
        let level = spanned.get_ref();
        let name = level.name.get_ref();
        check_level_name(name).map_err(|m| {
            invalid(
                level.name.span(),
                m,
                "rename the level, e.g. name = \"high\"",
            )
        })?;
        if let Some(first) = levels.iter().position(|l| &l.name == name) {
            return Err(invalid(
                level.name.span(),
                format!(
                    "duplicate level name {name:?} (first declared at line {})",
                    line_of(&spans[first].0)
                ),
                "give each [[level]] a unique name",
            ));
        }

        let label = level.label.get_ref();
        if label.trim().is_empty()
            || label.chars().count() > MAX_LABEL_CHARS
            || label.chars().any(|c| c.is_control() || is_invisible(c))
        {
            return Err(invalid(
                level.label.span(),
                format!(
                    "invalid label {label:?}: it must be 1 to {MAX_LABEL_CHARS} visible characters"
                ),
                "use a short label such as \"HIGH\"",
            ));
        }
        if let Some(other) = levels
            .iter()
            .find(|l| l.label.eq_ignore_ascii_case(label.trim()))
        {
            return Err(invalid(
                level.label.span(),
                format!("label {label:?} is already used by level {:?}", other.name),
                "give each level a distinct label: users tell levels apart by it",
            ));
        }

        let color: Color = level.color.get_ref().parse().map_err(|m: String| {
            invalid(
                level.color.span(),
                m,
                "write the colour as \"#rrggbb\", e.g. \"#c62828\"",
            )
        })?;
        for (i, other) in levels.iter().enumerate() {
            let distance = color.distance(other.color);
            if distance < MIN_COLOR_DISTANCE {
                let what = if distance == 0.0 {
                    "the same as"
                } else {
                    "too similar to"
                };
                return Err(invalid(
                    level.color.span(),
                    format!(
                        "colour {color} of level {name:?} is {what} colour {} of level {:?} (line {}; ΔE {distance:.1}, at least {MIN_COLOR_DISTANCE} is needed)",
                        other.color,
                        other.name,
                        line_of(&spans[i].1),
                    ),
                    "pick clearly different colours: users tell levels apart by them (e.g. green #2e9e44, red #c62828, blue #1565c0, orange #ef6c00)",
                ));
            }
        }

        let network = match &level.network {
            None => Network::None,
            Some(net) => parse_network(net.get_ref()).map_err(|m| {
                invalid(
                    net.span(),
                    m,
                    "use network = \"none\", \"host\" or \"netns:NAME\"",
                )
            })?,
        };

        let mut session = Vec::new();
        for app in &level.session {
            let a = app.get_ref();
            if a.command.is_empty() || a.command[0].is_empty() {
                return Err(invalid(
                    app.span(),
                    "a session app has an empty command",
                    "give the program and its arguments, e.g. command = [\"foot\"]",
                ));
            }
            if a.command.iter().any(|arg| arg.contains('\0')) {
                return Err(invalid(
                    app.span(),
                    "a session app's command contains a NUL character",
                    "remove the NUL character",
                ));
            }
            session.push(SessionApp {
                command: a.command.clone(),
                restart: a.restart,
            });
        }

        let protocols = match &level.protocols {
            None => Protocols::default(),
            Some(p) => {
                let protocols = p.get_ref().clone();
                for global in &protocols.globals {
                    if CORE_GLOBALS.contains(&global.as_str()) {
                        continue;
                    }
                    if NEVER_OFFERED.contains(&global.as_str()) {
                        return Err(invalid(
                            p.span(),
                            format!(
                                "{global} is never offered to a level: it would let a level capture, control or impersonate what is not its own"
                            ),
                            "remove it from globals",
                        ));
                    }
                    if !OPTIONAL_GLOBALS.contains(&global.as_str()) {
                        return Err(invalid(
                            p.span(),
                            format!("unknown global {global:?}"),
                            format!("use names from: {}", OPTIONAL_GLOBALS.join(", ")),
                        ));
                    }
                }
                protocols
            }
        };

        let index = levels.len() as u32;
        let uid = match &level.uid {
            None => DEFAULT_LEVEL_UID + 100_000 * index,
            Some(uid) => {
                check_outside_uid(*uid.get_ref()).map_err(|m| {
                    invalid(
                        uid.span(),
                        m,
                        "give the level its own uid, e.g. uid = 2000000 (a range no account uses)",
                    )
                })?;
                *uid.get_ref()
            }
        };
        if let Some(other) = levels.iter().find(|l| l.uid == uid) {
            return Err(invalid(
                level
                    .uid
                    .as_ref()
                    .map(|u| u.span())
                    .unwrap_or(spanned.span()),
                format!("uid {uid} is already level {:?}'s", other.name),
                "give each level its own uid: the kernel separates the levels' files by it",
            ));
        }

        let mut apps = Vec::new();
        for app in &level.apps {
            let a = app.get_ref();
            if a.command.is_empty() || a.command[0].is_empty() {
                return Err(invalid(
                    app.span(),
                    "a menu app has an empty command",
                    "give the program and its arguments, e.g. command = [\"foot\"]",
                ));
            }
            if a.command.iter().any(|arg| arg.contains('\0')) {
                return Err(invalid(
                    app.span(),
                    "a menu app's command contains a NUL character",
                    "remove the NUL character",
                ));
            }
            if a.name.trim().is_empty()
                || a.name.chars().count() > 64
                || a.name.chars().any(|c| c.is_control() || is_invisible(c))
            {
                return Err(invalid(
                    app.span(),
                    format!("invalid menu app name {:?}", a.name),
                    "use 1 to 64 visible characters, e.g. name = \"Terminal\"",
                ));
            }
            apps.push(MenuApp {
                name: a.name.trim().to_string(),
                command: a.command.clone(),
            });
        }

        spans.push((level.name.span(), level.color.span()));
        levels.push(Level {
            name: name.clone(),
            label: label.trim().to_string(),
            color,
            rank: level.rank,
            network,
            session,
            protocols,
            uid,
            landlock: level.landlock,
            apps,
            desktop_entries: level.desktop_entries,
        });
    }

    if levels.len() < 2 {
        let span = raw.levels.first().map(|l| l.span());
        return Err((
            span,
            format!(
                "{} level(s) declared; a Cloison session needs at least two",
                levels.len()
            ),
            "declare at least two [[level]] tables (the built-in default has \"low\" and \"high\"; see docs/configuration.md)".into(),
        ));
    }

    let mut flows: Vec<Flow> = Vec::new();
    for spanned in &raw.policy.flows {
        let f = spanned.get_ref();
        for end in [&f.from, &f.to] {
            if !levels.iter().any(|l| &l.name == end.get_ref()) {
                let known: Vec<&str> = levels.iter().map(|l| l.name.as_str()).collect();
                return Err(invalid(
                    end.span(),
                    format!(
                        "the flow rule names level {:?}, which is not declared",
                        end.get_ref()
                    ),
                    format!("use one of the declared levels: {}", known.join(", ")),
                ));
            }
        }
        if f.from.get_ref() == f.to.get_ref() {
            return Err(invalid(
                spanned.span(),
                format!(
                    "a flow rule goes from level {:?} to itself",
                    f.from.get_ref()
                ),
                "flow rules are for pairs of different levels; remove this rule",
            ));
        }
        if flows
            .iter()
            .any(|g| &g.from == f.from.get_ref() && &g.to == f.to.get_ref())
        {
            return Err(invalid(
                spanned.span(),
                format!(
                    "a second flow rule for {} -> {}",
                    f.from.get_ref(),
                    f.to.get_ref()
                ),
                "keep one [[policy.flow]] per ordered pair of levels",
            ));
        }
        if let Some(max) = &f.clipboard_max_bytes {
            check_clipboard_bytes(*max.get_ref()).map_err(|m| {
                invalid(
                    max.span(),
                    m,
                    format!("use at most {MAX_CLIPBOARD_BYTES} (64 MiB), e.g. clipboard_max_bytes = 4194304"),
                )
            })?;
        }
        let positive = |value: Option<&Spanned<u64>>, key: &str| match value {
            Some(v) if *v.get_ref() == 0 => Err(invalid(
                v.span(),
                format!("{key} is 0: no file could ever cross"),
                "use a positive limit, or files = \"deny\" to stop files for this pair",
            )),
            _ => Ok(value.map(|v| *v.get_ref())),
        };
        let files_max_file_bytes =
            positive(f.files_max_file_bytes.as_ref(), "files_max_file_bytes")?;
        let files_max_total_bytes =
            positive(f.files_max_total_bytes.as_ref(), "files_max_total_bytes")?;
        let count = f
            .files_max_count
            .as_ref()
            .map(|c| Spanned::new(c.span(), *c.get_ref() as u64));
        let files_max_count = positive(count.as_ref(), "files_max_count")?.map(|c| c as usize);
        let files_extensions = match &f.files_extensions {
            None => Vec::new(),
            Some(list) => {
                let mut out = Vec::new();
                for ext in list.get_ref() {
                    let clean = ext.trim_start_matches('.').to_ascii_lowercase();
                    if clean.is_empty()
                        || clean.len() > 16
                        || !clean.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        return Err(invalid(
                            list.span(),
                            format!("{ext:?} is not a file extension"),
                            "list extensions as letters and digits, e.g. files_extensions = [\"pdf\", \"txt\"]",
                        ));
                    }
                    out.push(clean);
                }
                if out.is_empty() {
                    return Err(invalid(
                        list.span(),
                        "files_extensions is empty: no file could ever cross",
                        "list the allowed extensions, remove the key to allow any, or use files = \"deny\"",
                    ));
                }
                out
            }
        };
        flows.push(Flow {
            from: f.from.get_ref().clone(),
            to: f.to.get_ref().clone(),
            clipboard: f.clipboard,
            files: f.files,
            clipboard_max_bytes: f.clipboard_max_bytes.as_ref().map(|m| *m.get_ref()),
            clipboard_images: f.clipboard_images,
            files_max_file_bytes,
            files_max_total_bytes,
            files_max_count,
            files_extensions,
            clipboard_control_characters: f.clipboard_control_characters,
        });
    }

    let shortcuts = validate_shortcuts(&raw.shortcuts)?;

    let compositor = match &raw.compositor {
        None => CompositorConfig::default(),
        Some(c) => {
            let compositor = c.get_ref().clone();
            check_outside_uid(compositor.uid).map_err(|m| {
                invalid(
                    c.span(),
                    m,
                    "give the compositor its own uid, e.g. uid = 1900000",
                )
            })?;
            compositor
        }
    };
    if let Some(level) = levels.iter().find(|l| l.uid == compositor.uid) {
        return Err((
            raw.compositor.as_ref().map(|c| c.span()),
            format!(
                "the compositor's uid {} is also level {:?}'s",
                compositor.uid, level.name
            ),
            "give the compositor a uid no level uses: it must not own any level's files".into(),
        ));
    }

    let clipboard = match &raw.clipboard {
        None => ClipboardConfig::default(),
        Some(c) => {
            let clipboard = c.get_ref().clone();
            check_clipboard_bytes(clipboard.max_bytes).map_err(|m| {
                invalid(
                    c.span(),
                    m,
                    "use at most 67108864 (64 MiB), e.g. max_bytes = 1048576",
                )
            })?;
            if !(100..=60_000).contains(&clipboard.timeout_ms) {
                return Err(invalid(
                    c.span(),
                    format!("timeout_ms = {} is out of range", clipboard.timeout_ms),
                    "use 100 to 60000 milliseconds (default 2000)",
                ));
            }
            clipboard
        }
    };

    let files = match &raw.files {
        None => FilesConfig::default(),
        Some(f) => {
            let files = f.get_ref().clone();
            if files.max_file_bytes == 0 || files.max_total_bytes == 0 || files.max_count == 0 {
                return Err(invalid(
                    f.span(),
                    "a [files] limit is 0: no file could ever cross",
                    "use positive limits (e.g. max_file_bytes = 1073741824), or files = \"deny\" in the flow rules",
                ));
            }
            if files.max_file_bytes > files.max_total_bytes {
                return Err(invalid(
                    f.span(),
                    format!(
                        "max_file_bytes ({}) is above max_total_bytes ({})",
                        files.max_file_bytes, files.max_total_bytes
                    ),
                    "a request holds at least one file: raise max_total_bytes or lower max_file_bytes",
                ));
            }
            files
        }
    };

    let outputs = validate_outputs(&raw.outputs, &line_of)?;
    let limits = validate_limits(raw.limits.as_ref(), levels.len())?;

    Ok(Config {
        source: file.to_string(),
        keyboard: raw.keyboard,
        shortcuts,
        levels,
        policy: Policy { flows },
        compositor,
        clipboard,
        files,
        outputs,
        touchpad: raw.touchpad,
        limits,
    })
}

/// `[limits]`: each within a range a level can work in, and the descriptors of every level
/// together within what the compositor can hold.
fn validate_limits(
    raw: Option<&Spanned<LimitsConfig>>,
    levels: usize,
) -> Result<LimitsConfig, Invalid> {
    let Some(raw) = raw else {
        return Ok(LimitsConfig::default());
    };
    let limits = raw.get_ref().clone();
    let ranges: [(&str, u64, u64, u64); 5] = [
        ("clients", limits.clients as u64, 4, 4096),
        ("surfaces", limits.surfaces as u64, 64, 1 << 20),
        ("shm_buffers", limits.shm_buffers as u64, 16, 1 << 16),
        ("shm_bytes", limits.shm_bytes, 64 << 20, 1 << 40),
        (
            "frame_callbacks",
            limits.frame_callbacks as u64,
            64,
            1 << 20,
        ),
    ];
    for (key, value, min, max) in ranges {
        if !(min..=max).contains(&value) {
            let default = match key {
                "clients" => LimitsConfig::default().clients as u64,
                "surfaces" => LimitsConfig::default().surfaces as u64,
                "shm_buffers" => LimitsConfig::default().shm_buffers as u64,
                "shm_bytes" => LimitsConfig::default().shm_bytes,
                _ => LimitsConfig::default().frame_callbacks as u64,
            };
            return Err(invalid(
                raw.span(),
                format!("[limits] {key} = {value} is out of range"),
                format!("use {min} to {max} (default {default})"),
            ));
        }
    }
    let descriptors = levels * (limits.clients * DESCRIPTORS_PER_CLIENT + limits.shm_buffers);
    if descriptors > MAX_COMPOSITOR_DESCRIPTORS {
        return Err(invalid(
            raw.span(),
            format!(
                "{levels} levels × (clients {} × {DESCRIPTORS_PER_CLIENT} + shm_buffers {}) = {descriptors} descriptors, more than the compositor holds ({MAX_COMPOSITOR_DESCRIPTORS})",
                limits.clients, limits.shm_buffers
            ),
            "lower clients or shm_buffers",
        ));
    }
    Ok(limits)
}

fn validate_outputs(
    raw: &[Spanned<RawOutput>],
    line_of: &dyn Fn(&Range<usize>) -> usize,
) -> Result<Vec<OutputConfig>, Invalid> {
    let mut outputs: Vec<OutputConfig> = Vec::new();
    for (i, spanned) in raw.iter().enumerate() {
        let output = spanned.get_ref();
        let name = output.name.get_ref();
        if name.is_empty()
            || name.len() > 32
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                output.name.span(),
                format!("invalid output name {name:?}"),
                "use the connector's name, e.g. \"HDMI-A-1\", \"DP-2\", \"eDP-1\" (`cloison ctl status` lists them)",
            ));
        }
        if let Some(first) = raw[..i].iter().find(|o| o.get_ref().name.get_ref() == name) {
            return Err(invalid(
                output.name.span(),
                format!(
                    "output {name:?} is configured twice (first at line {})",
                    line_of(&first.span())
                ),
                "merge the two [[output]] sections",
            ));
        }
        let mode = match &output.mode {
            None => None,
            Some(mode) => Some(parse_mode(mode.get_ref()).map_err(|m| {
                invalid(
                    mode.span(),
                    m,
                    "write WIDTHxHEIGHT or WIDTHxHEIGHT@HZ, e.g. \"1920x1080\" or \"2560x1440@60\"",
                )
            })?),
        };
        let position = match &output.position {
            None => None,
            Some(position) => match position.get_ref().as_slice() {
                [x, y] if (0..=32768).contains(x) && (0..=32768).contains(y) => {
                    Some((*x as i32, *y as i32))
                }
                _ => {
                    return Err(invalid(
                        position.span(),
                        format!("invalid output position {:?}", position.get_ref()),
                        "write [X, Y] with whole numbers from 0 to 32768, e.g. position = [1920, 0]",
                    ));
                }
            },
        };
        let scale = match &output.scale {
            None => 1,
            Some(scale) => match *scale.get_ref() {
                s @ 1..=4 => s as u32,
                s => {
                    return Err(invalid(
                        scale.span(),
                        format!("invalid output scale {s}"),
                        "use a whole number from 1 to 4 (fractional scales are not supported)",
                    ));
                }
            },
        };
        outputs.push(OutputConfig {
            name: name.clone(),
            mode,
            position,
            scale,
            enabled: output.enabled,
        });
    }
    Ok(outputs)
}

/// Parses `WIDTHxHEIGHT` or `WIDTHxHEIGHT@HZ`.
pub fn parse_mode(text: &str) -> Result<(u32, u32, Option<u32>), String> {
    let bad = || format!("invalid mode {text:?}");
    let (size, refresh) = match text.split_once('@') {
        Some((size, hz)) => (
            size,
            Some(
                hz.parse::<u32>()
                    .ok()
                    .filter(|hz| (1..=1000).contains(hz))
                    .ok_or_else(bad)?,
            ),
        ),
        None => (text, None),
    };
    let (w, h) = size.split_once('x').ok_or_else(bad)?;
    let dimension = |v: &str| v.parse::<u32>().ok().filter(|v| (64..=16384).contains(v));
    match (dimension(w), dimension(h)) {
        (Some(w), Some(h)) => Ok((w, h, refresh)),
        _ => Err(bad()),
    }
}

fn validate_shortcuts(raw: &RawShortcuts) -> Result<Shortcuts, Invalid> {
    let mut shortcuts = Shortcuts::default();
    let fields: [(&'static str, &Option<Spanned<String>>, &mut String); 9] = [
        (
            "cycle_windows",
            &raw.cycle_windows,
            &mut shortcuts.cycle_windows,
        ),
        (
            "cycle_windows_backward",
            &raw.cycle_windows_backward,
            &mut shortcuts.cycle_windows_backward,
        ),
        ("maximize", &raw.maximize, &mut shortcuts.maximize),
        ("fullscreen", &raw.fullscreen, &mut shortcuts.fullscreen),
        ("close", &raw.close, &mut shortcuts.close),
        ("minimize", &raw.minimize, &mut shortcuts.minimize),
        (
            "launcher_menu",
            &raw.launcher_menu,
            &mut shortcuts.launcher_menu,
        ),
        (
            "copy_to_global",
            &raw.copy_to_global,
            &mut shortcuts.copy_to_global,
        ),
        (
            "paste_from_global",
            &raw.paste_from_global,
            &mut shortcuts.paste_from_global,
        ),
    ];
    let mut seen: Vec<(Chord, &'static str, Option<Range<usize>>)> = Vec::new();
    for (action, given, target) in fields {
        if let Some(value) = given {
            *target = value.get_ref().clone();
        }
        let span = given.as_ref().map(|v| v.span());
        if target == "none" {
            continue;
        }
        // The launcher menu may be a tap of Super alone (pressed and released, nothing else).
        if action == "launcher_menu" && target.eq_ignore_ascii_case("super") {
            *target = "super".into();
            continue;
        }
        let parsed = parse_chord(target).map_err(|m| {
            (
                span.clone(),
                format!("shortcut {action} = {target:?}: {m}"),
                "write it like \"super+q\" or \"alt+shift+Tab\", or \"none\" to disable it"
                    .to_string(),
            )
        })?;
        let normalized = Chord {
            key: parsed.key.to_ascii_lowercase(),
            ..parsed
        };
        if let Some((_, other, _)) = seen.iter().find(|(c, _, _)| *c == normalized) {
            return Err((
                span.or_else(|| {
                    seen.iter()
                        .find(|(_, a, _)| a == other)
                        .and_then(|s| s.2.clone())
                }),
                format!("shortcuts {other} and {action} are the same chord ({target:?})"),
                "give each action its own chord".to_string(),
            ));
        }
        seen.push((normalized, action, span));
    }
    Ok(shortcuts)
}

fn check_clipboard_bytes(bytes: u64) -> Result<(), String> {
    if bytes == 0 || bytes > MAX_CLIPBOARD_BYTES {
        return Err(format!(
            "a clipboard cap of {bytes} bytes is out of range (1 to {MAX_CLIPBOARD_BYTES})"
        ));
    }
    Ok(())
}

fn check_outside_uid(uid: u32) -> Result<(), String> {
    if !(MIN_OUTSIDE_UID..u32::MAX - 1).contains(&uid) {
        return Err(format!(
            "uid {uid} is not usable for a cage: it must be from {MIN_OUTSIDE_UID} to {}, outside the accounts' range",
            u32::MAX - 2
        ));
    }
    Ok(())
}

fn parse_network(value: &str) -> Result<Network, String> {
    match value {
        "none" => Ok(Network::None),
        "host" => Ok(Network::Host),
        other => match other.strip_prefix("netns:") {
            Some(name)
                if !name.is_empty()
                    && name != "."
                    && name != ".."
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
            {
                Ok(Network::Netns(name.to_string()))
            }
            Some(name) => Err(format!(
                "invalid network namespace name {name:?}: use letters, digits, '-', '_' and '.'"
            )),
            None => Err(format!("unknown network mode {other:?}")),
        },
    }
}

#[cfg(test)]
mod tests;
