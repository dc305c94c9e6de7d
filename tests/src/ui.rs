//! What a user sees of the trusted UI, taken from the compositor's own constants and the
//! default configuration's colours rather than copied into each test.

pub use cloison_compositor::ui::{BAR_HEIGHT, BORDER, TITLE_HEIGHT};

use crate::session::Image;

/// The default `low` level's colour.
pub const GREEN: (u8, u8, u8) = cloison_config::DEFAULT_LOW_COLOR.rgb8();
/// The default `high` level's colour.
pub const RED: (u8, u8, u8) = cloison_config::DEFAULT_HIGH_COLOR.rgb8();

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
