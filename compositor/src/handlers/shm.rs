//! wl_shm. A client that shrinks its pool under a buffer makes the next access fault; smithay
//! catches the SIGBUS and posts a protocol error, which disconnects only that client.
//!
//! What a client maps is counted against its level's quotas (pools and buffers each hold a
//! descriptor; buffers' pixels count as shm bytes) and bounded: a buffer is at most
//! `limits::MAX_EXTENT` pixels in each dimension, and a pool is never resized to nothing
//! (smithay 0.7 would panic on `resize(0)`).

use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_shm::{self, WlShm};
use smithay::reexports::wayland_server::protocol::wl_shm_pool::{self, WlShmPool};
use smithay::reexports::wayland_server::{Client, Resource as _, delegate_global_dispatch};
use smithay::wayland::shm::{ShmBufferUserData, ShmHandler, ShmPoolUserData, ShmState};

use crate::limits;
use crate::state::State;

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}

delegate_global_dispatch!(State: [WlShm: ()] => ShmState);
super::guarded_dispatch!(
    WlShm,
    (),
    ShmState,
    |state, client, _, request| {
        // A pool holds a descriptor: it counts as one shm object.
        if let wl_shm::Request::CreatePool { .. } = &request
            && !state.charge(client, limits::Quota::ShmBuffers, 1)
        {
            return None;
        }
        Some(request)
    },
    |_, _, _, _| {}
);
super::guarded_dispatch!(
    WlShmPool,
    ShmPoolUserData,
    ShmState,
    bound_pool_request,
    |state, _, pool, _| state.release_pool(pool.client().as_ref())
);
super::guarded_dispatch!(
    WlBuffer,
    ShmBufferUserData,
    ShmState,
    |_, _, _, request| Some(request),
    |state, _, buffer, _| {
        let bytes = buffer_bytes(buffer);
        state.release_buffer(buffer.client().as_ref(), bytes);
    }
);

/// Buffers at most `MAX_EXTENT` pixels wide and high, counted; no resize to nothing.
fn bound_pool_request(
    state: &mut State,
    client: &Client,
    pool: &WlShmPool,
    request: wl_shm_pool::Request,
) -> Option<wl_shm_pool::Request> {
    match &request {
        wl_shm_pool::Request::CreateBuffer {
            width,
            height,
            stride,
            ..
        } => {
            if *width > limits::MAX_EXTENT || *height > limits::MAX_EXTENT {
                pool.post_error(
                    wl_shm::Error::InvalidStride,
                    format!(
                        "a {width}x{height} buffer: at most {0}x{0}",
                        limits::MAX_EXTENT
                    ),
                );
                return None;
            }
            // smithay checks the rest (positive sizes, stride, offset within the pool).
            let bytes = (*stride).max(0) as u64 * (*height).max(0) as u64;
            if !state.charge_buffer(client, bytes) {
                // Disconnected: smithay must not see the request (it would post a second error
                // on a dead client, or keep a buffer nobody counts).
                return None;
            }
        }
        wl_shm_pool::Request::Resize { size } if *size <= 0 => {
            pool.post_error(wl_shm::Error::InvalidFd, "invalid wl_shm_pool size");
            return None;
        }
        _ => {}
    }
    Some(request)
}

/// What a buffer's pixels take (stride × height), as smithay recorded it.
fn buffer_bytes(buffer: &WlBuffer) -> u64 {
    smithay::wayland::shm::with_buffer_contents(buffer, |_, _, data| {
        data.stride.max(0) as u64 * data.height.max(0) as u64
    })
    .unwrap_or(0)
}
