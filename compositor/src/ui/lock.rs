//! The lock screen, drawn by the compositor like the bar and the dialogs: an opaque picture
//! on every output with the clock, the user's name, the password field (one dot per
//! character typed) and what the last attempt said. Nothing of any level shows through it,
//! and it never holds a level's pixels: it is drawn from trusted state only.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use cloison_config::Color;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::utils::{Logical, Size};
use zeroize::Zeroizing;

use super::canvas::{Canvas, mix};
use super::font::Font;

/// Characters the password field takes.
pub const MAX_PASSWORD_CHARS: usize = 256;

const BACKGROUND: Color = Color::rgb(0x0b, 0x0c, 0x10);
const INK: Color = Color::rgb(0xe8, 0xe8, 0xe8);
const FIELD: Color = Color::rgb(0x1c, 0x1f, 0x26);
const WARN: Color = Color::rgb(0xff, 0xb3, 0x00);

/// The lock's state.
pub struct LockScreen {
    /// Whether the screen is locked.
    pub locked: bool,
    /// What is typed in the password field (zeroed when dropped or cleared).
    pub typed: Zeroizing<String>,
    /// A password went to the launcher and its answer has not come.
    pub checking: bool,
    /// Since when.
    pub checking_since: Option<Instant>,
    /// What the lock says under the field (the last failure, or that the check failed).
    pub message: Option<String>,
    /// No attempt is taken before this (the launcher's back-off after failures).
    pub retry_at: Option<Instant>,
    /// The name shown (the session's user).
    pub user: String,
    /// The last user input, for the idle lock.
    pub last_input: Instant,
    /// The launcher waits for the lock to be on these outputs (before a suspend): each is
    /// taken off once a frame of the lock went to it.
    pub to_show: Option<Vec<smithay::output::Output>>,
    cache: RefCell<HashMap<(i32, i32), (Picture, MemoryRenderBuffer)>>,
}

/// What one output's picture shows (re-drawn only when it changes).
#[derive(Clone, PartialEq, Eq)]
struct Picture {
    clock: String,
    dots: usize,
    checking: bool,
    message: Option<String>,
}

impl LockScreen {
    /// An unlocked screen for `user`.
    pub fn new(user: String) -> LockScreen {
        LockScreen {
            locked: false,
            typed: Zeroizing::new(String::with_capacity(MAX_PASSWORD_CHARS * 4)),
            checking: false,
            checking_since: None,
            message: None,
            retry_at: None,
            user,
            last_input: Instant::now(),
            to_show: None,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// Adds typed text to the field (control characters are not taken; the field is bounded).
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars().filter(|c| !c.is_control()) {
            if self.typed.chars().count() >= MAX_PASSWORD_CHARS {
                break;
            }
            // Within the capacity reserved at creation: the string never moves (a move
            // would leave a copy behind, unzeroed).
            if self.typed.len() + c.len_utf8() > self.typed.capacity() {
                break;
            }
            self.typed.push(c);
        }
    }

    /// Clears the field (the bytes are zeroed).
    pub fn clear(&mut self) {
        zeroize::Zeroize::zeroize(&mut *self.typed);
    }

    /// The picture for an output of `size`, drawn again only when what it shows changed.
    pub fn buffer(&self, size: Size<i32, Logical>, font: &Font, clock: &str) -> MemoryRenderBuffer {
        let picture = Picture {
            clock: clock.to_string(),
            dots: self.typed.chars().count(),
            checking: self.checking,
            message: self.message.clone(),
        };
        let key = (size.w, size.h);
        let mut cache = self.cache.borrow_mut();
        if let Some((cached, buffer)) = cache.get(&key)
            && *cached == picture
        {
            return buffer.clone();
        }
        let buffer = self.draw(size, font, &picture).into_buffer();
        // Outputs come and go: keep a few sizes only.
        if cache.len() > 8 {
            cache.clear();
        }
        cache.insert(key, (picture, buffer.clone()));
        buffer
    }

    fn draw(&self, size: Size<i32, Logical>, font: &Font, p: &Picture) -> Canvas {
        let (w, h) = (
            size.w.clamp(1, super::canvas::MAX_SIDE),
            size.h.clamp(1, super::canvas::MAX_SIDE),
        );
        let mut c = Canvas::new(w, h, BACKGROUND);
        let centre = |c: &mut Canvas, text: &str, y: i32, px: f32, color: Color| {
            let width = font.measure(text, px);
            font.draw(
                c,
                text,
                ((w - width) / 2, y + font.ascent(px)),
                px,
                color,
                w,
            );
        };
        let top = (h / 2 - 140).max(8);
        centre(&mut c, &p.clock, top, 48.0, INK);
        centre(
            &mut c,
            &format!("Locked — {}", self.user),
            top + 80,
            20.0,
            mix(INK, BACKGROUND, 0.25),
        );
        // The field: one dot per character, never the characters.
        let field_w = 360.min(w - 16).max(1);
        let field_x = (w - field_w) / 2;
        let field_y = top + 130;
        c.fill(field_x, field_y, field_w, 40, FIELD);
        c.outline(field_x, field_y, field_w, 40, 2, mix(INK, BACKGROUND, 0.6));
        let dots: String = "*".repeat(p.dots.min(32));
        if p.dots == 0 {
            centre(
                &mut c,
                "Type your password, then Enter",
                field_y + 10,
                16.0,
                mix(INK, BACKGROUND, 0.5),
            );
        } else {
            centre(&mut c, &dots, field_y + 8, 24.0, INK);
        }
        let note = if p.checking {
            Some(("Checking…".to_string(), INK))
        } else {
            p.message.clone().map(|m| (m, WARN))
        };
        if let Some((note, color)) = note {
            centre(&mut c, &note, field_y + 60, 16.0, color);
        }
        c
    }
}
