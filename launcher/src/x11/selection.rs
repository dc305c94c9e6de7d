//! The level's X selections (`CLIPBOARD`, `PRIMARY`) bridged to the same level's Wayland
//! selections, both ways, so that X and Wayland apps of one level copy and paste between each
//! other and the compositor's cross-level chords work for X apps as for any other. Nothing
//! here reaches another level: the Wayland selections are the level's own seat's.
//!
//! * X → Wayland: when an X client takes a selection (XFixes tells), the bridge asks it for
//!   its `TARGETS` and offers them as a Wayland source (taken by the compositor while one of
//!   the bridge's windows has the keyboard; else when one gets it). A Wayland client's paste
//!   becomes a `ConvertSelection`, read whole (`INCR` included) up to [`MAX_BYTES`], written
//!   to the client's descriptor by a thread.
//! * Wayland → X: when the level's Wayland selection changes, the bridge owns the X
//!   selection; an X client's paste reads the Wayland offer (bounded in bytes and time) and
//!   answers with one property (transfers larger than one X request are refused).

use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd as _, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::xfixes::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    self, Atom, AtomEnum, ConnectionExt as _, EventMask, PropMode, SelectionNotifyEvent,
    SelectionRequestEvent,
};
use x11rb::wrapper::ConnectionExt as _;

use super::Bridge;
use super::wl::{Offer, SelKind, Source};

/// The most a paste carries either way.
pub const MAX_BYTES: usize = 64 << 20;
/// How long an X paste waits for the Wayland client that holds the selection (the bridge
/// serves nothing else meanwhile: a level's client that never answers slows its own X display
/// by this much per paste, no more).
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Pastes being written to Wayland clients at once (one thread each).
const MAX_WRITERS: usize = 16;
/// How long a Wayland client may take to read a paste.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a conversion may take before the next one is tried.
const CONVERT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pastes waiting for an X owner that is still answering an earlier one.
const MAX_QUEUED: usize = 16;
/// Targets taken from an X owner.
const MAX_TARGETS: usize = 64;

/// One selection's bridge state.
#[derive(Default)]
pub struct SelState {
    /// Wayland → X: the level's Wayland selection, served to X clients.
    offer: Option<Offer>,
    /// X → Wayland: the source offering the X owner's data, and its targets by MIME type.
    source: Option<Source>,
    targets: Vec<(String, Atom)>,
    /// The X owner's targets are known but no window of the bridge had the keyboard.
    pending: bool,
    /// Pastes waiting for the X owner: the target and the Wayland client's descriptor.
    queue: VecDeque<(Atom, OwnedFd)>,
    /// The conversion in flight (`TARGETS` when the descriptor is `None`).
    inflight: Option<Inflight>,
}

struct Inflight {
    target: Atom,
    fd: Option<OwnedFd>,
    /// Data gathered so far of an `INCR` transfer.
    incr: Option<Vec<u8>>,
    started: Instant,
}

pub struct Selections {
    /// The bridge's selection window (owner and requestor).
    window: xproto::Window,
    clipboard_atom: Atom,
    targets_atom: Atom,
    incr_atom: Atom,
    text_atom: Atom,
    utf8_atom: Atom,
    /// Where each selection's conversions land on the selection window (one each: a
    /// clipboard and a primary transfer at once never mix).
    properties: [Atom; 2],
    clipboard: SelState,
    primary: SelState,
}

impl Selections {
    pub fn new(
        x: &x11rb::rust_connection::RustConnection,
        root: xproto::Window,
    ) -> anyhow::Result<Selections> {
        x.xfixes_query_version(5, 0)?.reply().context("XFIXES")?;
        let window = x.generate_id()?;
        x.create_window(
            x11rb::COPY_FROM_PARENT as u8,
            window,
            root,
            -10,
            -10,
            1,
            1,
            0,
            xproto::WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &xproto::CreateWindowAux::new()
                .event_mask(EventMask::PROPERTY_CHANGE)
                .override_redirect(1),
        )?;
        let atom = |name: &str| -> anyhow::Result<Atom> {
            Ok(x.intern_atom(false, name.as_bytes())?.reply()?.atom)
        };
        let sel = Selections {
            window,
            clipboard_atom: atom("CLIPBOARD")?,
            targets_atom: atom("TARGETS")?,
            incr_atom: atom("INCR")?,
            text_atom: atom("TEXT")?,
            utf8_atom: atom("UTF8_STRING")?,
            properties: [atom("_CLOISON_CLIPBOARD")?, atom("_CLOISON_PRIMARY")?],
            clipboard: SelState::default(),
            primary: SelState::default(),
        };
        for s in [sel.clipboard_atom, AtomEnum::PRIMARY.into()] {
            x.xfixes_select_selection_input(
                window,
                s,
                xfixes::SelectionEventMask::SET_SELECTION_OWNER
                    | xfixes::SelectionEventMask::SELECTION_WINDOW_DESTROY
                    | xfixes::SelectionEventMask::SELECTION_CLIENT_CLOSE,
            )?;
        }
        Ok(sel)
    }

    pub fn window(&self) -> xproto::Window {
        self.window
    }

    /// The compositor's connection is gone with the offers and sources on it; what X holds
    /// is offered again on the next connection.
    pub fn forget_wayland(&mut self) {
        for state in [&mut self.clipboard, &mut self.primary] {
            // (The bridge gives up the X selections it held for them: `Bridge::forget_wayland`.)
            state.offer = None;
            state.source = None;
            state.pending = !state.targets.is_empty();
            state.queue.clear();
            if let Some(inflight) = state.inflight.as_mut() {
                inflight.fd = None;
            }
        }
    }

    fn kind_of(&self, selection: Atom) -> Option<SelKind> {
        if selection == self.clipboard_atom {
            Some(SelKind::Clipboard)
        } else if selection == u32::from(AtomEnum::PRIMARY) {
            Some(SelKind::Primary)
        } else {
            None
        }
    }

    fn property_of(&self, kind: SelKind) -> Atom {
        match kind {
            SelKind::Clipboard => self.properties[0],
            SelKind::Primary => self.properties[1],
        }
    }

    fn atom_of(&self, kind: SelKind) -> Atom {
        match kind {
            SelKind::Clipboard => self.clipboard_atom,
            SelKind::Primary => AtomEnum::PRIMARY.into(),
        }
    }

    fn state(&mut self, kind: SelKind) -> &mut SelState {
        match kind {
            SelKind::Clipboard => &mut self.clipboard,
            SelKind::Primary => &mut self.primary,
        }
    }
}

/// A MIME type the bridge's own offers carry, to know them when they come back.
pub const BRIDGE_MIME: &str = "application/x-cloison-x11-bridge";

/// What Wayland calls an X text target.
const TEXT_MIMES: [&str; 3] = ["text/plain;charset=utf-8", "UTF8_STRING", "text/plain"];

impl Bridge {
    // ---- X → Wayland ----

    /// An X client took (or gave up) a selection.
    pub(super) fn x_owner_changed(
        &mut self,
        e: xfixes::SelectionNotifyEvent,
    ) -> anyhow::Result<()> {
        let Some(kind) = self.sel.kind_of(e.selection) else {
            return Ok(());
        };
        if e.owner == self.sel.window {
            return Ok(());
        }
        // Whatever the bridge offered for this selection is no longer what X holds.
        let state = self.sel.state(kind);
        if let Some(offer) = state.offer.take() {
            offer.destroy();
        }
        if let Some(source) = state.source.take() {
            source.destroy();
        }
        state.targets.clear();
        state.pending = false;
        if e.owner == x11rb::NONE {
            return Ok(());
        }
        self.convert(kind, self.sel.targets_atom, None)
    }

    fn convert(&mut self, kind: SelKind, target: Atom, fd: Option<OwnedFd>) -> anyhow::Result<()> {
        let selection = self.sel.atom_of(kind);
        let (window, property) = (self.sel.window, self.sel.property_of(kind));
        let state = self.sel.state(kind);
        // (An owner that never answered within CONVERT_TIMEOUT loses the paste waiting on
        // it: the next conversion goes ahead.)
        if let Some(inflight) = &state.inflight
            && inflight.started.elapsed() < CONVERT_TIMEOUT
        {
            // A level's own client asking without end fills nothing but this queue, bounded:
            // past it a paste gets nothing (its descriptor closes).
            if let Some(fd) = fd.filter(|_| state.queue.len() < MAX_QUEUED) {
                state.queue.push_back((target, fd));
            }
            return Ok(());
        }
        state.inflight = Some(Inflight {
            target,
            fd,
            incr: None,
            started: Instant::now(),
        });
        self.x
            .convert_selection(window, selection, target, property, x11rb::CURRENT_TIME)?;
        Ok(())
    }

    /// The X owner answered a conversion.
    pub(super) fn x_selection_notify(&mut self, e: SelectionNotifyEvent) -> anyhow::Result<()> {
        let Some(kind) = self.sel.kind_of(e.selection) else {
            return Ok(());
        };
        if e.requestor != self.sel.window {
            return Ok(());
        }
        let Some(inflight) = self.sel.state(kind).inflight.take() else {
            return Ok(());
        };
        if e.property == x11rb::NONE {
            return self.next_conversion(kind);
        }
        let reply = self.take_property(kind)?;
        if inflight.target == self.sel.targets_atom {
            let atoms: Vec<Atom> = reply
                .value32()
                .map(|v| v.take(MAX_TARGETS).collect())
                .unwrap_or_default();
            self.x_targets(kind, &atoms)?;
            return self.next_conversion(kind);
        }
        if reply.type_ == self.sel.incr_atom {
            // Chunks follow, each announced by a new value of the property.
            self.sel.state(kind).inflight = Some(Inflight {
                incr: Some(Vec::new()),
                started: Instant::now(),
                ..inflight
            });
            return Ok(());
        }
        if let Some(fd) = inflight.fd {
            write_out(fd, reply.value);
        }
        self.next_conversion(kind)
    }

    /// A property changed on the selection window: the next chunk of an `INCR` transfer.
    pub(super) fn x_selection_property(
        &mut self,
        e: xproto::PropertyNotifyEvent,
    ) -> anyhow::Result<()> {
        let kind = if e.atom == self.sel.property_of(SelKind::Clipboard) {
            SelKind::Clipboard
        } else if e.atom == self.sel.property_of(SelKind::Primary) {
            SelKind::Primary
        } else {
            return Ok(());
        };
        let incr = self
            .sel
            .state(kind)
            .inflight
            .as_ref()
            .is_some_and(|i| i.incr.is_some());
        if e.window != self.sel.window || e.state != xproto::Property::NEW_VALUE || !incr {
            return Ok(());
        }
        let reply = self.take_property(kind)?;
        let state = self.sel.state(kind);
        let Some(inflight) = state.inflight.as_mut() else {
            return Ok(());
        };
        let Some(data) = inflight.incr.as_mut() else {
            return Ok(());
        };
        if reply.value.is_empty() {
            let data = std::mem::take(data);
            if let Some(fd) = state.inflight.take().and_then(|i| i.fd) {
                write_out(fd, data);
            }
            return self.next_conversion(kind);
        }
        if data.len() + reply.value.len() > MAX_BYTES {
            tracing::warn!("an X selection larger than {MAX_BYTES} bytes is not pasted");
            state.inflight = None;
            return self.next_conversion(kind);
        }
        data.extend_from_slice(&reply.value);
        inflight.started = Instant::now();
        Ok(())
    }

    /// The selection window's property (what an owner answered), deleted as it is read.
    fn take_property(&self, kind: SelKind) -> anyhow::Result<xproto::GetPropertyReply> {
        Ok(self
            .x
            .get_property(
                true,
                self.sel.window,
                self.sel.property_of(kind),
                AtomEnum::ANY,
                0,
                (MAX_BYTES / 4) as u32,
            )?
            .reply()?)
    }

    fn next_conversion(&mut self, kind: SelKind) -> anyhow::Result<()> {
        if let Some((target, fd)) = self.sel.state(kind).queue.pop_front() {
            return self.convert(kind, target, Some(fd));
        }
        Ok(())
    }

    /// The X owner's targets, offered to the level's Wayland clients as MIME types.
    fn x_targets(&mut self, kind: SelKind, atoms: &[Atom]) -> anyhow::Result<()> {
        let mut targets = Vec::new();
        for &atom in atoms {
            if atom == self.sel.utf8_atom {
                for m in ["text/plain;charset=utf-8", "UTF8_STRING"] {
                    targets.push((m.to_string(), atom));
                }
                continue;
            }
            if atom == u32::from(AtomEnum::STRING) {
                targets.push(("text/plain".to_string(), atom));
                continue;
            }
            let Ok(name) = self.x.get_atom_name(atom)?.reply() else {
                continue;
            };
            // MIME types as X clients name their targets (image/png, text/uri-list…).
            if let Ok(name) = String::from_utf8(name.name)
                && name.contains('/')
                && name.len() <= 255
                && name.chars().all(|c| c.is_ascii_graphic())
            {
                targets.push((name, atom));
            }
        }
        targets.dedup_by(|a, b| a.0 == b.0);
        if targets.is_empty() {
            return Ok(());
        }
        let state = self.sel.state(kind);
        state.targets = targets;
        state.pending = true;
        self.offer_pending();
        Ok(())
    }

    /// Offers what X holds as the Wayland selection, once a window of the bridge has the
    /// keyboard (the compositor takes a selection only from the focused client).
    pub(super) fn offer_pending(&mut self) {
        if self.keyboard.is_none() {
            return;
        }
        for kind in [SelKind::Clipboard, SelKind::Primary] {
            let state = self.sel.state(kind);
            if !state.pending {
                continue;
            }
            state.pending = false;
            let mut mimes: Vec<String> = state.targets.iter().map(|(m, _)| m.clone()).collect();
            mimes.push(BRIDGE_MIME.into());
            if let Some(old) = state.source.take() {
                old.destroy();
            }
            let source = self.wl.offer(kind, &mimes, &self.qh);
            self.sel.state(kind).source = source;
        }
    }

    /// A Wayland client pastes what an X client copied.
    pub(super) fn wl_send(&mut self, kind: SelKind, mime: &str, fd: OwnedFd) -> anyhow::Result<()> {
        let Some(target) = self
            .sel
            .state(kind)
            .targets
            .iter()
            .find(|(m, _)| m == mime)
            .map(|(_, a)| *a)
        else {
            return Ok(());
        };
        self.convert(kind, target, Some(fd))
    }

    /// The compositor took the selection from the bridge's source (another client copied).
    pub(super) fn wl_cancelled(&mut self, kind: SelKind) {
        if let Some(source) = self.sel.state(kind).source.take() {
            source.destroy();
        }
    }

    /// Gives up the X selections the bridge held for the level's Wayland selections (they
    /// went with the compositor's connection): X clients paste nothing rather than wait.
    pub(super) fn give_up_x_selections(&mut self) -> anyhow::Result<()> {
        for kind in [SelKind::Clipboard, SelKind::Primary] {
            let selection = self.sel.atom_of(kind);
            if self.x.get_selection_owner(selection)?.reply()?.owner == self.sel.window {
                self.x
                    .set_selection_owner(x11rb::NONE, selection, x11rb::CURRENT_TIME)?;
            }
        }
        Ok(())
    }

    // ---- Wayland → X ----

    /// The level's Wayland selection changed: X clients paste it from the bridge.
    pub(super) fn wl_selection(
        &mut self,
        kind: SelKind,
        offer: Option<Offer>,
    ) -> anyhow::Result<()> {
        if offer
            .as_ref()
            .is_some_and(|o| o.mimes().iter().any(|m| m == BRIDGE_MIME))
        {
            // The echo of the bridge's own source: X already holds it.
            if let Some(offer) = offer {
                offer.destroy();
            }
            return Ok(());
        }
        let state = self.sel.state(kind);
        if let Some(old) = state.offer.take() {
            old.destroy();
        }
        let owner = if offer.is_some() {
            self.sel.window
        } else {
            x11rb::NONE
        };
        self.sel.state(kind).offer = offer;
        let selection = self.sel.atom_of(kind);
        let current = self.x.get_selection_owner(selection)?.reply()?.owner;
        if owner != x11rb::NONE || current == self.sel.window {
            self.x
                .set_selection_owner(owner, selection, x11rb::CURRENT_TIME)?;
        }
        Ok(())
    }

    /// An X client pastes the level's Wayland selection.
    pub(super) fn x_selection_request(&mut self, e: SelectionRequestEvent) -> anyhow::Result<()> {
        let property = if e.property == x11rb::NONE {
            e.target
        } else {
            e.property
        };
        let answered = self.answer_request(&e, property).unwrap_or_else(|err| {
            tracing::debug!("X paste: {err:#}");
            false
        });
        let notify = SelectionNotifyEvent {
            response_type: xproto::SELECTION_NOTIFY_EVENT,
            sequence: 0,
            time: e.time,
            requestor: e.requestor,
            selection: e.selection,
            target: e.target,
            property: if answered { property } else { x11rb::NONE },
        };
        self.x
            .send_event(false, e.requestor, EventMask::NO_EVENT, notify)?;
        Ok(())
    }

    fn answer_request(
        &mut self,
        e: &SelectionRequestEvent,
        property: Atom,
    ) -> anyhow::Result<bool> {
        let Some(kind) = self.sel.kind_of(e.selection) else {
            return Ok(false);
        };
        let Some(offer) = self.sel.state(kind).offer.clone() else {
            return Ok(false);
        };
        let mimes = offer.mimes();
        let text = TEXT_MIMES.iter().find(|m| mimes.iter().any(|o| o == *m));
        if e.target == self.sel.targets_atom {
            let mut atoms = vec![self.sel.targets_atom];
            if text.is_some() {
                atoms.extend([
                    self.sel.utf8_atom,
                    self.sel.text_atom,
                    AtomEnum::STRING.into(),
                ]);
            }
            for m in mimes.iter().filter(|m| m.contains('/')) {
                atoms.push(self.x.intern_atom(false, m.as_bytes())?.reply()?.atom);
            }
            self.x.change_property32(
                PropMode::REPLACE,
                e.requestor,
                property,
                AtomEnum::ATOM,
                &atoms,
            )?;
            return Ok(true);
        }
        let mime = if [
            self.sel.utf8_atom,
            self.sel.text_atom,
            AtomEnum::STRING.into(),
        ]
        .contains(&e.target)
        {
            text.map(|m| m.to_string())
        } else {
            let name = String::from_utf8(self.x.get_atom_name(e.target)?.reply()?.name)?;
            mimes.into_iter().find(|m| *m == name)
        };
        let Some(mime) = mime else {
            return Ok(false);
        };
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        offer.receive(mime, write.as_fd());
        drop(write);
        self.wl_conn.flush()?;
        // One property: larger transfers (X's INCR) are not offered.
        let room = self.x.maximum_request_bytes().saturating_sub(64);
        let data = read_bounded(read, room.min(MAX_BYTES))?;
        let ty = if e.target == self.sel.text_atom {
            self.sel.utf8_atom
        } else {
            e.target
        };
        self.x
            .change_property8(PropMode::REPLACE, e.requestor, property, ty, &data)?;
        Ok(true)
    }

    /// Another X client took a selection the bridge held.
    pub(super) fn x_selection_clear(&mut self, e: xproto::SelectionClearEvent) {
        if let Some(kind) = self.sel.kind_of(e.selection)
            && let Some(offer) = self.sel.state(kind).offer.take()
        {
            offer.destroy();
        }
    }
}

/// Reads a Wayland client's answer: at most `limit` bytes, within [`READ_TIMEOUT`].
fn read_bounded(read: OwnedFd, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut file = std::fs::File::from(read);
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        if left.is_zero() || poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
            anyhow::bail!("the level's selection did not answer within {READ_TIMEOUT:?}");
        }
        match file.read(&mut chunk) {
            Ok(0) => return Ok(data),
            Ok(n) => {
                if data.len() + n > limit {
                    anyhow::bail!(
                        "the level's selection is larger than {limit} bytes (one X request)"
                    );
                }
                data.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

static WRITERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Writes a paste to the Wayland client that asked, on a thread (a client that reads slowly
/// holds up nobody), within [`WRITE_TIMEOUT`]; at most [`MAX_WRITERS`] at once (past them a
/// paste gets nothing: its descriptor closes).
fn write_out(fd: OwnedFd, data: Vec<u8>) {
    use std::sync::atomic::Ordering;
    if WRITERS.fetch_add(1, Ordering::Relaxed) >= MAX_WRITERS {
        WRITERS.fetch_sub(1, Ordering::Relaxed);
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("x11-paste".into())
        .spawn(move || {
            let _ = write_within(fd, &data, WRITE_TIMEOUT);
            WRITERS.fetch_sub(1, Ordering::Relaxed);
        });
    if spawned.is_err() {
        WRITERS.fetch_sub(1, Ordering::Relaxed);
    }
}

fn write_within(fd: OwnedFd, mut data: &[u8], timeout: Duration) -> anyhow::Result<()> {
    use std::os::fd::AsRawFd as _;
    let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFL)?;
    nix::fcntl::fcntl(
        fd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(
            nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_NONBLOCK,
        ),
    )?;
    let deadline = Instant::now() + timeout;
    let mut file = std::fs::File::from(fd);
    while !data.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLOUT)];
        if left.is_zero() || poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0) == 0 {
            anyhow::bail!("the pasting client did not read within {timeout:?}");
        }
        match file.write(data) {
            Ok(n) => data = &data[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
