//! Which backend a session started here should use when none is asked for.

/// `winit` inside a desktop (`WAYLAND_DISPLAY` or `DISPLAY` set), `drm` when started on a
/// seat with a display device ([`on_a_seat`]), else `headless`.
pub fn auto() -> &'static str {
    if set("WAYLAND_DISPLAY") || set("DISPLAY") {
        "winit"
    } else if on_a_seat() {
        "drm"
    } else {
        "headless"
    }
}

/// Whether this process runs in a login on a seat (logind sets `XDG_SEAT`; a seatd setup
/// names its socket or libseat backend) and a KMS device (`/dev/dri/card*`) exists.
pub fn on_a_seat() -> bool {
    let seat = set("XDG_SEAT") || set("SEATD_SOCK") || set("LIBSEAT_BACKEND");
    seat && std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("card"))
    })
}

fn set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}
