//! Trusted UI: window frames, popup frames and the trusted bar — pixels no client controls.
//!
//! Every toplevel gets a frame in its level's colour: a border of [`BORDER`] pixels on all four
//! sides and a title bar holding the level badge (label on colour, from configuration only), the
//! client's sanitised title and three buttons. Client content is clipped to the window's
//! geometry (the area the frame encloses); popups get a [`POPUP_BORDER`]-pixel frame. The bar
//! ([`bar`]) spans the top of the output above everything, cursors included.
//!
//! Geometry (logical pixels, scale 1):
//!
//! ```text
//! outer ┌──────────────────────────────┐  BORDER (level colour)
//!       │[LOW] title text        _ □ × │  TITLE_HEIGHT (title bar)
//!       │┌────────────────────────────┐│
//!       ││ content = window geometry  ││  BORDER on the left/right
//!       │└────────────────────────────┘│
//!       └──────────────────────────────┘  BORDER
//! ```
//!
//! Fullscreen windows keep the border (no title bar): a fullscreen client still sits inside
//! its level's colour, below the bar.

pub mod bar;
pub mod canvas;
pub mod decorations;
pub mod dialog;
pub mod font;
pub mod lock;
pub mod menu;
pub mod notifications;
pub mod ring;

use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::ResizeEdge;
use smithay::utils::{Logical, Point, Rectangle};

/// Height of the trusted bar.
pub const BAR_HEIGHT: i32 = 28;
/// Width of a window's coloured border.
pub const BORDER: i32 = 4;
/// Height of a window's title bar.
pub const TITLE_HEIGHT: i32 = 26;
/// Width of a popup's coloured frame.
pub const POPUP_BORDER: i32 = 2;
/// Largest client cursor (and drag icon) drawn, in each dimension; larger ones are replaced by
/// the default cursor (icons: not drawn).
pub const MAX_CURSOR: i32 = 64;
/// Along a side, how far from a corner the corner's diagonal resize applies.
const CORNER: i32 = 20;

/// Trusted-UI state owned by the compositor.
pub struct Ui {
    /// The shipped font.
    pub font: font::Font,
    /// The trusted bar.
    pub bar: bar::Bar,
    /// The launcher menu.
    pub menu: menu::Menu,
    /// The confirmation on screen, if any (modal).
    pub dialog: Option<dialog::ConfirmDialog>,
    /// When it came to the front: it takes no answer before [`dialog::ARMING`] after that.
    pub dialog_since: std::time::Instant,
    /// Confirmations waiting: a paste asked while another dialog was up (shown next), and
    /// transfers asked by a level that did not have the keyboard (shown when the user clicks
    /// their line in the bar). At most one per level and kind (the launcher refuses more).
    pub dialogs_waiting: Vec<dialog::ConfirmDialog>,
    /// When the user last refused transfer requests, per level that asked: a level whose
    /// requests the user refused twice within [`dialog::REFUSED_WINDOW`] no longer gets a
    /// dialog at once (its requests wait behind the bar line), so a loop of requests cannot
    /// keep a modal dialog in front of the user.
    pub refused_asks: std::collections::HashMap<String, Vec<std::time::Instant>>,
    /// Its image.
    pub dialog_cache: dialog::DialogCache,
    /// The lock screen.
    pub lock: lock::LockScreen,
    /// The levels' notifications.
    pub notifications: notifications::Stack,
}

/// A title-bar button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Button {
    /// Minimize.
    Minimize,
    /// Maximize or restore.
    Maximize,
    /// Ask the client to close.
    Close,
}

/// Which part of a framed window a point is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The client's content.
    Content,
    /// The title bar (drag to move, double-click to maximize).
    Title,
    /// A title-bar button.
    Button(Button),
    /// A border or corner (drag to resize).
    Edge(ResizeEdge),
}

/// Where the frame of a window with a given content rectangle goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLayout {
    /// The client's content (its xdg geometry), where its surfaces are clipped to.
    pub content: Rectangle<i32, Logical>,
    /// The title bar, if any (none when fullscreen).
    pub title: Option<Rectangle<i32, Logical>>,
    /// Everything the frame encloses, frame included.
    pub outer: Rectangle<i32, Logical>,
}

impl FrameLayout {
    /// The frame around `content`.
    pub fn new(content: Rectangle<i32, Logical>, fullscreen: bool) -> FrameLayout {
        let title_h = if fullscreen { 0 } else { TITLE_HEIGHT };
        let outer = Rectangle::new(
            (content.loc.x - BORDER, content.loc.y - title_h - BORDER).into(),
            (
                content.size.w + 2 * BORDER,
                content.size.h + title_h + 2 * BORDER,
            )
                .into(),
        );
        let title = (!fullscreen).then(|| {
            Rectangle::new(
                (content.loc.x, content.loc.y - TITLE_HEIGHT).into(),
                (content.size.w, TITLE_HEIGHT).into(),
            )
        });
        FrameLayout {
            content,
            title,
            outer,
        }
    }

    /// Content position for a frame whose outer rectangle starts at `outer_loc`.
    pub fn content_loc(outer_loc: Point<i32, Logical>, fullscreen: bool) -> Point<i32, Logical> {
        let title_h = if fullscreen { 0 } else { TITLE_HEIGHT };
        (outer_loc.x + BORDER, outer_loc.y + BORDER + title_h).into()
    }

    /// Extra size the frame adds around content.
    pub fn extra(fullscreen: bool) -> (i32, i32) {
        let title_h = if fullscreen { 0 } else { TITLE_HEIGHT };
        (2 * BORDER, 2 * BORDER + title_h)
    }

    /// The four border strips: top, bottom, left, right.
    pub fn borders(&self) -> [Rectangle<i32, Logical>; 4] {
        let o = self.outer;
        let c = self.content;
        let side_h = o.size.h - 2 * BORDER;
        [
            Rectangle::new(o.loc, (o.size.w, BORDER).into()),
            Rectangle::new(
                (o.loc.x, c.loc.y + c.size.h).into(),
                (o.size.w, BORDER).into(),
            ),
            Rectangle::new((o.loc.x, o.loc.y + BORDER).into(), (BORDER, side_h).into()),
            Rectangle::new(
                (c.loc.x + c.size.w, o.loc.y + BORDER).into(),
                (BORDER, side_h).into(),
            ),
        ]
    }

    /// The title-bar buttons, right to left: close, maximize, minimize.
    pub fn buttons(&self) -> Vec<(Button, Rectangle<i32, Logical>)> {
        let Some(t) = self.title else {
            return Vec::new();
        };
        [Button::Close, Button::Maximize, Button::Minimize]
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let x = t.loc.x + t.size.w - (i as i32 + 1) * TITLE_HEIGHT;
                (
                    b,
                    Rectangle::new((x, t.loc.y).into(), (TITLE_HEIGHT, TITLE_HEIGHT).into()),
                )
            })
            .filter(|(_, r)| r.loc.x >= t.loc.x)
            .collect()
    }

    /// What is at `pos`, if it is inside the frame.
    pub fn hit(&self, pos: Point<f64, Logical>, resizable: bool) -> Option<Part> {
        let p = pos.to_i32_floor();
        if !self.outer.contains(p) {
            return None;
        }
        if self.content.contains(p) {
            return Some(Part::Content);
        }
        if let Some(title) = self.title
            && title.contains(p)
        {
            let button = self.buttons().into_iter().find(|(_, r)| r.contains(p));
            return Some(button.map_or(Part::Title, |(b, _)| Part::Button(b)));
        }
        if !resizable {
            return Some(Part::Title);
        }
        let (o, c) = (self.outer, self.content);
        let left = p.x < c.loc.x;
        let right = p.x >= c.loc.x + c.size.w;
        let top = p.y < o.loc.y + BORDER;
        let bottom = p.y >= c.loc.y + c.size.h;
        let near_top = p.y < o.loc.y + CORNER;
        let near_bottom = p.y >= o.loc.y + o.size.h - CORNER;
        let near_left = p.x < o.loc.x + CORNER;
        let near_right = p.x >= o.loc.x + o.size.w - CORNER;
        let edge = match (
            left || (near_left && (top || bottom)),
            right || (near_right && (top || bottom)),
            top || (near_top && (left || right)),
            bottom || (near_bottom && (left || right)),
        ) {
            (true, _, true, _) => ResizeEdge::TopLeft,
            (true, _, _, true) => ResizeEdge::BottomLeft,
            (_, true, true, _) => ResizeEdge::TopRight,
            (_, true, _, true) => ResizeEdge::BottomRight,
            (true, _, _, _) => ResizeEdge::Left,
            (_, true, _, _) => ResizeEdge::Right,
            (_, _, true, _) => ResizeEdge::Top,
            _ => ResizeEdge::Bottom,
        };
        Some(Part::Edge(edge))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> FrameLayout {
        FrameLayout::new(Rectangle::new((100, 100).into(), (200, 150).into()), false)
    }

    #[test]
    fn frame_surrounds_content() {
        let l = layout();
        assert_eq!(l.outer, Rectangle::new((96, 70).into(), (208, 184).into()));
        assert_eq!(
            l.title,
            Some(Rectangle::new((100, 74).into(), (200, 26).into()))
        );
        let [top, bottom, left, right] = l.borders();
        assert_eq!(top, Rectangle::new((96, 70).into(), (208, 4).into()));
        assert_eq!(bottom, Rectangle::new((96, 250).into(), (208, 4).into()));
        assert_eq!(left, Rectangle::new((96, 74).into(), (4, 176).into()));
        assert_eq!(right, Rectangle::new((300, 74).into(), (4, 176).into()));
        assert_eq!(FrameLayout::content_loc(l.outer.loc, false), l.content.loc);
    }

    #[test]
    fn fullscreen_has_a_border_but_no_title() {
        let l = FrameLayout::new(Rectangle::new((4, 32).into(), (100, 100).into()), true);
        assert_eq!(l.title, None);
        assert_eq!(l.outer, Rectangle::new((0, 28).into(), (108, 108).into()));
    }

    #[test]
    fn hit_testing() {
        let l = layout();
        let at = |x: f64, y: f64| l.hit((x, y).into(), true);
        assert_eq!(at(150.0, 150.0), Some(Part::Content));
        assert_eq!(at(120.0, 80.0), Some(Part::Title));
        assert_eq!(at(290.0, 80.0), Some(Part::Button(Button::Close)));
        assert_eq!(at(265.0, 80.0), Some(Part::Button(Button::Maximize)));
        assert_eq!(at(240.0, 80.0), Some(Part::Button(Button::Minimize)));
        assert_eq!(at(97.0, 150.0), Some(Part::Edge(ResizeEdge::Left)));
        assert_eq!(at(302.0, 150.0), Some(Part::Edge(ResizeEdge::Right)));
        assert_eq!(at(150.0, 71.0), Some(Part::Edge(ResizeEdge::Top)));
        assert_eq!(at(150.0, 252.0), Some(Part::Edge(ResizeEdge::Bottom)));
        assert_eq!(at(97.0, 71.0), Some(Part::Edge(ResizeEdge::TopLeft)));
        assert_eq!(at(302.0, 252.0), Some(Part::Edge(ResizeEdge::BottomRight)));
        assert_eq!(
            at(97.0, 245.0),
            Some(Part::Edge(ResizeEdge::BottomLeft)),
            "corner zone"
        );
        assert_eq!(at(50.0, 50.0), None);
        assert_eq!(
            l.hit((97.0, 150.0).into(), false),
            Some(Part::Title),
            "not resizable: moves"
        );
    }
}
