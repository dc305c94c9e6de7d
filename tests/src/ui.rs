//! What a user sees of the trusted UI, taken from the compositor's own constants and the
//! default configuration's colours rather than copied into each test.

pub use cloison_compositor::ui::{BAR_HEIGHT, BORDER, TITLE_HEIGHT};

use crate::session::Image;

/// The default `low` level's colour.
pub const GREEN: (u8, u8, u8) = cloison_config::DEFAULT_LOW_COLOR.rgb8();
/// The default `high` level's colour.
pub const RED: (u8, u8, u8) = cloison_config::DEFAULT_HIGH_COLOR.rgb8();

/// A level's colour as `ctl status` reports it.
pub fn level_colour(status: &cloison_ipc::Status, level: &str) -> (u8, u8, u8) {
    let hex = status
        .levels
        .iter()
        .find(|l| l.name == level)
        .map(|l| l.color.as_str())
        .unwrap_or("#000000");
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).unwrap_or(0);
    ((v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Whether two colours are within 24 of each other in every channel (a frame or badge drawn
/// with antialiasing or blending nearby).
pub fn near(a: (u8, u8, u8), b: (u8, u8, u8)) -> bool {
    (i32::from(a.0) - i32::from(b.0)).abs() < 24
        && (i32::from(a.1) - i32::from(b.1)).abs() < 24
        && (i32::from(a.2) - i32::from(b.2)).abs() < 24
}

/// Whether `shot` (of a `width`x`height` output) shows the confirmation dialog between levels
/// of colours `from` and `to`: its top stripe is `from`'s colour at the left, `to`'s at the
/// right.
pub fn dialog_shown(shot: &Image, from: (u8, u8, u8), to: (u8, u8, u8)) -> bool {
    let g = cloison_compositor::ui::dialog::ConfirmDialog::geometry(
        (shot.width as i32, shot.height as i32).into(),
    );
    shot.rgb(g.loc.x + 10, g.loc.y + 2) == from
        && shot.rgb(g.loc.x + g.size.w - 10, g.loc.y + 2) == to
}
