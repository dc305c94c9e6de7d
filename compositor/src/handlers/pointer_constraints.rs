//! zwp_pointer_constraints_v1 (optional, filtered per level): a game, a 3D view or a remote
//! desktop viewer may lock the pointer in place or confine it to its surface. The compositor
//! decides when a constraint holds (`crate::input::constraints`): only on the focused window
//! under the pointer, never while trusted UI is up, and the user always takes the pointer
//! back with the `release_pointer` chord or Super; the bar says while it is held.

use smithay::input::pointer::PointerHandle;
use smithay::reexports::wayland_protocols::wp::pointer_constraints::zv1::server::zwp_confined_pointer_v1::ZwpConfinedPointerV1;
use smithay::reexports::wayland_protocols::wp::pointer_constraints::zv1::server::zwp_locked_pointer_v1::ZwpLockedPointerV1;
use smithay::reexports::wayland_protocols::wp::pointer_constraints::zv1::server::zwp_pointer_constraints_v1::ZwpPointerConstraintsV1;
use smithay::reexports::wayland_server::delegate_dispatch;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point};
use smithay::wayland::pointer_constraints::{
    PointerConstraintUserData, PointerConstraintsHandler, PointerConstraintsState,
};

use crate::state::State;

super::level_filtered_global!(
    ZwpPointerConstraintsV1,
    (),
    PointerConstraintsState,
    "zwp_pointer_constraints_v1"
);
delegate_dispatch!(State: [ZwpPointerConstraintsV1: ()] => PointerConstraintsState);
// A constraint object destroyed: the bar stops saying the pointer is held.
super::guarded_dispatch!(
    ZwpConfinedPointerV1,
    PointerConstraintUserData<State>,
    PointerConstraintsState,
    |_, _, _, request| Some(request),
    |state, _, _, _| state.pointer_constraint_gone()
);
super::guarded_dispatch!(
    ZwpLockedPointerV1,
    PointerConstraintUserData<State>,
    PointerConstraintsState,
    |_, _, _, request| Some(request),
    |state, _, _, _| state.pointer_constraint_gone()
);

impl PointerConstraintsHandler for State {
    fn new_constraint(&mut self, _surface: &WlSurface, _pointer: &PointerHandle<Self>) {
        // It holds at once if its surface is the focused one under the pointer.
        self.update_pointer_constraint();
    }

    fn cursor_position_hint(
        &mut self,
        _surface: &WlSurface,
        _pointer: &PointerHandle<Self>,
        _location: Point<f64, Logical>,
    ) {
        // The pointer stays where the user left it when a lock ends: a level does not place
        // it (the protocol lets the compositor ignore the hint).
    }
}
