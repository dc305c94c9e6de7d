//! The trusted-UI font: DejaVu Sans, shipped in `assets/fonts/` and compiled in. Clients never
//! choose how trusted UI text looks. Rasterised glyphs are cached by (character, size).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use cloison_config::Color;

use super::canvas::Canvas;

static FONT_DATA: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

struct Glyph {
    metrics: fontdue::Metrics,
    coverage: Vec<u8>,
}

/// The trusted-UI font.
pub struct Font {
    font: fontdue::Font,
    cache: RefCell<HashMap<(char, u32), Rc<Glyph>>>,
}

impl Font {
    /// Loads the shipped font.
    pub fn new() -> Result<Font, String> {
        let font = fontdue::Font::from_bytes(FONT_DATA, fontdue::FontSettings::default())
            .map_err(|e| format!("the trusted-UI font cannot be loaded: {e}"))?;
        Ok(Font {
            font,
            cache: RefCell::new(HashMap::new()),
        })
    }

    fn glyph(&self, c: char, px: f32) -> Rc<Glyph> {
        let key = (c, px.to_bits());
        if let Some(g) = self.cache.borrow().get(&key) {
            return g.clone();
        }
        let (metrics, coverage) = self.font.rasterize(c, px);
        let glyph = Rc::new(Glyph { metrics, coverage });
        self.cache.borrow_mut().insert(key, glyph.clone());
        glyph
    }

    /// Width of `text` in pixels at size `px`.
    pub fn measure(&self, text: &str, px: f32) -> i32 {
        text.chars()
            .map(|c| self.glyph(c, px).metrics.advance_width)
            .sum::<f32>()
            .ceil() as i32
    }

    /// Distance from the top of a line to its baseline at size `px`.
    pub fn ascent(&self, px: f32) -> i32 {
        self.font
            .horizontal_line_metrics(px)
            .map_or(px * 0.8, |m| m.ascent)
            .round() as i32
    }

    /// Draws `text` starting at `x` with its baseline at `baseline`, stopping before
    /// `max_x` (glyphs that would cross it are not drawn). Returns where the text ended.
    pub fn draw(
        &self,
        canvas: &mut Canvas,
        text: &str,
        (x, baseline): (i32, i32),
        px: f32,
        color: Color,
        max_x: i32,
    ) -> i32 {
        let mut pen = x as f32;
        for c in text.chars() {
            let glyph = self.glyph(c, px);
            let m = &glyph.metrics;
            let gx = pen.round() as i32 + m.xmin;
            if gx + m.width as i32 > max_x {
                break;
            }
            let gy = baseline - m.ymin - m.height as i32;
            for row in 0..m.height {
                for col in 0..m.width {
                    let coverage = glyph.coverage[row * m.width + col];
                    canvas.blend(gx + col as i32, gy + row as i32, coverage, color);
                }
            }
            pen += m.advance_width;
        }
        pen.ceil() as i32
    }
}
