//! wl_shm. A client that shrinks its pool under a buffer makes the next access fault; smithay
//! catches the SIGBUS and posts a protocol error, which disconnects only that client.

use smithay::delegate_shm;
use smithay::wayland::shm::{ShmHandler, ShmState};

use crate::state::State;

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}
delegate_shm!(State);
