//! Popups: committed, kept on screen with their frame, and tied to their level.

use super::*;

impl State {
    /// Commit handling for popups: initial configure.
    pub fn popup_commit(&mut self, surface: &WlSurface) {
        self.popups.commit(surface);
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface)
            && !popup.is_initial_configure_sent()
            && let Err(err) = popup.send_configure()
        {
            tracing::warn!("initial popup configure failed: {err}");
        }
    }

    /// Places a popup so that it stays on the output, following its positioner's constraint
    /// adjustments.
    pub fn unconstrain_popup(&self, popup: &PopupSurface) {
        let kind = PopupKind::Xdg(popup.clone());
        let Ok(root) = find_popup_root_surface(&kind) else {
            return;
        };
        let Some(window) = self.window_for_surface(&root) else {
            return;
        };
        let Some(window_loc) = self.space.element_location(&window) else {
            return;
        };
        // The target rectangle, relative to the popup's parent.
        let mut target =
            self.usable_area_for(Rectangle::new(window_loc, window_geometry(&window).size));
        target.loc -= get_popup_toplevel_coords(&kind);
        target.loc -= window_loc;
        popup.with_pending_state(|state| {
            // What the client's constraint adjustments give (xdg-shell). Whatever they are, the
            // popup is *shown* on screen, frame included (`render::popup_on_screen`).
            state.geometry = state.positioner.get_unconstrained_geometry(target);
        });
    }

    /// The level that owns a popup (through its root toplevel).
    pub fn popup_level(&self, popup: &PopupSurface) -> Option<LevelId> {
        self.surface_level(popup.wl_surface())
    }
}
