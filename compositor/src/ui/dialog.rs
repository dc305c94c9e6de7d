//! The trusted confirmation dialog of a cross-level paste or file transfer: drawn by the
//! compositor above every window (below the bar and the cursor), naming the source and target
//! levels in their colours, the type, the size, and the beginning of the text or the files'
//! names (as the launcher prepared them: invisible, control and bidi characters made visible;
//! names shown whole, wrapped, never cut). Only real input answers it — Return or a click on
//! "Paste"/"Send", Escape or a click on "Cancel" — from devices or the control socket's
//! injection, never from a client, and only once it has been on screen for [`ARMING`]: a
//! Return or a click meant for a window cannot answer a dialog that just appeared under it.
//! While it is open no client gets input and focus does not move.

use std::cell::RefCell;
use std::time::Duration;

use cloison_config::Color;
use cloison_ipc::session::DialogId;
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
/// How long a dialog is on screen before it takes an answer (from when it appears, or comes to
/// the front).
pub const ARMING: Duration = Duration::from_millis(500);

/// How long the user's refusals of a level's transfer requests count (see
/// [`super::Ui::refused_asks`]).
pub const REFUSED_WINDOW: Duration = Duration::from_secs(30);

/// A paste waiting for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDialog {
    /// What it asks (its answer goes back with it).
    pub id: DialogId,
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
    /// A file transfer's files: (name, size), names shown whole (wrapped); the first few.
    pub files: Vec<(String, u64)>,
    /// How many files the transfer has in all.
    pub file_count: usize,
    /// What is asked: "Paste" or "Send files".
    pub verb: String,
    /// The level that asked (its name): a transfer request from a level without the keyboard
    /// waits behind a bar line until the user opens it.
    pub source: String,
    /// Whether the user's own gesture asked for it (a paste chord): then it shows as soon as
    /// nothing else is in front.
    pub by_user: bool,
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
            id: DialogId::Paste(op),
            from,
            to,
            mime: cloison_config::text::sanitize(&mime, 60),
            size,
            preview,
            files: Vec::new(),
            file_count: 0,
            verb: "Paste".into(),
            source: String::new(),
            by_user: true,
        }
    }

    /// A file transfer's dialog, asked by level `source`: each file's name (as the launcher
    /// shows it: delivered name, and the name as sent where they differ, invisible characters
    /// made visible) and size, and the total.
    pub fn files(
        id: u64,
        source: &str,
        from: (String, Color),
        to: (String, Color),
        files: &[(String, u64)],
        total: u64,
    ) -> ConfirmDialog {
        let count = files.len();
        // Bounded whatever the launcher sends: the lines shown come from these.
        let files = files
            .iter()
            .take(PREVIEW_LINES)
            .map(|(name, size)| {
                (
                    cloison_config::text::sanitize(name, 4 * PREVIEW_COLUMNS),
                    *size,
                )
            })
            .collect();
        ConfirmDialog {
            id: DialogId::Files(id),
            from,
            to,
            mime: format!("{count} file(s)"),
            size: total,
            preview: Vec::new(),
            files,
            file_count: count,
            verb: "Send files".into(),
            source: source.to_string(),
            by_user: false,
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
        let lines = if self.files.is_empty() {
            self.preview.clone()
        } else {
            self.file_lines(font, WIDTH - 56)
        };
        for (i, line) in lines.iter().enumerate() {
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

impl ConfirmDialog {
    /// The files' lines: each name whole, wrapped to `width` pixels (a long name takes several
    /// lines, its extension always shown), its size after it; the files that do not fit are
    /// counted on the last line.
    fn file_lines(&self, font: &Font, width: i32) -> Vec<String> {
        let total = self.file_count.max(self.files.len());
        let mut lines: Vec<String> = Vec::new();
        let mut shown = 0;
        for (name, size) in &self.files {
            let text = format!("{name}  ({})", cloison_config::text::human_size(*size));
            let wrapped = wrap(font, &text, width);
            // Keep the last line for "and N more" if files are left out.
            let left = total - shown;
            let room = PREVIEW_LINES.saturating_sub(lines.len() + usize::from(left > 1));
            if wrapped.len() > room {
                break;
            }
            lines.extend(wrapped);
            shown += 1;
        }
        if shown < total {
            lines.push(format!("… and {} more", total - shown));
        }
        lines
    }
}

/// `text` in lines at most `width` pixels wide, broken between characters (names have no
/// spaces to break at); nothing is left out.
pub fn wrap(font: &Font, text: &str, width: i32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for c in text.chars() {
        line.push(c);
        if font.measure(&line, PX) > width && line.chars().count() > 1 {
            line.pop();
            lines.push(std::mem::take(&mut line));
            line.push(c);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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

    #[test]
    fn file_names_are_shown_whole_and_wrapped() {
        let font = Font::new().unwrap();
        let green = Color::rgb(0x2e, 0x9e, 0x44);
        let red = Color::rgb(0xc6, 0x28, 0x28);
        let long = format!("{}.exe", "invoice-".repeat(20));
        let d = ConfirmDialog::files(
            3,
            "low",
            ("LOW".into(), green),
            ("HIGH".into(), red),
            &[
                (long.clone(), 10),
                ("b.txt".into(), 20),
                ("c.txt".into(), 30),
            ],
            60,
        );
        let lines = d.file_lines(&font, WIDTH - 56);
        // Every character of the long name is there, in order, its extension included.
        let joined: String = lines.concat();
        assert!(joined.starts_with(&long), "{lines:?}");
        assert!(lines.len() > 2, "wrapped: {lines:?}");
        assert!(lines.iter().all(|l| font.measure(l, PX) <= WIDTH - 56));
        assert!(lines.iter().any(|l| l.starts_with("b.txt")));
        // More files than lines: counted, never silently dropped.
        let many: Vec<(String, u64)> = (0..40).map(|i| (format!("f{i}.txt"), 1)).collect();
        let d = ConfirmDialog::files(
            4,
            "low",
            ("LOW".into(), green),
            ("HIGH".into(), red),
            &many,
            40,
        );
        let lines = d.file_lines(&font, WIDTH - 56);
        assert_eq!(lines.len(), PREVIEW_LINES);
        assert_eq!(
            lines.last().unwrap(),
            &format!("… and {} more", 40 - (PREVIEW_LINES - 1))
        );
    }
}
