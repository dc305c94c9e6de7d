//! xdg_wm_base: toplevels and popups. Window-management decisions live in `shell.rs`.

use smithay::desktop::{PopupKind, find_popup_root_surface};
use smithay::input::Seat;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_popup::XdgPopup;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_positioner::{
    self, XdgPositioner,
};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_surface::{self, XdgSurface};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::{self, XdgToplevel};
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_wm_base::XdgWmBase;
use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::protocol::{wl_output, wl_seat};
use smithay::utils::Serial;
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, ToplevelSurface, XdgPositionerUserData, XdgShellHandler,
    XdgShellState, XdgShellSurfaceUserData, XdgSurfaceUserData, XdgWmBaseUserData,
};

use crate::limits;
use crate::state::State;

impl XdgShellHandler for State {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell_state
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        State::new_toplevel(self, surface);
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        State::toplevel_destroyed(self, &surface);
    }

    fn popup_destroyed(&mut self, _surface: PopupSurface) {
        // While its surface still exists, the pointer leaves it (a leave cannot be sent once
        // the client destroyed the surface too).
        self.popups.cleanup();
        self.refresh_pointer_focus();
    }

    fn new_popup(&mut self, surface: PopupSurface, _positioner: PositionerState) {
        self.unconstrain_popup(&surface);
        if let Err(err) = self.popups.track_popup(PopupKind::Xdg(surface)) {
            tracing::warn!("cannot track popup: {err}");
        }
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        self.unconstrain_popup(&surface);
        surface.send_repositioned(token);
    }

    fn grab(&mut self, surface: PopupSurface, seat: wl_seat::WlSeat, serial: Serial) {
        // The wl_seat the client names is necessarily its own level's seat (it cannot see
        // another), but check that the popup belongs to that seat's level anyway.
        let Some(seat) = Seat::<State>::from_resource(&seat) else {
            return;
        };
        let (Some(seat_level), Some(popup_level)) =
            (State::seat_level(&seat), self.popup_level(&surface))
        else {
            return;
        };
        if seat_level != popup_level {
            return;
        }
        // Only with the serial of recent user input on that seat: a client cannot take its
        // level's pointer and keyboard (and hold them over other levels' windows) without the
        // user having just clicked or typed in it.
        let kind = PopupKind::Xdg(surface);
        let Ok(root) = find_popup_root_surface(&kind) else {
            return;
        };
        if !self.levels[popup_level.0].recent_input(serial) {
            // A refused grab dismisses the popup (xdg-shell).
            tracing::debug!(?serial, "popup grab without recent user input: dismissed");
            let _ = smithay::desktop::PopupManager::dismiss_popup(&root, &kind);
            return;
        }
        let mut grab = match self.popups.grab_popup(root, kind, &seat, serial) {
            Ok(grab) => grab,
            Err(err) => {
                tracing::debug!("popup grab refused: {err:?}");
                return;
            }
        };
        if let Some(keyboard) = seat.get_keyboard() {
            if keyboard.is_grabbed()
                && !(keyboard.has_grab(serial)
                    || keyboard.has_grab(grab.previous_serial().unwrap_or(serial)))
            {
                grab.ungrab(smithay::desktop::PopupUngrabStrategy::All);
                return;
            }
            keyboard.set_focus(self, grab.current_grab(), serial);
            keyboard.set_grab(
                self,
                smithay::desktop::PopupKeyboardGrab::new(&grab),
                serial,
            );
        }
        if let Some(pointer) = seat.get_pointer() {
            if pointer.is_grabbed()
                && !(pointer.has_grab(serial)
                    || pointer.has_grab(grab.previous_serial().unwrap_or_else(|| grab.serial())))
            {
                grab.ungrab(smithay::desktop::PopupUngrabStrategy::All);
                return;
            }
            pointer.set_grab(
                self,
                smithay::desktop::PopupPointerGrab::new(&grab),
                serial,
                smithay::input::pointer::Focus::Keep,
            );
        }
    }

    fn move_request(&mut self, surface: ToplevelSurface, _seat: wl_seat::WlSeat, serial: Serial) {
        self.start_interactive(&surface, serial, None);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        _seat: wl_seat::WlSeat,
        serial: Serial,
        edges: xdg_toplevel::ResizeEdge,
    ) {
        self.start_interactive(&surface, serial, Some(edges));
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        self.set_fill(&surface, false, true);
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        self.set_fill(&surface, false, false);
    }

    fn fullscreen_request(
        &mut self,
        surface: ToplevelSurface,
        _output: Option<wl_output::WlOutput>,
    ) {
        let allowed = self
            .surface_level(surface.wl_surface())
            .is_some_and(|level| self.level(level).allow_fullscreen);
        if allowed {
            self.set_fill(&surface, true, true);
        } else if surface.is_initial_configure_sent() {
            // Refused by the level's policy: answer with the unchanged state.
            surface.send_configure();
        }
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        self.set_fill(&surface, true, false);
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        if let Some(window) = self.window_for_surface(surface.wl_surface()) {
            self.minimize(&window);
        }
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        if let (Some(window), Some(level)) = (
            self.window_for_surface(surface.wl_surface()),
            self.surface_level(surface.wl_surface()),
        ) {
            crate::ui::decorations::title_changed(&window, self.level(level).color);
        }
        self.queue_redraw();
    }
}
// delegate_xdg_shell!, with what a client says about sizes and places bounded first
// (crate::limits): positioner rectangles and offsets, and window geometry.
smithay::reexports::wayland_server::delegate_global_dispatch!(State: [XdgWmBase: ()] => XdgShellState);
smithay::reexports::wayland_server::delegate_dispatch!(State: [XdgWmBase: XdgWmBaseUserData] => XdgShellState);
smithay::reexports::wayland_server::delegate_dispatch!(State: [XdgPopup: XdgShellSurfaceUserData] => XdgShellState);
super::guarded_dispatch!(
    XdgToplevel,
    XdgShellSurfaceUserData,
    XdgShellState,
    |_, _, toplevel, request| {
        use xdg_toplevel::Request;
        match request {
            // xdg-shell: a negative minimum or maximum size is invalid_size (smithay 0.7 does
            // not check, and builds a negative size from it); zero means "no limit".
            Request::SetMinSize { width, height } | Request::SetMaxSize { width, height }
                if width < 0 || height < 0 =>
            {
                toplevel.post_error(
                    xdg_toplevel::Error::InvalidSize,
                    format!("a minimum or maximum size of {width}x{height}"),
                );
                None
            }
            Request::SetMinSize { width, height } => Some(Request::SetMinSize {
                width: limits::extent(width),
                height: limits::extent(height),
            }),
            Request::SetMaxSize { width, height } => Some(Request::SetMaxSize {
                width: limits::extent(width),
                height: limits::extent(height),
            }),
            other => Some(other),
        }
    },
    |_, _, _, _| {}
);
super::guarded_dispatch!(
    XdgPositioner,
    XdgPositionerUserData,
    XdgShellState,
    |_, _, positioner, request| match request {
        // No error is defined for a negative parent size; smithay 0.7 builds a `Size` from it
        // (a debug assertion). Refused as invalid input.
        xdg_positioner::Request::SetParentSize {
            parent_width,
            parent_height,
        } if parent_width < 0 || parent_height < 0 => {
            positioner.post_error(
                xdg_positioner::Error::InvalidInput,
                format!("parent size of {parent_width}x{parent_height}"),
            );
            None
        }
        request => Some(bound_positioner(request)),
    },
    |_, _, _, _| {}
);
super::guarded_dispatch!(
    XdgSurface,
    XdgSurfaceUserData,
    XdgShellState,
    |_, _, xdg_surface, request| match request {
        // xdg-shell: a width or height of zero or less is an error (smithay 0.7 does not check,
        // and builds a negative size from it).
        xdg_surface::Request::SetWindowGeometry { width, height, .. }
            if width <= 0 || height <= 0 =>
        {
            xdg_surface.post_error(
                xdg_surface::Error::InvalidSize,
                format!("window geometry of {width}x{height}"),
            );
            None
        }
        xdg_surface::Request::SetWindowGeometry {
            x,
            y,
            width,
            height,
        } => Some(xdg_surface::Request::SetWindowGeometry {
            x: limits::coord(x),
            y: limits::coord(y),
            width: limits::extent(width),
            height: limits::extent(height),
        }),
        other => Some(other),
    },
    |_, _, _, _| {}
);

/// A positioner's sizes and offsets, clamped.
fn bound_positioner(request: xdg_positioner::Request) -> xdg_positioner::Request {
    use xdg_positioner::Request;
    match request {
        Request::SetSize { width, height } => Request::SetSize {
            width: limits::extent(width),
            height: limits::extent(height),
        },
        Request::SetAnchorRect {
            x,
            y,
            width,
            height,
        } => Request::SetAnchorRect {
            x: limits::coord(x),
            y: limits::coord(y),
            width: limits::extent(width),
            height: limits::extent(height),
        },
        Request::SetOffset { x, y } => Request::SetOffset {
            x: limits::coord(x),
            y: limits::coord(y),
        },
        Request::SetParentSize {
            parent_width,
            parent_height,
        } => Request::SetParentSize {
            parent_width: limits::extent(parent_width),
            parent_height: limits::extent(parent_height),
        },
        other => other,
    }
}
