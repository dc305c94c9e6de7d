//! What a level copies, as the manager checks it: text must be UTF-8 (then its controls are
//! stripped and it is made visible for a preview); a PNG is decoded and encoded again, and what
//! comes out must decode to the same size. Nothing may panic.

#![no_main]

use cloison_launcher::manager::clipboard::{Kind, check_content};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let mime = match selector % 4 {
        0 => "text/plain;charset=utf-8",
        1 => "UTF8_STRING",
        2 => "image/png",
        _ => "application/x-unknown",
    };
    match check_content(mime, bytes, selector & 4 != 0) {
        Ok((Kind::Text, None)) => {
            let text = std::str::from_utf8(bytes).expect("checked");
            let (stripped, _) = cloison_config::text::strip_controls(text);
            assert!(
                !stripped
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t')
            );
            let _ = cloison_config::text::make_visible(text, 400);
        }
        Ok((Kind::Png, Some(png))) => {
            // The re-encoded image decodes, to the same dimensions as the original.
            let size = |b: &[u8]| {
                png::Decoder::new(b)
                    .read_info()
                    .map(|r| (r.info().width, r.info().height))
            };
            assert_eq!(size(&png).ok(), size(bytes).ok());
        }
        Ok(other) => panic!("unexpected {:?}", other.0),
        Err(_) => {}
    }
});
