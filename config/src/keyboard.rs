//! Keyboard layouts: the session's `[keyboard]` (trusted UI and shortcuts use it) and each
//! level's own, given as a level's `keyboard = { layout = "fr" }` over the session's.

use super::*;

/// An xkb keymap (RMLVO names; `layout` may list up to four, `"us,fr"`) and key repeat.
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

/// Most layouts one keymap holds (xkb's limit of groups).
pub const MAX_LAYOUTS: usize = 4;

impl Keyboard {
    /// The layouts as the bar shows them: `"us"`, `"fr(bepo)"`, in keymap order.
    pub fn layout_names(&self) -> Vec<String> {
        let variants: Vec<&str> = self.variant.split(',').map(str::trim).collect();
        self.layout
            .split(',')
            .map(str::trim)
            .enumerate()
            .map(|(i, layout)| match variants.get(i) {
                Some(v) if !v.is_empty() => format!("{layout}({v})"),
                _ => layout.to_string(),
            })
            .collect()
    }

    /// Checks the names' shape (xkbcommon compiles them when the compositor starts, and says
    /// which level's keymap fails).
    pub fn check(&self) -> Result<(), BadValue> {
        let layouts: Vec<&str> = self.layout.split(',').map(str::trim).collect();
        if layouts.len() > MAX_LAYOUTS {
            return Err(BadValue::from(format!(
                "{} layouts in {:?}: a keymap holds at most {MAX_LAYOUTS}",
                layouts.len(),
                self.layout
            )));
        }
        for layout in &layouts {
            let ok = layout.len() <= 32
                && layout
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase())
                && layout
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !ok {
                return Err(BadValue::from(format!(
                    "invalid keyboard layout name {layout:?} in {:?}",
                    self.layout
                )));
            }
        }
        let variants = self.variant.split(',').count();
        if !self.variant.is_empty() && variants > layouts.len() {
            return Err(BadValue::from(format!(
                "{variants} variants {:?} for {} layout(s) {:?}",
                self.variant,
                layouts.len(),
                self.layout
            )));
        }
        let names = [
            ("variant", &self.variant, ",_-"),
            ("model", &self.model, "_-"),
            ("rules", &self.rules, "_-"),
            ("options", &self.options, ",_-:+"),
        ];
        for (what, value, extra) in names {
            if value.len() > 512
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
            {
                return Err(BadValue::from(format!("invalid keyboard {what} {value:?}")));
            }
        }
        Ok(())
    }
}

/// A level's `keyboard = { … }`: what it changes from the session's `[keyboard]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLevelKeyboard {
    layout: Option<String>,
    variant: Option<String>,
    options: Option<String>,
    model: Option<String>,
}

/// The level's keyboard: the session's with the level's changes. A level that changes its
/// layout without naming a variant gets none (the session's variant belongs to its layout).
pub(crate) fn level_keyboard(
    global: &Keyboard,
    raw: Option<&Spanned<RawLevelKeyboard>>,
) -> Result<Keyboard, Invalid> {
    let Some(raw) = raw else {
        return Ok(global.clone());
    };
    let r = raw.get_ref();
    let mut keyboard = global.clone();
    if let Some(layout) = &r.layout {
        keyboard.layout = layout.clone();
        keyboard.variant = String::new();
    }
    if let Some(variant) = &r.variant {
        keyboard.variant = variant.clone();
    }
    if let Some(options) = &r.options {
        keyboard.options = options.clone();
    }
    if let Some(model) = &r.model {
        keyboard.model = model.clone();
    }
    keyboard.check().map_err(|m| {
        invalid(
            raw.span(),
            m,
            "use xkb names, e.g. keyboard = { layout = \"fr\" } or { layout = \"us,fr\", variant = \",bepo\" } (see `localectl list-x11-keymap-layouts`)",
        )
    })?;
    Ok(keyboard)
}
