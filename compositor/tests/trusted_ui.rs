//! Trusted UI, pixel by pixel: frames, badges, clipping, popups, the bar, cursors, titles,
//! and the window management users drive through the frame.

mod fixture;

use cloison_compositor::ui::decorations::{TitleKey, draw_title_bar};
use cloison_compositor::ui::font::Font;
use cloison_compositor::ui::{BAR_HEIGHT, BORDER, FrameLayout, POPUP_BORDER, TITLE_HEIGHT};
use cloison_config::Color;
use cloison_ipc::{Button, InputEvent, Rect};
use cloison_tests::client::Event;
use fixture::{Fixture, H, W, pixel};
use smithay::utils::Rectangle;

const GREEN: (u8, u8, u8) = cloison_config::DEFAULT_LOW_COLOR.rgb8();
const RED: (u8, u8, u8) = cloison_config::DEFAULT_HIGH_COLOR.rgb8();
const BLUE: u32 = 0xff10_20c0;
const FAKE_HIGH: u32 = 0xffc6_2828;

fn layout(g: Rect) -> FrameLayout {
    FrameLayout::new(
        Rectangle::new((g.x, g.y).into(), (g.width, g.height).into()),
        false,
    )
}

fn rect_is(
    shot: &cloison_compositor::backend::Capture,
    r: Rectangle<i32, smithay::utils::Logical>,
    rgb: (u8, u8, u8),
) -> bool {
    (r.loc.y..r.loc.y + r.size.h)
        .all(|y| (r.loc.x..r.loc.x + r.size.w).all(|x| pixel(shot, x, y) == rgb))
}

fn count(
    shot: &cloison_compositor::backend::Capture,
    r: Rectangle<i32, smithay::utils::Logical>,
    rgb: (u8, u8, u8),
) -> usize {
    (r.loc.y..r.loc.y + r.size.h)
        .flat_map(|y| (r.loc.x..r.loc.x + r.size.w).map(move |x| (x, y)))
        .filter(|&(x, y)| pixel(shot, x, y) == rgb)
        .count()
}

#[test]
fn every_window_is_framed_in_its_level_colour_on_all_four_sides_with_its_badge() {
    for (level, colour) in [("low", GREEN), ("high", RED)] {
        let mut f = Fixture::new();
        let c = f.add_client(level);
        f.map_window(c, (240, 160), BLUE, "w");
        f.frame();
        let shot = f.capture();
        let l = layout(f.window_by_app("w").geometry);
        for (side, strip) in ["top", "bottom", "left", "right"].iter().zip(l.borders()) {
            assert!(
                rect_is(&shot, strip, colour),
                "{level}: {side} border is exactly {colour:?}"
            );
        }
        // The badge: a block of the level colour at the left of the title bar, with its label.
        let title = l.title.unwrap();
        let badge = Rectangle::new(
            (title.loc.x + 3, title.loc.y + 3).into(),
            (30, TITLE_HEIGHT - 6).into(),
        );
        assert!(
            count(&shot, badge, colour) > 200,
            "{level}: badge in the level colour"
        );
        assert!(
            count(&shot, badge, (255, 255, 255)) > 10,
            "{level}: badge label drawn"
        );
        // The content is the client's.
        assert_eq!(
            pixel(&shot, l.content.loc.x + 5, l.content.loc.y + 5),
            (0x10, 0x20, 0xc0)
        );
    }
}

#[test]
fn a_low_window_faking_a_high_frame_and_title_still_sits_in_a_low_frame() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    // Entirely high-red content, titled like a high window.
    let w = f.clients[c].create_window("[HIGH] Secrets", "spoof");
    f.roundtrip(c);
    f.clients[c].draw(w, (300, 200), FAKE_HIGH).unwrap();
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    let win = f.window_by_app("spoof");
    assert_eq!(win.level, "low");
    let l = layout(win.geometry);
    for strip in l.borders() {
        assert!(rect_is(&shot, strip, GREEN), "the real frame is low's");
    }
    let title = l.title.unwrap();
    assert_eq!(
        pixel(&shot, title.loc.x + 4, title.loc.y + 4),
        GREEN,
        "the badge is LOW's colour"
    );
    assert_eq!(
        pixel(&shot, l.content.loc.x, l.content.loc.y),
        RED,
        "the fake stays inside"
    );
}

#[test]
fn client_side_shadows_outside_the_window_geometry_are_clipped() {
    let mut f = Fixture::new();
    let background = {
        let mut empty = Fixture::new();
        empty.frame();
        let shot = empty.capture();
        pixel(&shot, W / 2, H - 5)
    };
    let c = f.add_client("high");
    let w = f.clients[c].create_window("csd", "csd");
    // The visible window is the inner 260x160 of a 300x200 buffer; the rest is "shadow".
    f.clients[c].data.windows[w]
        .xdg_surface
        .set_window_geometry(20, 20, 260, 160);
    f.roundtrip(c);
    f.clients[c].draw(w, (300, 200), BLUE).unwrap();
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    let win = f.window_by_app("csd");
    assert_eq!((win.geometry.width, win.geometry.height), (260, 160));
    let l = layout(win.geometry);
    let blue = (0x10, 0x20, 0xc0);
    // Just outside the frame, where the shadow would be: background.
    for (x, y) in [
        (l.outer.loc.x - 5, l.outer.loc.y + 40),
        (l.outer.loc.x + l.outer.size.w + 5, l.outer.loc.y + 40),
        (l.outer.loc.x + 40, l.outer.loc.y + l.outer.size.h + 5),
    ] {
        assert_eq!(
            pixel(&shot, x, y),
            background,
            "shadow at {x},{y} not clipped"
        );
    }
    for strip in l.borders() {
        assert!(rect_is(&shot, strip, RED), "the border is intact");
    }
    assert_eq!(
        count(&shot, l.outer, blue) as i32,
        260 * 160,
        "blue only inside the content"
    );
}

#[test]
fn subsurfaces_outside_the_parent_are_clipped() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.map_window(c, (200, 120), BLUE, "sub");
    // One subsurface entirely outside (above-left), one straddling the bottom-right corner.
    let _outside = f.clients[c]
        .add_subsurface(w, (-80, -80), (60, 60), 0xff00_ff00)
        .unwrap();
    let _straddle = f.clients[c]
        .add_subsurface(w, (180, 100), (60, 60), 0xffff_00ff)
        .unwrap();
    f.settle();
    f.frame();
    let shot = f.capture();
    let g = f.window_by_app("sub").geometry;
    let content = Rectangle::new((g.x, g.y).into(), (g.width, g.height).into());
    let whole = Rectangle::new((0, 0).into(), (W, H).into());
    assert_eq!(
        count(&shot, whole, (0, 0xff, 0)),
        0,
        "the outside subsurface is not drawn at all"
    );
    let magenta = (0xff, 0, 0xff);
    assert_eq!(
        count(&shot, content, magenta),
        20 * 20,
        "the straddling one only inside"
    );
    assert_eq!(count(&shot, whole, magenta), 20 * 20);
}

#[test]
fn popups_have_a_two_pixel_frame_in_the_level_colour() {
    let mut f = Fixture::new();
    let c = f.add_client("high");
    let w = f.map_window(c, (300, 200), BLUE, "menu-owner");
    let p = f.clients[c].create_popup(w, (10, 10, 10, 10), (80, 60), 0);
    f.roundtrip(c);
    f.clients[c].draw_popup(p, (80, 60), 0xffe0_e0e0).unwrap();
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    let g = f.window_by_app("menu-owner").geometry;
    let popup = Rectangle::new((g.x + 20, g.y + 20).into(), (80, 60).into());
    let b = POPUP_BORDER;
    let ring = [
        Rectangle::new(
            (popup.loc.x - b, popup.loc.y - b).into(),
            (80 + 2 * b, b).into(),
        ),
        Rectangle::new(
            (popup.loc.x - b, popup.loc.y + 60).into(),
            (80 + 2 * b, b).into(),
        ),
        Rectangle::new((popup.loc.x - b, popup.loc.y).into(), (b, 60).into()),
        Rectangle::new((popup.loc.x + 80, popup.loc.y).into(), (b, 60).into()),
    ];
    for strip in ring {
        assert!(rect_is(&shot, strip, RED), "popup frame {strip:?}");
    }
    assert!(rect_is(&shot, popup, (0xe0, 0xe0, 0xe0)), "popup content");
}

#[test]
fn a_fullscreen_window_leaves_the_bar_visible_and_the_bar_names_its_level() {
    let mut f = Fixture::new();
    let low = f.add_client("low");
    f.map_window(low, (200, 100), BLUE, "other");
    let c = f.add_client("high");
    let w = f.map_window(c, (200, 100), BLUE, "full");
    // Give high the keyboard (it opened below low's focused window), then go fullscreen.
    let g = f.window_by_app("full").geometry;
    f.click_at((g.x + g.width - 5) as f64, (g.y + g.height - 5) as f64);
    f.clients[c].data.windows[w].toplevel.set_fullscreen(None);
    f.roundtrip(c);
    f.clients[c].draw(w, (200, 100), BLUE).unwrap();
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    let win = f.window_by_app("full");
    assert!(win.fullscreen);
    assert_eq!(
        win.geometry,
        Rect {
            x: BORDER,
            y: BAR_HEIGHT + BORDER,
            width: W - 2 * BORDER,
            height: H - BAR_HEIGHT - 2 * BORDER
        }
    );
    // The bar is still there, and its first chip shows the level with the keyboard: HIGH.
    assert_eq!(pixel(&shot, 1, 1), RED);
    assert_eq!(pixel(&shot, 1, BAR_HEIGHT - 1), RED);
    // The fullscreen window keeps its border.
    let l = FrameLayout::new(
        Rectangle::new(
            (win.geometry.x, win.geometry.y).into(),
            (win.geometry.width, win.geometry.height).into(),
        ),
        true,
    );
    for strip in l.borders() {
        assert!(rect_is(&shot, strip, RED));
    }
    // Focus on low: the bar follows.
    f.inject(InputEvent::Key {
        chord: "alt+Tab".into(),
    });
    f.frame();
    let shot = f.capture();
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));
    assert_eq!(pixel(&shot, 1, 1), GREEN);
}

#[test]
fn oversized_cursors_are_replaced_by_the_default_cursor() {
    for (size, drawn) in [(256, false), (32, true)] {
        let mut f = Fixture::new();
        let c = f.add_client("low");
        f.map_window(c, (400, 300), BLUE, "cursor");
        let g = f.window_by_app("cursor").geometry;
        let (px, py) = (g.x + 100, g.y + 100);
        f.inject(InputEvent::PointerMove {
            x: px as f64,
            y: py as f64,
        });
        f.clients[c].set_cursor(size, 0xffff_00ff).unwrap();
        f.settle();
        f.frame();
        let shot = f.capture();
        let magenta = (0xff, 0, 0xff);
        if drawn {
            assert_eq!(
                pixel(&shot, px + 20, py + 20),
                magenta,
                "a {size}px cursor is the client's"
            );
        } else {
            assert_eq!(
                pixel(&shot, px + 20, py + 20),
                (0x10, 0x20, 0xc0),
                "no {size}px cursor"
            );
            assert_eq!(pixel(&shot, px, py), (0, 0, 0), "the default arrow's tip");
            assert_eq!(
                pixel(&shot, px + 2, py + 5),
                (255, 255, 255),
                "the default arrow's body"
            );
        }
    }
}

#[test]
fn titles_are_shown_sanitised() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.clients[c].create_window("invoice\u{202E}fdp.exe\n\u{200B}Secrets\u{2066}", "title");
    f.roundtrip(c);
    f.clients[c].draw(w, (360, 120), BLUE).unwrap();
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    let l = layout(f.window_by_app("title").geometry);
    let title = l.title.unwrap();
    let font = Font::new().unwrap();
    let key = TitleKey {
        width: title.size.w,
        raw_title: "invoicefdp.exe Secrets".into(),
        focused: true,
        maximized: false,
    };
    let expected = draw_title_bar(&font, &key, "LOW", Color::rgb(GREEN.0, GREEN.1, GREEN.2));
    let same = |shot: &cloison_compositor::backend::Capture,
                expected: &cloison_compositor::ui::canvas::Canvas| {
        (0..title.size.h).all(|y| {
            (0..title.size.w).all(|x| {
                let e = expected.pixel(x, y);
                pixel(shot, title.loc.x + x, title.loc.y + y) == (e.r, e.g, e.b)
            })
        })
    };
    assert!(
        same(&shot, &expected),
        "the title bar shows the sanitised title"
    );

    // A later title change is shown too (sanitised as well).
    f.clients[c].data.windows[w]
        .toplevel
        .set_title("new\u{2067}title".into());
    f.roundtrip(c);
    f.frame();
    let shot = f.capture();
    let key = TitleKey {
        raw_title: "newtitle".into(),
        ..key
    };
    let expected = draw_title_bar(&font, &key, "LOW", Color::rgb(GREEN.0, GREEN.1, GREEN.2));
    assert!(same(&shot, &expected), "the new title is shown");
}

#[test]
fn the_title_bar_moves_the_window_and_edges_resize_it() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.map_window(c, (300, 200), BLUE, "wm");
    let g0 = f.window_by_app("wm").geometry;
    let title = layout(g0).title.unwrap();
    // Drag the title bar by (-100, +50).
    let (sx, sy) = ((title.loc.x + 100) as f64, (title.loc.y + 10) as f64);
    f.inject(InputEvent::PointerMove { x: sx, y: sy });
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: true,
    });
    f.inject(InputEvent::PointerMove {
        x: sx - 100.0,
        y: sy + 50.0,
    });
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: false,
    });
    let g1 = f.window_by_app("wm").geometry;
    assert_eq!((g1.x, g1.y), (g0.x - 100, g0.y + 50), "moved");
    assert!(
        !f.clients[c]
            .data
            .events
            .iter()
            .any(|e| matches!(e, Event::Button { .. })),
        "the client never saw the frame's clicks"
    );

    // Drag the right edge by +60: the client is asked for 360 px.
    let (ex, ey) = ((g1.x + g1.width + 1) as f64, (g1.y + 50) as f64);
    f.inject(InputEvent::PointerMove { x: ex, y: ey });
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: true,
    });
    f.inject(InputEvent::PointerMove {
        x: ex + 60.0,
        y: ey,
    });
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: false,
    });
    let configured = f.clients[c].data.windows[w].configured_size;
    assert_eq!(configured, (360, 200));
    f.clients[c].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(c);
    let g2 = f.window_by_app("wm").geometry;
    assert_eq!((g2.x, g2.y, g2.width, g2.height), (g1.x, g1.y, 360, 200));

    // Drag the left edge by -40: wider, and the right edge stays put.
    let (lx, ly) = ((g2.x - 2) as f64, (g2.y + 50) as f64);
    f.inject(InputEvent::PointerMove { x: lx, y: ly });
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: true,
    });
    f.inject(InputEvent::PointerMove {
        x: lx - 40.0,
        y: ly,
    });
    f.inject(InputEvent::Button {
        button: Button::Left,
        pressed: false,
    });
    f.clients[c].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(c);
    let g3 = f.window_by_app("wm").geometry;
    assert_eq!((g3.width, g3.x + g3.width), (400, g2.x + g2.width));
}

#[test]
fn double_click_buttons_and_shortcuts_manage_windows() {
    let mut f = Fixture::new();
    let c = f.add_client("low");
    let w = f.map_window(c, (300, 200), BLUE, "wm");
    let g = f.window_by_app("wm").geometry;
    let title = layout(g).title.unwrap();
    let maximized_size = (W - 2 * BORDER, H - BAR_HEIGHT - TITLE_HEIGHT - 2 * BORDER);

    // Double-click on the title: maximized to the area below the bar.
    f.click_at((title.loc.x + 100) as f64, (title.loc.y + 10) as f64);
    f.click_at((title.loc.x + 100) as f64, (title.loc.y + 10) as f64);
    assert_eq!(f.clients[c].data.windows[w].configured_size, maximized_size);
    f.clients[c].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(c);
    assert!(f.window_by_app("wm").maximized);

    // Super+Up restores.
    f.inject(InputEvent::Key {
        chord: "super+Up".into(),
    });
    assert_eq!(f.clients[c].data.windows[w].configured_size, (300, 200));
    f.clients[c].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(c);
    assert!(!f.window_by_app("wm").maximized);

    // The maximize button.
    let g = f.window_by_app("wm").geometry;
    let l = layout(g);
    let button = |b: cloison_compositor::ui::Button| {
        l.buttons().into_iter().find(|(x, _)| *x == b).unwrap().1
    };
    let max = button(cloison_compositor::ui::Button::Maximize);
    f.click_at((max.loc.x + 13) as f64, (max.loc.y + 13) as f64);
    assert_eq!(f.clients[c].data.windows[w].configured_size, maximized_size);
    f.inject(InputEvent::Key {
        chord: "super+Up".into(),
    });
    f.clients[c].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(c);

    // Super+F: fullscreen (user-initiated), Super+F again restores.
    f.inject(InputEvent::Key {
        chord: "super+f".into(),
    });
    assert_eq!(
        f.clients[c].data.windows[w].configured_size,
        (W - 2 * BORDER, H - BAR_HEIGHT - 2 * BORDER)
    );
    f.inject(InputEvent::Key {
        chord: "super+f".into(),
    });
    assert_eq!(f.clients[c].data.windows[w].configured_size, (300, 200));
    f.clients[c].draw(w, (0, 0), BLUE).unwrap();
    f.roundtrip(c);

    // The minimize button hides the window; Alt+Tab brings it back.
    let l = layout(f.window_by_app("wm").geometry);
    let min = l
        .buttons()
        .into_iter()
        .find(|(b, _)| *b == cloison_compositor::ui::Button::Minimize)
        .unwrap()
        .1;
    f.click_at((min.loc.x + 13) as f64, (min.loc.y + 13) as f64);
    assert!(f.status().windows.is_empty(), "minimized");
    f.inject(InputEvent::Key {
        chord: "alt+Tab".into(),
    });
    assert_eq!(f.status().windows.len(), 1, "restored");
    assert_eq!(f.status().focused_level.as_deref(), Some("low"));

    // The close button and Super+Q ask the client to close; no key reaches it.
    let l = layout(f.window_by_app("wm").geometry);
    let close = l
        .buttons()
        .into_iter()
        .find(|(b, _)| *b == cloison_compositor::ui::Button::Close)
        .unwrap()
        .1;
    f.click_at((close.loc.x + 13) as f64, (close.loc.y + 13) as f64);
    f.inject(InputEvent::Key {
        chord: "super+q".into(),
    });
    let closes = f.clients[c]
        .data
        .events
        .iter()
        .filter(|e| matches!(e, Event::Close { .. }))
        .count();
    assert_eq!(closes, 2);
    let keys: Vec<_> = f.clients[c]
        .data
        .events
        .iter()
        .filter(|e| matches!(e, Event::Key { pressed: true, .. }))
        .collect();
    // Only the modifiers of the shortcuts reached the client, never their keys.
    for key in keys {
        let Event::Key { key, .. } = key else {
            unreachable!()
        };
        assert!(matches!(*key, 125 | 56), "unexpected key {key} delivered");
    }
}

#[test]
fn the_bar_marks_a_window_of_another_level_that_opened_without_focus() {
    let mut f = Fixture::new();
    let high = f.add_client("high");
    f.map_window(high, (200, 100), BLUE, "h");
    let low = f.add_client("low");
    f.map_window(low, (200, 100), BLUE, "l");
    assert_eq!(
        f.status().focused_level.as_deref(),
        Some("high"),
        "no focus stealing"
    );
    assert_eq!(
        f.state.wm.attention.len(),
        1,
        "low's window wants attention"
    );
    f.frame();
    let with_mark = f.capture();
    let amber = (0xff, 0xb3, 0x00);
    let bar = Rectangle::new((0, 0).into(), (W, BAR_HEIGHT).into());
    assert!(
        count(&with_mark, bar, amber) > 50,
        "attention marker in the bar"
    );
    // It opened below the focused window, which stays on top.
    let order: Vec<String> = f
        .status()
        .windows
        .iter()
        .map(|w| w.app_id.clone())
        .collect();
    assert_eq!(order, ["l", "h"], "bottom to top");
    // Focusing it (where high does not cover it) clears the mark.
    let g = f.window_by_app("l").geometry;
    f.click_at((g.x + g.width - 5) as f64, (g.y + g.height - 5) as f64);
    f.frame();
    assert!(f.state.wm.attention.is_empty());
    assert_eq!(count(&f.capture(), bar, amber), 0);
}
