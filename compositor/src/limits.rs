//! What a level's clients may ask of the compositor: every number and every count a client
//! controls is bounded here, at the protocol boundary, before smithay or the compositor does
//! arithmetic with it or allocates for it.
//!
//! * **Coordinates and sizes** a client sends (surface offsets, damage, subsurface positions,
//!   positioner rectangles, window geometry, viewport destinations) are clamped to
//!   ±[`MAX_COORD`] and [`MAX_EXTENT`]: the sums and scalings the compositor makes of a few of
//!   them can no longer overflow `i32`. Buffers larger than [`MAX_EXTENT`] in a dimension are
//!   refused; window and popup geometry is clamped again where it is used ([`extent`]).
//! * **Subsurface trees** are at most [`MAX_SUBSURFACE_DEPTH`] deep (smithay walks them
//!   recursively).
//! * **Per-level quotas** (`[limits]` in the configuration): clients, surfaces, shm pools and
//!   buffers (each holds a descriptor), shm bytes, frame callbacks waiting. They are counted
//!   per client and per level: the client whose request takes its level past a quota is
//!   disconnected with a protocol error (`wl_display.no_memory`), its objects are released,
//!   and the bar says so once per level and quota. Other clients of the level, and every other
//!   level, carry on; a level cannot use up the compositor's descriptors.
//!
//! * **Counts inside one object** are bounded too: rectangles in a region
//!   ([`MAX_REGION_RECTS`]), damage rectangles between two commits ([`MAX_DAMAGE_RECTS`]:
//!   past them the whole surface is damaged once), MIME types offered by one source
//!   ([`MAX_MIME_TYPES`]).
//!
//! The dispatch wrappers in `handlers/` call these functions, then forward the request to
//! smithay — unless it cut its client off (then smithay never sees it: its objects are never
//! made, and the backend reads nothing more from that client).

use std::sync::atomic::{AtomicU64, Ordering};

use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, DisplayHandle, Resource};

use crate::state::{ClientState, LevelId, State};

/// Largest coordinate (offset, position) a client may use, in either direction.
pub const MAX_COORD: i32 = 1 << 16;
/// Largest size (width or height) of anything a client declares or draws.
pub const MAX_EXTENT: i32 = 1 << 14;
/// Deepest subsurface tree (a toplevel's surface is depth 0).
pub const MAX_SUBSURFACE_DEPTH: usize = 16;
/// Most rectangles in one `wl_region`: smithay merges a surface's opaque region with a pass
/// quadratic in their number at each commit of a new buffer (GTK and Qt send a handful).
pub const MAX_REGION_RECTS: usize = 256;
/// Most damage rectangles a surface collects between two commits; past them the whole
/// surface is damaged once and the rest dropped (smithay keeps every one).
pub const MAX_DAMAGE_RECTS: u32 = 256;
/// Most MIME types one selection or drag source may offer (each is copied to every offer).
pub const MAX_MIME_TYPES: usize = 64;

/// Disconnects `client` with `wl_display.no_memory` and `message`: it went past a bound.
pub fn disconnect(dh: &DisplayHandle, client: &Client, message: String) {
    client.kill(
        dh,
        smithay::reexports::wayland_server::backend::protocol::ProtocolError {
            // wl_display.error.no_memory
            code: 2,
            object_id: 1,
            object_interface: "wl_display".into(),
            message,
        },
    );
}

/// A coordinate, clamped.
pub fn coord(v: i32) -> i32 {
    v.clamp(-MAX_COORD, MAX_COORD)
}

/// A size, clamped (negative values stay: the protocols give them meanings, or reject them).
pub fn extent(v: i32) -> i32 {
    v.min(MAX_EXTENT)
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// Connected clients.
    Clients,
    /// Surfaces.
    Surfaces,
    /// shm pools and shm buffers.
    ShmBuffers,
    /// Bytes of shm buffers (stride × height).
    ShmBytes,
    /// Frame callbacks waiting.
    FrameCallbacks,
}

impl Quota {
    const ALL: [Quota; 5] = [
        Quota::Clients,
        Quota::Surfaces,
        Quota::ShmBuffers,
        Quota::ShmBytes,
        Quota::FrameCallbacks,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// What the bar calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Quota::Clients => "connections",
            Quota::Surfaces => "surfaces",
            Quota::ShmBuffers => "shared-memory buffers",
            Quota::ShmBytes => "bytes of shared memory",
            Quota::FrameCallbacks => "frame callbacks",
        }
    }

    /// The configured limit.
    pub fn limit(self, limits: &cloison_config::LimitsConfig) -> u64 {
        match self {
            Quota::Clients => limits.clients as u64,
            Quota::Surfaces => limits.surfaces as u64,
            Quota::ShmBuffers => limits.shm_buffers as u64,
            Quota::ShmBytes => limits.shm_bytes,
            Quota::FrameCallbacks => limits.frame_callbacks as u64,
        }
    }
}

/// Counters of what a level (or one client) holds.
#[derive(Debug, Default)]
pub struct Usage {
    counts: [AtomicU64; 5],
}

impl Usage {
    /// What is held of `quota`.
    pub fn get(&self, quota: Quota) -> u64 {
        self.counts[quota.index()].load(Ordering::Relaxed)
    }

    fn add(&self, quota: Quota, n: u64) -> u64 {
        self.counts[quota.index()].fetch_add(n, Ordering::Relaxed) + n
    }

    /// Takes up to `n` off this counter (never below zero); returns what was taken.
    fn take(&self, quota: Quota, n: u64) -> u64 {
        let counter = &self.counts[quota.index()];
        let mut taken = 0;
        let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            taken = v.min(n);
            Some(v - taken)
        });
        taken
    }
}

/// A client's share of its level's quotas.
#[derive(Debug, Default)]
pub struct ClientUsage {
    /// What this client holds.
    pub own: Usage,
}

impl ClientState {
    /// Counts `n` more of `quota` for this client and its level; `Err` with the level's total
    /// when that is above `limit`.
    fn charge(&self, quota: Quota, n: u64, limit: u64) -> Result<(), u64> {
        self.usage.own.add(quota, n);
        let total = self.level_usage.add(quota, n);
        if total > limit { Err(total) } else { Ok(()) }
    }

    /// Gives back up to `n` of `quota` (what this client still holds of it).
    fn release(&self, quota: Quota, n: u64) {
        let taken = self.usage.own.take(quota, n);
        self.level_usage.take(quota, taken);
    }

    /// The client is gone: whatever it still held goes back to its level.
    pub fn release_all(&self) {
        for quota in Quota::ALL {
            let held = self.usage.own.get(quota);
            self.release(quota, held);
        }
    }
}

fn client_state(client: &Client) -> Option<&ClientState> {
    client.get_data::<ClientState>()
}

impl State {
    /// Counts `n` of `quota` for `client`; over its level's limit, the client is disconnected
    /// and the bar says so (once per level and quota). Returns whether it stays.
    pub fn charge(&mut self, client: &Client, quota: Quota, n: u64) -> bool {
        let Some(data) = client_state(client) else {
            return true;
        };
        let limit = quota.limit(&self.config.limits);
        match data.charge(quota, n, limit) {
            Ok(()) => true,
            Err(total) => {
                let level = data.level;
                self.over_quota(&self.display_handle.clone(), client, level, quota, total);
                false
            }
        }
    }

    /// Gives back `n` of `quota` held by the client `client` (if it is still known).
    pub fn release(&self, client: Option<&Client>, quota: Quota, n: u64) {
        if let Some(data) = client.and_then(client_state) {
            data.release(quota, n);
        }
    }

    fn over_quota(
        &mut self,
        dh: &DisplayHandle,
        client: &Client,
        level: LevelId,
        quota: Quota,
        total: u64,
    ) {
        let limit = quota.limit(&self.config.limits);
        let name = self.levels[level.0].name.clone();
        tracing::warn!(
            level = %name,
            "a client asked for {total} {} (its level may hold {limit}); disconnecting it",
            quota.describe()
        );
        disconnect(
            dh,
            client,
            format!(
                "level {name} may hold at most {limit} {} (see [limits] in the configuration)",
                quota.describe()
            ),
        );
        self.quota_notice(level, quota);
    }

    /// Tells the user, once per level and quota, that a program of the level was cut off.
    pub fn quota_notice(&mut self, level: LevelId, quota: Quota) {
        let state = &mut self.levels[level.0];
        let bit = 1u8 << quota.index();
        if state.quota_noticed & bit != 0 {
            return;
        }
        state.quota_noticed |= bit;
        let text = format!(
            "{}: a program was closed: it wanted more than {} {}",
            state.label,
            quota.limit(&self.config.limits),
            quota.describe()
        );
        self.ui.bar.notify(text);
        self.ui_changed();
    }

    /// A new surface: counted, and marked so it is given back exactly once.
    pub fn charge_surface(&mut self, surface: &WlSurface) {
        let Some(client) = surface.client() else {
            return;
        };
        smithay::wayland::compositor::with_states(surface, |states| {
            states
                .data_map
                .insert_if_missing_threadsafe(|| std::sync::atomic::AtomicBool::new(true));
        });
        self.charge(&client, Quota::Surfaces, 1);
    }

    /// A surface was destroyed: its count goes back (once).
    pub fn release_surface(&self, surface: &WlSurface) {
        let counted = smithay::wayland::compositor::with_states(surface, |states| {
            states
                .data_map
                .get::<std::sync::atomic::AtomicBool>()
                .is_some_and(|c| c.swap(false, Ordering::Relaxed))
        });
        if counted {
            self.release(surface.client().as_ref(), Quota::Surfaces, 1);
        }
    }

    /// An shm pool object was destroyed (smithay keeps its mapping while its buffers live;
    /// they are counted on their own).
    pub fn release_pool(&self, client: Option<&Client>) {
        self.release(client, Quota::ShmBuffers, 1);
    }

    /// The source `source` offers one more MIME type: past [`MAX_MIME_TYPES`] its client is
    /// disconnected. Returns whether it stays.
    pub fn count_mime_type(&mut self, client: &Client, source: ObjectId) -> bool {
        let offered = self.mime_offers.entry(source).or_default();
        *offered += 1;
        if *offered <= MAX_MIME_TYPES {
            return true;
        }
        disconnect(
            &self.display_handle,
            client,
            format!("a source may offer at most {MAX_MIME_TYPES} types"),
        );
        false
    }

    /// A selection or drag source was destroyed.
    pub fn forget_source(&mut self, source: &ObjectId) {
        self.mime_offers.remove(source);
    }

    /// A new shm buffer of `bytes` (stride × height): a descriptor's worth, and its pixels.
    /// Returns whether the client stays (over quota, it was disconnected).
    pub fn charge_buffer(&mut self, client: &Client, bytes: u64) -> bool {
        self.charge(client, Quota::ShmBuffers, 1) && self.charge(client, Quota::ShmBytes, bytes)
    }

    /// An shm buffer of `bytes` was destroyed.
    pub fn release_buffer(&self, client: Option<&Client>, bytes: u64) {
        self.release(client, Quota::ShmBuffers, 1);
        self.release(client, Quota::ShmBytes, bytes);
    }
}

/// How many levels of subsurfaces hang below `surface` (0 for none), counted up to
/// `MAX_SUBSURFACE_DEPTH + 1` (trees are kept within the bound, so the walk is too).
pub fn subsurface_height(surface: &WlSurface) -> usize {
    fn below(surface: &WlSurface, depth: usize) -> usize {
        if depth > MAX_SUBSURFACE_DEPTH {
            return depth;
        }
        smithay::wayland::compositor::get_children(surface)
            .iter()
            .map(|child| below(child, depth + 1))
            .max()
            .unwrap_or(depth)
    }
    below(surface, 0)
}

/// How deep `surface` sits in its subsurface tree (0 for a root).
pub fn subsurface_depth(surface: &WlSurface) -> usize {
    let mut depth = 0;
    let mut current = surface.clone();
    while let Some(parent) = smithay::wayland::compositor::get_parent(&current) {
        depth += 1;
        if depth > MAX_SUBSURFACE_DEPTH + 1 {
            break;
        }
        current = parent;
    }
    depth
}
