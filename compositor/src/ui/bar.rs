//! The trusted bar: a strip across the top of the output, drawn above everything (fullscreen
//! windows, popups, cursors). It shows which level has the keyboard, each level's state
//! (windows, attention), the latest notification and the clock — all from trusted state; no
//! client string ever reaches it.
//!
//! The image is re-rendered only when its content changes (compared each frame, cheaply); a
//! timerfd wakes the compositor at the next minute (clock) or when a notification expires.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cloison_config::Color;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};

use super::BAR_HEIGHT;
use super::canvas::{Canvas, mix, text_on};
use super::font::Font;
use crate::state::State;

/// How long a notification stays in the bar.
pub const NOTIFICATION_TIME: Duration = Duration::from_secs(6);

const BACKGROUND: Color = Color::rgb(0x11, 0x13, 0x18);
const DIM: Color = Color::rgb(0xc8, 0xc8, 0xc8);
const ATTENTION: Color = Color::rgb(0xff, 0xb3, 0x00);
const PX: f32 = 14.0;

/// One level as the bar shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChip {
    /// Label (configuration).
    pub label: String,
    /// Colour (configuration).
    pub color: Color,
    /// Mapped windows.
    pub windows: usize,
    /// Some window of the level wants attention.
    pub attention: bool,
    /// Whether the level's cage runs.
    pub running: bool,
    /// Its network: (text, whether it is a problem), when the launcher said.
    pub network: Option<(String, bool)>,
}

/// Everything the bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarContent {
    /// Output width.
    pub width: i32,
    /// The level with the keyboard: (label, colour).
    pub focused: Option<(String, Color)>,
    /// The keyboard layout the focused level types with (`"fr"`), shown beside its label: a
    /// password is typed knowing which layout it goes through.
    pub layout: Option<String>,
    /// The label of the level holding the pointer (a lock or confinement), while one does.
    pub pointer_held: Option<String>,
    /// Every level.
    pub levels: Vec<LevelChip>,
    /// The current notification.
    pub notification: Option<String>,
    /// `HH:MM`, local time.
    pub clock: String,
    /// Do not disturb: `Some(notifications not shown)` while on.
    pub quiet: Option<u64>,
}

/// The bar's state.
pub struct Bar {
    /// One image per output width (displays of different widths each keep theirs).
    cache: RefCell<Vec<(BarContent, MemoryRenderBuffer)>>,
    /// The clock text, refreshed when the bar timer fires (each minute).
    pub clock: String,
    /// The current notification and when it expires.
    pub notification: Option<(String, Instant)>,
    /// A file transfer in progress: (id, text); a click on it cancels the transfer.
    pub transfer: Option<(u64, String)>,
    timer: Rc<TimerFd>,
}

impl Bar {
    /// Creates the bar and its refresh timer.
    pub fn new(loop_handle: &LoopHandle<'static, State>) -> std::io::Result<Bar> {
        let timer = Rc::new(
            TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )
            .map_err(std::io::Error::from)?,
        );
        loop_handle
            .insert_source(
                Generic::new(timer.clone(), Interest::READ, Mode::Level),
                |_, timer, state| {
                    let _ = timer.wait();
                    state.ui.bar.expire();
                    state.ui.bar.arm();
                    state.queue_redraw();
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let bar = Bar {
            cache: RefCell::new(Vec::new()),
            clock: clock(),
            notification: None,
            transfer: None,
            timer,
        };
        bar.arm();
        Ok(bar)
    }

    /// Drops an expired notification.
    fn expire(&mut self) {
        if self
            .notification
            .as_ref()
            .is_some_and(|(_, until)| *until <= Instant::now())
        {
            self.notification = None;
        }
    }

    /// Arms the timer for the next minute boundary or the notification's expiry.
    pub fn arm(&self) {
        let now_secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let to_minute = Duration::from_secs(60)
            - Duration::from_nanos((now_secs.as_nanos() % 60_000_000_000) as u64);
        let mut wait = to_minute;
        if let Some((_, until)) = &self.notification {
            wait = wait.min(until.saturating_duration_since(Instant::now()));
        }
        let wait = wait.max(Duration::from_millis(1));
        if let Err(err) = self.timer.set(
            Expiration::OneShot(TimeSpec::from_duration(wait)),
            TimerSetTimeFlags::empty(),
        ) {
            tracing::error!("cannot arm the bar timer: {err}");
        }
    }

    /// Shows `text` for [`NOTIFICATION_TIME`].
    pub fn notify(&mut self, text: String) {
        tracing::info!(notification = %text);
        self.notification = Some((text, Instant::now() + NOTIFICATION_TIME));
        self.arm();
    }

    /// The bar image for `content`, re-rendered only if it changed for that width.
    pub fn buffer(&self, content: BarContent, font: &Font) -> MemoryRenderBuffer {
        /// More widths than displays a workstation has: the oldest goes.
        const WIDTHS: usize = 8;
        let mut cache = self.cache.borrow_mut();
        let slot = cache.iter().position(|(c, _)| c.width == content.width);
        if let Some(i) = slot
            && cache[i].0 == content
        {
            return cache[i].1.clone();
        }
        let buffer = draw_bar(font, &content).into_buffer();
        match slot {
            Some(i) => cache[i] = (content, buffer.clone()),
            None => {
                if cache.len() == WIDTHS {
                    cache.remove(0);
                }
                cache.push((content, buffer.clone()));
            }
        }
        buffer
    }
}

/// Local time as `HH:MM`.
pub fn clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: `tm` is a plain C struct for which all-zero is valid; localtime_r only writes it
    // and reads `now`, both valid for the call, and is thread-safe (unlike localtime).
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        tm
    };
    format!("{:02}:{:02}", tm.tm_hour, tm.tm_min)
}

/// Width of the clock's area at the right end of the bar.
const CLOCK_W: i32 = 64;
/// Width of the launcher menu's button, left of the clock.
pub const MENU_BUTTON_W: i32 = 72;

/// Where the menu button is on a bar `width` pixels wide: (x, width).
pub fn menu_button(width: i32) -> (i32, i32) {
    (width - CLOCK_W - MENU_BUTTON_W, MENU_BUTTON_W)
}

/// Width of the "do not disturb" button, left of the menu button.
pub const QUIET_BUTTON_W: i32 = 84;

/// Where the "do not disturb" button is on a bar `width` pixels wide: (x, width).
pub fn quiet_button(width: i32) -> (i32, i32) {
    (menu_button(width).0 - 6 - QUIET_BUTTON_W, QUIET_BUTTON_W)
}

/// Whether `pos` (output coordinates) is on the bar's "do not disturb" button.
pub fn quiet_button_hit(
    width: i32,
    pos: smithay::utils::Point<f64, smithay::utils::Logical>,
) -> bool {
    let (x, w) = quiet_button(width);
    pos.y >= 0.0 && (pos.y as i32) < BAR_HEIGHT && (pos.x as i32) >= x && (pos.x as i32) < x + w
}

/// Whether `pos` (output coordinates) is on the bar's menu button.
pub fn menu_button_hit(
    width: i32,
    pos: smithay::utils::Point<f64, smithay::utils::Logical>,
) -> bool {
    let (x, w) = menu_button(width);
    pos.y >= 0.0 && (pos.y as i32) < BAR_HEIGHT && (pos.x as i32) >= x && (pos.x as i32) < x + w
}

/// Draws the bar.
pub fn draw_bar(font: &Font, content: &BarContent) -> Canvas {
    let h = BAR_HEIGHT;
    let mut canvas = Canvas::new(content.width, h, BACKGROUND);
    let baseline = (h + font.ascent(PX)) / 2 - 1;
    let (button_x, button_w) = menu_button(content.width);
    let (quiet_x, quiet_w) = quiet_button(content.width);
    let right_limit = quiet_x - 8;

    // Who has the keyboard: the level's label on its colour, large and first.
    let (label, color) = match (&content.focused, &content.layout) {
        (Some((label, color)), Some(layout)) => (format!("⌨ {label} · {layout}"), *color),
        (Some((label, color)), None) => (format!("⌨ {label}"), *color),
        (None, _) => ("⌨ no focus".to_string(), Color::rgb(0x50, 0x50, 0x50)),
    };
    let chip_w = font.measure(&label, PX) + 20;
    canvas.fill(0, 0, chip_w, h, color);
    let ink = text_on(color);
    font.draw(&mut canvas, &label, (10, baseline), PX, ink, chip_w);
    font.draw(&mut canvas, &label, (11, baseline), PX, ink, chip_w);

    // A level holding the pointer: who, and how to take it back (Super always does).
    let mut x = chip_w + 14;
    if let Some(holder) = &content.pointer_held {
        let text = format!("{holder} holds the pointer · Super frees it");
        let w = font.measure(&text, PX) + 16;
        canvas.fill(x - 6, 3, w, h - 6, ATTENTION);
        font.draw(
            &mut canvas,
            &text,
            (x + 2, baseline),
            PX,
            text_on(ATTENTION),
            x + w,
        );
        x += w + 8;
    }

    // Each level: colour square, label, window count, attention marker.
    for level in &content.levels {
        canvas.fill(x, (h - 12) / 2, 12, 12, level.color);
        x += 18;
        x = font.draw(
            &mut canvas,
            &level.label,
            (x, baseline),
            PX,
            DIM,
            right_limit,
        );
        let count = if level.running {
            format!(" {}", level.windows)
        } else {
            " stopped".to_string()
        };
        x = font.draw(
            &mut canvas,
            &count,
            (x, baseline),
            PX,
            if level.running {
                mix(DIM, BACKGROUND, 0.4)
            } else {
                ATTENTION
            },
            right_limit,
        );
        if let Some((text, alert)) = &level.network {
            x = font.draw(
                &mut canvas,
                &format!(" · {text}"),
                (x, baseline),
                PX,
                if *alert {
                    ATTENTION
                } else {
                    mix(DIM, BACKGROUND, 0.4)
                },
                right_limit,
            );
        }
        if level.attention {
            x += 6;
            canvas.fill(x, 5, 18, h - 10, ATTENTION);
            font.draw(
                &mut canvas,
                "!",
                (x + 6, baseline),
                PX,
                Color::rgb(0, 0, 0),
                x + 18,
            );
            x += 18;
        }
        x += 18;
    }

    if let Some(text) = &content.notification {
        font.draw(
            &mut canvas,
            text,
            (x + 10, baseline),
            PX,
            Color::rgb(0xff, 0xff, 0xff),
            right_limit,
        );
    }
    // Do not disturb: amber while on, with how many notifications it kept off the screen.
    let (quiet_label, quiet_fill) = match content.quiet {
        Some(0) => ("Quiet".to_string(), ATTENTION),
        Some(n) => (format!("Quiet ({n})"), ATTENTION),
        None => ("Notify".to_string(), mix(BACKGROUND, DIM, 0.18)),
    };
    canvas.fill(quiet_x, 4, quiet_w, h - 8, quiet_fill);
    font.draw(
        &mut canvas,
        &quiet_label,
        (quiet_x + 10, baseline),
        PX,
        text_on(quiet_fill),
        quiet_x + quiet_w,
    );
    // The launcher menu's button.
    let button = mix(BACKGROUND, DIM, 0.18);
    canvas.fill(button_x, 4, button_w, h - 8, button);
    font.draw(
        &mut canvas,
        "≡ Apps",
        (button_x + 10, baseline),
        PX,
        Color::rgb(0xff, 0xff, 0xff),
        button_x + button_w,
    );
    font.draw(
        &mut canvas,
        &content.clock,
        (
            content.width - font.measure(&content.clock, PX) - 10,
            baseline,
        ),
        PX,
        DIM,
        content.width,
    );
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_focused_level_chip_is_its_colour() {
        let font = Font::new().unwrap();
        let red = Color::rgb(0xc6, 0x28, 0x28);
        let content = BarContent {
            width: 800,
            focused: Some(("HIGH".into(), red)),
            layout: None,
            pointer_held: None,
            levels: vec![LevelChip {
                label: "HIGH".into(),
                color: red,
                windows: 1,
                attention: true,
                running: true,
                network: Some(("tunnel down".into(), true)),
            }],
            notification: Some("hello".into()),
            clock: "12:34".into(),
            quiet: None,
        };
        let canvas = draw_bar(&font, &content);
        assert_eq!(canvas.pixel(1, 1), red);
        assert_eq!(canvas.pixel(1, BAR_HEIGHT - 1), red);
        let none = draw_bar(
            &font,
            &BarContent {
                focused: None,
                layout: None,
                ..content.clone()
            },
        );
        assert_eq!(none.pixel(1, 1), Color::rgb(0x50, 0x50, 0x50));
    }

    /// Pixels of `colour` (near enough) in the canvas.
    fn count(canvas: &Canvas, colour: Color) -> usize {
        let mut n = 0;
        for y in 0..canvas.height {
            for x in 0..canvas.width {
                let p = canvas.pixel(x, y);
                if p.r.abs_diff(colour.r) < 24
                    && p.g.abs_diff(colour.g) < 24
                    && p.b.abs_diff(colour.b) < 24
                {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn a_level_holding_the_pointer_is_named_on_the_bar() {
        let font = Font::new().unwrap();
        let content = |held: Option<&str>| BarContent {
            width: 800,
            focused: None,
            layout: Some("fr".into()),
            pointer_held: held.map(str::to_string),
            levels: Vec::new(),
            notification: None,
            clock: "12:34".into(),
            quiet: None,
        };
        let free = draw_bar(&font, &content(None));
        let held = draw_bar(&font, &content(Some("HIGH")));
        assert_eq!(count(&free, ATTENTION), 0);
        assert!(
            count(&held, ATTENTION) > 500,
            "a chip in the warning colour"
        );
    }

    #[test]
    fn a_level_s_network_shows_after_it_in_the_warning_colour_when_down() {
        let font = Font::new().unwrap();
        let green = Color::rgb(0x2e, 0x9e, 0x44);
        let chip = |network: Option<(String, bool)>| BarContent {
            width: 800,
            focused: None,
            layout: None,
            pointer_held: None,
            levels: vec![LevelChip {
                label: "LOW".into(),
                color: green,
                windows: 1,
                attention: false,
                running: true,
                network,
            }],
            notification: None,
            clock: "12:34".into(),
            quiet: None,
        };
        let none = draw_bar(&font, &chip(None));
        let up = draw_bar(
            &font,
            &chip(Some(("tunnel up → 192.0.2.7:51820".into(), false))),
        );
        let down = draw_bar(
            &font,
            &chip(Some(("tunnel down → 192.0.2.7:51820".into(), true))),
        );
        // Text is drawn for the network, and only a problem is in the warning colour.
        let differs =
            (0..up.height).any(|y| (0..up.width).any(|x| none.pixel(x, y) != up.pixel(x, y)));
        assert!(differs, "no network text drawn");
        assert_eq!(count(&up, ATTENTION), count(&none, ATTENTION));
        assert!(count(&down, ATTENTION) > count(&none, ATTENTION) + 20);
    }

    #[test]
    fn clock_is_hh_mm() {
        let c = clock();
        assert_eq!(c.len(), 5);
        assert_eq!(&c[2..3], ":");
    }
}
