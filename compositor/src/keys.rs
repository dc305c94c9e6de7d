//! Turning key chords (`ctrl+shift+c`) and text into key presses on the configured keymap,
//! for injected input. Everything is resolved before anything is pressed, so a bad chord or an
//! untypable character injects nothing.

use smithay::input::keyboard::{XkbConfig, xkb};

/// One key stroke: the keycodes to press in order (then release in reverse).
pub type Stroke = Vec<u32>;

/// The smithay keymap names of a configured keyboard.
pub fn xkb_config(kb: &cloison_config::Keyboard) -> XkbConfig<'_> {
    XkbConfig {
        rules: &kb.rules,
        model: &kb.model,
        layout: &kb.layout,
        variant: &kb.variant,
        options: (!kb.options.is_empty()).then(|| kb.options.clone()),
    }
}

/// Compiles a configured keyboard's keymap; `None` if xkbcommon cannot.
pub fn compile(kb: &cloison_config::Keyboard) -> Option<xkb::Keymap> {
    let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
    xkb::Keymap::new_from_names(
        &context,
        &kb.rules,
        &kb.model,
        &kb.layout,
        &kb.variant,
        (!kb.options.is_empty()).then(|| kb.options.clone()),
        xkb::KEYMAP_COMPILE_NO_FLAGS,
    )
}

/// Finds a keycode producing `sym` at shift level 0 or 1 of the first layout; the bool says
/// whether shift is needed.
pub fn keycode_for(keymap: &xkb::Keymap, sym: xkb::Keysym) -> Option<(u32, bool)> {
    keycode_in_layout(keymap, 0, sym)
}

/// [`keycode_for`] in layout `layout` of the keymap.
fn keycode_in_layout(keymap: &xkb::Keymap, layout: u32, sym: xkb::Keysym) -> Option<(u32, bool)> {
    let (min, max) = (keymap.min_keycode().raw(), keymap.max_keycode().raw());
    for level in 0..2 {
        for raw in min..=max {
            let keycode = xkb::Keycode::new(raw);
            if keymap.num_levels_for_key(keycode, layout) <= level {
                continue;
            }
            if keymap
                .key_get_syms_by_level(keycode, layout, level)
                .contains(&sym)
            {
                return Some((raw, level == 1));
            }
        }
    }
    None
}

fn modifier_keysym(name: &str) -> Option<xkb::Keysym> {
    Some(match name.to_ascii_lowercase().as_str() {
        "ctrl" | "control" => xkb::Keysym::Control_L,
        "shift" => xkb::Keysym::Shift_L,
        "alt" | "mod1" => xkb::Keysym::Alt_L,
        "super" | "logo" | "mod4" | "win" => xkb::Keysym::Super_L,
        "altgr" => xkb::Keysym::ISO_Level3_Shift,
        _ => return None,
    })
}

fn keysym_by_name(name: &str) -> Option<xkb::Keysym> {
    if let Some(sym) = modifier_keysym(name) {
        return Some(sym);
    }
    let exact = xkb::keysym_from_name(name, xkb::KEYSYM_NO_FLAGS);
    if exact.raw() != 0 {
        return Some(exact);
    }
    let folded = xkb::keysym_from_name(name, xkb::KEYSYM_CASE_INSENSITIVE);
    (folded.raw() != 0).then_some(folded)
}

/// Parses a chord such as `ctrl+shift+c`, `Return` or `super` into keycodes to press in order.
pub fn parse_chord(keymap: &xkb::Keymap, chord: &str) -> Result<Stroke, String> {
    let shift = keycode_for(keymap, xkb::Keysym::Shift_L).map(|k| k.0);
    let mut stroke = Vec::new();
    let names: Vec<&str> = chord.split('+').map(str::trim).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(format!(
            "invalid chord {chord:?}: key names are joined by '+', e.g. ctrl+shift+c"
        ));
    }
    for name in names {
        let sym = keysym_by_name(name)
            .ok_or_else(|| format!("unknown key name {name:?} in chord {chord:?} (use xkb keysym names such as Return, Tab, a, F1, ctrl, shift, alt, super)"))?;
        let (keycode, needs_shift) = keycode_for(keymap, sym)
            .ok_or_else(|| format!("key {name:?} is not on the configured keyboard layout"))?;
        if needs_shift && let Some(shift) = shift.filter(|s| !stroke.contains(s)) {
            stroke.push(shift);
        }
        if !stroke.contains(&keycode) {
            stroke.push(keycode);
        }
    }
    Ok(stroke)
}

/// Turns text into strokes, one per character (`\n` is Return, `\t` is Tab), on layout
/// `layout` of the keymap (the one the receiving seat uses now).
pub fn text_strokes(keymap: &xkb::Keymap, layout: u32, text: &str) -> Result<Vec<Stroke>, String> {
    let shift = keycode_in_layout(keymap, layout, xkb::Keysym::Shift_L).map(|k| k.0);
    text.chars()
        .map(|c| {
            let sym = match c {
                '\n' => xkb::Keysym::Return,
                '\t' => xkb::Keysym::Tab,
                c => xkb::utf32_to_keysym(c as u32),
            };
            let (keycode, needs_shift) =
                keycode_in_layout(keymap, layout, sym).ok_or_else(|| {
                    format!("character {c:?} cannot be typed with the keyboard layout in use")
                })?;
            Ok(match (needs_shift, shift) {
                (true, Some(shift)) => vec![shift, keycode],
                _ => vec![keycode],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> xkb::Keymap {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        xkb::Keymap::new_from_names(
            &context,
            "",
            "",
            "us",
            "",
            None,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .expect("us keymap")
    }

    // evdev codes + 8
    const KEY_LEFTCTRL: u32 = 29 + 8;
    const KEY_LEFTSHIFT: u32 = 42 + 8;
    const KEY_C: u32 = 46 + 8;
    const KEY_ENTER: u32 = 28 + 8;
    const KEY_A: u32 = 30 + 8;
    const KEY_1: u32 = 2 + 8;
    const KEY_LEFTMETA: u32 = 125 + 8;

    #[test]
    fn chords_resolve_to_keycodes_in_order() {
        let k = us();
        assert_eq!(
            parse_chord(&k, "ctrl+shift+c").unwrap(),
            [KEY_LEFTCTRL, KEY_LEFTSHIFT, KEY_C]
        );
        assert_eq!(parse_chord(&k, "Return").unwrap(), [KEY_ENTER]);
        assert_eq!(parse_chord(&k, "super").unwrap(), [KEY_LEFTMETA]);
        assert_eq!(parse_chord(&k, "RETURN").unwrap(), [KEY_ENTER]);
        // An upper-case letter implies shift.
        assert_eq!(parse_chord(&k, "A").unwrap(), [KEY_LEFTSHIFT, KEY_A]);
    }

    #[test]
    fn bad_chords_are_errors() {
        let k = us();
        assert!(
            parse_chord(&k, "ctrl+")
                .unwrap_err()
                .contains("joined by '+'")
        );
        assert!(
            parse_chord(&k, "ctrl+nosuchkey")
                .unwrap_err()
                .contains("unknown key name")
        );
        assert!(
            parse_chord(&k, "eacute")
                .unwrap_err()
                .contains("not on the configured")
        );
    }

    #[test]
    fn text_is_typed_on_the_layout_in_use() {
        let kb = cloison_config::Keyboard {
            layout: "us,fr".into(),
            ..Default::default()
        };
        let k = compile(&kb).expect("us,fr compiles");
        const KEY_Q: u32 = 16 + 8;
        const KEY_A: u32 = 30 + 8;
        // US: 'a' is the A key; AZERTY: the key a US keyboard calls Q.
        assert_eq!(text_strokes(&k, 0, "a").unwrap(), vec![vec![KEY_A]]);
        assert_eq!(text_strokes(&k, 1, "a").unwrap(), vec![vec![KEY_Q]]);
        let bad = cloison_config::Keyboard {
            layout: "no-such-layout".into(),
            ..Default::default()
        };
        assert!(compile(&bad).is_none());
    }

    #[test]
    fn text_uses_shift_where_needed() {
        let k = us();
        let strokes = text_strokes(&k, 0, "a!\n").unwrap();
        assert_eq!(
            strokes,
            vec![vec![KEY_A], vec![KEY_LEFTSHIFT, KEY_1], vec![KEY_ENTER]]
        );
        assert!(
            text_strokes(&k, 0, "é")
                .unwrap_err()
                .contains("cannot be typed")
        );
    }
}
