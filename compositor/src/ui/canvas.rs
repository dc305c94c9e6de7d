//! A small software canvas for trusted UI (title bars, the bar): opaque fills, text coverage
//! blending and thin lines, into premultiplied ARGB8888 pixels that become a
//! `MemoryRenderBuffer`. Drawing happens only when what is shown changes; the result is cached.

use cloison_config::Color;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::utils::Transform;

/// Largest side of a canvas, in pixels (a title bar of the widest window at scale 4 fits).
pub const MAX_SIDE: i32 = 4 * crate::limits::MAX_EXTENT;
/// Most pixels in a canvas (256 MiB of them): pixel indices stay far below `i32::MAX / 4`.
pub const MAX_PIXELS: i32 = 1 << 26;

/// Premultiplied ARGB8888 pixels (little-endian B, G, R, A bytes).
pub struct Canvas {
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas filled with `background` (opaque). Sizes are clamped to 1..=[`MAX_SIDE`], and
    /// to [`MAX_PIXELS`] in all: whatever a caller computed from a client's numbers, the canvas
    /// stays small enough to allocate and its indices cannot overflow.
    pub fn new(width: i32, height: i32, background: Color) -> Canvas {
        let width = width.clamp(1, MAX_SIDE);
        let height = height.clamp(1, MAX_SIDE).min(MAX_PIXELS / width);
        let bytes = (width as usize)
            .checked_mul(height as usize)
            .and_then(|n| n.checked_mul(4))
            .unwrap_or(4);
        let mut canvas = Canvas {
            width,
            height,
            pixels: vec![0; bytes],
        };
        canvas.fill(0, 0, width, height, background);
        canvas
    }

    /// Fills a rectangle (clipped to the canvas) with an opaque colour.
    pub fn fill(&mut self, x: i32, y: i32, w: i32, h: i32, color: Color) {
        let (x0, y0) = (x.max(0), y.max(0));
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        for yy in y0..y1 {
            for xx in x0..x1 {
                self.put(xx, yy, color);
            }
        }
    }

    /// Draws a rectangle outline `t` pixels thick.
    pub fn outline(&mut self, x: i32, y: i32, w: i32, h: i32, t: i32, color: Color) {
        self.fill(x, y, w, t, color);
        self.fill(x, y + h - t, w, t, color);
        self.fill(x, y, t, h, color);
        self.fill(x + w - t, y, t, h, color);
    }

    /// Blends `color` at `coverage` (0–255) over the pixel at (x, y).
    pub fn blend(&mut self, x: i32, y: i32, coverage: u8, color: Color) {
        if x < 0 || y < 0 || x >= self.width || y >= self.height || coverage == 0 {
            return;
        }
        let i = ((y * self.width + x) * 4) as usize;
        let a = coverage as u32;
        let mix = |dst: u8, src: u8| ((src as u32 * a + dst as u32 * (255 - a) + 127) / 255) as u8;
        self.pixels[i] = mix(self.pixels[i], color.b);
        self.pixels[i + 1] = mix(self.pixels[i + 1], color.g);
        self.pixels[i + 2] = mix(self.pixels[i + 2], color.r);
        self.pixels[i + 3] = 255;
    }

    /// A line from (x0, y0) to (x1, y1), `t` pixels wide (square brush).
    pub fn line(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, t: i32, color: Color) {
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
        for s in 0..=steps {
            let x = x0 + (x1 - x0) * s / steps;
            let y = y0 + (y1 - y0) * s / steps;
            self.fill(x - t / 2, y - t / 2, t, t, color);
        }
    }

    fn put(&mut self, x: i32, y: i32, color: Color) {
        let i = ((y * self.width + x) * 4) as usize;
        self.pixels[i..i + 4].copy_from_slice(&[color.b, color.g, color.r, 255]);
    }

    /// The pixel at (x, y) as a colour (tests).
    pub fn pixel(&self, x: i32, y: i32) -> Color {
        let i = ((y * self.width + x) * 4) as usize;
        Color::rgb(self.pixels[i + 2], self.pixels[i + 1], self.pixels[i])
    }

    /// The canvas as a render buffer. No opaque region is declared: trusted UI is drawn above
    /// what it covers anyway, and every opaque rectangle costs the damage tracker work for each
    /// element below it, every frame.
    pub fn into_buffer(self) -> MemoryRenderBuffer {
        MemoryRenderBuffer::from_slice(
            &self.pixels,
            Fourcc::Argb8888,
            (self.width, self.height),
            1,
            Transform::Normal,
            None,
        )
    }
}

/// `a` mixed with `b`: `t` = 0 gives `a`, 1 gives `b`.
pub fn mix(a: Color, b: Color, t: f32) -> Color {
    let m = |x: u8, y: u8| (x as f32 * (1.0 - t) + y as f32 * t).round() as u8;
    Color::rgb(m(a.r, b.r), m(a.g, b.g), m(a.b, b.b))
}

/// Black or white, whichever reads better on `background`.
pub fn text_on(background: Color) -> Color {
    let luma =
        0.299 * background.r as f32 + 0.587 * background.g as f32 + 0.114 * background.b as f32;
    if luma > 150.0 {
        Color::rgb(0, 0, 0)
    } else {
        Color::rgb(255, 255, 255)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_give_a_bounded_canvas() {
        let black = Color::rgb(0, 0, 0);
        for (w, h) in [
            (30_000_000, 26),
            (26, 30_000_000),
            (i32::MAX, i32::MAX),
            (i32::MIN, -5),
            (65_536, 65_536),
        ] {
            let c = Canvas::new(w, h, black);
            assert!(c.width >= 1 && c.width <= MAX_SIDE, "{w}x{h}");
            assert!(c.height >= 1 && c.width as i64 * c.height as i64 <= MAX_PIXELS as i64);
            // The last pixel is addressable.
            assert_eq!(c.pixel(c.width - 1, c.height - 1), black);
        }
    }
}
