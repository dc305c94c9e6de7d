//! The trusted-UI font: DejaVu Sans, shipped in `assets/fonts/` and compiled in. Clients never
//! choose how trusted UI text looks. Glyphs are outlined lazily (ab_glyph reads the font file
//! in place) and their coverage cached by (character, size).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use ab_glyph::{Font as _, FontRef, PxScale, ScaleFont as _};
use cloison_config::Color;

use super::canvas::Canvas;

static FONT_DATA: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// A rasterised glyph: coverage rows, placed relative to the pen position on the baseline.
struct Glyph {
    left: i32,
    top: i32,
    width: usize,
    height: usize,
    advance: f32,
    coverage: Vec<u8>,
}

/// The trusted-UI font.
pub struct Font {
    font: FontRef<'static>,
    cache: RefCell<HashMap<(char, u32), Rc<Glyph>>>,
}

impl Font {
    /// Loads the shipped font.
    pub fn new() -> Result<Font, String> {
        let font = FontRef::try_from_slice(FONT_DATA)
            .map_err(|e| format!("the trusted-UI font cannot be loaded: {e}"))?;
        Ok(Font {
            font,
            cache: RefCell::new(HashMap::new()),
        })
    }

    /// ab_glyph scales by line height; trusted UI sizes are em sizes (like CSS px).
    fn scale(&self, px: f32) -> PxScale {
        let units = self.font.units_per_em().unwrap_or(2048.0);
        PxScale::from(px * self.font.height_unscaled() / units)
    }

    fn glyph(&self, c: char, px: f32) -> Rc<Glyph> {
        let key = (c, px.to_bits());
        if let Some(g) = self.cache.borrow().get(&key) {
            return g.clone();
        }
        let scale = self.scale(px);
        let scaled = self.font.as_scaled(scale);
        let id = self.font.glyph_id(c);
        let advance = scaled.h_advance(id);
        let glyph = match self.font.outline_glyph(id.with_scale(scale)) {
            Some(outlined) => {
                let bounds = outlined.px_bounds();
                let (width, height) = (bounds.width() as usize, bounds.height() as usize);
                let mut coverage = vec![0u8; width * height];
                outlined.draw(|x, y, c| {
                    let i = y as usize * width + x as usize;
                    if i < coverage.len() {
                        coverage[i] = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
                    }
                });
                Glyph {
                    left: bounds.min.x.floor() as i32,
                    top: bounds.min.y.floor() as i32,
                    width,
                    height,
                    advance,
                    coverage,
                }
            }
            // Whitespace and glyphs without outline only advance the pen.
            None => Glyph {
                left: 0,
                top: 0,
                width: 0,
                height: 0,
                advance,
                coverage: Vec::new(),
            },
        };
        let glyph = Rc::new(glyph);
        self.cache.borrow_mut().insert(key, glyph.clone());
        glyph
    }

    /// Width of `text` in pixels at size `px`.
    pub fn measure(&self, text: &str, px: f32) -> i32 {
        text.chars()
            .map(|c| self.glyph(c, px).advance)
            .sum::<f32>()
            .ceil() as i32
    }

    /// Distance from the top of a line to its baseline at size `px`.
    pub fn ascent(&self, px: f32) -> i32 {
        self.font.as_scaled(self.scale(px)).ascent().round() as i32
    }

    /// Draws `text` starting at `x` with its baseline at `baseline`, stopping before `max_x`
    /// (glyphs that would cross it are not drawn). Returns where the text ended.
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
            let gx = pen.round() as i32 + glyph.left;
            if gx + glyph.width as i32 > max_x {
                break;
            }
            let gy = baseline + glyph.top;
            for row in 0..glyph.height {
                for col in 0..glyph.width {
                    let coverage = glyph.coverage[row * glyph.width + col];
                    canvas.blend(gx + col as i32, gy + row as i32, coverage, color);
                }
            }
            pen += glyph.advance;
        }
        pen.ceil() as i32
    }
}
