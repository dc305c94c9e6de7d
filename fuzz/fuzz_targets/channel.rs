//! The framed channels' receiving side, as a hostile peer drives it: any bytes, split into any
//! reads, with any number of descriptors (and truncations) along the way, decoded as every
//! message type that travels on them. Nothing may panic, and the descriptors the receiver
//! holds stay within one frame's worth beyond what its buffered frames announce.

#![no_main]

use std::os::fd::OwnedFd;

use cloison_ipc::channel::{self, Limits, Receiver};
use cloison_ipc::level::{ManagerEvent, ManagerRequest};
use cloison_ipc::session::{ToCompositor, ToLauncher};
use libfuzzer_sys::fuzz_target;

/// A few real descriptors (the receiver only holds and closes them).
fn descriptors(n: usize) -> Vec<OwnedFd> {
    (0..n)
        .filter_map(|_| {
            nix::sys::memfd::memfd_create(c"fuzz", nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC)
                .ok()
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let limits: Limits = if selector & 1 == 0 {
        channel::LEVEL
    } else {
        channel::SESSION
    };
    let mut receiver = Receiver::new(limits);
    // Reads of up to 255 bytes, each with 0–7 descriptors, sometimes truncated.
    while let Some((&control, tail)) = rest.split_first() {
        let len = (control as usize >> 3).min(tail.len());
        let (chunk, tail) = tail.split_at(len);
        rest = tail;
        let fds = descriptors((control & 7) as usize % 4);
        let truncated = control & 7 == 7;
        let fed = receiver.feed(chunk, fds, truncated);
        if fed.is_err() && !matches!(fed, Err(channel::ChannelError::Truncated)) {
            return;
        }
        let (_, waiting) = receiver.waiting();
        assert!(waiting <= 4 * limits.max_fds + limits.max_fds + 8);
        loop {
            match receiver.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.body.len() <= limits.max_body);
                    assert!(frame.fds.len() <= limits.max_fds);
                    match selector % 4 {
                        0 => drop(frame.decode::<ManagerRequest>()),
                        1 => drop(frame.decode::<ToCompositor>()),
                        2 => drop(frame.decode::<ManagerEvent>()),
                        _ => drop(frame.decode::<ToLauncher>()),
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
