//! The test client's pointer constraints (`zwp_pointer_constraints_v1`): lock or confine the
//! pointer to one of its surfaces; [`Event::ConstraintHeld`] and [`Event::ConstraintLetGo`]
//! say when the compositor applies them.

use wayland_client::protocol::{wl_subsurface, wl_surface};
use wayland_client::{Connection, Dispatch, QueueHandle};
use wayland_protocols::wp::pointer_constraints::zv1::client::{
    zwp_confined_pointer_v1, zwp_locked_pointer_v1, zwp_pointer_constraints_v1,
};

use crate::client::{ClientData, Event, SurfaceRole, TestClient};

/// A constraint the client made.
pub enum Constraint {
    /// A lock.
    Locked(zwp_locked_pointer_v1::ZwpLockedPointerV1),
    /// A confinement.
    Confined(zwp_confined_pointer_v1::ZwpConfinedPointerV1),
}

impl Constraint {
    /// Destroys it.
    pub fn destroy(self) {
        match self {
            Constraint::Locked(l) => l.destroy(),
            Constraint::Confined(c) => c.destroy(),
        }
    }
}

impl TestClient {
    /// Locks (`lock`) or confines the pointer to `surface`, persistently; `None` if the global
    /// is not offered.
    pub fn constrain_pointer(
        &mut self,
        surface: &wl_surface::WlSurface,
        lock: bool,
    ) -> Option<Constraint> {
        let qh = self.qh();
        let name = self
            .data
            .globals
            .iter()
            .find(|(_, i, _)| i == "zwp_pointer_constraints_v1")
            .map(|(n, _, _)| *n)?;
        let pointer = self.data.pointer.clone()?;
        let manager: zwp_pointer_constraints_v1::ZwpPointerConstraintsV1 =
            self.registry.bind(name, 1, &qh, ());
        let lifetime = zwp_pointer_constraints_v1::Lifetime::Persistent;
        Some(if lock {
            Constraint::Locked(manager.lock_pointer(surface, &pointer, None, lifetime, &qh, ()))
        } else {
            Constraint::Confined(manager.confine_pointer(
                surface,
                &pointer,
                None,
                lifetime,
                &qh,
                (),
            ))
        })
    }

    /// A desynchronised subsurface of `window` at `pos`, `size` pixels of `argb`; its surface.
    pub fn subsurface_surface(
        &mut self,
        window: usize,
        pos: (i32, i32),
        size: (i32, i32),
        argb: u32,
    ) -> anyhow::Result<(wl_surface::WlSurface, wl_subsurface::WlSubsurface)> {
        let qh = self.qh();
        let buffer = self.create_buffer(size.0, size.1, argb)?;
        let compositor = self.data.compositor.clone().expect("wl_compositor bound");
        let sub = self
            .data
            .subcompositor
            .clone()
            .expect("wl_subcompositor bound");
        let surface = compositor.create_surface(&qh, SurfaceRole::Other);
        let subsurface = sub.get_subsurface(&surface, &self.data.windows[window].surface, &qh, ());
        subsurface.set_position(pos.0, pos.1);
        subsurface.set_desync();
        surface.attach(Some(&self.data.buffers[buffer].buffer), 0, 0);
        surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        surface.commit();
        self.data.windows[window].surface.commit();
        Ok((surface, subsurface))
    }
}

impl Dispatch<zwp_pointer_constraints_v1::ZwpPointerConstraintsV1, ()> for ClientData {
    fn event(
        _: &mut Self,
        _: &zwp_pointer_constraints_v1::ZwpPointerConstraintsV1,
        _: zwp_pointer_constraints_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<zwp_locked_pointer_v1::ZwpLockedPointerV1, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &zwp_locked_pointer_v1::ZwpLockedPointerV1,
        event: zwp_locked_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_locked_pointer_v1::Event::Locked => data.events.push(Event::ConstraintHeld),
            zwp_locked_pointer_v1::Event::Unlocked => data.events.push(Event::ConstraintLetGo),
            _ => {}
        }
    }
}

impl Dispatch<zwp_confined_pointer_v1::ZwpConfinedPointerV1, ()> for ClientData {
    fn event(
        data: &mut Self,
        _: &zwp_confined_pointer_v1::ZwpConfinedPointerV1,
        event: zwp_confined_pointer_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            zwp_confined_pointer_v1::Event::Confined => data.events.push(Event::ConstraintHeld),
            zwp_confined_pointer_v1::Event::Unconfined => data.events.push(Event::ConstraintLetGo),
            _ => {}
        }
    }
}
