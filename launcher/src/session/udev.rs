//! Hot-plugged displays and input devices: udev events the compositor (which has no netlink
//! socket in its cage) is told about.

use super::*;

/// Tells the compositor when udev reports a display or input device change. The compositor's
/// cage has no netlink socket (no network at all), so the launcher listens for it: udev's own
/// announcements (multicast group 2, sent once a device node and its database entry are
/// ready), filtered to the `drm` and `input` subsystems.
pub(super) fn watch_devices(handle: &LoopHandle<'static, Session>) -> anyhow::Result<()> {
    use nix::sys::socket::{
        AddressFamily, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, socket,
    };
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::NetlinkKObjectUEvent,
    )
    .context("cannot open a udev event socket")?;
    bind(socket.as_raw_fd(), &NetlinkAddr::new(0, 2)).context("cannot listen to udev events")?;
    handle
        .insert_source(
            Generic::new(socket, Interest::READ, Mode::Level),
            |_, socket, session| {
                let mut buf = [0u8; 8192];
                let mut changed = false;
                loop {
                    match nix::sys::socket::recv(
                        socket.as_raw_fd(),
                        &mut buf,
                        nix::sys::socket::MsgFlags::empty(),
                    ) {
                        Ok(n) => changed |= is_display_or_input(&buf[..n]),
                        Err(nix::errno::Errno::EAGAIN) => break,
                        Err(err) => {
                            tracing::warn!("udev events: {err}");
                            break;
                        }
                    }
                }
                if changed {
                    tracing::debug!("display or input devices changed");
                    session.tell_compositor(&ToCompositor::DevicesChanged);
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot watch udev events: {e}"))?;
    Ok(())
}

/// Whether a udev announcement is about a display (`drm`) or input device.
pub(super) fn is_display_or_input(message: &[u8]) -> bool {
    message
        .split(|b| *b == 0)
        .any(|field| field == b"SUBSYSTEM=drm" || field == b"SUBSYSTEM=input")
}
