//! The headless backend: pixman renders into an offscreen image that persists between frames,
//! so the damage tracker only redraws what changed, and a screenshot is a copy of that image.

use anyhow::Context as _;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::RenderElementStates;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::reexports::pixman;
use smithay::utils::{Physical, Rectangle, Size, Transform};

use super::Capture;
use crate::render::{BACKGROUND, Scene, output_elements};

/// Headless rendering state.
pub struct Headless {
    renderer: PixmanRenderer,
    buffer: pixman::Image<'static, 'static>,
    damage_tracker: OutputDamageTracker,
    size: Size<i32, Physical>,
    /// 0 until the first frame (full redraw), then 1: the buffer holds the previous frame.
    age: usize,
}

impl Headless {
    /// An offscreen output of `size` pixels.
    pub fn new(size: Size<i32, Physical>) -> anyhow::Result<Headless> {
        let mut renderer = PixmanRenderer::new().context("cannot create the pixman renderer")?;
        let buffer = renderer
            .create_buffer(
                Fourcc::Argb8888,
                size.to_logical(1).to_buffer(1, Transform::Normal),
            )
            .context("cannot allocate the offscreen output")?;
        Ok(Headless {
            renderer,
            buffer,
            damage_tracker: OutputDamageTracker::new(size, 1.0, Transform::Normal),
            size,
            age: 0,
        })
    }

    /// Renders the scene's damage into the offscreen image.
    pub fn render(&mut self, scene: &Scene<'_>) -> anyhow::Result<(bool, RenderElementStates)> {
        let elements = output_elements(&mut self.renderer, scene);
        let mut framebuffer = self.renderer.bind(&mut self.buffer)?;
        let result = self
            .damage_tracker
            .render_output(
                &mut self.renderer,
                &mut framebuffer,
                self.age,
                &elements,
                BACKGROUND,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        self.age = 1;
        Ok((result.damage.is_some(), result.states))
    }

    /// Copies the offscreen image.
    pub fn capture(&mut self) -> anyhow::Result<Capture> {
        let framebuffer = self.renderer.bind(&mut self.buffer)?;
        let region = Rectangle::from_size((self.size.w, self.size.h).into());
        let mapping = self
            .renderer
            .copy_framebuffer(&framebuffer, region, Fourcc::Abgr8888)?;
        let bytes = self.renderer.map_texture(&mapping)?;
        let (width, height) = (self.size.w as u32, self.size.h as u32);
        let row = width as usize * 4;
        let stride = bytes.len() / height as usize;
        let mut rgba = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            rgba.extend_from_slice(&bytes[y * stride..y * stride + row]);
        }
        Ok(Capture {
            width,
            height,
            rgba,
        })
    }
}
