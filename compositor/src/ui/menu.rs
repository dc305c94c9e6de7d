//! The trusted launcher menu: one column per level, in the level's colour, listing the apps
//! the launcher offers for that level. Opened with the configured shortcut (a tap of Super by
//! default) or the bar's menu button; arrows move, Return starts the selection, Escape closes;
//! a click starts an entry, a click elsewhere closes the menu.
//!
//! While it is open no client gets a key or pointer event (the focused client keeps its focus
//! but hears nothing), so no client can see what the user picks or type into the menu. Entry
//! names come from the launcher (the configuration and installed `.desktop` files) and are
//! sanitised like titles; choosing one sends only (level, position) back to the launcher,
//! which starts the command it listed.

use std::cell::RefCell;

use cloison_config::Color;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::utils::{Logical, Point, Rectangle, Size};

use super::BAR_HEIGHT;
use super::canvas::{Canvas, mix, text_on};
use super::font::Font;

/// Width of one level's column.
pub const COLUMN_WIDTH: i32 = 260;
/// Height of a column's header (the level's label).
pub const HEADER_HEIGHT: i32 = 34;
/// Height of one entry.
pub const ENTRY_HEIGHT: i32 = 28;
/// Space around and between columns.
pub const GAP: i32 = 10;
/// Entries shown per column at most (longer lists are cut, the launcher orders them).
pub const MAX_ENTRIES: usize = 24;
/// Longest entry name shown, in characters.
const MAX_NAME: usize = 48;
const PX: f32 = 14.0;
const PANEL: Color = Color::rgb(0x1b, 0x1e, 0x24);
const INK: Color = Color::rgb(0xe8, 0xe8, 0xe8);

/// One level's column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Level label (configuration).
    pub label: String,
    /// Level colour (configuration).
    pub color: Color,
    /// Entry names, sanitised.
    pub entries: Vec<String>,
}

/// What the menu shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuContent {
    /// The columns, in level order.
    pub columns: Vec<Column>,
    /// The selection: (column, entry).
    pub selected: (usize, usize),
}

/// The menu's state.
#[derive(Default)]
pub struct Menu {
    /// Whether it is open.
    pub open: bool,
    /// Entry names per level index (sanitised).
    pub entries: Vec<Vec<String>>,
    /// The selection: (level index, entry).
    pub selected: (usize, usize),
    cache: RefCell<Option<(MenuContent, MemoryRenderBuffer)>>,
}

/// A key the menu understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuKey {
    /// Previous entry.
    Up,
    /// Next entry.
    Down,
    /// Previous level.
    Left,
    /// Next level.
    Right,
    /// Start the selection.
    Enter,
    /// Close.
    Escape,
}

/// What a key or click did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuOutcome {
    /// Nothing visible (or only the selection moved).
    Stay,
    /// Start entry `.1` of level index `.0` (the menu closed).
    Launch(usize, usize),
    /// The menu closed.
    Closed,
}

impl Menu {
    /// Sets the entries of each level (names are sanitised and capped here).
    pub fn set_entries(&mut self, entries: Vec<Vec<String>>) {
        self.entries = entries
            .into_iter()
            .map(|names| {
                names
                    .iter()
                    .take(MAX_ENTRIES)
                    .map(|n| cloison_config::text::sanitize(n, MAX_NAME))
                    .collect()
            })
            .collect();
        self.clamp();
    }

    /// Opens the menu on the given level's column (the focused one), or closes it.
    pub fn toggle(&mut self, level: usize) {
        self.open = !self.open;
        if self.open {
            self.selected = (level, 0);
            self.clamp();
        }
    }

    fn clamp(&mut self) {
        let columns = self.entries.len().max(1);
        self.selected.0 = self.selected.0.min(columns - 1);
        let rows = self.entries.get(self.selected.0).map_or(0, Vec::len);
        self.selected.1 = self.selected.1.min(rows.saturating_sub(1));
    }

    /// Handles a key while open.
    pub fn key(&mut self, key: MenuKey) -> MenuOutcome {
        let columns = self.entries.len();
        let rows = |c: usize| self.entries.get(c).map_or(0, Vec::len);
        match key {
            MenuKey::Escape => {
                self.open = false;
                return MenuOutcome::Closed;
            }
            MenuKey::Enter => {
                let (c, r) = self.selected;
                if r < rows(c) {
                    self.open = false;
                    return MenuOutcome::Launch(c, r);
                }
            }
            MenuKey::Up => self.selected.1 = self.selected.1.saturating_sub(1),
            MenuKey::Down if self.selected.1 + 1 < rows(self.selected.0) => self.selected.1 += 1,
            MenuKey::Left if columns > 0 => {
                self.selected.0 = (self.selected.0 + columns - 1) % columns;
                self.clamp();
            }
            MenuKey::Right if columns > 0 => {
                self.selected.0 = (self.selected.0 + 1) % columns;
                self.clamp();
            }
            _ => {}
        }
        MenuOutcome::Stay
    }

    /// Where the menu is on an output of `output` size: centred, below the bar.
    pub fn geometry(&self, output: Size<i32, Logical>) -> Rectangle<i32, Logical> {
        let columns = self.entries.len().max(1) as i32;
        let rows = self.entries.iter().map(Vec::len).max().unwrap_or(0).max(1) as i32;
        let w = columns * COLUMN_WIDTH + (columns + 1) * GAP;
        let h = HEADER_HEIGHT + rows * ENTRY_HEIGHT + 3 * GAP;
        let x = ((output.w - w) / 2).max(0);
        let y = BAR_HEIGHT + ((output.h - BAR_HEIGHT - h) / 3).max(0);
        Rectangle::new((x, y).into(), (w, h).into())
    }

    /// The entry at `pos` (output coordinates), if any.
    pub fn hit(
        &self,
        output: Size<i32, Logical>,
        pos: Point<f64, Logical>,
    ) -> Option<(usize, usize)> {
        let area = self.geometry(output);
        let (x, y) = (pos.x as i32 - area.loc.x, pos.y as i32 - area.loc.y);
        let top = GAP + HEADER_HEIGHT + GAP;
        for (c, entries) in self.entries.iter().enumerate() {
            let left = GAP + c as i32 * (COLUMN_WIDTH + GAP);
            if x < left || x >= left + COLUMN_WIDTH || y < top {
                continue;
            }
            let row = ((y - top) / ENTRY_HEIGHT) as usize;
            if row < entries.len() {
                return Some((c, row));
            }
        }
        None
    }

    /// The menu image for `columns` (labels and colours of the levels), re-rendered only when
    /// something shown changed.
    pub fn buffer(&self, levels: &[(String, Color)], font: &Font) -> MemoryRenderBuffer {
        let content = MenuContent {
            columns: levels
                .iter()
                .enumerate()
                .map(|(i, (label, color))| Column {
                    label: label.clone(),
                    color: *color,
                    entries: self.entries.get(i).cloned().unwrap_or_default(),
                })
                .collect(),
            selected: self.selected,
        };
        let mut cache = self.cache.borrow_mut();
        if let Some((cached, buffer)) = cache.as_ref()
            && *cached == content
        {
            return buffer.clone();
        }
        let size = self.geometry(Size::from((0, 0))).size;
        let buffer = draw_menu(font, &content, size).into_buffer();
        *cache = Some((content, buffer.clone()));
        buffer
    }
}

/// Draws the menu.
pub fn draw_menu(font: &Font, content: &MenuContent, size: Size<i32, Logical>) -> Canvas {
    let mut canvas = Canvas::new(size.w, size.h, PANEL);
    canvas.outline(0, 0, size.w, size.h, 1, mix(PANEL, INK, 0.25));
    let baseline = |top: i32, h: i32| top + (h + font.ascent(PX)) / 2 - 1;
    for (c, column) in content.columns.iter().enumerate() {
        let left = GAP + c as i32 * (COLUMN_WIDTH + GAP);
        // The header: the level's label on its colour, like the badge on its windows.
        canvas.fill(left, GAP, COLUMN_WIDTH, HEADER_HEIGHT, column.color);
        let ink = text_on(column.color);
        let text = format!("{}  apps", column.label);
        font.draw(
            &mut canvas,
            &text,
            (left + 10, baseline(GAP, HEADER_HEIGHT)),
            PX,
            ink,
            left + COLUMN_WIDTH - 6,
        );
        // The column's body keeps the level's colour along its left edge.
        let top = GAP + HEADER_HEIGHT + GAP;
        let body = (size.h - top - GAP).max(0);
        canvas.fill(left, top, 4, body, column.color);
        if column.entries.is_empty() {
            font.draw(
                &mut canvas,
                "(nothing to start)",
                (left + 14, baseline(top, ENTRY_HEIGHT)),
                PX,
                mix(INK, PANEL, 0.5),
                left + COLUMN_WIDTH - 6,
            );
        }
        for (r, name) in column.entries.iter().enumerate() {
            let y = top + r as i32 * ENTRY_HEIGHT;
            let selected = content.selected == (c, r);
            let ink = if selected {
                canvas.fill(left + 4, y, COLUMN_WIDTH - 4, ENTRY_HEIGHT, column.color);
                text_on(column.color)
            } else {
                INK
            };
            font.draw(
                &mut canvas,
                name,
                (left + 14, baseline(y, ENTRY_HEIGHT)),
                PX,
                ink,
                left + COLUMN_WIDTH - 6,
            );
        }
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> Menu {
        let mut m = Menu::default();
        m.set_entries(vec![
            vec!["Terminal".into(), "Editor".into()],
            vec!["Terminal\u{202e}gpj.exe".into()],
        ]);
        m
    }

    #[test]
    fn keys_move_within_and_across_columns() {
        let mut m = menu();
        m.toggle(0);
        assert!(m.open);
        assert_eq!(m.key(MenuKey::Down), MenuOutcome::Stay);
        assert_eq!(m.key(MenuKey::Down), MenuOutcome::Stay);
        assert_eq!(m.selected, (0, 1), "stops at the last entry");
        assert_eq!(m.key(MenuKey::Right), MenuOutcome::Stay);
        assert_eq!(m.selected, (1, 0), "clamped to the shorter column");
        assert_eq!(m.key(MenuKey::Enter), MenuOutcome::Launch(1, 0));
        assert!(!m.open);
        m.toggle(1);
        assert_eq!(m.key(MenuKey::Escape), MenuOutcome::Closed);
    }

    #[test]
    fn names_are_sanitised_and_clicks_hit_entries() {
        let m = menu();
        assert!(!m.entries[1][0].contains('\u{202e}'));
        let out = Size::from((1280, 800));
        let area = m.geometry(out);
        let first = Point::from((
            (area.loc.x + GAP + 30) as f64,
            (area.loc.y + GAP + HEADER_HEIGHT + GAP + 5) as f64,
        ));
        assert_eq!(m.hit(out, first), Some((0, 0)));
        let second_col = first + Point::from(((COLUMN_WIDTH + GAP) as f64, 0.0));
        assert_eq!(m.hit(out, second_col), Some((1, 0)));
        let below = first + Point::from((0.0, (2 * ENTRY_HEIGHT) as f64));
        assert_eq!(m.hit(out, below), None);
    }

    #[test]
    fn headers_are_the_levels_colours() {
        let font = Font::new().unwrap();
        let green = Color::rgb(0x2e, 0x9e, 0x44);
        let red = Color::rgb(0xc6, 0x28, 0x28);
        let m = menu();
        let content = MenuContent {
            columns: vec![
                Column {
                    label: "LOW".into(),
                    color: green,
                    entries: m.entries[0].clone(),
                },
                Column {
                    label: "HIGH".into(),
                    color: red,
                    entries: m.entries[1].clone(),
                },
            ],
            selected: (0, 0),
        };
        let size = m.geometry(Size::from((0, 0))).size;
        let canvas = draw_menu(&font, &content, size);
        assert_eq!(canvas.pixel(GAP + 2, GAP + 2), green);
        assert_eq!(canvas.pixel(2 * GAP + COLUMN_WIDTH + 2, GAP + 2), red);
    }
}
