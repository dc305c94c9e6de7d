//! A solid-coloured ring (a window's or a popup's border) as one render element.
//!
//! Four border strips drawn as four solid elements would cost the damage tracker four
//! elements per window, and their opaque regions make it subtract rectangles for every element
//! below; one element without opaque regions keeps trusted UI nearly free. Nothing depends on
//! the border being declared opaque: it is drawn above what it covers.

use smithay::backend::renderer::element::{Element, Id, Kind, RenderElement};
use smithay::backend::renderer::utils::{CommitCounter, DamageSet, OpaqueRegions};
use smithay::backend::renderer::{Color32F, Frame, Renderer};
use smithay::utils::{Buffer, Logical, Physical, Rectangle, Scale};

/// The stable identity of a ring: kept by its owner so the damage tracker recognises it.
#[derive(Debug, Clone)]
pub struct RingId {
    id: Id,
    commit: CommitCounter,
    size: Option<smithay::utils::Size<i32, Logical>>,
}

impl Default for RingId {
    fn default() -> Self {
        RingId {
            id: Id::new(),
            commit: CommitCounter::default(),
            size: None,
        }
    }
}

impl RingId {
    /// The element for a ring of `width` around `inner` (global logical coordinates), on an
    /// output of integer `scale`.
    pub fn element(
        &mut self,
        inner: Rectangle<i32, Logical>,
        width: i32,
        color: Color32F,
        scale: i32,
    ) -> RingElement {
        let outer = Rectangle::new(
            (inner.loc.x - width, inner.loc.y - width).into(),
            (inner.size.w + 2 * width, inner.size.h + 2 * width).into(),
        );
        // A new logical size is new content; drawing it on displays of different scales is
        // not (each display's damage tracker keeps its own history).
        if self.size != Some(outer.size) {
            self.size = Some(outer.size);
            self.commit.increment();
        }
        let outer = outer.to_physical(scale);
        let width = width * scale;
        let (w, h) = (outer.size.w, outer.size.h);
        let strips = [
            Rectangle::new((0, 0).into(), (w, width).into()),
            Rectangle::new((0, h - width).into(), (w, width).into()),
            Rectangle::new((0, width).into(), (width, h - 2 * width).into()),
            Rectangle::new((w - width, width).into(), (width, h - 2 * width).into()),
        ];
        RingElement {
            id: self.id.clone(),
            commit: self.commit,
            outer,
            strips,
            color,
        }
    }
}

/// A ring of solid colour.
#[derive(Debug, Clone)]
pub struct RingElement {
    id: Id,
    commit: CommitCounter,
    outer: Rectangle<i32, Physical>,
    /// Top, bottom, left, right, relative to `outer`.
    strips: [Rectangle<i32, Physical>; 4],
    color: Color32F,
}

impl Element for RingElement {
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
        _scale: Scale<f64>,
        commit: Option<CommitCounter>,
    ) -> DamageSet<i32, Physical> {
        if commit == Some(self.commit) {
            DamageSet::default()
        } else {
            DamageSet::from_slice(&self.strips)
        }
    }

    fn opaque_regions(&self, _scale: Scale<f64>) -> OpaqueRegions<i32, Physical> {
        OpaqueRegions::default()
    }

    fn kind(&self) -> Kind {
        Kind::Unspecified
    }
}

impl<R: Renderer> RenderElement<R> for RingElement {
    fn draw(
        &self,
        frame: &mut R::Frame<'_, '_>,
        _src: Rectangle<f64, Buffer>,
        dst: Rectangle<i32, Physical>,
        damage: &[Rectangle<i32, Physical>],
        _opaque_regions: &[Rectangle<i32, Physical>],
    ) -> Result<(), R::Error> {
        for strip in &self.strips {
            let local: Vec<Rectangle<i32, Physical>> = damage
                .iter()
                .filter_map(|d| d.intersection(*strip))
                .map(|d| Rectangle::new(d.loc - strip.loc, d.size))
                .collect();
            if local.is_empty() {
                continue;
            }
            let strip_dst = Rectangle::new(dst.loc + strip.loc, strip.size);
            frame.draw_solid(strip_dst, &local, self.color)?;
        }
        Ok(())
    }
}
