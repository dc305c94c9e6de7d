//! What a copy's content may be before it crosses a level: the sealed memory file the
//! compositor hands over, mapped read-only (or copied, if it came unsealed), text checked to
//! be UTF-8 and images decoded and re-encoded ([`check_content`]), and the fresh sealed memory
//! file that carries it on.

use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use cloison_ipc::session::{PNG, TEXT_TYPES};

/// What the global clipboard holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text.
    Text,
    /// A PNG image (re-encoded).
    Png,
}

impl Kind {
    pub(super) fn mime(self) -> &'static str {
        match self {
            Kind::Text => "text/plain;charset=utf-8",
            Kind::Png => PNG,
        }
    }
    pub(super) fn word(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Png => "image",
        }
    }
}
/// A sealed memory file holding `bytes`.
pub(super) fn sealed(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    use nix::sys::memfd::{MemFdCreateFlag, memfd_create};
    let fd = memfd_create(
        c"cloison-clipboard",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )?;
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)?;
    file.rewind()?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on a memfd this function created; it only forbids later changes.
    if unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::F_ADD_SEALS,
            seals,
        )
    } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    Ok(OwnedFd::from(file))
}

/// A copy's content as handed over: a sealed memory file mapped read-only, or (if it was not
/// sealed) a copy in memory.
pub(super) enum Content {
    Mapped {
        fd: Arc<OwnedFd>,
        map: std::ptr::NonNull<libc::c_void>,
        len: usize,
    },
    Copied(Vec<u8>),
}

impl Content {
    pub(super) fn open(data: OwnedFd, cap: u64) -> std::io::Result<Content> {
        use nix::fcntl::{FcntlArg, SealFlag, fcntl};
        let needed = SealFlag::F_SEAL_WRITE | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW;
        let seals = fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&data),
            FcntlArg::F_GET_SEALS,
        )
        .map(SealFlag::from_bits_truncate)
        .unwrap_or(SealFlag::empty());
        let mut file = std::fs::File::from(data);
        let len = file.metadata()?.len();
        if seals.contains(needed) && len > 0 && len <= cap {
            use nix::sys::mman::{MapFlags, ProtFlags, mmap};
            let size = std::num::NonZeroUsize::new(len as usize).expect("len > 0");
            // SAFETY: a read-only shared mapping of a memory file sealed against writes,
            // shrinking and growing: its pages stay valid and unchanged while mapped.
            let map = unsafe {
                mmap(
                    None,
                    size,
                    ProtFlags::PROT_READ,
                    MapFlags::MAP_SHARED,
                    &file,
                    0,
                )
            }?;
            return Ok(Content::Mapped {
                fd: Arc::new(OwnedFd::from(file)),
                map,
                len: len as usize,
            });
        }
        let mut bytes = Vec::new();
        file.rewind()?;
        file.take(cap + 1).read_to_end(&mut bytes)?;
        Ok(Content::Copied(bytes))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: the mapping is `len` bytes, readable, alive until drop, and its
            // content cannot change (sealed).
            Content::Mapped { map, len, .. } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().cast::<u8>(), *len)
            },
            Content::Copied(bytes) => bytes,
        }
    }

    /// A sealed memory file with this content: the one handed over, or a new one.
    pub(super) fn sealed_fd(&self) -> std::io::Result<Arc<OwnedFd>> {
        match self {
            Content::Mapped { fd, .. } => Ok(fd.clone()),
            Content::Copied(bytes) => sealed(bytes).map(Arc::new),
        }
    }
}

impl Drop for Content {
    fn drop(&mut self) {
        if let Content::Mapped { map, len, .. } = self {
            // SAFETY: unmaps exactly the mapping made in `open`, which nothing uses any more
            // (slices borrowed from it do not outlive `self`).
            let _ = unsafe { nix::sys::mman::munmap(*map, *len) };
        }
    }
}

/// Why a copy's content is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Text that is not UTF-8.
    NotUtf8,
    /// An image that does not decode.
    BadPng(String),
    /// Neither text nor an allowed image.
    Type,
}

/// What a copy's content becomes: text (valid UTF-8, kept as it is) or, where images may
/// cross, a PNG decoded and re-encoded (the new bytes returned). Everything a level copies
/// goes through here before anything else looks at it.
pub fn check_content(
    mime: &str,
    bytes: &[u8],
    images_allowed: bool,
) -> Result<(Kind, Option<Vec<u8>>), Refusal> {
    if TEXT_TYPES.contains(&mime) {
        std::str::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)?;
        Ok((Kind::Text, None))
    } else if mime == PNG && images_allowed {
        reencode_png(bytes)
            .map(|png| (Kind::Png, Some(png)))
            .map_err(Refusal::BadPng)
    } else {
        Err(Refusal::Type)
    }
}

/// The most a copied image may take decoded (8,192 × 8,192 pixels of 8-bit RGBA): its header
/// names its size, and nothing is allocated for an image above this.
pub const MAX_DECODED_IMAGE: u64 = 256 << 20;

/// Decodes a PNG and encodes it again (pixels only: no text chunks, no trailing data).
fn reencode_png(bytes: &[u8]) -> Result<Vec<u8>, String> {
    // (The decoder's own buffers keep the crate's default limit, 64 MiB.)
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    // The header's width and height are the level's: bounded before anything is computed
    // from them or allocated.
    let (width, height) = reader.info().size();
    let (color, depth) = reader.output_color_type();
    let pixel = color.samples() as u64 * u64::from(depth as u8).max(8) / 8;
    u64::from(width)
        .checked_mul(u64::from(height))
        .and_then(|n| n.checked_mul(pixel))
        .filter(|n| *n <= MAX_DECODED_IMAGE)
        .ok_or_else(|| {
            format!(
                "the image is too large ({width}x{height} pixels; at most {} MiB decoded)",
                MAX_DECODED_IMAGE >> 20
            )
        })?;
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).map_err(|e| e.to_string())?;
    pixels.truncate(info.buffer_size());
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, info.width, info.height);
        encoder.set_color(info.color_type);
        encoder.set_depth(info.bit_depth);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PNG of `width` × `height` RGBA pixels.
    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![7; (width * height * 4) as usize])
            .unwrap();
        drop(writer);
        out
    }

    /// PNG's chunk checksum (CRC-32, as zlib's).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn an_image_whose_header_claims_more_than_the_limit_is_refused_before_any_allocation() {
        // A real 1×1 image whose header says otherwise: refused by its header alone. Found by
        // the clipboard fuzzer: 524,288 × 537,219,584 pixels made the manager ask for a
        // petabyte (the launcher aborted, ending the session); and just over the limit.
        for (width, height) in [(0x0008_0000_u32, 0x2000_5200_u32), (8193, 8192)] {
            let mut claims = png_of(1, 1);
            claims[16..20].copy_from_slice(&width.to_be_bytes());
            claims[20..24].copy_from_slice(&height.to_be_bytes());
            let crc = crc32(&claims[12..29]);
            claims[29..33].copy_from_slice(&crc.to_be_bytes());
            match check_content(PNG, &claims, true) {
                Err(Refusal::BadPng(why)) => assert!(why.contains("too large"), "{why}"),
                other => panic!("{width}x{height}: {other:?}"),
            }
        }
        // An ordinary image still crosses, re-encoded.
        let (kind, png) = check_content(PNG, &png_of(64, 32), true).unwrap();
        assert_eq!(kind, Kind::Png);
        let png = png.unwrap();
        let reader = png::Decoder::new(png.as_slice()).read_info().unwrap();
        assert_eq!(reader.info().size(), (64, 32));
    }
}
