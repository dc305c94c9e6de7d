//! Window and popup frames: what they look like and the render elements that draw them.
//!
//! Each window keeps a [`Decoration`] in its user data: its border ring (one element with a
//! stable id, so the damage tracker redraws it only when it moves or resizes) and the title bar
//! image, re-rendered only when its width, title, focus or maximized state changes.

use std::cell::RefCell;
use std::sync::Mutex;

use cloison_config::Color;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::{Element, Id, Kind, RenderElement};
use smithay::backend::renderer::utils::{CommitCounter, DamageSet};
use smithay::backend::renderer::{ImportMem, Renderer};
use smithay::desktop::Window;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Buffer, Logical, Physical, Point, Rectangle, Scale};
use smithay::wayland::compositor::with_states;

use super::canvas::{Canvas, mix, text_on};
use super::font::Font;
use super::ring::{RingElement, RingId};
use super::{BORDER, Button, FrameLayout, POPUP_BORDER, TITLE_HEIGHT};

/// Neutral dark the title bar's level tint is mixed with.
const DARK: Color = Color::rgb(0x1a, 0x1a, 0x1a);
/// Title text size.
const TITLE_PX: f32 = 14.0;

/// What the title bar shows; the image is re-rendered when this changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleKey {
    /// Width in pixels.
    pub width: i32,
    /// The client's title, as sent (sanitised when drawn).
    pub raw_title: String,
    /// Whether the window has keyboard focus.
    pub focused: bool,
    /// Whether it is maximized (the maximize button shows "restore").
    pub maximized: bool,
}

/// What decides whether the title bar image must be redrawn; cheap to compare every frame
/// (the title itself is read only when its generation changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TitleState {
    /// Width in pixels.
    pub width: i32,
    /// Bumped each time the client sets its title (filled in by [`Decoration::update`]).
    pub generation: u64,
    /// Whether the window has keyboard focus.
    pub focused: bool,
    /// Whether it is maximized.
    pub maximized: bool,
}

/// A window's frame.
pub struct Decoration {
    color: Color,
    ring: RingId,
    title: Option<(TitleState, MemoryRenderBuffer)>,
    /// Identity of the frame element: the border ring's id, and a commit counter bumped when
    /// the title bar image changes (the ring tracks its own size changes).
    id: Id,
    commit: CommitCounter,
    ring_commit: Option<CommitCounter>,
    /// Bumped each time the client sets its title.
    pub title_generation: u64,
}

impl Decoration {
    fn new(color: Color) -> Decoration {
        Decoration {
            color,
            ring: RingId::default(),
            title: None,
            id: Id::new(),
            commit: CommitCounter::default(),
            ring_commit: None,
            title_generation: 0,
        }
    }

    /// Brings the frame up to date with the window's layout and title.
    pub fn update(
        &mut self,
        state: Option<TitleState>,
        label: &str,
        font: &Font,
        title: impl FnOnce() -> String,
    ) {
        let state = state.map(|s| TitleState {
            generation: self.title_generation,
            ..s
        });
        match state {
            None => {
                if self.title.take().is_some() {
                    self.commit.increment();
                }
            }
            Some(state) => {
                if self.title.as_ref().is_none_or(|(s, _)| *s != state) {
                    let key = TitleKey {
                        width: state.width,
                        raw_title: title(),
                        focused: state.focused,
                        maximized: state.maximized,
                    };
                    let canvas = draw_title_bar(font, &key, label, self.color);
                    self.title = Some((state, canvas.into_buffer()));
                    self.commit.increment();
                }
            }
        }
    }

    /// The frame as one render element for `layout` (title bar and border together: the
    /// damage tracker's work grows with the number of elements, not with their area).
    pub fn element<R>(
        &mut self,
        renderer: &mut R,
        layout: &FrameLayout,
        scale: i32,
    ) -> FrameElement<R>
    where
        R: Renderer + ImportMem,
        R::TextureId: Send + Clone + 'static,
    {
        let inner = Rectangle::new(
            (layout.content.loc.x, layout.outer.loc.y + BORDER).into(),
            (layout.content.size.w, layout.outer.size.h - 2 * BORDER).into(),
        );
        let ring = self
            .ring
            .element(inner, BORDER, self.color.to_f32_rgba().into(), scale);
        // The ring bumps its own counter when it resizes; fold it into ours.
        let ring_commit = Element::current_commit(&ring);
        if self.ring_commit != Some(ring_commit) {
            self.ring_commit = Some(ring_commit);
            self.commit.increment();
        }
        let title = match (&self.title, layout.title) {
            (Some((_, buffer)), Some(rect)) => match MemoryRenderBufferRenderElement::from_buffer(
                renderer,
                rect.loc.to_f64().to_physical(scale as f64),
                buffer,
                None,
                None,
                None,
                Kind::Unspecified,
            ) {
                Ok(element) => Some(element),
                Err(err) => {
                    tracing::warn!("cannot draw a title bar: {err:?}");
                    None
                }
            },
            _ => None,
        };
        FrameElement {
            id: self.id.clone(),
            commit: self.commit,
            outer: layout.outer.to_physical(scale),
            scale: Scale::from(scale as f64),
            ring,
            title,
        }
    }
}

/// A window's whole frame — border ring and title bar — as one render element.
pub struct FrameElement<R: Renderer> {
    id: Id,
    commit: CommitCounter,
    outer: Rectangle<i32, Physical>,
    /// The output scale it was built for.
    scale: Scale<f64>,
    ring: RingElement,
    title: Option<MemoryRenderBufferRenderElement<R>>,
}

impl<R: Renderer> FrameElement<R> {
    /// The title bar's rectangle relative to the frame.
    fn title_rect(&self) -> Option<Rectangle<i32, Physical>> {
        let title = self.title.as_ref()?;
        let g = title.geometry(self.scale);
        Some(Rectangle::new(g.loc - self.outer.loc, g.size))
    }

    /// The ring's rectangle relative to the frame.
    fn ring_offset(&self) -> Point<i32, Physical> {
        self.ring.geometry(self.scale).loc - self.outer.loc
    }
}

impl<R: Renderer> Element for FrameElement<R> {
    fn id(&self) -> &Id {
        &self.id
    }

    fn current_commit(&self) -> CommitCounter {
        self.commit
    }

    fn src(&self) -> Rectangle<f64, Buffer> {
        Rectangle::from_size((self.outer.size.w as f64, self.outer.size.h as f64).into())
    }

    fn geometry(&self, _scale: Scale<f64>) -> Rectangle<i32, Physical> {
        self.outer
    }

    fn damage_since(
        &self,
        scale: Scale<f64>,
        commit: Option<CommitCounter>,
    ) -> DamageSet<i32, Physical> {
        if commit == Some(self.commit) {
            return DamageSet::default();
        }
        let offset = self.ring_offset();
        let mut damage: Vec<Rectangle<i32, Physical>> = self
            .ring
            .damage_since(scale, None)
            .into_iter()
            .map(|r| Rectangle::new(r.loc + offset, r.size))
            .collect();
        damage.extend(self.title_rect());
        DamageSet::from_slice(&damage)
    }

    fn kind(&self) -> Kind {
        Kind::Unspecified
    }
}

impl<R> RenderElement<R> for FrameElement<R>
where
    R: Renderer + ImportMem,
    R::TextureId: 'static,
{
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        _src: Rectangle<f64, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        // Damage is relative to this element; hand each part its own share.
        let part = |rect: Rectangle<i32, Physical>| -> Vec<Rectangle<i32, Physical>> {
            damage
                .iter()
                .filter_map(|d| d.intersection(rect))
                .map(|d| Rectangle::new(d.loc - rect.loc, d.size))
                .collect()
        };
        let ring_rect = Rectangle::new(self.ring_offset(), self.ring.geometry(self.scale).size);
        let ring_damage = part(ring_rect);
        if !ring_damage.is_empty() {
            let ring_dst = Rectangle::new(dst.loc + ring_rect.loc, ring_rect.size);
            RenderElement::<R>::draw(
                &self.ring,
                frame,
                self.ring.src(),
                ring_dst,
                &ring_damage,
                opaque_regions,
            )?;
        }
        if let (Some(title), Some(rect)) = (&self.title, self.title_rect()) {
            let title_damage = part(rect);
            if !title_damage.is_empty() {
                let title_dst = Rectangle::new(dst.loc + rect.loc, rect.size);
                title.draw(frame, title.src(), title_dst, &title_damage, &[])?;
            }
        }
        Ok(())
    }
}

/// Runs `f` on the window's decoration, creating it in the level's colour the first time.
pub fn with_decoration<T>(
    window: &Window,
    color: Color,
    f: impl FnOnce(&mut Decoration) -> T,
) -> T {
    let data = window.user_data();
    if let Some(cell) = data.get::<RefCell<Decoration>>() {
        return f(&mut cell.borrow_mut());
    }
    data.insert_if_missing(|| RefCell::new(Decoration::new(color)));
    match data.get::<RefCell<Decoration>>() {
        Some(cell) => f(&mut cell.borrow_mut()),
        None => f(&mut Decoration::new(color)),
    }
}

/// Records that the window's client set a new title: the title bar is redrawn next frame.
pub fn title_changed(window: &Window, color: Color) {
    with_decoration(window, color, |d| d.title_generation += 1);
}

/// Draws a title bar: level badge, sanitised title, buttons.
pub fn draw_title_bar(font: &Font, key: &TitleKey, label: &str, color: Color) -> Canvas {
    let h = TITLE_HEIGHT;
    let background = if key.focused {
        mix(color, DARK, 0.45)
    } else {
        mix(color, DARK, 0.8)
    };
    let mut canvas = Canvas::new(key.width, h, background);
    let baseline = (h + font.ascent(TITLE_PX)) / 2 - 2;

    // The level badge: the label on the level's colour, outlined so it stands out on the bar.
    let label_w = font.measure(label, TITLE_PX);
    let badge_w = label_w + 12;
    canvas.fill(3, 3, badge_w, h - 6, color);
    let ink = text_on(color);
    font.draw(
        &mut canvas,
        label,
        (9, baseline),
        TITLE_PX,
        ink,
        3 + badge_w,
    );
    // A second pass one pixel right makes the label bold.
    font.draw(
        &mut canvas,
        label,
        (10, baseline),
        TITLE_PX,
        ink,
        3 + badge_w + 1,
    );

    // Buttons, right to left: close, maximize, minimize.
    let buttons_x = key.width - 3 * h;
    let icon = if key.focused {
        Color::rgb(0xf0, 0xf0, 0xf0)
    } else {
        Color::rgb(0xa0, 0xa0, 0xa0)
    };
    for (i, button) in [Button::Close, Button::Maximize, Button::Minimize]
        .into_iter()
        .enumerate()
    {
        let x = key.width - (i as i32 + 1) * h;
        if x < badge_w + 6 {
            continue;
        }
        let (cx, cy) = (x + h / 2, h / 2);
        match button {
            Button::Close => {
                canvas.line(cx - 5, cy - 5, cx + 5, cy + 5, 2, icon);
                canvas.line(cx - 5, cy + 5, cx + 5, cy - 5, 2, icon);
            }
            Button::Maximize if key.maximized => {
                canvas.outline(cx - 3, cy - 6, 9, 9, 1, icon);
                canvas.fill(cx - 6, cy - 3, 9, 9, background);
                canvas.outline(cx - 6, cy - 3, 9, 9, 2, icon);
            }
            Button::Maximize => canvas.outline(cx - 6, cy - 6, 12, 12, 2, icon),
            Button::Minimize => canvas.fill(cx - 6, cy + 4, 12, 2, icon),
        }
    }

    // The client's title, sanitised: it can neither reorder nor hide itself, and it can never
    // reach the badge or the buttons.
    let title =
        cloison_config::text::sanitize(&key.raw_title, cloison_config::text::MAX_TITLE_CHARS);
    let text = if key.focused {
        Color::rgb(0xff, 0xff, 0xff)
    } else {
        Color::rgb(0xb0, 0xb0, 0xb0)
    };
    font.draw(
        &mut canvas,
        &title,
        (badge_w + 12, baseline),
        TITLE_PX,
        text,
        buttons_x.max(badge_w + 12) - 6,
    );
    canvas
}

/// Elements of the 2-px frame around a popup whose geometry (global) is `rect`; its identity
/// is kept in the popup surface's data.
pub fn popup_frame_elements<E>(
    surface: &WlSurface,
    rect: Rectangle<i32, Logical>,
    color: Color,
    scale: i32,
    out: &mut Vec<E>,
) where
    E: From<RingElement>,
{
    with_states(surface, |states| {
        states
            .data_map
            .insert_if_missing_threadsafe(|| Mutex::new(RingId::default()));
        let Some(ring) = states.data_map.get::<Mutex<RingId>>() else {
            return;
        };
        let Ok(mut ring) = ring.lock() else { return };
        out.push(
            ring.element(rect, POPUP_BORDER, color.to_f32_rgba().into(), scale)
                .into(),
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_bar_shows_the_badge_in_the_level_colour_and_the_title() {
        let font = Font::new().unwrap();
        let red = Color::rgb(0xc6, 0x28, 0x28);
        let key = TitleKey {
            width: 400,
            raw_title: "Secrets".into(),
            focused: true,
            maximized: false,
        };
        let canvas = draw_title_bar(&font, &key, "HIGH", red);
        // The badge's corners are the exact level colour.
        assert_eq!(canvas.pixel(4, 4), red);
        assert_eq!(canvas.pixel(4, TITLE_HEIGHT - 4), red);
        // The label is drawn in white inside the badge.
        let badge_w = font.measure("HIGH", TITLE_PX) + 12;
        let white = (3..3 + badge_w)
            .flat_map(|x| (3..TITLE_HEIGHT - 3).map(move |y| (x, y)))
            .filter(|&(x, y)| canvas.pixel(x, y) == Color::rgb(255, 255, 255))
            .count();
        assert!(white > 20, "label pixels: {white}");
        // Focused and unfocused bars differ, both tinted with the level colour.
        let unfocused = draw_title_bar(
            &font,
            &TitleKey {
                focused: false,
                ..key.clone()
            },
            "HIGH",
            red,
        );
        assert_ne!(canvas.pixel(200, 2), unfocused.pixel(200, 2));
        assert!(
            canvas.pixel(200, 2).r > canvas.pixel(200, 2).g,
            "tinted red"
        );
    }

    #[test]
    fn the_title_never_covers_badge_or_buttons() {
        let font = Font::new().unwrap();
        let color = Color::rgb(0x2e, 0x9e, 0x44);
        let key = TitleKey {
            width: 300,
            raw_title: "W".repeat(200),
            focused: true,
            maximized: false,
        };
        let canvas = draw_title_bar(&font, &key, "LOW", color);
        // The close button's area right of its icon is untouched background.
        let bg = mix(color, DARK, 0.45);
        assert_eq!(canvas.pixel(300 - 2, 13), bg);
        assert_eq!(
            canvas.pixel(300 - 3 * TITLE_HEIGHT - 2, 13),
            bg,
            "gap before the buttons"
        );
    }
}
