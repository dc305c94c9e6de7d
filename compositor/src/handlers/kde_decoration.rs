//! org_kde_kwin_server_decoration_manager (optional, filtered per level): the older KDE
//! protocol GTK3 and Qt read to learn that the compositor draws the title bars. Its default
//! mode and every answer are "server": frames are the compositor's, in the level's colour, so
//! GTK3 draws no second title bar and no shadow inside the trusted one. A client that asks for
//! client-side decorations is answered "server" again (each answer follows one request of the
//! client's, so a client that insists only loops against itself); whatever it then draws
//! stays inside the trusted frame.

use smithay::delegate_kde_decoration;
use smithay::reexports::wayland_protocols_misc::server_decoration::server::org_kde_kwin_server_decoration::{
    Mode, OrgKdeKwinServerDecoration,
};
use smithay::reexports::wayland_server::WEnum;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::shell::kde::decoration::{KdeDecorationHandler, KdeDecorationState};

use crate::state::State;

impl KdeDecorationHandler for State {
    fn kde_decoration_state(&self) -> &KdeDecorationState {
        &self.kde_decoration_state
    }

    fn new_decoration(&mut self, _surface: &WlSurface, decoration: &OrgKdeKwinServerDecoration) {
        decoration.mode(Mode::Server);
    }

    fn request_mode(
        &mut self,
        _surface: &WlSurface,
        decoration: &OrgKdeKwinServerDecoration,
        _mode: WEnum<Mode>,
    ) {
        decoration.mode(Mode::Server);
    }
}
delegate_kde_decoration!(State);
