//! An X client for the X11 tests: maps one window of a given size, place and colour, plain or
//! override-redirect (a menu or tooltip, which no window manager places), and keeps it until
//! killed. `cloison-x11-test-client [--override] WIDTH HEIGHT X Y RRGGBB [TITLE]`.

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{ConnectionExt as _, CreateWindowAux, WindowClass};
use x11rb::wrapper::ConnectionExt as _;

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let override_redirect = args.first().is_some_and(|a| a == "--override");
    if override_redirect {
        args.remove(0);
    }
    let num = |i: usize| -> anyhow::Result<i64> {
        Ok(args
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("usage: [--override] W H X Y RRGGBB [TITLE]"))?
            .parse()?)
    };
    let (w, h, x, y) = (num(0)?, num(1)?, num(2)?, num(3)?);
    let colour = u32::from_str_radix(args.get(4).map(String::as_str).unwrap_or("0000ff"), 16)?;
    let title = args
        .get(5)
        .cloned()
        .unwrap_or_else(|| "x11 test client".into());
    let (conn, screen) = x11rb::connect(None)?;
    let root = conn.setup().roots[screen].root;
    let window = conn.generate_id()?;
    conn.create_window(
        x11rb::COPY_DEPTH_FROM_PARENT,
        window,
        root,
        i16::try_from(x)?,
        i16::try_from(y)?,
        u16::try_from(w)?,
        u16::try_from(h)?,
        0,
        WindowClass::INPUT_OUTPUT,
        x11rb::COPY_FROM_PARENT,
        &CreateWindowAux::new()
            .background_pixel(colour)
            .override_redirect(u32::from(override_redirect)),
    )?;
    conn.change_property8(
        x11rb::protocol::xproto::PropMode::REPLACE,
        window,
        x11rb::protocol::xproto::AtomEnum::WM_NAME,
        x11rb::protocol::xproto::AtomEnum::STRING,
        title.as_bytes(),
    )?;
    conn.change_property8(
        x11rb::protocol::xproto::PropMode::REPLACE,
        window,
        x11rb::protocol::xproto::AtomEnum::WM_CLASS,
        x11rb::protocol::xproto::AtomEnum::STRING,
        b"x11-test-client\0X11TestClient\0",
    )?;
    conn.map_window(window)?;
    conn.flush()?;
    loop {
        conn.wait_for_event()?;
    }
}
