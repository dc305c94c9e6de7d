//! The compositor's own shortcuts and how a chord is written.

use super::*;

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
    /// Lock the screen (see `[lock]`).
    pub lock: String,
    /// Switch the focused level to its next keyboard layout (a level with several, e.g.
    /// `keyboard = { layout = "us,fr" }`); the bar shows the one in use.
    pub next_layout: String,
    /// Take the pointer back from a level that locked or confined it (any press of Super
    /// does too).
    pub release_pointer: String,
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
            lock: "super+l".into(),
            next_layout: "super+space".into(),
            release_pointer: "super+Escape".into(),
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
            ("lock", self.lock.as_str()),
            ("next_layout", self.next_layout.as_str()),
            ("release_pointer", self.release_pointer.as_str()),
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
pub fn parse_chord(chord: &str) -> Result<Chord, BadValue> {
    let mut parsed = Chord {
        ctrl: false,
        alt: false,
        shift: false,
        logo: false,
        key: String::new(),
    };
    let parts: Vec<&str> = chord.split('+').map(str::trim).collect();
    let Some((key, mods)) = parts.split_last() else {
        return Err(BadValue::from("an empty chord"));
    };
    for m in mods {
        let flag = match m.to_ascii_lowercase().as_str() {
            "ctrl" | "control" => &mut parsed.ctrl,
            "alt" => &mut parsed.alt,
            "shift" => &mut parsed.shift,
            "super" | "logo" | "win" => &mut parsed.logo,
            other => {
                return Err(BadValue::from(format!(
                    "unknown modifier {other:?} (use ctrl, alt, shift, super)"
                )));
            }
        };
        if *flag {
            return Err(BadValue::from(format!("modifier {m:?} given twice")));
        }
        *flag = true;
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(BadValue::from(format!(
            "invalid key name {key:?} (use an xkb key name such as q, Tab, Up, F1)"
        )));
    }
    if matches!(
        key.to_ascii_lowercase().as_str(),
        "ctrl" | "control" | "alt" | "shift" | "super" | "logo" | "win"
    ) {
        return Err(BadValue::from(
            "a shortcut needs a key besides its modifiers",
        ));
    }
    parsed.key = key.to_string();
    Ok(parsed)
}
