//! The levels' notifications as trusted UI: a stack of cards in a corner of the primary output
//! (`[notifications] position`), each with its level's badge and colour, the app's name, the
//! summary and a few lines of the body — all sanitised like titles (no markup interpreted:
//! what a level sends is shown as the characters it is; controls, bidi and invisible characters
//! dropped; lengths capped) — and its actions as buttons. A click on a card invokes its
//! `default` action (or, without one, focuses the level's window of that app) and dismisses it;
//! its × dismisses it; an action button invokes that action. What a click chose goes to the
//! launcher with the launcher's id, which only the sending connection's level hears.
//!
//! A card never shows over the lock screen, a dialog or the menu; its expiry starts when it is
//! first on screen (one that arrives while locked is shown after unlock). At most
//! `max_shown` cards show (the newest), the others are counted on a last line; each level keeps
//! at most [`MAX_KEPT`] (a flood pushes out its own, never another level's); notifications a
//! level's rate held back are counted per level on one card. "Do not disturb" (the bar's
//! button) hides every card but critical ones; their number shows on the button.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use cloison_config::{Color, Corner};
use cloison_ipc::level::Notification;
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};
use smithay::utils::{Logical, Point, Rectangle, Size};

use super::BAR_HEIGHT;
use super::canvas::{Canvas, mix, text_on};
use super::font::Font;
use crate::state::State;

/// Width of a card.
pub const WIDTH: i32 = 380;
/// Space between cards and from the screen's edges.
pub const GAP: i32 = 8;
const PAD: i32 = 10;
const LINE: i32 = 18;
/// Body lines shown on a card.
pub const BODY_LINES: usize = 3;
/// Characters of the app name, summary and each body line shown.
const MAX_APP: usize = 32;
const MAX_SUMMARY: usize = 120;
const MAX_LINE: usize = 200;
/// Action buttons shown (besides `default`, the click on the card).
pub const MAX_BUTTONS: usize = 3;
const MAX_LABEL: usize = 20;
const BUTTON_H: i32 = 24;
const CLOSE: i32 = 18;
/// Notifications kept per level at most (shown or counted); its older ones are dropped, never
/// another level's.
pub const MAX_KEPT: usize = 16;
const PX: f32 = 13.0;
const PANEL: Color = Color::rgb(0x1b, 0x1e, 0x24);
const INK: Color = Color::rgb(0xe8, 0xe8, 0xe8);
const CRITICAL: Color = Color::rgb(0xff, 0xb3, 0x00);

/// Why a notification went (the Desktop Notifications specification's numbers).
pub mod reason {
    /// Its time was up.
    pub const EXPIRED: u32 = 1;
    /// The user dismissed it (or chose an action).
    pub const DISMISSED: u32 = 2;
    /// Pushed out by newer ones.
    pub const UNDEFINED: u32 = 4;
}

/// One notification, as shown (every string sanitised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The launcher's id.
    pub id: u64,
    /// The level's index.
    pub level: usize,
    /// The app's name as it gave it (sanitised): matched against window app ids.
    pub app: String,
    /// The summary line.
    pub summary: String,
    /// Body lines (at most [`BODY_LINES`]).
    pub body: Vec<String>,
    /// Critical.
    pub critical: bool,
    /// Whether a click on the card is its `default` action.
    pub default_action: bool,
    /// Buttons: (key, label).
    pub buttons: Vec<(String, String)>,
    /// How long it shows once on screen (`None`: until dismissed).
    pub lasts: Option<Duration>,
    /// When it goes (set when it is first on screen).
    pub expires: Option<Instant>,
    /// Whether it has been on screen.
    pub seen: bool,
}

impl Card {
    /// The card for `notification` of level `level` (launcher's id `id`); `default_ms`: the
    /// configured expiry.
    pub fn new(id: u64, level: usize, n: &Notification, default_ms: u64) -> Card {
        use cloison_config::text::sanitize;
        let body = n
            .body
            .split('\n')
            .map(|l| sanitize(l, MAX_LINE))
            .filter(|l| !l.is_empty())
            .take(BODY_LINES)
            .collect();
        let critical = n.urgency >= 2;
        let lasts = match n.expire_ms {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms.into())),
            None if critical => None,
            None => Some(Duration::from_millis(default_ms)),
        };
        Card {
            id,
            level,
            app: sanitize(&n.app, MAX_APP),
            summary: sanitize(&n.summary, MAX_SUMMARY),
            body,
            critical,
            default_action: n.actions.iter().any(|(k, _)| k == "default"),
            buttons: n
                .actions
                .iter()
                .filter(|(k, _)| k != "default")
                .take(MAX_BUTTONS)
                .map(|(k, l)| {
                    let label = sanitize(l, MAX_LABEL);
                    let label = if label.is_empty() {
                        sanitize(k, MAX_LABEL)
                    } else {
                        label
                    };
                    (k.clone(), label)
                })
                .collect(),
            lasts,
            expires: None,
            seen: false,
        }
    }

    /// Its height on screen.
    pub fn height(&self) -> i32 {
        let buttons = if self.buttons.is_empty() {
            0
        } else {
            BUTTON_H + 6
        };
        PAD + 20 + 20 + self.body.len() as i32 * LINE + buttons + PAD
    }

    /// Its buttons, relative to the card: (key, rectangle).
    fn button_rects(&self) -> Vec<(String, Rectangle<i32, Logical>)> {
        let y = self.height() - PAD - BUTTON_H;
        let w = (WIDTH - 2 * PAD - 6 * (MAX_BUTTONS as i32 - 1)) / MAX_BUTTONS as i32;
        self.buttons
            .iter()
            .enumerate()
            .map(|(i, (key, _))| {
                let x = PAD + 8 + i as i32 * (w + 6);
                (
                    key.clone(),
                    Rectangle::new((x, y).into(), (w - 8, BUTTON_H).into()),
                )
            })
            .collect()
    }

    /// Its × button, relative to the card.
    fn close_rect() -> Rectangle<i32, Logical> {
        Rectangle::new((WIDTH - CLOSE - 6, 6).into(), (CLOSE, CLOSE).into())
    }
}

/// What a click on the stack did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Click {
    /// Dismiss card `id` (its ×).
    Dismiss(u64),
    /// Invoke action `key` of card `id`, then dismiss it.
    Action(u64, String),
    /// The card has no default action: focus its level's window of its app, dismiss it.
    Focus(u64),
    /// On the stack but on nothing that acts (a counter line).
    Nothing,
}

/// One line of the stack that is not a card: (level colour or none, text).
type CountLine = (Option<(String, Color)>, String);

/// What the stack shows, in order from the corner (for drawing and caching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackContent {
    /// The cards shown, with their level's (label, colour).
    pub cards: Vec<(Card, (String, Color))>,
    /// Counter lines (held back, more waiting).
    pub counts: Vec<CountLine>,
}

/// The notifications the compositor holds.
pub struct Stack {
    /// Every notification kept, oldest first.
    pub cards: Vec<Card>,
    /// Per level index: notifications its rate held back, and until when that line shows.
    pub held: Vec<(u64, Option<Instant>)>,
    /// Do not disturb: only critical cards show.
    pub quiet: bool,
    /// Notifications that arrived while quiet and were not shown.
    pub missed: u64,
    /// Where (configuration).
    pub corner: Corner,
    /// Cards shown at once (configuration).
    pub max_shown: usize,
    /// Default expiry (configuration).
    pub default_ms: u64,
    /// When what the stack shows last changed (a click within [`super::dialog::ARMING`] of it
    /// does nothing).
    pub changed: Instant,
    cache: RefCell<Option<(StackContent, MemoryRenderBuffer)>>,
    timer: Option<Rc<TimerFd>>,
}

impl Stack {
    /// An empty stack; with a loop, its expiry timer (a timerfd, like every timed source of
    /// the compositor).
    pub fn new(
        config: &cloison_config::NotificationsConfig,
        levels: usize,
        loop_handle: Option<&LoopHandle<'static, State>>,
    ) -> Stack {
        let timer = loop_handle.and_then(|handle| {
            let timer = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )
            .inspect_err(|err| tracing::error!("no notification timer: {err}"))
            .ok()?;
            let timer = Rc::new(timer);
            handle
                .insert_source(
                    Generic::new(timer.clone(), Interest::READ, Mode::Level),
                    |_, timer, state| {
                        let _ = timer.wait();
                        state.expire_notifications();
                        Ok(PostAction::Continue)
                    },
                )
                .inspect_err(|err| tracing::error!("no notification timer: {err}"))
                .ok()?;
            Some(timer)
        });
        Stack {
            cards: Vec::new(),
            held: vec![(0, None); levels],
            quiet: false,
            missed: 0,
            corner: config.position,
            max_shown: config.max_shown.max(1),
            default_ms: config.expire_ms,
            changed: Instant::now(),
            cache: RefCell::new(None),
            timer,
        }
    }

    /// Adds (or replaces, same id) a card; returns the ids of cards pushed out (its level's
    /// oldest, beyond [`MAX_KEPT`] of that level).
    pub fn add(&mut self, card: Card) -> Vec<u64> {
        self.changed = Instant::now();
        if let Some(old) = self.cards.iter_mut().find(|c| c.id == card.id) {
            // A replacement keeps its place; it shows for its own time from now.
            *old = card;
            return Vec::new();
        }
        if self.quiet && !card.critical {
            self.missed += 1;
        }
        let level = card.level;
        self.cards.push(card);
        let of_level = self.cards.iter().filter(|c| c.level == level).count();
        let over = of_level.saturating_sub(MAX_KEPT);
        let pushed: Vec<u64> = self
            .cards
            .iter()
            .filter(|c| c.level == level)
            .take(over)
            .map(|c| c.id)
            .collect();
        self.cards.retain(|c| !pushed.contains(&c.id));
        pushed
    }

    /// Removes card `id`; whether it was there.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.cards.len();
        self.cards.retain(|c| c.id != id);
        let removed = before != self.cards.len();
        if removed {
            self.changed = Instant::now();
        }
        removed
    }

    /// Counts `count` notifications of level `level` held back by its rate.
    pub fn held_back(&mut self, level: usize, count: u64) {
        if let Some(h) = self.held.get_mut(level) {
            if h.0 == 0 {
                // A new line appears (an updated count moves nothing).
                self.changed = Instant::now();
            }
            h.0 = h.0.saturating_add(count);
            h.1 = None;
        }
    }

    /// The cards that show, newest first: each level's newest first (so a level that floods
    /// cannot push another's card out of sight), then the newest of the rest, `max_shown` in
    /// all; only critical ones while quiet.
    fn visible(&self) -> impl Iterator<Item = &Card> {
        let eligible: Vec<usize> = (0..self.cards.len())
            .rev()
            .filter(|&i| !self.quiet || self.cards[i].critical)
            .collect();
        let mut chosen: Vec<usize> = Vec::new();
        for &i in &eligible {
            if chosen.len() < self.max_shown
                && !chosen
                    .iter()
                    .any(|&j| self.cards[j].level == self.cards[i].level)
            {
                chosen.push(i);
            }
        }
        for &i in &eligible {
            if chosen.len() < self.max_shown && !chosen.contains(&i) {
                chosen.push(i);
            }
        }
        chosen.sort_unstable_by(|a, b| b.cmp(a));
        chosen.into_iter().map(|i| &self.cards[i])
    }

    /// Notifications kept but not shown for lack of room.
    fn waiting(&self) -> usize {
        let eligible = self
            .cards
            .iter()
            .filter(|c| !self.quiet || c.critical)
            .count();
        eligible.saturating_sub(self.max_shown)
    }

    /// Once a frame, when the stack is on screen: starts the clocks of cards seen for the
    /// first time, and re-arms the timer.
    pub fn shown(&mut self, now: Instant) {
        let ids: Vec<u64> = self.visible().map(|c| c.id).collect();
        let mut changed = false;
        for card in self.cards.iter_mut().filter(|c| ids.contains(&c.id)) {
            if !card.seen {
                card.seen = true;
                card.expires = card.lasts.map(|d| now + d);
                changed = true;
            }
        }
        for held in &mut self.held {
            if held.0 > 0 && held.1.is_none() {
                held.1 = Some(now + Duration::from_millis(self.default_ms));
                changed = true;
            }
        }
        if changed {
            self.arm(now);
        }
    }

    /// Takes out what expired by `now`: the ids of the expired cards.
    pub fn expire(&mut self, now: Instant) -> Vec<u64> {
        let gone: Vec<u64> = self
            .cards
            .iter()
            .filter(|c| c.expires.is_some_and(|t| t <= now))
            .map(|c| c.id)
            .collect();
        if !gone.is_empty() {
            self.changed = now;
        }
        self.cards.retain(|c| !gone.contains(&c.id));
        for held in &mut self.held {
            if held.1.is_some_and(|t| t <= now) {
                *held = (0, None);
            }
        }
        self.arm(now);
        gone
    }

    /// Arms the timer for the next expiry, if any.
    fn arm(&self, now: Instant) {
        let Some(timer) = &self.timer else {
            return;
        };
        let next = self
            .cards
            .iter()
            .filter_map(|c| c.expires)
            .chain(self.held.iter().filter_map(|h| h.1))
            .min();
        let expiration = match next {
            Some(at) => Expiration::OneShot(TimeSpec::from_duration(
                at.saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
            )),
            None => return,
        };
        if let Err(err) = timer.set(expiration, TimerSetTimeFlags::empty()) {
            tracing::error!("cannot arm the notification timer: {err}");
        }
    }

    /// What shows, with the levels' (label, colour).
    pub fn content(&self, levels: &[(String, Color)]) -> StackContent {
        let level = |i: usize| {
            levels
                .get(i)
                .cloned()
                .unwrap_or_else(|| ("?".into(), Color::rgb(0x50, 0x50, 0x50)))
        };
        let cards = self
            .visible()
            .map(|c| (c.clone(), level(c.level)))
            .collect();
        let mut counts: Vec<CountLine> = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, h)| h.0 > 0)
            .map(|(i, h)| {
                (
                    Some(level(i)),
                    format!("{} more held back (too many at once)", h.0),
                )
            })
            .collect();
        let waiting = self.waiting();
        if waiting > 0 {
            counts.push((None, format!("+ {waiting} more")));
        }
        StackContent { cards, counts }
    }

    /// Where the stack is on an output of `size` (its whole area), for `content`.
    pub fn geometry(
        &self,
        content: &StackContent,
        size: Size<i32, Logical>,
    ) -> Rectangle<i32, Logical> {
        let h = stack_height(content);
        let x = match self.corner {
            Corner::TopRight | Corner::BottomRight => size.w - WIDTH - GAP,
            Corner::TopLeft | Corner::BottomLeft => GAP,
        };
        let y = match self.corner {
            Corner::TopRight | Corner::TopLeft => BAR_HEIGHT + GAP,
            Corner::BottomRight | Corner::BottomLeft => size.h - h - GAP,
        };
        Rectangle::new((x.max(0), y.max(BAR_HEIGHT)).into(), (WIDTH, h).into())
    }

    /// What a click at `pos` (output coordinates) hits, if it is on the stack.
    pub fn hit(
        &self,
        content: &StackContent,
        size: Size<i32, Logical>,
        pos: Point<f64, Logical>,
    ) -> Option<Click> {
        let area = self.geometry(content, size);
        let p = Point::<i32, Logical>::from((pos.x.floor() as i32, pos.y.floor() as i32));
        if (content.cards.is_empty() && content.counts.is_empty()) || !area.contains(p) {
            return None;
        }
        let mut y = area.loc.y;
        for (card, _) in &content.cards {
            let h = card.height();
            if p.y < y + h {
                let rel = Point::<i32, Logical>::from((p.x - area.loc.x, p.y - y));
                if Card::close_rect().contains(rel) {
                    return Some(Click::Dismiss(card.id));
                }
                if let Some((key, _)) = card
                    .button_rects()
                    .into_iter()
                    .find(|(_, r)| r.contains(rel))
                {
                    return Some(Click::Action(card.id, key));
                }
                return Some(if card.default_action {
                    Click::Action(card.id, "default".into())
                } else {
                    Click::Focus(card.id)
                });
            }
            y += h + GAP;
        }
        Some(Click::Nothing)
    }

    /// The stack's image, re-rendered only when what it shows changed.
    pub fn buffer(&self, content: &StackContent, font: &Font) -> MemoryRenderBuffer {
        let mut cache = self.cache.borrow_mut();
        if let Some((cached, buffer)) = cache.as_ref()
            && cached == content
        {
            return buffer.clone();
        }
        let buffer = draw_stack(font, content).into_buffer();
        *cache = Some((content.clone(), buffer.clone()));
        buffer
    }
}

fn stack_height(content: &StackContent) -> i32 {
    let cards: i32 = content.cards.iter().map(|(c, _)| c.height() + GAP).sum();
    let counts = content.counts.len() as i32 * (LINE + 12 + GAP);
    (cards + counts - GAP).max(1)
}

/// Draws the stack: cards from the top, counter lines after them. The gaps are the panel's
/// colour too (the stack is one opaque image).
pub fn draw_stack(font: &Font, content: &StackContent) -> Canvas {
    let background = mix(PANEL, Color::rgb(0, 0, 0), 0.4);
    let mut c = Canvas::new(WIDTH, stack_height(content), background);
    let base = |y: i32| y + font.ascent(PX);
    let mut y = 0;
    for (card, (label, color)) in &content.cards {
        let h = card.height();
        c.fill(0, y, WIDTH, h, PANEL);
        // The level's colour down the left side and along the top: no client draws here.
        c.fill(0, y, 6, h, *color);
        c.fill(0, y, WIDTH, 3, *color);
        if card.critical {
            c.outline(0, y, WIDTH, h, 2, CRITICAL);
            c.fill(0, y, 6, h, *color);
        }
        // Header: badge, app name, ×.
        let badge_w = font.measure(label, PX) + 12;
        c.fill(PAD + 4, y + PAD - 2, badge_w, 20, *color);
        font.draw(
            &mut c,
            label,
            (PAD + 10, base(y + PAD + 1)),
            PX,
            text_on(*color),
            PAD + 4 + badge_w,
        );
        let close = Card::close_rect();
        font.draw(
            &mut c,
            &card.app,
            (PAD + 12 + badge_w, base(y + PAD + 1)),
            PX,
            mix(INK, PANEL, 0.35),
            close.loc.x - 4,
        );
        c.fill(
            close.loc.x,
            y + close.loc.y,
            close.size.w,
            close.size.h,
            mix(PANEL, INK, 0.15),
        );
        font.draw(
            &mut c,
            "×",
            (close.loc.x + 5, base(y + close.loc.y + 1)),
            PX,
            INK,
            close.loc.x + close.size.w,
        );
        // Summary (drawn twice, one pixel apart: bold), then the body.
        for dx in [0, 1] {
            font.draw(
                &mut c,
                &card.summary,
                (PAD + 8 + dx, base(y + PAD + 22)),
                PX,
                INK,
                WIDTH - PAD,
            );
        }
        for (i, line) in card.body.iter().enumerate() {
            font.draw(
                &mut c,
                line,
                (PAD + 8, base(y + PAD + 42 + i as i32 * LINE)),
                PX,
                mix(INK, PANEL, 0.15),
                WIDTH - PAD,
            );
        }
        for ((_, r), (_, label)) in card.button_rects().iter().zip(&card.buttons) {
            let fill = mix(PANEL, INK, 0.18);
            c.fill(r.loc.x, y + r.loc.y, r.size.w, r.size.h, fill);
            let w = font.measure(label, PX).min(r.size.w - 8);
            font.draw(
                &mut c,
                label,
                (r.loc.x + (r.size.w - w) / 2, base(y + r.loc.y + 4)),
                PX,
                INK,
                r.loc.x + r.size.w - 4,
            );
        }
        y += h + GAP;
    }
    for (level, text) in &content.counts {
        let h = LINE + 12;
        c.fill(0, y, WIDTH, h, PANEL);
        let mut x = PAD;
        if let Some((label, color)) = level {
            c.fill(0, y, 6, h, *color);
            let w = font.measure(label, PX) + 12;
            c.fill(PAD + 4, y + 4, w, h - 8, *color);
            font.draw(
                &mut c,
                label,
                (PAD + 10, base(y + 7)),
                PX,
                text_on(*color),
                PAD + 4 + w,
            );
            x = PAD + 12 + w;
        }
        font.draw(&mut c, text, (x, base(y + 7)), PX, INK, WIDTH - PAD);
        y += h + GAP;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> cloison_config::NotificationsConfig {
        cloison_config::NotificationsConfig::default()
    }

    fn note(summary: &str, body: &str, actions: &[(&str, &str)]) -> Notification {
        Notification {
            app: "mail".into(),
            summary: summary.into(),
            body: body.into(),
            urgency: 1,
            expire_ms: None,
            actions: actions
                .iter()
                .map(|(k, l)| (k.to_string(), l.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_card_shows_text_as_plain_characters_capped_and_cleaned() {
        let n = note(
            "<b>bold</b> \u{202e}gpj.exe\u{7}",
            &format!(
                "{}\nsecond\u{200b}\n\nthird\nfourth\nfifth",
                "x".repeat(10_000)
            ),
            &[],
        );
        let card = Card::new(1, 0, &n, 8000);
        // Markup is not interpreted: the tags are characters like any other.
        assert!(card.summary.starts_with("<b>bold</b> "), "{}", card.summary);
        assert!(!card.summary.contains('\u{202e}') && !card.summary.contains('\u{7}'));
        assert_eq!(card.body.len(), BODY_LINES);
        assert!(card.body[0].chars().count() <= MAX_LINE && card.body[0].ends_with('…'));
        assert_eq!(card.body[1], "second");
        assert_eq!(card.body[2], "third");
        assert_eq!(card.lasts, Some(Duration::from_millis(8000)));
    }

    #[test]
    fn clicks_dismiss_invoke_or_focus() {
        let mut stack = Stack::new(&config(), 2, None);
        stack.add(Card::new(1, 0, &note("plain", "", &[]), 8000));
        stack.add(Card::new(
            2,
            1,
            &note("act", "b", &[("default", "Open"), ("reply", "Reply")]),
            8000,
        ));
        let levels = [
            ("LOW".to_string(), Color::rgb(0x2e, 0x9e, 0x44)),
            ("HIGH".to_string(), Color::rgb(0xc6, 0x28, 0x28)),
        ];
        let content = stack.content(&levels);
        let size = Size::from((1280, 800));
        let area = stack.geometry(&content, size);
        assert_eq!(
            area.loc,
            Point::from((1280 - WIDTH - GAP, BAR_HEIGHT + GAP))
        );
        // Newest first: card 2 on top.
        let top = &content.cards[0].0;
        assert_eq!(top.id, 2);
        let at = |x: i32, y: i32| Point::from(((area.loc.x + x) as f64, (area.loc.y + y) as f64));
        assert_eq!(
            stack.hit(&content, size, at(50, 40)),
            Some(Click::Action(2, "default".into()))
        );
        let (key, r) = top.button_rects()[0].clone();
        assert_eq!(key, "reply");
        assert_eq!(
            stack.hit(&content, size, at(r.loc.x + 2, r.loc.y + 2)),
            Some(Click::Action(2, "reply".into()))
        );
        let close = Card::close_rect();
        assert_eq!(
            stack.hit(&content, size, at(close.loc.x + 2, close.loc.y + 2)),
            Some(Click::Dismiss(2))
        );
        let second = top.height() + GAP + 30;
        assert_eq!(
            stack.hit(&content, size, at(50, second)),
            Some(Click::Focus(1))
        );
        assert_eq!(stack.hit(&content, size, Point::from((5.0, 500.0))), None);
        // Drawn in the levels' colours, each card's left edge its level's.
        let canvas = draw_stack(&Font::new().unwrap(), &content);
        assert_eq!(canvas.pixel(2, 20), levels[1].1);
        assert_eq!(canvas.pixel(2, second), levels[0].1);
    }

    #[test]
    fn the_stack_is_bounded_and_expires_only_once_seen() {
        let mut stack = Stack::new(&config(), 2, None);
        // High's one card, then a flood from low: low pushes out its own oldest only.
        assert!(
            stack
                .add(Card::new(1000, 1, &note("high's", "", &[]), 1000))
                .is_empty()
        );
        let mut pushed = Vec::new();
        for id in 1..=(MAX_KEPT as u64 + 5) {
            pushed.extend(stack.add(Card::new(id, 0, &note("n", "", &[]), 1000)));
        }
        assert_eq!(stack.cards.len(), MAX_KEPT + 1);
        assert_eq!(pushed, [1, 2, 3, 4, 5]);
        assert!(stack.cards.iter().any(|c| c.id == 1000));
        stack.remove(1000);
        let content = stack.content(&[("LOW".into(), Color::rgb(0, 0xff, 0))]);
        assert_eq!(content.cards.len(), config().max_shown);
        assert_eq!(
            content.counts.last().unwrap().1,
            format!("+ {} more", MAX_KEPT - config().max_shown)
        );
        // Nothing expires before it was on screen.
        let now = Instant::now();
        assert!(stack.expire(now + Duration::from_secs(3600)).is_empty());
        stack.shown(now);
        let gone = stack.expire(now + Duration::from_secs(2));
        assert_eq!(gone.len(), config().max_shown);
        // A level that floods cannot push another's card out of sight: each level's newest
        // shows.
        stack.add(Card::new(2000, 1, &note("high's", "", &[]), 1000));
        for id in 3000..3020 {
            stack.add(Card::new(id, 0, &note("flood", "", &[]), 1000));
        }
        let two = vec![("LOW".to_string(), Color::rgb(0, 0xff, 0)); 2];
        let content = stack.content(&two);
        assert_eq!(content.cards.len(), config().max_shown);
        assert!(
            content.cards.iter().any(|(c, _)| c.id == 2000),
            "high's card pushed out"
        );
        stack.remove(2000);
        // Quiet: only critical cards show; the others are counted as missed.
        stack.quiet = true;
        stack.add(Card::new(100, 1, &note("n", "", &[]), 1000));
        let mut critical = note("c", "", &[]);
        critical.urgency = 2;
        stack.add(Card::new(101, 1, &critical, 1000));
        let content = stack.content(&vec![("LOW".into(), Color::rgb(0, 0xff, 0)); 2]);
        assert_eq!(content.cards.len(), 1);
        assert_eq!(content.cards[0].0.id, 101);
        assert_eq!(stack.missed, 1);
        // Held back by a level's rate: one counted line for that level.
        stack.held_back(1, 996);
        let content = stack.content(&vec![("LOW".into(), Color::rgb(0, 0xff, 0)); 2]);
        assert!(
            content
                .counts
                .iter()
                .any(|(_, t)| t.starts_with("996 more"))
        );
    }
}
