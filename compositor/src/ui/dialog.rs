//! The trusted confirmation dialog of a cross-level paste: drawn by the compositor above every
//! window (below the bar and the cursor), naming the source and target levels in their
//! colours, the type, the size, and the beginning of the text (as the launcher prepared it:
//! invisible and bidi characters made visible). Only real input answers it — Return or a click
//! on "Paste", Escape or a click on "Cancel" — from devices or the control socket's injection,
//! never from a client. While it is open no client gets input and focus does not move.

use std::cell::RefCell;

use cloison_config::Color;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::utils::{Logical, Point, Rectangle, Size};

use super::BAR_HEIGHT;
use super::canvas::{Canvas, mix, text_on};
use super::font::Font;

/// Dialog size.
pub const WIDTH: i32 = 560;
/// Dialog size.
pub const HEIGHT: i32 = 300;
const PX: f32 = 14.0;
const PANEL: Color = Color::rgb(0x1b, 0x1e, 0x24);
const INK: Color = Color::rgb(0xe8, 0xe8, 0xe8);
const BUTTON_W: i32 = 130;
const BUTTON_H: i32 = 34;
/// Lines of preview shown.
const PREVIEW_LINES: usize = 6;
/// Characters per preview line.
const PREVIEW_COLUMNS: usize = 64;

/// A paste waiting for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDialog {
    /// The paste's gesture id.
    pub op: u64,
    /// Source: (label, colour).
    pub from: (String, Color),
    /// Target: (label, colour).
    pub to: (String, Color),
    /// Type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Preview lines (sanitised).
    pub preview: Vec<String>,
    /// What is asked: "Paste" or "Send files".
    pub verb: String,
}

/// A dialog button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Paste.
    Accept,
    /// Do not.
    Refuse,
}

impl ConfirmDialog {
    /// Builds the dialog; `preview` is split into at most a few short lines.
    pub fn new(
        op: u64,
        from: (String, Color),
        to: (String, Color),
        mime: String,
        size: u64,
        preview: &str,
    ) -> ConfirmDialog {
        let preview = preview
            .split('\n')
            .take(PREVIEW_LINES)
            .map(|l| cloison_config::text::sanitize(l, PREVIEW_COLUMNS))
            .collect();
        ConfirmDialog {
            op,
            from,
            to,
            mime: cloison_config::text::sanitize(&mime, 60),
            size,
            preview,
            verb: "Paste".into(),
        }
    }

    /// A file transfer's dialog: each file's (sanitised) name and size, and the total.
    pub fn files(
        op: u64,
        from: (String, Color),
        to: (String, Color),
        files: &[(String, u64)],
        total: u64,
    ) -> ConfirmDialog {
        let mut lines: Vec<String> = files
            .iter()
            .take(PREVIEW_LINES)
            .map(|(name, size)| {
                format!(
                    "{}  ({size} bytes)",
                    cloison_config::text::sanitize(name, PREVIEW_COLUMNS - 20)
                )
            })
            .collect();
        if files.len() > PREVIEW_LINES {
            lines.pop();
            lines.push(format!("… and {} more", files.len() - PREVIEW_LINES + 1));
        }
        ConfirmDialog {
            op,
            from,
            to,
            mime: format!("{} file(s)", files.len()),
            size: total,
            preview: lines,
            verb: "Send files".into(),
        }
    }

    /// Where it is on an output of `output` size: centred below the bar.
    pub fn geometry(output: Size<i32, Logical>) -> Rectangle<i32, Logical> {
        let x = ((output.w - WIDTH) / 2).max(0);
        let y = BAR_HEIGHT + ((output.h - BAR_HEIGHT - HEIGHT) / 2).max(0);
        Rectangle::new((x, y).into(), (WIDTH, HEIGHT).into())
    }

    /// The buttons, relative to the dialog.
    fn buttons() -> [(Answer, Rectangle<i32, Logical>); 2] {
        let y = HEIGHT - BUTTON_H - 16;
        [
            (
                Answer::Refuse,
                Rectangle::new(
                    (WIDTH - 2 * BUTTON_W - 32, y).into(),
                    (BUTTON_W, BUTTON_H).into(),
                ),
            ),
            (
                Answer::Accept,
                Rectangle::new(
                    (WIDTH - BUTTON_W - 16, y).into(),
                    (BUTTON_W, BUTTON_H).into(),
                ),
            ),
        ]
    }

    /// The button at `pos` (output coordinates).
    pub fn hit(output: Size<i32, Logical>, pos: Point<f64, Logical>) -> Option<Answer> {
        let area = Self::geometry(output);
        let p = Point::<i32, Logical>::from((pos.x as i32 - area.loc.x, pos.y as i32 - area.loc.y));
        Self::buttons()
            .into_iter()
            .find(|(_, r)| r.contains(p))
            .map(|(a, _)| a)
    }

    /// Draws the dialog.
    pub fn draw(&self, font: &Font) -> Canvas {
        let mut c = Canvas::new(WIDTH, HEIGHT, PANEL);
        // A frame in both levels' colours: source on the left half, target on the right.
        c.fill(0, 0, WIDTH / 2, 6, self.from.1);
        c.fill(WIDTH / 2, 0, WIDTH - WIDTH / 2, 6, self.to.1);
        c.outline(0, 0, WIDTH, HEIGHT, 2, mix(PANEL, INK, 0.3));
        let base = |y: i32| y + font.ascent(PX);
        // "Paste from [LOW] into [HIGH]?"
        let mut x = 20;
        x = font.draw(
            &mut c,
            &format!("{} from ", self.verb),
            (x, base(24)),
            PX,
            INK,
            WIDTH - 20,
        );
        x = chip(&mut c, font, &self.from, x, 20);
        x = font.draw(&mut c, " into ", (x + 4, base(24)), PX, INK, WIDTH - 20);
        x = chip(&mut c, font, &self.to, x + 4, 20);
        font.draw(&mut c, "?", (x + 4, base(24)), PX, INK, WIDTH - 20);
        let kind = format!("{} — {} bytes", self.mime, self.size);
        font.draw(
            &mut c,
            &kind,
            (20, base(58)),
            PX,
            mix(INK, PANEL, 0.3),
            WIDTH - 20,
        );
        // The preview, in a box.
        let top = 84;
        let box_h = PREVIEW_LINES as i32 * 20 + 12;
        c.fill(20, top, WIDTH - 40, box_h, Color::rgb(0x0e, 0x10, 0x14));
        for (i, line) in self.preview.iter().enumerate() {
            font.draw(
                &mut c,
                line,
                (28, base(top + 6 + i as i32 * 20)),
                PX,
                INK,
                WIDTH - 28,
            );
        }
        for (answer, r) in Self::buttons() {
            let accept = format!(
                "{} (Enter)",
                if self.verb == "Paste" {
                    "Paste"
                } else {
                    "Send"
                }
            );
            let (label, fill) = match answer {
                Answer::Accept => (accept.as_str(), self.to.1),
                Answer::Refuse => ("Cancel (Esc)", mix(PANEL, INK, 0.2)),
            };
            c.fill(r.loc.x, r.loc.y, r.size.w, r.size.h, fill);
            let w = font.measure(label, PX);
            font.draw(
                &mut c,
                label,
                (r.loc.x + (r.size.w - w) / 2, base(r.loc.y + 9)),
                PX,
                text_on(fill),
                r.loc.x + r.size.w,
            );
        }
        c
    }
}

/// A level chip: its label on its colour. Returns the x after it.
fn chip(c: &mut Canvas, font: &Font, (label, color): &(String, Color), x: i32, y: i32) -> i32 {
    let w = font.measure(label, PX) + 12;
    c.fill(x, y - 2, w, 22, *color);
    font.draw(
        c,
        label,
        (x + 6, y + font.ascent(PX)),
        PX,
        text_on(*color),
        x + w,
    );
    x + w
}

/// The dialog's cached image.
#[derive(Default)]
pub struct DialogCache(RefCell<Option<(ConfirmDialog, MemoryRenderBuffer)>>);

impl DialogCache {
    /// The image of `dialog`, re-rendered only when it changed.
    pub fn buffer(&self, dialog: &ConfirmDialog, font: &Font) -> MemoryRenderBuffer {
        let mut cache = self.0.borrow_mut();
        if let Some((cached, buffer)) = cache.as_ref()
            && cached == dialog
        {
            return buffer.clone();
        }
        let buffer = dialog.draw(font).into_buffer();
        *cache = Some((dialog.clone(), buffer.clone()));
        buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialog_shows_both_levels_and_its_buttons_answer() {
        let green = Color::rgb(0x2e, 0x9e, 0x44);
        let red = Color::rgb(0xc6, 0x28, 0x28);
        let d = ConfirmDialog::new(
            7,
            ("LOW".into(), green),
            ("HIGH".into(), red),
            "text/plain;charset=utf-8".into(),
            12,
            "hello\n⟨U+202E⟩world\u{202e}",
        );
        assert!(!d.preview[1].contains('\u{202e}'));
        let canvas = d.draw(&Font::new().unwrap());
        assert_eq!(canvas.pixel(10, 2), green);
        assert_eq!(canvas.pixel(WIDTH - 10, 2), red);
        let out = Size::from((1280, 800));
        let area = ConfirmDialog::geometry(out);
        let [(_, refuse), (_, accept)] = ConfirmDialog::buttons();
        let at = |r: Rectangle<i32, Logical>| {
            Point::from((
                (area.loc.x + r.loc.x + 5) as f64,
                (area.loc.y + r.loc.y + 5) as f64,
            ))
        };
        assert_eq!(ConfirmDialog::hit(out, at(accept)), Some(Answer::Accept));
        assert_eq!(ConfirmDialog::hit(out, at(refuse)), Some(Answer::Refuse));
        assert_eq!(ConfirmDialog::hit(out, Point::from((0.0, 0.0))), None);
    }
}
