//! Window and popup frames: what they look like and the render elements that draw them.
//!
//! Each window keeps a [`Decoration`] in its user data: four solid border buffers (stable ids,
//! so the damage tracker redraws them only when they move or resize) and the title bar image,
//! re-rendered only when its width, title, focus or maximized state changes.

use std::cell::RefCell;
use std::sync::Mutex;

use cloison_config::Color;
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::{SolidColorBuffer, SolidColorRenderElement};
use smithay::backend::renderer::{ImportMem, Renderer};
use smithay::desktop::Window;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Rectangle, Scale};
use smithay::wayland::compositor::with_states;

use super::canvas::{Canvas, mix, text_on};
use super::font::Font;
use super::{Button, FrameLayout, POPUP_BORDER, TITLE_HEIGHT};

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

/// A window's frame.
pub struct Decoration {
    color: Color,
    borders: [SolidColorBuffer; 4],
    title: Option<(TitleKey, MemoryRenderBuffer)>,
}

impl Decoration {
    fn new(color: Color) -> Decoration {
        let solid = || SolidColorBuffer::new((1, 1), color.to_f32_rgba());
        Decoration {
            color,
            borders: [solid(), solid(), solid(), solid()],
            title: None,
        }
    }

    /// Brings the frame up to date with the window's layout and title.
    pub fn update(
        &mut self,
        layout: &FrameLayout,
        key: Option<TitleKey>,
        label: &str,
        font: &Font,
    ) {
        for (buffer, rect) in self.borders.iter_mut().zip(layout.borders()) {
            buffer.resize(rect.size);
        }
        match key {
            None => self.title = None,
            Some(key) => {
                if self.title.as_ref().is_none_or(|(k, _)| *k != key) {
                    let canvas = draw_title_bar(font, &key, label, self.color);
                    self.title = Some((key, canvas.into_buffer()));
                }
            }
        }
    }

    /// The frame's elements, front to back, for `layout`.
    pub fn elements<R, E>(&self, renderer: &mut R, layout: &FrameLayout, out: &mut Vec<E>)
    where
        R: Renderer + ImportMem,
        R::TextureId: Send + Clone + 'static,
        E: From<MemoryRenderBufferRenderElement<R>> + From<SolidColorRenderElement>,
    {
        let scale = Scale::from(1.0);
        if let (Some((_, buffer)), Some(title)) = (&self.title, layout.title) {
            match MemoryRenderBufferRenderElement::from_buffer(
                renderer,
                title.loc.to_f64().to_physical(scale),
                buffer,
                None,
                None,
                None,
                Kind::Unspecified,
            ) {
                Ok(element) => out.push(element.into()),
                Err(err) => tracing::warn!("cannot draw a title bar: {err:?}"),
            }
        }
        for (buffer, rect) in self.borders.iter().zip(layout.borders()) {
            out.push(
                SolidColorRenderElement::from_buffer(
                    buffer,
                    rect.loc.to_physical(1),
                    scale,
                    1.0,
                    Kind::Unspecified,
                )
                .into(),
            );
        }
    }
}

/// Runs `f` on the window's decoration, creating it in the level's colour the first time.
pub fn with_decoration<T>(
    window: &Window,
    color: Color,
    f: impl FnOnce(&mut Decoration) -> T,
) -> T {
    let data = window.user_data();
    data.insert_if_missing(|| RefCell::new(Decoration::new(color)));
    match data.get::<RefCell<Decoration>>() {
        Some(cell) => f(&mut cell.borrow_mut()),
        None => f(&mut Decoration::new(color)),
    }
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

/// The frame of one popup (stable buffers kept in the popup surface's data).
struct PopupFrame {
    borders: [SolidColorBuffer; 4],
}

/// Elements of the 2-px frame around a popup whose geometry (global) is `rect`.
pub fn popup_frame_elements<E>(
    surface: &WlSurface,
    rect: Rectangle<i32, Logical>,
    color: Color,
    out: &mut Vec<E>,
) where
    E: From<SolidColorRenderElement>,
{
    let b = POPUP_BORDER;
    let rects = [
        Rectangle::new(
            (rect.loc.x - b, rect.loc.y - b).into(),
            (rect.size.w + 2 * b, b).into(),
        ),
        Rectangle::new(
            (rect.loc.x - b, rect.loc.y + rect.size.h).into(),
            (rect.size.w + 2 * b, b).into(),
        ),
        Rectangle::new((rect.loc.x - b, rect.loc.y).into(), (b, rect.size.h).into()),
        Rectangle::new(
            (rect.loc.x + rect.size.w, rect.loc.y).into(),
            (b, rect.size.h).into(),
        ),
    ];
    with_states(surface, |states| {
        states.data_map.insert_if_missing_threadsafe(|| {
            let solid = || SolidColorBuffer::new((1, 1), color.to_f32_rgba());
            Mutex::new(PopupFrame {
                borders: [solid(), solid(), solid(), solid()],
            })
        });
        let Some(frame) = states.data_map.get::<Mutex<PopupFrame>>() else {
            return;
        };
        let Ok(mut frame) = frame.lock() else { return };
        for (buffer, r) in frame.borders.iter_mut().zip(rects) {
            buffer.resize(r.size);
            out.push(
                SolidColorRenderElement::from_buffer(
                    buffer,
                    r.loc.to_physical(1),
                    1.0,
                    1.0,
                    Kind::Unspecified,
                )
                .into(),
            );
        }
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
