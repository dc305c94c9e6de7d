//! wl_compositor and wl_subcompositor: surface commits drive mapping, popups and redraws.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_callback::WlCallback;
use smithay::reexports::wayland_server::protocol::wl_compositor::WlCompositor;
use smithay::reexports::wayland_server::protocol::wl_region::{self, WlRegion};
use smithay::reexports::wayland_server::protocol::wl_subcompositor::{self, WlSubcompositor};
use smithay::reexports::wayland_server::protocol::wl_subsurface::{self, WlSubsurface};
use smithay::reexports::wayland_server::protocol::wl_surface::{self, WlSurface};
use smithay::reexports::wayland_server::{
    Client, Resource as _, delegate_dispatch, delegate_global_dispatch,
};
use smithay::utils::{Logical, Point};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    CompositorClientState, CompositorHandler, CompositorState, RegionUserData,
    SubsurfaceCachedState, SubsurfaceUserData, SurfaceUserData, add_pre_commit_hook, get_children,
    get_parent, is_sync_subsurface, with_states,
};

/// A desynchronised subsurface's position, set by `wl_subsurface.set_position` and committed by
/// the subsurface itself, waiting for its parent's commit.
///
/// The position is the parent's state: it takes effect when the parent's state is applied,
/// whatever the subsurface's mode. Smithay 0.7 applies a desynchronised subsurface's position on
/// its own commit (Smithay#1894); the hooks below hold it back until the parent commits.
#[derive(Default)]
struct ScheduledPosition(std::sync::Mutex<Option<Point<i32, Logical>>>);

/// Before a desynchronised subsurface's own commit: keep a new position for the parent's.
fn hold_subsurface_position(surface: &WlSurface) {
    if is_sync_subsurface(surface) {
        return;
    }
    with_states(surface, |states| {
        let mut cached = states.cached_state.get::<SubsurfaceCachedState>();
        let current = cached.current().location;
        let pending = cached.pending().location;
        if pending != current {
            states
                .data_map
                .insert_if_missing_threadsafe(ScheduledPosition::default);
            if let Some(scheduled) = states.data_map.get::<ScheduledPosition>()
                && let Ok(mut slot) = scheduled.0.lock()
            {
                *slot = Some(pending);
            }
            cached.pending().location = current;
        }
    });
}

/// After a surface's commit: its desynchronised subsurfaces take their scheduled positions.
fn apply_subsurface_positions(parent: &WlSurface) {
    for child in get_children(parent) {
        if is_sync_subsurface(&child) {
            continue;
        }
        with_states(&child, |states| {
            let held = states
                .data_map
                .get::<ScheduledPosition>()
                .and_then(|s| s.0.lock().ok().and_then(|mut slot| slot.take()));
            let mut cached = states.cached_state.get::<SubsurfaceCachedState>();
            let target = held.unwrap_or(cached.pending().location);
            cached.current().location = target;
            cached.pending().location = target;
        });
    }
}

use crate::limits::{self, Quota};
use crate::state::{ClientState, State};

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(data) => &data.compositor_state,
            // Every client is inserted with a ClientState (sockets.rs, tests); a client without
            // one would be a bug, and this is the only safe answer.
            None => {
                tracing::error!("client without ClientState");
                static FALLBACK: std::sync::OnceLock<CompositorClientState> =
                    std::sync::OnceLock::new();
                FALLBACK.get_or_init(CompositorClientState::default)
            }
        }
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        self.charge_surface(surface);
    }

    fn destroyed(&mut self, surface: &WlSurface) {
        // A touch point on it is lifted (its client still hears of it).
        self.release_touches_on(surface);
        self.release_surface(surface);
    }

    fn new_subsurface(&mut self, surface: &WlSurface, _parent: &WlSurface) {
        add_pre_commit_hook::<Self, _>(surface, |_, _, surface| hold_subsurface_position(surface));
    }

    fn commit(&mut self, surface: &WlSurface) {
        reset_damage_count(surface);
        // Before the renderer's view of the tree is rebuilt from the positions.
        apply_subsurface_positions(surface);
        on_commit_buffer_handler::<Self>(surface);
        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(window) = self.window_for_surface(&root) {
                window.on_commit();
            }
            self.toplevel_commit(&root);
        }
        self.popup_commit(surface);
        // A surface that grew, moved (a subsurface) or appeared under the pointer: the client
        // learns it with this commit, not a frame later.
        self.refresh_pointer_focus();
        self.queue_redraw();
    }
}
delegate_global_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlCompositor: ()] => CompositorState);
super::guarded_dispatch!(
    WlRegion,
    RegionUserData,
    CompositorState,
    bound_region_request,
    |_, _, _, _| {}
);
super::level_filtered_global!(WlSubcompositor, (), CompositorState, "wl_subcompositor");

// What a client sends about its surfaces is bounded before smithay sees it (crate::limits).
super::guarded_dispatch!(
    WlSurface,
    SurfaceUserData,
    CompositorState,
    bound_surface_request,
    |_, _, _, _| {}
);
super::guarded_dispatch!(
    WlCallback,
    (),
    CompositorState,
    |_, _, _, request| Some(request),
    |state, _, callback, _| { state.release(callback.client().as_ref(), Quota::FrameCallbacks, 1) }
);
super::guarded_dispatch!(
    WlSubcompositor,
    (),
    CompositorState,
    bound_subsurface_tree,
    |_, _, _, _| {}
);
super::guarded_dispatch!(
    WlSubsurface,
    SubsurfaceUserData,
    CompositorState,
    |_, _, _, request| Some(match request {
        wl_subsurface::Request::SetPosition { x, y } => wl_subsurface::Request::SetPosition {
            x: limits::coord(x),
            y: limits::coord(y),
        },
        other => other,
    }),
    |_, _, _, _| {}
);

/// A region's rectangles: clamped, empty ones dropped (smithay 0.7 builds a negative `Size`
/// from a negative width), at most `MAX_REGION_RECTS` of them.
fn bound_region_request(
    state: &mut State,
    client: &Client,
    region: &WlRegion,
    request: wl_region::Request,
) -> Option<wl_region::Request> {
    use wl_region::Request;
    let (x, y, width, height) = match request {
        Request::Add {
            x,
            y,
            width,
            height,
        }
        | Request::Subtract {
            x,
            y,
            width,
            height,
        } => (x, y, width, height),
        other => return Some(other),
    };
    if width <= 0 || height <= 0 {
        // An empty rectangle adds or removes nothing.
        return None;
    }
    if smithay::wayland::compositor::get_region_attributes(region)
        .rects
        .len()
        >= limits::MAX_REGION_RECTS
    {
        limits::disconnect(
            &state.display_handle,
            client,
            format!(
                "a region may hold at most {} rectangles",
                limits::MAX_REGION_RECTS
            ),
        );
        return None;
    }
    let (x, y) = (limits::coord(x), limits::coord(y));
    let (width, height) = (
        width.min(2 * limits::MAX_COORD),
        height.min(2 * limits::MAX_COORD),
    );
    Some(match request {
        Request::Add { .. } => Request::Add {
            x,
            y,
            width,
            height,
        },
        _ => Request::Subtract {
            x,
            y,
            width,
            height,
        },
    })
}

/// Damage rectangles a surface collected since its state was last applied
/// (`MAX_DAMAGE_RECTS`; a synchronised subsurface's commits pile up until its parent's).
#[derive(Default)]
struct PendingDamage(std::sync::atomic::AtomicU32);

/// Its state was applied: the count starts again.
fn reset_damage_count(surface: &WlSurface) {
    with_states(surface, |states| {
        if let Some(d) = states.data_map.get::<PendingDamage>() {
            d.0.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    });
}

/// Counts one more damage rectangle on `surface`: `Some(false)` while within the bound,
/// `Some(true)` for the first one past it, `None` after that.
fn count_damage(surface: &WlSurface) -> Option<bool> {
    use std::sync::atomic::Ordering;
    let n = with_states(surface, |states| {
        states
            .data_map
            .insert_if_missing_threadsafe(PendingDamage::default);
        states
            .data_map
            .get::<PendingDamage>()
            .map(|d| d.0.fetch_add(1, Ordering::Relaxed).saturating_add(1))
            .unwrap_or(0)
    });
    match n {
        n if n <= limits::MAX_DAMAGE_RECTS => Some(false),
        n if n == limits::MAX_DAMAGE_RECTS + 1 => Some(true),
        _ => None,
    }
}

/// Offsets and damage clamped, damage counted; a frame callback counted against the level's
/// quota.
fn bound_surface_request(
    state: &mut State,
    client: &Client,
    surface: &WlSurface,
    request: wl_surface::Request,
) -> Option<wl_surface::Request> {
    use wl_surface::Request;
    // Past MAX_DAMAGE_RECTS rectangles, one that covers the whole surface, then nothing.
    let everything = Request::Damage {
        x: 0,
        y: 0,
        width: 2 * limits::MAX_COORD,
        height: 2 * limits::MAX_COORD,
    };
    match &request {
        Request::Damage { .. } | Request::DamageBuffer { .. } => match count_damage(surface) {
            Some(false) => {}
            Some(true) => return Some(everything),
            None => return None,
        },
        _ => {}
    }
    let rect = |x: i32, y: i32, w: i32, h: i32| {
        (
            limits::coord(x),
            limits::coord(y),
            w.clamp(0, 2 * limits::MAX_COORD),
            h.clamp(0, 2 * limits::MAX_COORD),
        )
    };
    Some(match request {
        Request::Attach { buffer, x, y } => Request::Attach {
            buffer,
            x: limits::coord(x),
            y: limits::coord(y),
        },
        Request::Offset { x, y } => Request::Offset {
            x: limits::coord(x),
            y: limits::coord(y),
        },
        Request::Damage {
            x,
            y,
            width,
            height,
        } => {
            let (x, y, width, height) = rect(x, y, width, height);
            Request::Damage {
                x,
                y,
                width,
                height,
            }
        }
        Request::DamageBuffer {
            x,
            y,
            width,
            height,
        } => {
            let (x, y, width, height) = rect(x, y, width, height);
            Request::DamageBuffer {
                x,
                y,
                width,
                height,
            }
        }
        Request::Frame { callback } => {
            if !state.charge(client, Quota::FrameCallbacks, 1) {
                // Cut off: the callback object is never made.
                return None;
            }
            Request::Frame { callback }
        }
        other => other,
    })
}

/// A subsurface tree at most `MAX_SUBSURFACE_DEPTH` deep (smithay walks trees recursively):
/// the surface's own subtree counts, so a tree built from the bottom up is bounded too.
fn bound_subsurface_tree(
    _state: &mut State,
    _client: &Client,
    subcompositor: &WlSubcompositor,
    request: wl_subcompositor::Request,
) -> Option<wl_subcompositor::Request> {
    if let wl_subcompositor::Request::GetSubsurface {
        surface, parent, ..
    } = &request
        && limits::subsurface_depth(parent) + 1 + limits::subsurface_height(surface)
            > limits::MAX_SUBSURFACE_DEPTH
    {
        subcompositor.post_error(
            wl_subcompositor::Error::BadParent,
            format!(
                "subsurface trees may be at most {} deep",
                limits::MAX_SUBSURFACE_DEPTH
            ),
        );
        return None;
    }
    Some(request)
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}
